"""Context from beyond the current file, ranked, labelled and fitted to a budget.

In priority order (each piece says where it is from: workspace-relative path and line):

1. definitions of the names the code uses, resolved through the file's imports (then, for Go,
   the other files of the package; then by a search for the identifier across the workspace);
2. snippets of other open documents most similar to the code (sliding windows of lines ranked
   by the Jaccard similarity of their identifiers: "neighbouring tabs");
3. the project's instructions (``.codestral/instructions.md``, ``AGENTS.md``).

Pure apart from the index, which it reads (never touching the disk for a clean file).
"""

from __future__ import annotations

import dataclasses
import keyword
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from codestral_lsp.context import CodeContext, DiagnosticInfo, build_context
from codestral_lsp.definitions import (
    IDENTIFIER,
    Definition,
    ImportRef,
    chains,
    identifiers,
    language_of,
    parse_imports,
)
from codestral_lsp.workspace_index import FileEntry, WorkspaceIndex

FALLBACK_MAX_CANDIDATES = 3  # an identifier defined in more places than this is too ambiguous
SIMILAR_WINDOW = 20
SIMILAR_STEP = 10
SIMILAR_MIN_SCORE = 0.12
SIMILAR_TOP = 3
PIECE_OVERHEAD = 60  # characters of label and fence around each piece


@dataclass(frozen=True)
class RelatedPiece:
    """Code or text from elsewhere in the workspace, with where it is from."""

    kind: str  # definition | similar | instructions
    path: str  # workspace-relative
    line: int  # zero-based first line
    text: str
    name: str = ""

    def cost(self) -> int:
        """Characters it takes in a prompt, label included."""
        return len(self.text) + len(self.path) + PIECE_OVERHEAD

    def label(self) -> str:
        """``Definition of `normalize_row` from pkg/rows.py, line 12``."""
        where = f"{self.path}, line {self.line + 1}" if self.kind != "instructions" else self.path
        if self.kind == "definition":
            return f"Definition of `{self.name}` from {where}"
        if self.kind == "similar":
            return f"Similar code from {where}"
        return f"Project instructions from {where} (written by the project's developers)"


def _shared_folders(a: str, b: str) -> int:
    """How many leading path components two paths share."""
    count = 0
    for x, y in zip(a.split(os.sep), b.split(os.sep), strict=False):
        if x != y:
            break
        count += 1
    return count


def _used_names(code: str) -> tuple[list[str], list[tuple[str, ...]]]:
    return identifiers(code), chains(code)


def _current_entry(index: WorkspaceIndex, real: str, text: str, refresh: bool) -> FileEntry:
    """The index's entry of the current file. With ``refresh`` (actions) its imports are read from
    ``text`` and changed buffers are indexed first; without (inline completion, on every
    keystroke) the entry is used as last indexed, the file being parsed only if it has none."""
    index.refresh_dirty(skip=None if refresh else real)
    entry = index.files.get(real)
    if entry is not None and not refresh:
        return entry
    language = language_of(real)
    imports = tuple(parse_imports(language, text))
    if entry is None:
        located = index.locate(real)
        rel = located[1] if located else os.path.basename(real)
        return FileEntry(real, rel, located[0] if located else "", language, (), imports, len(text))
    return dataclasses.replace(entry, imports=imports)


def definitions_for(
    index: WorkspaceIndex, path: str, text: str, code: str, limit: int = 40, refresh_current: bool = True
) -> list[RelatedPiece]:
    """Definitions from other files of the names ``code`` (a part of ``text``) uses, best first."""
    real = os.path.realpath(path)
    current = _current_entry(index, real, text, refresh_current)
    names, dotted = _used_names(code)
    own = {d.name for d in current.definitions}
    pieces: dict[tuple[str, int], RelatedPiece] = {}
    resolved: set[str] = set()

    def add(found: Iterable[tuple[FileEntry, Definition]], name: str) -> None:
        for entry, definition in found:
            if entry.path == real:
                continue
            key = (entry.path, definition.line)
            container = getattr(definition, "container", "")
            if container and any(  # its class is in already, this method with it
                p.path == entry.rel and p.name == container and definition.name + "(" in p.text
                for p in pieces.values()
            ):
                resolved.add(name)
                continue
            if key not in pieces:
                pieces[key] = RelatedPiece("definition", entry.rel, definition.line, definition.text, name)
                resolved.add(name)

    bindings: dict[str, list[tuple[ImportRef, str]]] = {}
    namespaces: dict[str, ImportRef] = {}
    for ref in current.imports:
        for original, local in ref.names:
            bindings.setdefault(local, []).append((ref, original))
        if ref.namespace:
            namespaces[ref.namespace] = ref
    # 1. names bound by imports, and `namespace.name` through imported modules
    for chain in dotted:
        for cut in range(len(chain) - 1, 0, -1):
            space = namespaces.get(".".join(chain[:cut]))
            if space is not None:
                files = index.module_files(current, space)
                add(index.find_in(files, chain[cut]), chain[cut])
                break
    for name in names:
        for ref, original in bindings.get(name, []):
            add(index.find_in(index.module_files(current, ref), original), name)
    # 2. Go: the other files of the package
    if current.language == "go":
        siblings = [p for p in index.folder_files(os.path.dirname(real)) if p != real]
        for name in names:
            if name not in resolved and name not in own:
                add(index.find_in(siblings, name), name)
    # 3. by identifier, across the workspace (attributes too: `jar.set_cookie(...)`), except
    #    names an import binds to a library outside the workspace
    external = {
        local
        for ref in current.imports
        for local in [*(lo for _, lo in ref.names), *([ref.namespace] if ref.namespace else [])]
        if not index.module_files(current, ref)
    }
    attributes = dict.fromkeys(part for chain in dotted for part in chain[1:] if len(part) > 1)
    folder = os.path.dirname(real)
    for name in [*names, *(a for a in attributes if a not in names and not keyword.iskeyword(a))]:
        if name in resolved or name in own or (name in external and name not in attributes):
            continue
        paths = [p for p in index.by_name.get(name, []) if p != real]
        if not paths or len(paths) > FALLBACK_MAX_CANDIDATES:
            continue
        paths.sort(key=lambda p: (os.path.dirname(p) != folder, -_shared_folders(p, real)))
        found: list[tuple[FileEntry, Definition]] = []
        for p in paths:
            entry = index.entry(p)
            if entry is not None:
                found.extend((entry, d) for d in entry.definitions if d.name == name)
        if len(found) <= FALLBACK_MAX_CANDIDATES:
            add(found, name)
        if len(pieces) >= limit:
            break
    return list(pieces.values())[:limit]


def _identifier_set(text: str) -> frozenset[str]:
    return frozenset(m.group(0) for m in IDENTIFIER.finditer(text))


def similar_snippets(
    code: str, documents: Sequence[tuple[str, str]], exclude: Iterable[tuple[str, int, int]] = ()
) -> list[RelatedPiece]:
    """Windows of the other open ``documents`` (rel path, text) most like ``code``, best first."""
    wanted = _identifier_set(code)
    if not wanted:
        return []
    scored: list[tuple[float, RelatedPiece]] = []
    for rel, text in documents:
        lines = text.splitlines(keepends=True)
        best: tuple[float, int] | None = None
        for start in range(0, max(1, len(lines) - SIMILAR_WINDOW + SIMILAR_STEP), SIMILAR_STEP):
            window = _identifier_set("".join(lines[start : start + SIMILAR_WINDOW]))
            if not window:
                continue
            score = len(wanted & window) / len(wanted | window)
            if best is None or score > best[0]:
                best = (score, start)
        if best is not None and best[0] >= SIMILAR_MIN_SCORE:
            start = best[1]
            if any(r == rel and not (start + SIMILAR_WINDOW <= a or b < start) for r, a, b in exclude):
                continue
            snippet = "".join(lines[start : start + SIMILAR_WINDOW])
            scored.append((best[0], RelatedPiece("similar", rel, start, snippet)))
    scored.sort(key=lambda item: -item[0])
    return [piece for _, piece in scored[:SIMILAR_TOP]]


def instruction_pieces(index: WorkspaceIndex) -> list[RelatedPiece]:
    """The project's instruction files."""
    return [RelatedPiece("instructions", rel, 0, text) for rel, text in sorted(index.instructions.items())]


def fit(pieces: Sequence[RelatedPiece], budget_chars: int) -> list[RelatedPiece]:
    """The pieces that fit in the budget, in their order (a piece too big is skipped, not cut)."""
    kept: list[RelatedPiece] = []
    for piece in pieces:
        if piece.cost() <= budget_chars:
            kept.append(piece)
            budget_chars -= piece.cost()
    return kept


_LINE_COMMENT = {
    "python": "#", "ruby": "#", "shellscript": "#", "r": "#", "elixir": "#", "julia": "#",
    "lua": "--", "sql": "--", "haskell": "--",
}  # fmt: skip


def comment_prefix(language: str | None) -> str:
    """How a line comment starts in the language (``//`` where unknown)."""
    return _LINE_COMMENT.get(language or "", "//")


def fim_header(pieces: Sequence[RelatedPiece], language: str | None) -> str:
    """Pieces as a comment block for the top of a fill-in-the-middle prompt."""
    if not pieces:
        return ""
    mark = comment_prefix(language)
    out: list[str] = []
    for piece in pieces:
        out.append(f"{mark} Path: {piece.path} (line {piece.line + 1})\n")
        out.extend(f"{mark} {line}".rstrip() + "\n" for line in piece.text.splitlines())
    return "".join(out) + "\n"


def open_documents(
    index: WorkspaceIndex, documents: Iterable[tuple[str, str]], current: str
) -> list[tuple[str, str]]:
    """(rel path, text) of the open documents the index may read, other than ``current``."""
    found: list[tuple[str, str]] = []
    for path, text in documents:
        real = os.path.realpath(path)
        if real == os.path.realpath(current):
            continue
        admitted = index.admits(real)
        if admitted is not None:
            found.append((admitted[1], text))
    return found


def related_pieces(
    index: WorkspaceIndex,
    path: str,
    text: str,
    code: str,
    documents: Sequence[tuple[str, str]] = (),
) -> list[RelatedPiece]:
    """Everything from beyond the file, in priority order (to be cut by :func:`fit`)."""
    definitions = definitions_for(index, path, text, code)
    shown = [(p.path, p.line, p.line + p.text.count("\n")) for p in definitions]
    similar = similar_snippets(code, documents, shown)
    return [*definitions, *similar, *instruction_pieces(index)]


COMPLETION_LINES_BEFORE = 30


def completion_header(index: WorkspaceIndex, path: str, text: str, offset: int, budget_chars: int) -> str:
    """Definitions from other files that the code around the cursor uses, as a comment header
    for a fill-in-the-middle prompt (``""`` when there are none or no budget).

    Uses the index as it is (the current file's buffer is not re-parsed on each keystroke; its
    imports are read afresh from the text), to stay within a few milliseconds.
    """
    if budget_chars <= 0:
        return ""
    start = offset
    for _ in range(COMPLETION_LINES_BEFORE):
        start = text.rfind("\n", 0, start)
        if start <= 0:
            start = 0
            break
    end = text.find("\n", offset)
    code = text[start : end if end >= 0 else len(text)]
    pieces = definitions_for(index, path, text, code, limit=8, refresh_current=False)
    return fim_header(fit(pieces, budget_chars), language_of(path))


def assemble(
    lines: Sequence[str],
    first_line: int,
    last_line: int,
    selection: str,
    related: Sequence[RelatedPiece],
    *,
    language: str,
    path: str,
    budget_chars: int,
    nearby_lines: int,
    diagnostics: Sequence[DiagnosticInfo] = (),
) -> tuple[CodeContext, list[RelatedPiece]]:
    """The whole context of a selection within ``budget_chars``: the in-file part first (it
    leaves up to half of the budget to what the other files offer), then the related pieces."""
    reserve = min(sum(p.cost() for p in related), budget_chars // 2)
    context = build_context(
        lines,
        first_line,
        last_line,
        selection,
        language=language,
        path=path,
        budget_chars=budget_chars - reserve,
        nearby_lines=nearby_lines,
        diagnostics=diagnostics,
    )
    # (the enclosing scope holds the selection, which the budget does not count)
    used = context.context_chars() - (len(selection) if context.enclosing is not None else 0)
    return context, fit(related, budget_chars - used)
