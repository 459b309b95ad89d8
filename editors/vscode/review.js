// See it before it lands: the region an action is rewriting is marked while the model writes;
// a proposal opens as a diff (the document ↔ what it would become) with Accept / Reject / Retry
// in the diff's title bar, the palette and keys; the lines an accepted proposal changed are
// highlighted briefly. The server decides and applies (codestral.accept / codestral.reject).
"use strict";

const vscode = require("vscode");
const { ExecuteCommandRequest } = require("vscode-languageclient/node");
const { hunksOf, spanOf, shift, applyHunks, changedRanges } = require("./proposals");

const PROPOSAL_SCHEME = "codestral-proposal";
const HIGHLIGHT_MS = 4000;
const INVALID_PARAMS = -32602;

/** Offsets {start, end} in `document` → a vscode.Range. */
function rangeOf(document, span) {
  return new vscode.Range(document.positionAt(span.start), document.positionAt(span.end));
}

/** The lines `span` covers: a selection ending at the start of a line does not take that line. */
function linesOf(document, span) {
  const range = rangeOf(document, span);
  if (range.end.character > 0 || range.end.line === range.start.line) return range;
  return new vscode.Range(range.start, document.lineAt(range.end.line - 1).range.end);
}

/** Whether action `name` rewrites the document (its answer would be a proposal). */
function rewrites(name, argument) {
  if (name === "custom") {
    const actions = vscode.workspace.getConfiguration("codestral").get("actions") || [];
    const action = actions.find((a) => a && a.id === (argument && argument.action));
    return !action || (action.mode || "replace") !== "explain";
  }
  return ["refactor", "fix", "document", "edit"].includes(name);
}

function documentFor(uri) {
  return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
}

function editorsFor(uri) {
  return vscode.window.visibleTextEditors.filter((e) => e.document.uri.toString() === uri);
}

/** Regions being rewritten: a background on their lines and the latest progress after them. */
class StreamingMarks {
  constructor() {
    this.type = vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      backgroundColor: new vscode.ThemeColor("editor.rangeHighlightBackground"),
      overviewRulerColor: new vscode.ThemeColor("editorOverviewRuler.rangeHighlightForeground"),
      overviewRulerLane: vscode.OverviewRulerLane.Full,
    });
    this.noteType = vscode.window.createTextEditorDecorationType({
      after: {
        color: new vscode.ThemeColor("editorCodeLens.foreground"),
        fontStyle: "italic",
        margin: "0 0 0 2em",
      },
    });
    this.marks = new Set();
    this.message = "";
  }
  /** Mark `span` (offsets) of the document `uri` until the returned function is called. */
  add(uri, span, title) {
    const mark = { uri, span, title };
    this.marks.add(mark);
    this.render(uri);
    return () => {
      this.marks.delete(mark);
      this.render(uri);
    };
  }
  /** The latest progress of a running action, shown after each marked region. */
  progress(message) {
    this.message = message || "";
    for (const uri of new Set([...this.marks].map((m) => m.uri))) this.render(uri);
  }
  moved(event) {
    const uri = event.document.uri.toString();
    for (const mark of this.marks) {
      if (mark.uri !== uri) continue;
      for (const change of event.contentChanges) mark.span = shift([mark.span], change).spans[0];
    }
  }
  render(uri) {
    for (const editor of editorsFor(uri)) {
      const mine = [...this.marks].filter((m) => m.uri === uri);
      editor.setDecorations(this.type, mine.map((m) => linesOf(editor.document, m.span)));
      editor.setDecorations(
        this.noteType,
        mine.map((m) => {
          const first = editor.document.positionAt(m.span.start).line;
          const end = editor.document.lineAt(first).range.end;
          const note = `${m.title} is writing…${this.message ? ` ${this.message}` : ""}`;
          return { range: new vscode.Range(end, end), renderOptions: { after: { contentText: note } } };
        }),
      );
    }
  }
  renderAll() {
    for (const uri of new Set([...this.marks].map((m) => m.uri))) this.render(uri);
  }
}

/** The proposed texts, as read-only documents for the diff's right side. */
class ProposalDocuments {
  constructor() {
    this.changed = new vscode.EventEmitter();
    this.onDidChange = this.changed.event;
    this.texts = new Map();
  }
  provideTextDocumentContent(uri) {
    return this.texts.get(uri.toString()) ?? "";
  }
  set(uri, text) {
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
  }
  delete(uri) {
    this.texts.delete(uri.toString());
  }
}

class Review {
  /** `client()` gives the running language client; `showResult` shows any other result. */
  constructor(client, showResult) {
    this.client = client;
    this.showResult = showResult;
    this.marks = new StreamingMarks();
    this.documents = new ProposalDocuments();
    this.proposals = new Map(); // jobId → {jobId, uri, hunks, range, title, view}
    this.highlight = vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      backgroundColor: new vscode.ThemeColor("diffEditor.insertedLineBackground"),
      overviewRulerColor: new vscode.ThemeColor("editorOverviewRuler.addedForeground"),
      overviewRulerLane: vscode.OverviewRulerLane.Full,
    });
    this.count = 0;
    // While proposals are open, the status bar says so (a closed diff is not a forgotten proposal).
    this.item = vscode.window.createStatusBarItem("codestral.proposals", vscode.StatusBarAlignment.Left, 100);
    this.item.name = "Codestral proposals";
    this.item.command = "codestral-vscode.showProposal";
  }

  register(context) {
    context.subscriptions.push(
      this.marks.type,
      this.marks.noteType,
      this.highlight,
      this.item,
      vscode.window.tabGroups.onDidChangeTabs((event) => this.tabsClosed(event.closed)),
      vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, this.documents),
      vscode.workspace.onDidChangeTextDocument((event) => this.edited(event)),
      vscode.window.onDidChangeVisibleTextEditors(() => this.marks.renderAll()),
      vscode.commands.registerCommand("codestral-vscode.acceptProposal", (uri) => this.accept(this.find(uri))),
      vscode.commands.registerCommand("codestral-vscode.rejectProposal", (uri) => this.reject(this.find(uri))),
      vscode.commands.registerCommand("codestral-vscode.retryProposal", (uri) => this.retry(this.find(uri))),
      vscode.commands.registerCommand("codestral-vscode.showProposal", () => {
        const proposal = this.find();
        if (proposal) this.open(proposal);
      }),
    );
    this.updateContext();
  }

  /**
   * Run the Codestral action `name` over `argument.range` of `argument.uri`: the region is marked
   * until the answer is in, whatever it is; a proposal opens for review. `send` sends the command.
   * A new rewrite of code that has a proposal open ends that proposal (the server drops it).
   */
  async run(name, title, argument, send) {
    const document = argument && argument.uri && argument.range && documentFor(argument.uri);
    let unmark = () => {};
    if (document) {
      const span = spanOf(argument.range, document.getText());
      if (rewrites(name, argument)) {
        const overlapping = (p) => p.uri === argument.uri && p.range.start < span.end && span.start < p.range.end;
        for (const proposal of [...this.proposals.values()].filter(overlapping)) await this.close(proposal);
      }
      unmark = this.marks.add(argument.uri, span, title);
    }
    let result;
    try {
      result = await send();
    } finally {
      unmark();
    }
    if (result && result.status === "proposed") await this.proposed(result);
    return result;
  }

  /** The user's edits move each open proposal's hunks with the text (the diff stays true). */
  edited(event) {
    if (event.contentChanges.length === 0) return;
    this.marks.moved(event);
    const uri = event.document.uri.toString();
    for (const proposal of this.proposals.values()) {
      if (proposal.uri !== uri) continue;
      for (const change of event.contentChanges) {
        proposal.hunks = shift(proposal.hunks, change).spans;
        proposal.range = shift([proposal.range], change).spans[0];
      }
      this.documents.set(proposal.view, applyHunks(event.document.getText(), proposal.hunks));
    }
  }

  async proposed(result) {
    const document = documentFor(result.uri) || (await vscode.workspace.openTextDocument(vscode.Uri.parse(result.uri)));
    const text = document.getText();
    const title = (result.message || "").split(" proposes ")[0] || "Codestral";
    this.count += 1;
    const name = document.uri.path.split("/").pop();
    // The file's own name keeps its language (colours) in the diff; the query tells proposals apart.
    const view = vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${name}`, query: `${this.count}` });
    const proposal = {
      jobId: result.jobId,
      uri: result.uri,
      hunks: hunksOf(result.edit, result.uri, text),
      range: result.range ? spanOf(result.range, text) : { start: 0, end: 0 },
      title,
      view,
    };
    this.proposals.set(proposal.jobId, proposal);
    // The server drops it after reviewExpirySeconds and says so; then its diff closes too.
    const seconds = Number(vscode.workspace.getConfiguration("codestral").get("reviewExpirySeconds")) || 900;
    proposal.timer = setTimeout(() => this.proposals.has(proposal.jobId) && this.close(proposal), seconds * 1000 + 250);
    this.documents.set(view, applyHunks(text, proposal.hunks));
    await this.open(proposal);
    vscode.window.setStatusBarMessage(`Codestral: ${result.message}`, 15000);
  }

  async open(proposal) {
    const name = proposal.view.path.slice(1);
    await vscode.commands.executeCommand(
      "vscode.diff",
      vscode.Uri.parse(proposal.uri),
      proposal.view,
      `${name} ↔ ${proposal.title} (Codestral's proposal)`,
      { preview: false },
    );
    this.updateContext();
  }

  /**
   * The proposal a command is for: the one whose diff it was run from (the title buttons pass
   * its URI), else the active diff's, else the latest for the active document, else the latest.
   */
  find(uri) {
    const all = [...this.proposals.values()];
    const byView = (view) => view && all.find((p) => p.view.toString() === view.toString());
    const active = vscode.window.tabGroups.activeTabGroup.activeTab;
    const activeDiff = active && active.input instanceof vscode.TabInputTextDiff ? active.input.modified : undefined;
    const editor = vscode.window.activeTextEditor;
    const documentUri = editor && editor.document.uri.toString();
    const found =
      byView(uri) ||
      byView(activeDiff) ||
      byView(documentUri && vscode.Uri.parse(documentUri)) ||
      all.filter((p) => p.uri === documentUri).pop() ||
      all.pop();
    if (!found) vscode.window.showInformationMessage("Codestral: there is no proposal to answer.");
    return found;
  }

  async request(proposal, argument) {
    const client = this.client();
    if (!client) throw new Error("the language server is not running.");
    return client.sendRequest(ExecuteCommandRequest.type, { command: argument.command, arguments: [argument.args] });
  }

  async accept(proposal) {
    if (!proposal) return;
    const document = documentFor(proposal.uri);
    const before = document ? document.getText() : undefined;
    const hunks = proposal.hunks;
    let result;
    try {
      result = await this.request(proposal, { command: "codestral.accept", args: { jobId: proposal.jobId } });
    } catch (error) {
      return this.gone(proposal, error);
    }
    await this.close(proposal);
    if (result && result.status === "applied" && before !== undefined) {
      const editor = await vscode.window.showTextDocument(document, { preview: false });
      const ranges = changedRanges(before, hunks).map(
        (r) => new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character),
      );
      editor.setDecorations(this.highlight, ranges);
      setTimeout(() => editor.setDecorations(this.highlight, []), HIGHLIGHT_MS);
    }
    // "kept": the server has said why (a warning) and opened the answer beside the code.
    await this.showResult(result);
  }

  async reject(proposal) {
    if (!proposal) return;
    let result;
    try {
      result = await this.request(proposal, { command: "codestral.reject", args: { jobId: proposal.jobId } });
    } catch (error) {
      return this.gone(proposal, error);
    }
    await this.close(proposal);
    if (result && result.message) vscode.window.setStatusBarMessage(`Codestral: ${result.message}`, 8000);
  }

  /** Ask once what to change, then ask Codestral again on the same code (a new proposal). */
  async retry(proposal) {
    if (!proposal) return;
    const instruction = await vscode.window.showInputBox({
      title: `Codestral: Retry ${proposal.title}`,
      prompt: "What should change in this answer?",
      placeHolder: "e.g. keep the variable names, use math.pi",
      ignoreFocusOut: true,
      validateInput: (text) => (text.trim() ? undefined : "Say what Codestral should change, or press Escape."),
    });
    if (!instruction || !instruction.trim()) return;
    await this.close(proposal);
    const document = documentFor(proposal.uri);
    const unmark = document ? this.marks.add(proposal.uri, proposal.range, proposal.title) : () => {};
    let result;
    try {
      result = await this.request(proposal, {
        command: "codestral.accept",
        args: { jobId: proposal.jobId, instruction },
      });
    } catch (error) {
      return this.gone(proposal, error);
    } finally {
      unmark();
    }
    if (result && result.status === "proposed") await this.proposed(result);
    else await this.showResult(result);
  }

  /**
   * The server no longer has it (expired, answered, or its document closed): its diff closes.
   * The server has said so (InvalidParams comes with its message); anything else is said here.
   */
  async gone(proposal, error) {
    await this.close(proposal);
    if (error && error.code === INVALID_PARAMS) return;
    vscode.window.showWarningMessage(`Codestral: ${(error && error.message) || String(error)}`);
  }

  /** Forget the proposal and close its diff. */
  async close(proposal) {
    clearTimeout(proposal.timer);
    this.proposals.delete(proposal.jobId);
    const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs);
    const open = tabs.filter(
      (tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.toString() === proposal.view.toString(),
    );
    if (open.length) await vscode.window.tabGroups.close(open);
    this.documents.delete(proposal.view);
    this.updateContext();
  }

  /** The user closed a proposal's diff: it stays open (until it expires); say how to get it back. */
  tabsClosed(tabs) {
    for (const tab of tabs) {
      if (!(tab.input instanceof vscode.TabInputTextDiff)) continue;
      const proposal = [...this.proposals.values()].find((p) => p.view.toString() === tab.input.modified.toString());
      if (!proposal) continue; // answered: closed by us
      vscode.window.setStatusBarMessage(
        `Codestral: the ${proposal.title} proposal is still open; click "Codestral: proposal" below to see it again, or run Reject Proposal.`,
        10000,
      );
    }
  }

  updateContext() {
    const open = this.proposals.size;
    vscode.commands.executeCommand("setContext", "codestral.hasProposal", open > 0);
    this.item.text = `$(git-compare) Codestral: ${open === 1 ? "proposal" : `${open} proposals`}`;
    this.item.tooltip = "Show Codestral's proposal waiting for Accept, Reject or Retry";
    if (open > 0) this.item.show();
    else this.item.hide();
  }
}

module.exports = { Review, PROPOSAL_SCHEME };
