// The server is found as Python-tool extensions find theirs, and a failure says what was tried.
// Run: node --test editors/vscode/test/
"use strict";

const test = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { findServer } = require("../server-path");

function scratch() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "codestral-path-"));
  const home = path.join(root, "home");
  fs.mkdirSync(home);
  return { root, home };
}

function script(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, "#!/bin/sh\nexit 0\n");
  fs.chmodSync(file, 0o755);
  return file;
}

test("the serverPath setting wins, and a wrong one is named", async () => {
  const { root, home } = scratch();
  const server = script(path.join(root, "bin", "codestral-lsp"));
  assert.deepStrictEqual(await findServer({ serverPath: server, env: { PATH: "" }, home }), {
    command: server,
    args: [],
    how: "the codestral.serverPath setting",
  });
  const missing = await findServer({ serverPath: path.join(root, "nope"), env: { PATH: "" }, home });
  assert.match(missing.problem, /codestral\.serverPath setting names .*nope, which is not an executable file/);
});

test("the Python extension's interpreter: the script beside it", async () => {
  const { root, home } = scratch();
  const python = script(path.join(root, "venv", "bin", "python"));
  const server = script(path.join(root, "venv", "bin", "codestral-lsp"));
  const found = await findServer({ pythonExtensionInterpreter: async () => python, env: { PATH: "" }, home });
  assert.strictEqual(found.command, server);
  assert.strictEqual(found.how, "the Python extension's interpreter");
});

test("PATH before the common install folders", async () => {
  const { root, home } = scratch();
  const onPath = script(path.join(root, "path-bin", "codestral-lsp"));
  script(path.join(home, ".local", "bin", "codestral-lsp"));
  const found = await findServer({ env: { PATH: path.join(root, "path-bin") }, home });
  assert.strictEqual(found.command, onPath);
});

test("a venv the editor's PATH does not include is found in the README's folder", async () => {
  const { home } = scratch();
  const server = script(path.join(home, ".venvs", "codestral", "bin", "codestral-lsp"));
  const found = await findServer({ env: { PATH: "/nonexistent" }, home, platform: "linux" });
  assert.strictEqual(found.command, server);
});

test("nothing found: the message says every place that was tried and what to do", async () => {
  const { home } = scratch();
  const found = await findServer({ env: { PATH: "/nonexistent" }, home, platform: "linux" });
  assert.strictEqual(found.command, undefined);
  for (const part of [
    "could not find the codestral-lsp server",
    "codestral.serverPath (not set)",
    "the Python extension's interpreter (none selected)",
    "PATH (1 folders)",
    path.join(home, ".local", "bin", "codestral-lsp"),
    "set codestral.serverPath",
  ]) {
    assert.ok(found.problem.includes(part), `${part} missing from: ${found.problem}`);
  }
});
