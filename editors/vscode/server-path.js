// Finding the codestral-lsp server the way Python-tool extensions do: the setting, then the
// Python extension's selected interpreter, then PATH, then the places installers put scripts.
// Pure Node (no `vscode`), so it is tested with node's own test runner.
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const NAME = "codestral-lsp";

function isExecutableFile(file) {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `python` can import the server package (bounded: a broken interpreter must not hang us). */
function pythonHasServer(python) {
  try {
    execFileSync(python, ["-c", "import codestral_lsp"], { stdio: "ignore", timeout: 10000 });
    return true;
  } catch {
    return false;
  }
}

function executableNames(platform) {
  return platform === "win32" ? [`${NAME}.exe`, `${NAME}.cmd`, NAME] : [NAME];
}

/** Folders where pip --user, pipx, Homebrew and the README's virtual environment put scripts. */
function commonFolders(home, env, platform) {
  const folders = [
    path.join(home, ".local", "bin"),
    path.join(home, ".venvs", "codestral", "bin"),
    path.join(home, ".venvs", "codestral-lsp", "bin"),
    "/usr/local/bin",
    "/opt/homebrew/bin",
  ];
  const globPython = (root, tail) => {
    try {
      return fs
        .readdirSync(root)
        .filter((name) => /^(Python)?3/i.test(name))
        .map((name) => path.join(root, name, ...tail));
    } catch {
      return [];
    }
  };
  if (platform === "darwin") folders.push(...globPython(path.join(home, "Library", "Python"), ["bin"]));
  if (platform === "win32") {
    if (env.APPDATA) folders.push(...globPython(path.join(env.APPDATA, "Python"), ["Scripts"]));
    if (env.LOCALAPPDATA) {
      folders.push(...globPython(path.join(env.LOCALAPPDATA, "Programs", "Python"), ["Scripts"]));
    }
  }
  return folders;
}

/**
 * The command that starts the server: `{command, args, how}`, or `{problem}` — a sentence saying
 * everything that was tried and what to do. `pythonExtensionInterpreter` is an async function
 * returning the Python extension's selected interpreter (or undefined).
 */
async function findServer({
  serverPath,
  pythonPath,
  pythonExtensionInterpreter = async () => undefined,
  env = process.env,
  home = os.homedir(),
  platform = process.platform,
} = {}) {
  const tried = [];
  if (serverPath) {
    let resolved = serverPath.startsWith("~") ? path.join(home, serverPath.slice(1)) : serverPath;
    if (!resolved.includes("/") && !resolved.includes("\\")) {
      // A bare command name: look for it on PATH.
      const folders = (env.PATH || env.Path || "").split(path.delimiter).filter(Boolean);
      resolved = folders.map((folder) => path.join(folder, resolved)).find(isExecutableFile) || resolved;
    }
    if (isExecutableFile(resolved)) return { command: resolved, args: [], how: "the codestral.serverPath setting" };
    return {
      problem: `the codestral.serverPath setting names ${serverPath}, which is not an executable file. Fix or clear the setting.`,
    };
  }
  tried.push("codestral.serverPath (not set)");
  if (pythonPath) {
    if (pythonHasServer(pythonPath)) {
      return { command: pythonPath, args: ["-m", "codestral_lsp"], how: "the codestral.pythonPath setting" };
    }
    return {
      problem:
        `the codestral.pythonPath setting names ${pythonPath}, which cannot import codestral_lsp. ` +
        `Install it there (\`${pythonPath} -m pip install .\` in the checkout) or fix the setting.`,
    };
  }
  tried.push("codestral.pythonPath (not set)");
  let interpreter;
  try {
    interpreter = await pythonExtensionInterpreter();
  } catch {
    interpreter = undefined;
  }
  if (interpreter) {
    for (const name of executableNames(platform)) {
      const beside = path.join(path.dirname(interpreter), name);
      if (isExecutableFile(beside)) return { command: beside, args: [], how: "the Python extension's interpreter" };
    }
    if (pythonHasServer(interpreter)) {
      return { command: interpreter, args: ["-m", "codestral_lsp"], how: "the Python extension's interpreter" };
    }
    tried.push(`the Python extension's interpreter ${interpreter} (no codestral_lsp)`);
  } else {
    tried.push("the Python extension's interpreter (none selected)");
  }
  const pathFolders = (env.PATH || env.Path || "").split(path.delimiter).filter(Boolean);
  for (const folder of pathFolders) {
    for (const name of executableNames(platform)) {
      const candidate = path.join(folder, name);
      if (isExecutableFile(candidate)) return { command: candidate, args: [], how: "PATH" };
    }
  }
  tried.push(`PATH (${pathFolders.length} folders)`);
  for (const folder of commonFolders(home, env, platform)) {
    for (const name of executableNames(platform)) {
      const candidate = path.join(folder, name);
      if (isExecutableFile(candidate)) return { command: candidate, args: [], how: `${folder}` };
      if (name === executableNames(platform)[0]) tried.push(candidate);
    }
  }
  return {
    problem:
      `could not find the ${NAME} server. Tried: ${tried.join("; ")}. ` +
      "Install it (`python3 -m pip install .` in the codestral-lsp checkout), " +
      "or set codestral.serverPath to its full path.",
  };
}

module.exports = { findServer };
