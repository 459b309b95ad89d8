"""Every prompt the server sends, in one place.

Each built-in action has one system prompt. Rewrite actions ask for exactly one fenced block
holding the complete replacement of the selected lines, without elision — and
:mod:`codestral_lsp.shapes` still never trusts the answer to be in that shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codestral_lsp.context import CodeContext, Snippet

if TYPE_CHECKING:
    from codestral_lsp.crossfile import RelatedPiece

BASE = (
    "You are Codestral, an expert programmer working inside the user's code editor. "
    "You are given a selection from a file, with the code around it for context."
)
REPLACEMENT_RULES = (
    "Reply with exactly one fenced code block holding the complete replacement of the selected "
    "lines, and nothing else: no explanation before or after, no second block, no diff. Write "
    "every line out in full, the unchanged ones too: never a placeholder comment or `...` standing "
    "for code. Include no line from outside the selection (not the enclosing header, not the line "
    "after it). Keep the selection's indentation style, and keep every name other code relies on."
)

SYSTEM_PROMPTS: dict[str, str] = {
    "explain": (
        f"{BASE} Explain what the selected code does for a developer reading it: its purpose, "
        "how it works, and anything surprising, risky or worth improving. Answer in Markdown, "
        "concisely: a short paragraph, then bullet points where they help. Put names from the "
        "code in backticks. Do not rewrite the code."
    ),
    "refactor": (
        f"{BASE} Refactor the selected code for readability and structure (clear names, simpler "
        f"control flow, no duplication) without changing its behaviour. {REPLACEMENT_RULES}"
    ),
    "fix": (
        f"{BASE} Fix the problems reported for the selected code (the diagnostics are listed). "
        f"Change only what the fix needs. {REPLACEMENT_RULES}"
    ),
    "fix:undiagnosed": (
        f"{BASE} Find and fix the bugs in the selected code (no diagnostics were reported for it). "
        f"Change only what the fix needs. {REPLACEMENT_RULES}"
    ),
    "document": (
        f"{BASE} Document the selected code: docstrings or doc comments in the language's usual "
        "style for each function, class or module it defines, and brief comments where the logic "
        f"is not obvious. Do not change the code itself. {REPLACEMENT_RULES}"
    ),
    "edit": f"{BASE} Change the selected code as the user's instruction says. {REPLACEMENT_RULES}",
    "tests": (
        f"{BASE} Write unit tests for the selected code with the test framework usual for the "
        "language (pytest for Python, the standard testing package for Go, Jest or Vitest style for "
        "JavaScript and TypeScript, JUnit 5 for Java…). Cover normal cases, edge cases and errors. "
        "Reply with only the code of the test file, imports included, in a single fenced code "
        "block, and nothing else."
    ),
    "custom:replace": f"{BASE} Do what the user asks with the selected code. {REPLACEMENT_RULES}",
    "custom:explain": f"{BASE} Do what the user asks and answer in Markdown.",
    "custom:insertAfter": (
        f"{BASE} Do what the user asks. Reply with only the code to insert right after the "
        "selection, in a single fenced code block, and nothing else."
    ),
}

CURSOR_MARK = "<CURSOR>"
COMPLETION_SYSTEM_PROMPT = (
    f"You complete code. The user's file follows, with {CURSOR_MARK} where the cursor is. Reply "
    f"with only the text to insert at {CURSOR_MARK} — no explanation, no code fence, nothing that "
    "is already before or after the cursor."
)

TASKS: dict[str, str] = {
    "explain": "Explain the selected code.",
    "refactor": "Refactor the selected code.",
    "fix": "Fix the diagnostics listed above in the selected code.",
    "fix:undiagnosed": "Find and fix the bugs in the selected code.",
    "document": "Document the selected code.",
    "edit": "Change the selected code as instructed.",
    "tests": "Write unit tests for the selected code.",
}


def fence_for(text: str) -> str:
    """A backtick fence longer than any run of backticks inside ``text``."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _block(title: str, snippet: Snippet | None, language: str) -> str:
    if snippet is None or not snippet.text.strip():
        return ""
    fence = fence_for(snippet.text)
    body = snippet.text if snippet.text.endswith("\n") else snippet.text + "\n"
    return f"{title} (lines {snippet.first + 1}–{snippet.last + 1}):\n{fence}{language}\n{body}{fence}\n\n"


_PLACEHOLDER = re.compile(r"\{(selection|language|path|diagnostics|instruction)\}")


@dataclass(frozen=True)
class PromptParts:
    """Values a user-defined template can use."""

    selection: str
    language: str
    path: str
    diagnostics: str
    instruction: str


def render_template(template: str, parts: PromptParts) -> str:
    """Fill ``{selection}``, ``{language}``, ``{path}``, ``{diagnostics}``, ``{instruction}``.

    One pass over the template, not ``str.format``: braces in code or in the template stay as
    they are, and a placeholder inside an inserted value (the user's code, a path) is never
    substituted.
    """
    return _PLACEHOLDER.sub(lambda match: str(getattr(parts, match.group(1))), template)


def describe_diagnostics(context: CodeContext) -> str:
    """One line per diagnostic, or an empty string."""
    return "\n".join(f"- {d.describe()}" for d in context.diagnostics)


def related_blocks(pieces: Sequence[RelatedPiece], language: str) -> str:
    """Context from other files, each block labelled with where it is from."""
    from codestral_lsp.definitions import language_of  # not needed at start-up

    text = ""
    for piece in pieces:
        body = piece.text if piece.text.endswith("\n") else piece.text + "\n"
        fence = fence_for(body)
        tag = "markdown" if piece.kind == "instructions" else (language_of(piece.path) or language)
        text += f"{piece.label()}:\n{fence}{tag}\n{body}{fence}\n\n"
    return text


def user_message(
    context: CodeContext,
    task: str,
    instruction: str | None = None,
    related: Sequence[RelatedPiece] = (),
) -> str:
    """The user message: file facts, context blocks by priority, diagnostics, context from other
    files, task, selection."""
    language = context.language or ""
    text = f"File: {context.path or '(unsaved)'}\nLanguage: {language or 'unknown'}\n\n"
    text += _block("Imports and header of the file", context.imports, language)
    text += _block("Code before", context.before, language)
    text += _block("Enclosing code, which contains the selection", context.enclosing, language)
    text += _block("Code after", context.after, language)
    diagnostics = describe_diagnostics(context)
    if diagnostics:
        text += f"Diagnostics reported in the selection:\n{diagnostics}\n\n"
    text += related_blocks(related, language)
    if instruction:
        text += f"Instruction: {instruction}\n\n"
    text += f"{task}\n\n"
    selected = Snippet(context.first_line, context.last_line, context.selection)
    text += _block("Selected code", selected, language).rstrip("\n") + "\n"
    return text
