// Codestral for VS Code: a thin client of the codestral-lsp language server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, ExecuteCommandRequest } = require("vscode-languageclient/node");

/** Settings that configure this extension, not the server. */
const CLIENT_ONLY = ["serverPath", "pythonPath", "trace"];

let client;

/** The server's settings object: the `codestral` section without the client-only keys. */
function serverSettings() {
  const section = vscode.workspace.getConfiguration("codestral");
  const settings = {};
  for (const key of Object.keys(section)) {
    if (typeof section[key] === "function" || CLIENT_ONLY.includes(key)) continue;
    const value = section.get(key);
    if (value !== null && value !== undefined) settings[key] = value;
  }
  return settings;
}

function serverOptions() {
  const config = vscode.workspace.getConfiguration("codestral");
  const python = config.get("pythonPath");
  if (python) return { command: python, args: ["-m", "codestral_lsp"] };
  return { command: config.get("serverPath") || "codestral-lsp", args: [] };
}

/** Declares that this client asks the user for the instruction of codestral.edit itself. */
class InstructionPromptFeature {
  fillClientCapabilities(capabilities) {
    capabilities.experimental = Object.assign({}, capabilities.experimental, {
      codestral: { promptForInstruction: true, showsExplanations: true },
    });
  }
  initialize() {}
  getState() { return { kind: "static" }; }
  dispose() {}
}

async function askInstruction() {
  return vscode.window.showInputBox({
    title: "Codestral: Edit Selection",
    prompt: "What should change?",
    placeHolder: "e.g. handle the empty list, use pathlib",
  });
}

/** Show what an action produced: the explanation as a Markdown preview, or its status. */
async function showResult(result) {
  if (!result) return;
  if (result.markdown !== undefined) {
    let uri = result.documentUri ? vscode.Uri.parse(result.documentUri) : undefined;
    if (!uri) {
      const doc = await vscode.workspace.openTextDocument({ language: "markdown", content: result.markdown });
      uri = doc.uri;
    }
    await vscode.commands.executeCommand("markdown.showPreviewToSide", uri);
  } else if (result.status === "applied" || result.status === "unchanged" || result.status === "cancelled") {
    vscode.window.setStatusBarMessage(`Codestral: ${result.message}`, 5000);
  }
}

async function runAction(action) {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !client) return;
  if (editor.selection.isEmpty) {
    vscode.window.showWarningMessage("Codestral: select some code first.");
    return;
  }
  const argument = {
    uri: editor.document.uri.toString(),
    range: client.code2ProtocolConverter.asRange(editor.selection),
  };
  if (action === "fix") {
    const diagnostics = vscode.languages
      .getDiagnostics(editor.document.uri)
      .filter((d) => d.range.intersection(editor.selection));
    argument.diagnostics = client.code2ProtocolConverter.asDiagnosticsSync
      ? client.code2ProtocolConverter.asDiagnosticsSync(diagnostics)
      : await client.code2ProtocolConverter.asDiagnostics(diagnostics);
  }
  if (action === "edit") {
    const instruction = await askInstruction();
    if (!instruction) return;
    argument.instruction = instruction;
  }
  try {
    const result = await client.sendRequest(ExecuteCommandRequest.type, {
      command: `codestral.${action}`,
      arguments: [argument],
    });
    await showResult(result);
  } catch (error) {
    // The server has already said what went wrong in a message.
    console.error(`codestral.${action}:`, error && error.message);
  }
}

function activate(context) {
  const outputChannel = vscode.window.createOutputChannel("Codestral", { log: true });
  client = new LanguageClient(
    "codestral",
    "Codestral",
    serverOptions(),
    {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      outputChannel,
      initializationOptions: serverSettings(),
      synchronize: { configurationSection: "codestral" },
      middleware: {
        workspace: {
          // The server reads the same settings object it got as initializationOptions.
          configuration: (params, token, next) =>
            params.items.map((item) => (item.section === "codestral" ? serverSettings() : null)),
        },
        // The "Edit with instruction…" code action: ask here, then run it.
        executeCommand: async (command, args, next) => {
          if (command === "codestral.edit" && args && args[0] && !args[0].instruction) {
            const instruction = await askInstruction();
            if (!instruction) return undefined;
            args = [Object.assign({}, args[0], { instruction })];
          }
          const result = await next(command, args);
          if (command === "codestral.explain" || command === "codestral.custom") await showResult(result);
          return result;
        },
      },
    },
  );
  client.registerFeature(new InstructionPromptFeature());

  for (const action of ["explain", "refactor", "fix", "document", "tests", "edit"]) {
    context.subscriptions.push(vscode.commands.registerCommand(`codestral-vscode.${action}`, () => runAction(action)));
  }
  context.subscriptions.push(
    vscode.commands.registerCommand("codestral-vscode.cancel", async () => {
      const result = await client.sendRequest(ExecuteCommandRequest.type, { command: "codestral.cancel", arguments: [{}] });
      vscode.window.setStatusBarMessage(`Codestral: cancelled ${result.cancelled} action(s)`, 5000);
    }),
    vscode.commands.registerCommand("codestral-vscode.usage", async () => {
      const u = await client.sendRequest(ExecuteCommandRequest.type, { command: "codestral.usage", arguments: [] });
      vscode.window.showInformationMessage(
        `Codestral: ${u.requests} requests, ${u.totalTokens} tokens, about $${u.estimatedCostUsd.toFixed(4)}`,
      );
    }),
    vscode.commands.registerCommand("codestral-vscode.check", () => {
      const terminal = vscode.window.createTerminal("Codestral check");
      const { command, args } = serverOptions();
      terminal.sendText([command, ...args, "check"].map((part) => JSON.stringify(part)).join(" "));
      terminal.show();
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("codestral.serverPath") || event.affectsConfiguration("codestral.pythonPath")) {
        vscode.window.showInformationMessage("Codestral: reload the window to use the new server command.");
      }
    }),
  );
  return client.start().catch((error) => {
    const { command } = serverOptions();
    vscode.window.showErrorMessage(
      `Codestral: could not start the language server (${command}): ${error && error.message}. ` +
        "Install it with `python3 -m pip install codestral-lsp` (or from its checkout), or set codestral.serverPath / codestral.pythonPath.",
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
