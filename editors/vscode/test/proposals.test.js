// A proposal's hunks follow the user's edits, and the diff shows what accepting would make.
// Run: node --test editors/vscode/test/
"use strict";

const test = require("node:test");
const assert = require("node:assert");
const { hunksOf, spanOf, shift, applyHunks, changedRanges, positionAt, lineStarts } = require("../proposals");

const URI = "file:///w/shapes.py";
const TEXT = "import os\n\ndef area(r):\n    pi = 3.14\n    return pi * r * r\n";
const range = (l1, c1, l2, c2) => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } });
const EDIT = {
  documentChanges: [
    {
      textDocument: { uri: URI, version: 3 },
      edits: [
        { range: range(3, 0, 4, 0), newText: "" },
        { range: range(4, 11, 4, 21), newText: "3.14 * r ** 2" },
      ],
    },
  ],
};
const PROPOSED = "import os\n\ndef area(r):\n    return 3.14 * r ** 2\n";

test("the proposed text is the document with the edit applied", () => {
  assert.strictEqual(applyHunks(TEXT, hunksOf(EDIT, URI, TEXT)), PROPOSED);
  assert.strictEqual(applyHunks(TEXT, hunksOf({ changes: { [URI]: EDIT.documentChanges[0].edits } }, URI, TEXT)), PROPOSED);
  assert.deepStrictEqual(hunksOf(EDIT, "file:///w/other.py", TEXT), []);
});

test("typing above the hunks moves them: the proposal still lands on its code", () => {
  const hunks = hunksOf(EDIT, URI, TEXT);
  const typed = "# note\n" + TEXT;
  const { spans, touched } = shift(hunks, { rangeOffset: 0, rangeLength: 0, text: "# note\n" });
  assert.strictEqual(touched, false);
  assert.strictEqual(applyHunks(typed, spans), "# note\n" + PROPOSED);
});

test("typing below the hunks leaves them; typing inside one is reported", () => {
  const hunks = hunksOf(EDIT, URI, TEXT);
  const below = shift(hunks, { rangeOffset: TEXT.length, rangeLength: 0, text: "x = 1\n" });
  assert.deepStrictEqual(below, { spans: hunks, touched: false });
  const inside = shift(hunks, { rangeOffset: TEXT.indexOf("3.14"), rangeLength: 0, text: "  " });
  assert.strictEqual(inside.touched, true);
});

test("CRLF lines and UTF-16 characters map as the LSP counts them", () => {
  const text = "é🙂 = 1\r\nb = 2\r\n";
  const span = spanOf(range(0, 3, 1, 0), text);
  assert.deepStrictEqual(span, { start: 3, end: 9 });
  assert.deepStrictEqual(positionAt(lineStarts(text), 9), { line: 1, character: 0 });
  const clamped = spanOf(range(0, 99, 7, 0), text);
  assert.deepStrictEqual(clamped, { start: 7, end: text.length });
});

test("the changed lines to highlight are where the new text landed", () => {
  const ranges = changedRanges(TEXT, hunksOf(EDIT, URI, TEXT));
  assert.deepStrictEqual(ranges, [range(3, 0, 3, 0), range(3, 11, 3, 24)]);
});
