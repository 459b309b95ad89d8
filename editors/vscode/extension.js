// Codestral for VS Code: a thin client of the codestral-lsp language server.
"use strict";

const vscode = require("vscode");
const {
  LanguageClient,
  ExecuteCommandRequest,
  WorkDoneProgress,
  WorkDoneProgressCreateRequest,
  WorkDoneProgressCancelNotification,
} = require("vscode-languageclient/node");
const { findServer } = require("./server-path");
const { Review, PROPOSAL_SCHEME } = require("./review");

/** Settings that configure this extension, not the server. */
const CLIENT_ONLY = ["serverPath", "pythonPath", "trace"];

let client;
/** Marks the code being rewritten, and shows proposals for review (review.js). */
let review;

/**
 * The server's settings object: the `codestral` keys the user set (in any scope), without the
 * client-only keys. Defaults are the server's own (package.json only documents them), so the two
 * can never disagree in behaviour.
 */
function serverSettings() {
  const section = vscode.workspace.getConfiguration("codestral");
  const settings = {};
  for (const key of Object.keys(section)) {
    if (typeof section[key] === "function" || CLIENT_ONLY.includes(key)) continue;
    const seen = section.inspect(key);
    if (!seen) continue;
    const set = [
      seen.globalValue,
      seen.workspaceValue,
      seen.workspaceFolderValue,
      seen.globalLanguageValue,
      seen.workspaceLanguageValue,
      seen.workspaceFolderLanguageValue,
    ].some((value) => value !== undefined);
    const value = section.get(key);
    if (set && value !== null && value !== undefined) settings[key] = value;
  }
  return settings;
}

/** The command that starts the server, found as Python-tool extensions do (see server-path.js). */
async function serverOptions() {
  const config = vscode.workspace.getConfiguration("codestral");
  return findServer({
    serverPath: config.get("serverPath"),
    pythonPath: config.get("pythonPath"),
    pythonExtensionInterpreter,
  });
}

/** The interpreter selected in the Python extension, if it is installed. */
async function pythonExtensionInterpreter() {
  const extension = vscode.extensions.getExtension("ms-python.python");
  if (!extension) return undefined;
  const api = extension.isActive ? extension.exports : await extension.activate();
  const environments = api && api.environments;
  if (!environments) return undefined;
  const active = environments.getActiveEnvironmentPath(vscode.window.activeTextEditor?.document.uri);
  return active && active.path;
}

/**
 * Shows the server's work-done progress as a notification with a Cancel button (the language
 * client's own shows it in the status bar, where it cannot be cancelled). Registered after the
 * client's built-in progress feature, so its `window/workDoneProgress/create` handler wins.
 */
class NotificationProgressFeature {
  constructor(client) {
    this.client = client;
  }
  fillClientCapabilities(capabilities) {
    capabilities.window = Object.assign({}, capabilities.window, { workDoneProgress: true });
  }
  initialize() {
    this.client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => this.track(token));
  }
  track(token) {
    let progress, finish;
    const subscription = this.client.onProgress(WorkDoneProgress.type, token, (value) => {
      if (value.message && review) review.marks.progress(value.message);
      if (value.kind === "begin") {
        vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: value.title, cancellable: !!value.cancellable },
          (reporter, cancellation) => {
            progress = reporter;
            if (value.message) reporter.report({ message: value.message });
            cancellation.onCancellationRequested(() =>
              this.client.sendNotification(WorkDoneProgressCancelNotification.type, { token }),
            );
            return new Promise((resolve) => (finish = resolve));
          },
        );
      } else if (value.kind === "report") {
        if (progress && value.message) progress.report({ message: value.message });
      } else if (value.kind === "end") {
        subscription.dispose();
        if (finish) finish();
        if (value.message) vscode.window.setStatusBarMessage(`Codestral: ${value.message}`, 8000);
      }
    });
  }
  getState() { return { kind: "static" }; }
  clear() {}
  dispose() {}
}

/** Read-only documents holding explanations: shown as a preview, never an unsaved editor. */
const EXPLANATION_SCHEME = "codestral-explanation";
class ExplanationDocuments {
  constructor() {
    this.texts = new Map();
    this.changed = new vscode.EventEmitter();
    this.onDidChange = this.changed.event;
    this.count = 0;
  }
  provideTextDocumentContent(uri) {
    return this.texts.get(uri.toString()) || "";
  }
  add(markdown) {
    this.count += 1;
    const uri = vscode.Uri.from({ scheme: EXPLANATION_SCHEME, path: `/Explanation ${this.count}.md` });
    this.texts.set(uri.toString(), markdown);
    if (this.texts.size > 20) this.texts.delete(this.texts.keys().next().value);
    return uri;
  }
}
const explanations = new ExplanationDocuments();

/**
 * Declares that this client asks the user for the instruction of codestral.edit itself, shows
 * explanations itself, and shows proposed edits for review (review.js).
 */
class InstructionPromptFeature {
  fillClientCapabilities(capabilities) {
    capabilities.experimental = Object.assign({}, capabilities.experimental, {
      codestral: { promptForInstruction: true, showsExplanations: true, reviewsEdits: true },
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
    const uri = explanations.add(result.markdown);
    await vscode.commands.executeCommand("markdown.showPreviewToSide", uri);
  } else if (["applied", "unchanged", "cancelled", "shown"].includes(result.status)) {
    vscode.window.setStatusBarMessage(`Codestral: ${result.message}`, 5000);
  }
}

/** "refactor" → "Refactor": how the marked region names the action writing it. */
function titleOf(action) {
  return action.charAt(0).toUpperCase() + action.slice(1);
}

/** A custom action's title (codestral.actions), else its id. */
function customTitle(id) {
  const actions = vscode.workspace.getConfiguration("codestral").get("actions") || [];
  const action = actions.find((a) => a && a.id === id);
  return (action && action.title) || id || "Codestral";
}

async function runAction(action) {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !client) return;
  if (editor.document.uri.scheme === PROPOSAL_SCHEME) {
    vscode.window.showWarningMessage("Codestral: this is a proposal; run actions in the file's own editor.");
    return;
  }
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
    const send = () => client.sendRequest(ExecuteCommandRequest.type, { command: `codestral.${action}`, arguments: [argument] });
    const result = await review.run(action, titleOf(action), argument, send);
    await showResult(result);
  } catch (error) {
    // The server has already said what went wrong in a message.
    console.error(`codestral.${action}:`, error && error.message);
  }
}

/** Why there is no server, when none was found (commands say it instead of doing nothing). */
let missingServer;

function serverReady() {
  if (client) return true;
  vscode.window.showErrorMessage(`Codestral: ${missingServer || "the language server is not running."}`);
  return false;
}

function registerCommands(context, server) {
  for (const action of ["explain", "refactor", "fix", "document", "tests", "edit", "review"]) {
    context.subscriptions.push(
      vscode.commands.registerCommand(`codestral-vscode.${action}`, () => serverReady() && runAction(action)),
    );
  }
  context.subscriptions.push(
    vscode.commands.registerCommand("codestral-vscode.cancel", async () => {
      if (!serverReady()) return;
      const result = await client.sendRequest(ExecuteCommandRequest.type, { command: "codestral.cancel", arguments: [{}] });
      vscode.window.setStatusBarMessage(`Codestral: cancelled ${result.cancelled} action(s)`, 5000);
    }),
    vscode.commands.registerCommand("codestral-vscode.clearReview", async () => {
      if (!serverReady()) return;
      await client.sendRequest(ExecuteCommandRequest.type, { command: "codestral.clearReview", arguments: [{}] });
    }),
    vscode.commands.registerCommand("codestral-vscode.models", async () => {
      if (!serverReady()) return;
      const r = await client.sendRequest(ExecuteCommandRequest.type, { command: "codestral.models", arguments: [] });
      const lines = (r.models || []).map((m) => `${m.id} (${m.contextLength ?? "?"} tokens${m.fim ? ", FIM" : ""})`);
      vscode.window.showInformationMessage(`Codestral models: ${lines.join("; ") || r.message || "none"}`);
    }),
    vscode.commands.registerCommand("codestral-vscode.usage", async () => {
      if (!serverReady()) return;
      const u = await client.sendRequest(ExecuteCommandRequest.type, { command: "codestral.usage", arguments: [] });
      vscode.window.showInformationMessage(
        `Codestral: ${u.requests} requests, ${u.totalTokens} tokens, about $${u.estimatedCostUsd.toFixed(4)}`,
      );
    }),
    vscode.commands.registerCommand("codestral-vscode.check", () => {
      if (!server.command) return serverReady();
      const terminal = vscode.window.createTerminal("Codestral check");
      terminal.sendText([server.command, ...server.args, "check"].map((part) => JSON.stringify(part)).join(" "));
      terminal.show();
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("codestral.serverPath") || event.affectsConfiguration("codestral.pythonPath")) {
        vscode.window.showInformationMessage("Codestral: reload the window to use the new server command.");
      }
    }),
  );
}

async function activate(context) {
  const outputChannel = vscode.window.createOutputChannel("Codestral", { log: true });
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(EXPLANATION_SCHEME, explanations));
  review = new Review(() => client, showResult);
  review.register(context);
  const server = await serverOptions();
  registerCommands(context, server);
  if (!server.command) {
    missingServer = server.problem;
    outputChannel.error(server.problem);
    vscode.window.showErrorMessage(`Codestral: ${server.problem}`, "Open Settings").then((choice) => {
      if (choice) vscode.commands.executeCommand("workbench.action.openSettings", "codestral.serverPath");
    });
    return;
  }
  outputChannel.info(`starting ${server.command} ${server.args.join(" ")} (found through ${server.how})`);
  client = new LanguageClient(
    "codestral",
    "Codestral",
    { command: server.command, args: server.args },
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
          const argument = args && args[0];
          const name = command.startsWith("codestral.") ? command.slice("codestral.".length) : "";
          const title = name === "custom" ? customTitle(argument && argument.action) : titleOf(name);
          const send = () => next(command, args);
          const result = name ? await review.run(name, title, argument, send) : await next(command, args);
          if (command === "codestral.explain" || command === "codestral.custom") await showResult(result);
          return result;
        },
      },
    },
  );
  client.registerFeature(new InstructionPromptFeature());
  client.registerFeature(new NotificationProgressFeature(client));
  return client.start().catch((error) => {
    const reason = (error && (error.message || String(error))) || "it exited at once";
    client = undefined;
    missingServer = `the language server ${server.command} (found through ${server.how}) did not start: ${reason}.`;
    vscode.window.showErrorMessage(`Codestral: ${missingServer} Run Codestral: Check Setup, or set codestral.serverPath.`);
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
