"""A corpus of answer shapes that code models really write, each with the exact outcome.

Every case is a document with the selection between ``⟦`` and ``⟧``, an answer to a rewrite of
it, and what must happen: the exact resulting document, or :class:`Kept` with the reason. The
``source`` of each case says where the shape was seen: a Codestral answer quoted in a cookbook,
Continue's post-processing tests, Tabby's edit prompt, peers' issue threads, or issues 10 and 16 of
this project (which list the shapes that made the server apply wrong code).

Used by ``tests/test_answer_shapes.py`` and by ``python -m bench.answers``.
"""

from __future__ import annotations

from dataclasses import dataclass

from codestral_lsp.answer import fit_to_selection
from codestral_lsp.shapes import (
    BAD_DIFF,
    LEFT_OUT_CODE,
    NO_MATCH,
    OUTSIDE,
    PROSE,
    REWROTE_CONTEXT,
    SEVERAL,
    plan_rewrite,
)

# Where each shape comes from.
MISTRAL = (
    "codestral-latest's answer in the Codestral cookbook "
    "(developers.llamaindex.ai/python/examples/cookbooks/codestral): 'Sure, here is …', a python "
    "block, then prose"
)
CONTINUE_LAZY = "continuedev/continue core/edit/lazy/test-examples/calculator-exp.js.diff ('// ... same ...')"
CONTINUE_ISLAZY = "continuedev/continue core/edit/lazy/isLazyText.ts (comments of the form '... text ...')"
CONTINUE_UDIFF = (
    "continuedev/continue core/edit/lazy/unifiedDiffApply.test.ts (hunks with and without headers)"
)
CONTINUE_STREAM = (
    "continuedev/continue core/autocomplete/filtering/streamTransforms/lineStream.test.ts "
    "(unfenced code, nested Markdown blocks)"
)
TABBY = (
    "TabbyML/tabby clients/tabby-agent/src/chat/prompts/edit-command-replace.md (the prompt must forbid "
    "repeating the prefix/suffix: models echo them) and its <GENERATEDCODE> tags"
)
ISSUE16 = (
    "issue 16 of this project: shapes seen applied wrongly (peers' bug class: avante #1179, tabby #3330)"
)
CODECOMPANION = (
    "olimorris/codecompanion.nvim #536 (Gemini's inline answer wrapped in code tags); whole-buffer "
    "answers are the class issue 16 cites as codecompanion #546 (that thread is not in the search index)"
)
LSPAI = (
    "unfenced answers with prose, the class issue 16 and shared/notes/peers.md cite as lsp-ai #105 "
    "(that thread is not in the search index)"
)
AVANTE = "avante-corp/avante.nvim #353 (models return snippets with line numbers)"
ISSUE10 = "issue 10 of this project: a line of backticks inside the code ended the block early"
MIXED = (
    "found by the hypothesis mix of this corpus (tests/test_answer_shapes.py): prose and Markdown after code"
)


@dataclass(frozen=True)
class Kept:
    """The answer must be kept (not applied), for this reason."""

    reason: str


@dataclass(frozen=True)
class Case:
    """One answer shape: document with ⟦selection⟧, the answer, and the expected outcome."""

    id: str
    source: str
    language: str
    document: str
    answer: str
    expected: str | Kept
    action: str = "refactor"

    def parts(self) -> tuple[str, str, str]:
        """Text before, inside and after the selection."""
        before, rest = self.document.split("⟦")
        selection, after = rest.split("⟧")
        return before, selection, after

    def original(self) -> str:
        """The document without the markers."""
        return "".join(self.parts())


def outcome(case: Case) -> str | Kept:
    """What the server makes of the answer: the resulting document, or Kept(reason)."""
    before, selection, after = case.parts()
    plan = plan_rewrite(case.answer, before, selection, after, language=case.language, action=case.action)
    if plan.code is None:
        return Kept(plan.reason or "")
    eol = "\r\n" if "\r\n" in case.original() else "\n"
    line_prefix = before[before.rfind("\n") + 1 :]
    return before + fit_to_selection(plan.code, selection, line_prefix, eol) + after


def verdict(case: Case) -> str:
    """``landed`` (exactly the expected document), ``kept`` (as expected), ``kept-could-land``
    (kept though the expected edit was clear) or ``wrong`` (applied, but not as expected)."""
    got = outcome(case)
    if isinstance(case.expected, Kept):
        return "kept" if got == case.expected else "wrong"
    if isinstance(got, Kept):
        return "kept-could-land"
    return "landed" if got == case.expected else "wrong"


# -- documents -------------------------------------------------------------------------------

PY = """import os


class Greeter:
    def greet(self, name):
        message = "Hello, " + name
        print(message)
        return message

    def part(self):
        return 1
"""
PY_BODY = PY.replace(
    '        message = "Hello, " + name\n        print(message)\n',
    '⟦        message = "Hello, " + name\n        print(message)\n⟧',
)
PY_METHOD = PY.replace("    def part(self):\n        return 1\n", "⟦    def part(self):\n        return 1\n⟧")
PY_GREET = PY.replace(
    '    def greet(self, name):\n        message = "Hello, " + name\n        print(message)\n        return message\n',
    '⟦    def greet(self, name):\n        message = "Hello, " + name\n        print(message)\n        return message\n⟧',
)
NEW_BODY = '        message = f"Hello, {name}"\n        print(message)\n'
PY_NEW_BODY = PY.replace('        message = "Hello, " + name\n        print(message)\n', NEW_BODY)
PY_PART2 = PY.replace("        return 1\n", "        return 2\n")
NEW_GREET = '    def greet(self, name):\n        message = f"Hello, {name}"\n        print(message)\n        return message\n'

JS = """class Calculator {
  constructor() {
    this.result = 0;
  }

  add(number) {
    this.result += number;
    return this;
  }

  subtract(number) {
    this.result -= number;
    return this;
  }
}
"""
JS_ADD_BODY = JS.replace(
    "    this.result += number;\n    return this;\n", "⟦    this.result += number;\n    return this;\n⟧"
)
JS_CLASS = "⟦" + JS + "⟧"
JS_NEW_ADD = JS.replace("    this.result += number;\n", "    this.result = this.result + number;\n")

GO = "func main() {\n\tif ok {\n\t\trun()\n\t}\n\tdone()\n}\n"
GO_IF = "func main() {\n⟦\tif ok {\n\t\trun()\n\t}\n⟧\tdone()\n}\n"
GO_CALC = 'func main() {\n\tfmt.Println("  ^  : Power")\n\tfmt.Println("  √  : Square root")\n}\n'

TS_CRLF = "export function total(items: number[]): number {\r\n  let sum = 0;\r\n  for (const i of items) sum += i;\r\n  return sum;\r\n}\r\n"
TS_BODY = TS_CRLF.replace(
    "  let sum = 0;\r\n  for (const i of items) sum += i;\r\n  return sum;\r\n",
    "⟦  let sum = 0;\r\n  for (const i of items) sum += i;\r\n  return sum;\r\n⟧",
)
TS_NEW = TS_CRLF.replace(
    "  let sum = 0;\r\n  for (const i of items) sum += i;\r\n  return sum;\r\n",
    "  return items.reduce((sum, i) => sum + i, 0);\r\n",
)

RUST = 'fn area(w: u32, h: u32) -> u32 {\n    let a = w * h;\n    a\n}\n\nfn main() {\n    println!("{}", area(2, 3));\n}\n'
RUST_FN = RUST.replace(
    "fn area(w: u32, h: u32) -> u32 {\n    let a = w * h;\n    a\n}\n",
    "⟦fn area(w: u32, h: u32) -> u32 {\n    let a = w * h;\n    a\n}\n⟧",
)

JAVA = """public class Box {
    private int size;

    public int getSize() {
        return size;
    }

    public void setSize(int size) {
        this.size = size;
    }
}
"""
JAVA_GET = JAVA.replace(
    "    public int getSize() {\n        return size;\n    }\n",
    "⟦    public int getSize() {\n        return size;\n    }\n⟧",
)

C = "int sum(int *a, int n) {\n    int s = 0;\n    for (int i = 0; i < n; i++) s += a[i];\n    return s;\n}\n"
CSHARP = (
    'class Greeter\n{\n    public string Greet(string name)\n    {\n        var message = "Hello, " + name;\n'
    "        return message;\n    }\n}\n"
)
SHELL = 'greet() {\n  msg="Hello, $1"\n  echo $msg\n}\n'
PHP = "<?php\n\nfunction total(array $items): int\n{\n    $sum = 0;\n    foreach ($items as $i) {\n        $sum += $i;\n    }\n    return $sum;\n}\n"
KOTLIN = "class Box(var size: Int) {\n    fun grow() {\n        size += 1\n    }\n\n    fun shrink() {\n        size -= 1\n    }\n}\n"
HTML = "<ul>\n  <li>One</li>\n  <li>Two</li>\n  <li>Three</li>\n</ul>\n"
LUA = "local function f(x)\n  local y = x * 2\n  return y + 1\nend\n"
RUBY = 'def greet(name)\n  puts "Hello, " + name\nend\n'
PY_TABS = "def f(x):\n\tif x:\n\t\treturn 1\n\treturn 0\n"

DOCSTRING_DOC = '''def render(items):
    ⟦"""Render items as Markdown.

    Example:

        ```python
        render(["a"])
        ```
    """
    return "\\n".join(items)
⟧
def after():
    pass
'''
DOCSTRING_ANSWER = '''```python
    """Render items as Markdown.

    Example:

        ```python
        render(["a"])
        ```
    """
    return "\\n".join(f"- {item}" for item in items)
```'''

MODULE_DOC = '''⟦"""Tools.

```python
>>> tool()
```
"""
x = 1
⟧'''
MODULE_ANSWER = '''```python
"""Tools.

```python
>>> tool()
```
"""
x = 2
```'''


def _fence(code: str, lang: str = "python") -> str:
    return f"```{lang}\n{code}```"


CASES: list[Case] = [
    # -- clean and nearly clean --------------------------------------------------------------
    Case("py-fenced", MISTRAL, "python", PY_BODY, _fence(NEW_BODY), PY_NEW_BODY),
    Case(
        "py-prose-around",
        MISTRAL,
        "python",
        PY_BODY,
        f"Sure, here is the refactored code:\n\n{_fence(NEW_BODY)}\n\nThis version uses an f-string, "
        "which is more readable.",
        PY_NEW_BODY,
    ),
    Case(
        "py-fence-no-language",
        ZED := "zed-industries/zed #3137 (code in a markdown block)",
        "python",
        PY_BODY,
        f"```\n{NEW_BODY}```",
        PY_NEW_BODY,
    ),
    Case("py-tilde-fence", CONTINUE_STREAM, "python", PY_BODY, f"~~~python\n{NEW_BODY}~~~", PY_NEW_BODY),
    Case(
        "py-dedented",
        ISSUE16,
        "python",
        PY_METHOD,
        _fence("def part(self):\n    return 2\n"),
        PY_PART2,
    ),
    Case(
        "py-bom",
        ISSUE16,
        "python",
        PY_METHOD,
        "\ufeff" + _fence("    def part(self):\n        return 2\n"),
        PY_PART2,
    ),
    Case(
        "py-unterminated-fence",
        ISSUE16,
        "python",
        PY_METHOD,
        "```python\n    def part(self):\n        return 2\n",
        PY_PART2,
    ),
    # -- echoed context ----------------------------------------------------------------------
    Case(
        "py-echo-header",
        ISSUE16,
        "python",
        PY_BODY,
        _fence("    def greet(self, name):\n" + NEW_BODY),
        PY_NEW_BODY,
    ),
    Case(
        "py-echo-header-dedented",
        TABBY,
        "python",
        PY_BODY,
        _fence('def greet(self, name):\n    message = f"Hello, {name}"\n    print(message)\n'),
        PY_NEW_BODY,
    ),
    Case(
        "py-echo-header-and-next-line",
        TABBY,
        "python",
        PY_BODY,
        _fence("    def greet(self, name):\n" + NEW_BODY + "        return message\n"),
        PY_NEW_BODY,
    ),
    Case(
        "py-echo-header-changed",
        ISSUE16,
        "python",
        PY_BODY,
        _fence("    def greet(self, name: str) -> str:\n" + NEW_BODY),
        Kept(REWROTE_CONTEXT),
    ),
    Case(
        "py-whole-class",
        CODECOMPANION,
        "python",
        PY_METHOD,
        _fence(PY_PART2.split("\n\n\n", 1)[1]),
        PY_PART2,
    ),
    Case("py-whole-file", CODECOMPANION, "python", PY_METHOD, _fence(PY_PART2), PY_PART2),
    Case(
        "py-whole-file-with-change-outside",
        CODECOMPANION,
        "python",
        PY_METHOD,
        _fence(PY_PART2.replace("import os\n", "import os\nimport sys\n")),
        Kept(OUTSIDE),
    ),
    # -- several blocks ----------------------------------------------------------------------
    Case(
        "py-code-then-usage-block",
        MISTRAL,
        "python",
        PY_BODY,
        f"{_fence(NEW_BODY)}\n\nExample usage:\n\n```python\ng = Greeter()\ng.greet('Ada')\n```\n",
        PY_NEW_BODY,
    ),
    Case(
        "py-code-then-longer-tests",
        ISSUE16,
        "python",
        PY_METHOD,
        _fence("    def part(self):\n        return 2\n")
        + "\n\nAnd some tests:\n\n```python\nimport pytest\n\n\ndef test_part():\n    assert Greeter().part() == 2\n\n\n"
        "def test_part_is_int():\n    assert isinstance(Greeter().part(), int)\n```\n",
        PY_PART2,
    ),
    Case(
        "py-before-and-after-blocks",
        ISSUE16,
        "python",
        PY_BODY,
        f"Original:\n\n```python\n{PY_BODY.split('⟦')[1].split('⟧')[0]}```\n\nRefactored:\n\n{_fence(NEW_BODY)}",
        PY_NEW_BODY,
    ),
    Case(
        "py-two-alternatives",
        MISTRAL,
        "python",
        PY_BODY,
        f"{_fence(NEW_BODY)}\n\nAlternatively:\n\n"
        + _fence('        message = "Hello, {}".format(name)\n        print(message)\n'),
        Kept(SEVERAL),
    ),
    Case(
        "py-unrelated-blocks",
        ISSUE16,
        "python",
        PY_BODY,
        "First install it:\n\n```bash\npip install requests\n```\n\nThen:\n\n```python\nimport requests\n"
        "requests.get(url).json()\n```",
        Kept(NO_MATCH),
    ),
    Case(
        "py-main-guard-in-block",
        MISTRAL,
        "python",
        PY_METHOD,
        _fence(
            '    def part(self):\n        return 2\n\n\nif __name__ == "__main__":\n    print(Greeter().part())\n'
        ),
        PY_PART2,
    ),
    # -- unfenced ----------------------------------------------------------------------------
    Case("py-unfenced", LSPAI, "python", PY_BODY, NEW_BODY, PY_NEW_BODY),
    Case(
        "py-unfenced-prose-after",
        LSPAI,
        "python",
        PY_BODY,
        NEW_BODY + "\nThis uses an f-string instead of concatenation.\n",
        PY_NEW_BODY,
    ),
    Case(
        "py-unfenced-prose-around",
        LSPAI,
        "python",
        PY_BODY,
        "Here's the updated code:\n\n" + NEW_BODY + "\nI replaced the concatenation with an f-string.",
        PY_NEW_BODY,
    ),
    Case(
        "py-unfenced-prose-between",
        LSPAI,
        "python",
        PY_BODY,
        '        message = f"Hello, {name}"\n\nThe next line prints the greeting for the user.\n\n'
        "        print(message)\n",
        Kept(PROSE),
    ),
    Case(
        "py-unfenced-forgotten-fence-info",
        LSPAI,
        "python",
        PY_BODY,
        "python\n" + NEW_BODY,
        PY_NEW_BODY,
    ),
    Case("py-code-tags", CODECOMPANION, "python", PY_BODY, "<code>\n" + NEW_BODY + "</code>", PY_NEW_BODY),
    Case(
        "py-generatedcode-tags",
        TABBY,
        "python",
        PY_BODY,
        "<GENERATEDCODE>\n" + NEW_BODY + "</GENERATEDCODE>",
        PY_NEW_BODY,
    ),
    Case(
        "py-unfenced-docstring-sentences",
        LSPAI,
        "python",
        PY_METHOD,
        '    def part(self):\n        """Return the part.\n\n        This is the whole of it.\n        """\n        return 1\n',
        PY.replace(
            "        return 1\n",
            '        """Return the part.\n\n        This is the whole of it.\n        """\n        return 1\n',
        ),
        action="document",
    ),
    Case("py-line-numbers", AVANTE, "python", PY_METHOD, "10: def part(self):\n11:     return 2\n", PY_PART2),
    # -- elision -----------------------------------------------------------------------------
    Case(
        "py-existing-code-comment",
        CONTINUE_ISLAZY,
        "python",
        PY_GREET,
        _fence(
            '    def greet(self, name):\n        message = f"Hello, {name}"\n        # ... existing code ...\n'
        ),
        Kept(LEFT_OUT_CODE),
    ),
    Case(
        "py-rest-unchanged",
        ISSUE16,
        "python",
        PY_GREET,
        _fence(
            '    def greet(self, name):\n        message = f"Hello, {name}"\n        # rest of the method unchanged\n'
        ),
        Kept(LEFT_OUT_CODE),
    ),
    Case(
        "py-bare-ellipsis-for-code",
        ISSUE16,
        "python",
        PY_GREET,
        _fence('    def greet(self, name):\n        message = f"Hello, {name}"\n        ...\n'),
        Kept(LEFT_OUT_CODE),
    ),
    Case(
        "py-ellipsis-stub-is-code",
        ISSUE16,
        "python",
        PY_METHOD,
        _fence("    def part(self):\n        return 1\n\n    def other(self) -> int:\n        ...\n"),
        PY.replace("        return 1\n", "        return 1\n\n    def other(self) -> int:\n        ...\n"),
        action="edit",
    ),
    Case(
        "py-whole-file-elided",
        CODECOMPANION,
        "python",
        PY_METHOD,
        _fence(
            "import os\n\n# ... rest of the file unchanged ...\n\n    def part(self):\n        return 2\n"
        ),
        Kept(LEFT_OUT_CODE),
    ),
    Case(
        "js-lazy-same",
        CONTINUE_LAZY,
        "javascript",
        JS_CLASS,
        _fence(
            "class Calculator {\n  constructor() {\n    this.result = 0;\n  }\n\n  // ... same ...\n\n"
            "  exp(a) {\n    this.result = Math.pow(this.result, a);\n    return this;\n  }\n\n  // ... same ...\n}\n",
            "javascript",
        ),
        Kept(LEFT_OUT_CODE),
    ),
    Case(
        "go-rest-of-function",
        ISSUE16,
        "go",
        GO_IF,
        _fence("\tif ok {\n\t\trun()\n\t\t// rest of the function stays the same\n", "go"),
        Kept(LEFT_OUT_CODE),
    ),
    Case(
        "rust-bare-ellipsis",
        ISSUE16,
        "rust",
        RUST_FN,
        _fence("fn area(w: u32, h: u32) -> u32 {\n    ...\n}\n", "rust"),
        Kept(LEFT_OUT_CODE),
    ),
    Case(
        "c-block-comment-elision",
        CONTINUE_ISLAZY,
        "c",
        "⟦" + C + "⟧",
        _fence("int sum(int *a, int n) {\n    /* ... */\n    return s;\n}\n", "c"),
        Kept(LEFT_OUT_CODE),
    ),
    Case(
        "html-comment-elision",
        CONTINUE_ISLAZY,
        "html",
        "⟦" + HTML + "⟧",
        _fence('<ul class="list">\n  <!-- ... existing items ... -->\n</ul>\n', "html"),
        Kept(LEFT_OUT_CODE),
    ),
    Case(
        "lua-comment-elision",
        ISSUE16,
        "lua",
        "⟦" + LUA + "⟧",
        _fence("local function f(x)\n  -- ... rest unchanged\nend\n", "lua"),
        Kept(LEFT_OUT_CODE),
    ),
    # -- diffs -------------------------------------------------------------------------------
    Case(
        "py-diff-hunk",
        CONTINUE_UDIFF,
        "python",
        PY_BODY,
        '```diff\n--- a/greeter.py\n+++ b/greeter.py\n@@ -6,2 +6,2 @@\n-        message = "Hello, " + name\n'
        '+        message = f"Hello, {name}"\n         print(message)\n```',
        PY_NEW_BODY,
    ),
    Case(
        "py-diff-without-header",
        CONTINUE_UDIFF,
        "python",
        PY_BODY,
        '```diff\n-        message = "Hello, " + name\n+        message = f"Hello, {name}"\n         print(message)\n```',
        PY_NEW_BODY,
    ),
    Case(
        "py-diff-markers-in-python-block",
        ISSUE16,
        "python",
        PY_BODY,
        '```python\n-        message = "Hello, " + name\n+        message = f"Hello, {name}"\n         print(message)\n```',
        PY_NEW_BODY,
    ),
    Case(
        "py-diff-does-not-apply",
        CONTINUE_UDIFF,
        "python",
        PY_BODY,
        "```diff\n@@ -1,3 +1,3 @@\n missing1\n-missing2\n+newline2\n missing3\n```",
        Kept(BAD_DIFF),
    ),
    Case(
        "py-diff-outside-selection",
        CONTINUE_UDIFF,
        "python",
        PY_BODY,
        "```diff\n@@ -1,1 +1,2 @@\n import os\n+import sys\n```",
        Kept(OUTSIDE),
    ),
    Case(
        "go-diff-context-around",
        CONTINUE_UDIFF,
        "go",
        GO_CALC.replace('\tfmt.Println("  √  : Square root")\n', '⟦\tfmt.Println("  √  : Square root")\n⟧'),
        '```diff\n--- original.go\n+++ updated.go\n@@ -2,3 +2,4 @@\n \tfmt.Println("  ^  : Power")\n'
        ' \tfmt.Println("  √  : Square root")\n+\tfmt.Println("  log: Logarithm")\n }\n```',
        GO_CALC.replace(
            '\tfmt.Println("  √  : Square root")\n',
            '\tfmt.Println("  √  : Square root")\n\tfmt.Println("  log: Logarithm")\n',
        ),
    ),
    # -- other languages, indentation and line endings ---------------------------------------
    Case(
        "js-fenced-two-spaces",
        MISTRAL,
        "javascript",
        JS_ADD_BODY,
        "Here you go:\n\n```js\n    this.result = this.result + number;\n    return this;\n```",
        JS_NEW_ADD,
    ),
    Case(
        "js-echo-header-and-brace",
        TABBY,
        "javascript",
        JS_ADD_BODY,
        _fence(
            "  add(number) {\n    this.result = this.result + number;\n    return this;\n  }\n", "javascript"
        ),
        JS_NEW_ADD,
    ),
    Case(
        "js-echo-closing-brace-only",
        TABBY,
        "javascript",
        JS_ADD_BODY,
        _fence("    this.result = this.result + number;\n    return this;\n  }\n", "javascript"),
        JS_NEW_ADD,
    ),
    Case(
        "js-new-block-with-brace",
        ISSUE16,
        "javascript",
        JS_ADD_BODY,
        _fence(
            "    if (typeof number !== 'number') {\n      throw new TypeError('number expected');\n    }\n"
            "    this.result += number;\n    return this;\n",
            "javascript",
        ),
        JS.replace(
            "    this.result += number;\n",
            "    if (typeof number !== 'number') {\n      throw new TypeError('number expected');\n    }\n"
            "    this.result += number;\n",
            1,
        ),
    ),
    Case(
        "go-tabs-answer-in-spaces",
        ISSUE16,
        "go",
        GO_IF,
        _fence("if ok {\n    run()\n    log()\n}\n", "go"),
        "func main() {\n\tif ok {\n\t\trun()\n\t\tlog()\n\t}\n\tdone()\n}\n",
    ),
    Case(
        "py-tabs-answer-in-spaces",
        ISSUE16,
        "python",
        "def f(x):\n⟦\tif x:\n\t\treturn 1\n⟧\treturn 0\n",
        _fence("if x:\n    return 2\n"),
        PY_TABS.replace("return 1", "return 2"),
    ),
    Case(
        "ts-crlf-document",
        ISSUE16,
        "typescript",
        TS_BODY,
        _fence("  return items.reduce((sum, i) => sum + i, 0);\n", "typescript"),
        TS_NEW,
    ),
    Case(
        "ts-crlf-answer-with-prose",
        MISTRAL,
        "typescript",
        TS_BODY,
        "Sure! Here's a shorter version:\r\n\r\n```ts\r\n  return items.reduce((sum, i) => sum + i, 0);\r\n```\r\n\r\n"
        "It uses `reduce`.\r\n",
        TS_NEW,
    ),
    Case(
        "ts-crlf-echo-header",
        TABBY,
        "typescript",
        TS_BODY,
        _fence(
            "export function total(items: number[]): number {\n  return items.reduce((sum, i) => sum + i, 0);\n}\n",
            "typescript",
        ),
        TS_NEW,
    ),
    Case(
        "rust-fenced-with-explanation",
        MISTRAL,
        "rust",
        RUST_FN,
        "```rust\nfn area(w: u32, h: u32) -> u32 {\n    w * h\n}\n```\n\nThe temporary `a` was not needed.",
        RUST.replace("    let a = w * h;\n    a\n", "    w * h\n"),
    ),
    Case(
        "java-whole-class-for-method",
        CODECOMPANION,
        "java",
        JAVA_GET,
        _fence(JAVA.replace("        return size;\n", "        return this.size;\n"), "java"),
        JAVA.replace("        return size;\n", "        return this.size;\n"),
    ),
    Case(
        "ruby-unfenced-prose",
        LSPAI,
        "ruby",
        "⟦" + RUBY + "⟧",
        'Here\'s the updated method:\n\ndef greet(name)\n  puts "Hello, #{name}"\nend\n',
        RUBY.replace('"Hello, " + name', '"Hello, #{name}"'),
    ),
    Case(
        "mid-line-whole-line-echoed",
        TABBY,
        "python",
        "total = ⟦price * qty⟧\nnext_line = 1\n",
        _fence("total = price * quantity\n"),
        "total = price * quantity\nnext_line = 1\n",
    ),
    Case(
        "mid-line-inline-backticks",
        LSPAI,
        "python",
        "total = ⟦price * qty⟧\nnext_line = 1\n",
        "`price * quantity`",
        "total = price * quantity\nnext_line = 1\n",
    ),
    Case(
        "js-unfenced-then-markdown",
        MIXED,
        "javascript",
        JS_ADD_BODY,
        "    this.result = this.result + number;\n    return this;\n\nThis uses `this.result` explicitly.\n"
        "\n**Changes:**\n- no compound assignment\n",
        JS_NEW_ADD,
    ),
    Case(
        "sql-unfenced-uppercase",
        LSPAI,
        "sql",
        "⟦SELECT name\nFROM users\nWHERE id = 1;\n⟧",
        "Here is the query with the email added:\n\nSELECT name, email\nFROM users\nWHERE id = 1;\n",
        "SELECT name, email\nFROM users\nWHERE id = 1;\n",
    ),
    Case(
        "py-unclosed-fence-then-prose",
        MIXED,
        "python",
        PY_METHOD,
        "```python\n    def part(self):\n        return 2\n\nThis returns two now.\n",
        PY_PART2,
    ),
    Case(
        "py-prose-inside-the-fence",
        LSPAI,
        "python",
        PY_METHOD,
        "```python\n    def part(self):\n        return 2\n\nThis method now returns two instead of one.\n```",
        PY_PART2,
    ),
    Case(
        "csharp-allman-echo",
        TABBY,
        "csharp",
        CSHARP.replace(
            '        var message = "Hello, " + name;\n        return message;\n',
            '⟦        var message = "Hello, " + name;\n        return message;\n⟧',
        ),
        _fence(
            '    public string Greet(string name)\n    {\n        var message = $"Hello, {name}";\n'
            "        return message;\n    }\n",
            "csharp",
        ),
        CSHARP.replace('"Hello, " + name', '$"Hello, {name}"'),
    ),
    Case(
        "shell-unfenced-prose",
        LSPAI,
        "shellscript",
        SHELL.replace('  msg="Hello, $1"\n  echo $msg\n', '⟦  msg="Hello, $1"\n  echo $msg\n⟧'),
        'Here\'s the fix, with quotes:\n\n  msg="Hello, $1"\n  echo "$msg"\n\nQuoting avoids word splitting.',
        SHELL.replace("echo $msg", 'echo "$msg"'),
    ),
    Case(
        "php-whole-file",
        CODECOMPANION,
        "php",
        PHP.replace(
            "    $sum = 0;\n    foreach ($items as $i) {\n        $sum += $i;\n    }\n    return $sum;\n",
            "⟦    $sum = 0;\n    foreach ($items as $i) {\n        $sum += $i;\n    }\n    return $sum;\n⟧",
        ),
        _fence(
            PHP.replace(
                "    $sum = 0;\n    foreach ($items as $i) {\n        $sum += $i;\n    }\n    return $sum;\n",
                "    return array_sum($items);\n",
            ),
            "php",
        ),
        PHP.replace(
            "    $sum = 0;\n    foreach ($items as $i) {\n        $sum += $i;\n    }\n    return $sum;\n",
            "    return array_sum($items);\n",
        ),
    ),
    Case(
        "kotlin-other-functions-elided",
        CONTINUE_LAZY,
        "kotlin",
        "⟦" + KOTLIN + "⟧",
        _fence(
            "class Box(var size: Int) {\n    fun grow() {\n        size += 2\n    }\n\n    // ... other functions ...\n}\n",
            "kotlin",
        ),
        Kept(LEFT_OUT_CODE),
    ),
    # -- Markdown inside the code (issue 10) -------------------------------------------------
    Case(
        "py-docstring-with-fence",
        ISSUE10,
        "python",
        DOCSTRING_DOC,
        DOCSTRING_ANSWER,
        DOCSTRING_DOC.replace("⟦", "")
        .replace("⟧", "")
        .replace('return "\\n".join(items)', 'return "\\n".join(f"- {item}" for item in items)'),
    ),
    Case(
        "py-module-docstring-nested-fence",
        CONTINUE_STREAM,
        "python",
        MODULE_DOC,
        MODULE_ANSWER,
        MODULE_DOC.replace("⟦", "").replace("⟧", "").replace("x = 1", "x = 2"),
    ),
    # -- Document must not change code -------------------------------------------------------
    Case(
        "py-document-drops-a-line",
        ISSUE16,
        "python",
        PY_GREET,
        _fence(
            '    def greet(self, name):\n        """Greet someone."""\n        message = "Hello, " + name\n'
            "        return message\n"
        ),
        Kept(LEFT_OUT_CODE),
        action="document",
    ),
    Case(
        "py-document-comment-lines-are-code",
        MISTRAL,
        "python",
        PY_BODY,
        _fence('        # Build the greeting.\n        message = "Hello, " + name\n        print(message)\n'),
        PY.replace(
            '        message = "Hello, "', '        # Build the greeting.\n        message = "Hello, "'
        ),
        action="document",
    ),
]
