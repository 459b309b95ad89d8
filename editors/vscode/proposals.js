// A proposal's hunks as offsets in the document, kept on their text while the user edits
// elsewhere, and the proposed text shown beside the document. Pure: no `vscode` here.
// Offsets and LSP characters are both UTF-16 code units, as JavaScript strings count them.
"use strict";

/** The offset of each line's start in `text` (LSP lines end at \n, \r\n or \r). */
function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 /* \r */) {
      if (text.charCodeAt(i + 1) === 10) i++;
      starts.push(i + 1);
    } else if (c === 10 /* \n */) {
      starts.push(i + 1);
    }
  }
  return starts;
}

/** An LSP position → an offset in `text` (clamped to the line and to the text). */
function offsetAt(text, starts, position) {
  if (position.line >= starts.length) return text.length;
  const start = starts[position.line];
  const next = position.line + 1 < starts.length ? starts[position.line + 1] : text.length;
  let end = next;
  while (end > start && (text[end - 1] === "\n" || text[end - 1] === "\r")) end--;
  return Math.min(start + position.character, end);
}

/** An offset in `text` → an LSP position. */
function positionAt(starts, offset) {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle] <= offset) low = middle;
    else high = middle - 1;
  }
  return { line: low, character: offset - starts[low] };
}

/** The TextEdits of `edit` (a WorkspaceEdit, with `changes` or `documentChanges`) for `uri`. */
function textEditsFor(edit, uri) {
  if (!edit) return [];
  const found = [];
  for (const change of edit.documentChanges || []) {
    if (change.textDocument && change.textDocument.uri === uri) found.push(...change.edits);
  }
  if (edit.changes && edit.changes[uri]) found.push(...edit.changes[uri]);
  return found;
}

/**
 * The hunks of a proposal — `{start, end, text}`: replace [start, end) of the document by text —
 * from its WorkspaceEdit, against the document's text now. Sorted, as the server sends them.
 */
function hunksOf(edit, uri, documentText) {
  const starts = lineStarts(documentText);
  return textEditsFor(edit, uri)
    .map((e) => ({
      start: offsetAt(documentText, starts, e.range.start),
      end: offsetAt(documentText, starts, e.range.end),
      text: e.newText,
    }))
    .sort((a, b) => a.start - b.start || a.end - b.end);
}

/** An LSP range as `{start, end}` offsets in `documentText`. */
function spanOf(range, documentText) {
  const starts = lineStarts(documentText);
  return { start: offsetAt(documentText, starts, range.start), end: offsetAt(documentText, starts, range.end) };
}

/**
 * Moves `spans` (hunks or ranges, `{start, end}`) past one change of the document:
 * `{rangeOffset, rangeLength, text}` as VS Code reports it. A span after the change shifts (typing
 * right at its start counts as before it); one before it stays; one the change overlaps stretches
 * over the change and is reported (`touched`): the server will refuse that proposal.
 */
function shift(spans, change) {
  const from = change.rangeOffset;
  const to = from + change.rangeLength;
  const delta = change.text.length - change.rangeLength;
  let touched = false;
  const moved = spans.map((span) => {
    if (to <= span.start) return { ...span, start: span.start + delta, end: span.end + delta };
    if (from >= span.end) return span;
    touched = true;
    return { ...span, start: Math.min(span.start, from), end: Math.max(span.end + delta, from + change.text.length) };
  });
  return { spans: moved, touched };
}

/** `documentText` with the hunks applied: what the document would become. */
function applyHunks(documentText, hunks) {
  let text = documentText;
  for (const hunk of [...hunks].sort((a, b) => b.start - a.start)) {
    text = text.slice(0, hunk.start) + hunk.text + text.slice(hunk.end);
  }
  return text;
}

/**
 * Where each hunk's new text lies once applied, as LSP ranges in the text after the edit: the
 * lines to highlight. A deletion is an empty range where the text was.
 */
function changedRanges(documentText, hunks) {
  const after = applyHunks(documentText, hunks);
  const starts = lineStarts(after);
  let delta = 0;
  return [...hunks]
    .sort((a, b) => a.start - b.start)
    .map((hunk) => {
      const start = hunk.start + delta;
      delta += hunk.text.length - (hunk.end - hunk.start);
      let end = start + hunk.text.length;
      // A hunk whose text ends a line highlights up to that line, not the next one.
      if (end > start && after[end - 1] === "\n") end -= 1;
      return { start: positionAt(starts, start), end: positionAt(starts, end) };
    });
}

module.exports = { lineStarts, offsetAt, positionAt, textEditsFor, hunksOf, spanOf, shift, applyHunks, changedRanges };
