"""From the model's answer to the exact text that replaces (or follows) the selection.

* :func:`extract_code` lifts the code out of an answer, fenced or not (tests, inserts).
* :func:`fit_to_selection` re-indents it where the model dedented it (never twice), turns
  spaces into tabs in a tab-indented file, and gives it the document's line endings, the
  selection's trailing newline, and the blank lines the selection starts or ends with.
"""

from __future__ import annotations

from itertools import pairwise

from codestral_lsp.shapes import parse_answer


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def extract_code(answer: str) -> str:
    """The code in an answer: the longest fenced block, else the whole answer.

    Fences are read by :func:`codestral_lsp.shapes.parse_answer`: a line of backticks inside
    the code (an indented Markdown example in a docstring) does not end the block. An opening
    fence with no closing one (a truncated answer) takes everything after it. Rewrites use
    :func:`codestral_lsp.shapes.plan_rewrite`, which also chooses among blocks by content.
    """
    blocks, _ = parse_answer(_normalise(answer).lstrip("\ufeff"))
    if blocks:
        return max(("\n".join(b.lines) + "\n" if b.lines else "" for b in blocks), key=len)
    return _normalise(answer).strip("\n") + "\n"


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _common_indent(lines: list[str]) -> str:
    indents = [_leading(line) for line in lines if line.strip()]
    if not indents:
        return ""
    shortest = min(indents, key=len)
    while not all(i.startswith(shortest) for i in indents):
        shortest = shortest[:-1]
    return shortest


def _spaces_to_tabs(lines: list[str]) -> list[str]:
    widths = sorted({len(_leading(line)) for line in lines if line.strip() and "\t" not in _leading(line)})
    steps = [b - a for a, b in pairwise(widths) if b > a]
    unit = min(steps) if steps else (widths[-1] if widths and widths[-1] else 4)
    unit = unit if unit in (2, 3, 4, 8) else 4
    result = []
    for line in lines:
        lead = _leading(line)
        if line.strip() and lead and "\t" not in lead:
            levels, rest = divmod(len(lead), unit)
            line = "\t" * levels + " " * rest + line[len(lead) :]
        result.append(line)
    return result


def fit_to_selection(code: str, selection: str, line_prefix: str, eol: str) -> str:
    """Shape ``code`` to replace ``selection`` (see module doc).

    ``line_prefix`` is the text of the selection's first line before it starts: when it is
    indentation only, the replacement's first line must not repeat it.
    """
    selected = _normalise(selection)
    new_lines = _normalise(code).split("\n")
    if new_lines and new_lines[-1] == "":
        new_lines.pop()
    old_lines = selected.split("\n")
    mid_line = bool(line_prefix.strip())
    if not mid_line:
        full_old = [line_prefix + old_lines[0], *old_lines[1:]] if old_lines else []
        target = _common_indent(full_old)
        if "\t" in target and not any("\t" in _leading(line) for line in new_lines if line.strip()):
            new_lines = _spaces_to_tabs(new_lines)
        current = _common_indent(new_lines)
        if len(current.expandtabs(4)) < len(target.expandtabs(4)):
            new_lines = [target + line[len(current) :] if line.strip() else "" for line in new_lines]
        if line_prefix and new_lines and new_lines[0].startswith(line_prefix):
            new_lines[0] = new_lines[0][len(line_prefix) :]
        elif line_prefix and new_lines:
            new_lines[0] = new_lines[0].lstrip(" \t")
    text = "\n".join(new_lines)
    if selected.endswith("\n"):
        text = text.rstrip("\n") + "\n" if text.strip() else ""
    else:
        text = text.rstrip("\n")
    if text.strip() and not mid_line:  # blank lines at the selection's edges stay as they were
        lead = len(selected) - len(selected.lstrip("\n")) if not line_prefix else 0
        trail = len(selected) - len(selected.rstrip("\n")) - 1 if selected.endswith("\n") else 0
        text = "\n" * lead + text.lstrip("\n")
        text = text.rstrip("\n") + "\n" * (trail + 1) if selected.endswith("\n") else text
    return text.replace("\n", eol) if eol != "\n" else text


def lines_after_selection(code: str, selection: str, line_prefix: str, eol: str) -> str:
    """Text to insert at the selection's end so ``code`` lands on its own lines below it."""
    indent_source = selection if selection.strip() else line_prefix
    fitted = fit_to_selection(
        code, indent_source.strip("\r\n") + "\n", "" if line_prefix.strip() else line_prefix, eol
    )
    if line_prefix and not line_prefix.strip() and fitted:
        fitted = line_prefix + fitted
    if selection.endswith(("\n", "\r")) or not selection:
        return fitted
    return eol + fitted.rstrip("\r\n")
