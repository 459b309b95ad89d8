"""Definitions and imports of one source file, as the model is shown them. Pure: text in, data out.

* :func:`extract_definitions` finds functions, classes (with their methods), types and constants:
  Python through :mod:`ast` (a file that does not parse falls back to the line scanner), other
  languages through a line scanner that knows the declaration keywords of JavaScript/TypeScript,
  Go, Rust and the usual C-like and scripting languages, and finds a body's end by brackets (or
  by indentation where a language has no braces).
* Each :class:`Definition` carries its *summary*: the doc comment or docstring and the signature;
  the whole body when the definition is short; for a class, the class line, its fields and the
  signatures of its methods.
* :func:`parse_imports` reads what a file imports (Python, JS/TS, Go, Rust), for the index to
  resolve against the workspace's files.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

SHORT_LINES = 20  # a definition of at most this many lines (and SHORT_CHARS) is shown whole
SHORT_CHARS = 1200
CLASS_LINES = 40  # at most this many lines of a class outline
DOC_LINES = 6  # at most this many lines of a docstring (its first paragraph) in an outline

LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".go": "go", ".rs": "rust",
    ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".swift": "swift",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".cs": "csharp", ".php": "php", ".rb": "ruby", ".lua": "lua", ".dart": "dart",
    ".sh": "shellscript", ".bash": "shellscript", ".ex": "elixir", ".exs": "elixir",
    ".zig": "zig", ".jl": "julia", ".r": "r", ".m": "objective-c", ".vue": "vue", ".svelte": "svelte",
}  # fmt: skip
_INDENTED = {"python", "ruby", "lua", "elixir", "julia", "shellscript"}
_BRACELESS_END = {"ruby", "lua", "elixir", "julia"}

IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_CHAIN = re.compile(r"[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)+")
_COMMON_WORDS = """
self cls this super true false null nil undefined None True False new return const let var function
func fn def class struct impl pub mut async await yield int str float bool list dict set tuple len
print range string number boolean any void object type interface enum import export from default
package use mod crate err error ok if else for while switch case break continue try catch finally
throw raise in of is not and or typeof instanceof static public private protected readonly get set
Some Ok Err Vec String Option Result Box i32 i64 u8 u32 u64 usize f64 f32 byte rune fmt map make
append cap panic defer go chan select range nil Array Object Promise Error Map Set JSON Math console
require module exports isinstance getattr setattr hasattr super property staticmethod classmethod
Exception ValueError TypeError KeyError open sorted enumerate zip min max sum abs iter next repr
format
"""
_COMMON = frozenset([*keyword.kwlist, *_COMMON_WORDS.split()])


def language_of(path: str) -> str | None:
    """The language of a file from its name, or ``None`` for a file that is not code."""
    return LANGUAGES.get(PurePosixPath(path).suffix.lower())


@dataclass(frozen=True)
class Definition:
    """One definition: its name, kind, zero-based first line, and its summary for the prompt."""

    name: str
    kind: str  # function | class | method | type | variable
    line: int
    text: str
    container: str = ""  # the class a method belongs to
    exported_default: bool = False


def identifiers(text: str) -> list[str]:
    """Identifiers of ``text`` in order of first appearance, without keywords and common words."""
    seen: dict[str, None] = {}
    for match in IDENTIFIER.finditer(text):
        word = match.group(0)
        if word not in _COMMON and len(word) > 1 and word not in seen:
            seen[word] = None
    return list(seen)


def identifier_set(text: str) -> frozenset[str]:
    """The distinct identifiers of ``text``, without keywords, common words and single letters
    (what similarity is measured on)."""
    names = set(IDENTIFIER.findall(text))
    names -= _COMMON
    return frozenset(name for name in names if len(name) > 1)


def chains(text: str) -> list[tuple[str, ...]]:
    """Dotted name chains (``mod.func``, ``a.b.c``) in ``text``, in order of appearance."""
    seen: dict[tuple[str, ...], None] = {}
    for match in _CHAIN.finditer(text):
        parts = tuple(p.strip() for p in match.group(0).split("."))
        seen.setdefault(parts, None)
    return list(seen)


# -- Python, through ast --------------------------------------------------------------------


def _lines_of(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _src(lines: list[str], first: int, last: int) -> str:
    """Lines ``first``..``last`` (one-based, inclusive)."""
    return "".join(lines[first - 1 : last])


def _start(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    line: int = getattr(node, "lineno", 1)
    return min([int(d.lineno) for d in decorators] + [line])


def _docstring_node(node: ast.AST) -> ast.Expr | None:
    body = getattr(node, "body", [])
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[0]
    return None


def _header_end(node: ast.AST) -> int:
    """Last line of a def/class header (one-based)."""
    body = getattr(node, "body", [])
    line: int = getattr(node, "lineno", 1)
    first_body: int = body[0].lineno if body else line
    return max(line, first_body - 1)


def _doc(lines: list[str], node: ast.Expr) -> str:
    """A docstring's first paragraph, at most :data:`DOC_LINES` lines, closed again if cut."""
    text = _src(lines, node.lineno, node.end_lineno or node.lineno)
    kept = text.splitlines(keepends=True)
    if len(kept) <= 2:
        return text
    cut = next((i for i, line in enumerate(kept[1:], 1) if not line.strip()), len(kept))
    cut = min(cut, DOC_LINES)
    if cut >= len(kept) - 1:
        return text
    indent = re.match(r"[ \t]*", kept[0]).group(0)  # type: ignore[union-attr]
    quote = '"""' if '"""' in kept[0] else "'''"
    return "".join(kept[:cut]) + f"{indent}...{quote}\n"


def _py_outline(lines: list[str], node: ast.AST) -> str:
    """Header and docstring of a function, then ``...``; the whole of it when short."""
    start = _start(node)
    end: int = getattr(node, "end_lineno", 0) or start
    whole = _src(lines, start, end)
    if end - start + 1 <= SHORT_LINES and len(whole) <= SHORT_CHARS:
        return whole
    text = _src(lines, start, _header_end(node))
    doc = _docstring_node(node)
    body = getattr(node, "body", [])
    indent = re.match(r"[ \t]*", lines[body[0].lineno - 1]).group(0) if body else "    "  # type: ignore[union-attr]
    if doc is not None and doc.lineno > _header_end(node):
        text += _doc(lines, doc)
    return text + f"{indent}...\n"


def _py_class(lines: list[str], node: ast.ClassDef) -> str:
    start, end = _start(node), node.end_lineno or node.lineno
    whole = _src(lines, start, end)
    if end - start + 1 <= SHORT_LINES and len(whole) <= SHORT_CHARS:
        return whole
    out = [_src(lines, start, _header_end(node))]
    doc = _docstring_node(node)
    if doc is not None and doc.lineno > _header_end(node):
        out.append(_doc(lines, doc))
    for item in node.body:
        if item is doc:
            continue
        if isinstance(item, ast.Assign | ast.AnnAssign):
            out.append(_src(lines, item.lineno, item.lineno))
        elif isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            out.append(_src(lines, _start(item), _header_end(item)))
            inner = _docstring_node(item)
            if inner is not None:
                first = lines[inner.lineno - 1]
                out.append(first if first.strip().count('"""') != 1 else first.rstrip("\n") + ' ..."""\n')
    text = "".join(out)
    kept = text.splitlines(keepends=True)
    return "".join(kept[:CLASS_LINES]) + ("    ...\n" if len(kept) > CLASS_LINES else "")


def _python(text: str) -> list[Definition] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None
    lines = _lines_of(text)
    found: list[Definition] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(Definition(node.name, "function", _start(node) - 1, _py_outline(lines, node)))
        elif isinstance(node, ast.ClassDef):
            found.append(Definition(node.name, "class", _start(node) - 1, _py_class(lines, node)))
            header = _src(lines, _start(node), _header_end(node))
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    summary = header + _py_outline(lines, item)
                    found.append(Definition(item.name, "method", _start(item) - 1, summary, node.name))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    last = node.end_lineno or node.lineno
                    body = _src(lines, node.lineno, min(last, node.lineno + 5))
                    found.append(Definition(target.id, "variable", node.lineno - 1, body[:600]))
    return found


# -- everything else, line by line ----------------------------------------------------------

_NAME = r"([A-Za-z_$][\w$]*)"
_JS_PATTERNS = [
    (
        re.compile(r"^\s*(?:export\s+)?(default\s+)?(?:declare\s+)?(?:async\s+)?function\s*\*?\s*" + _NAME),
        "function",
    ),
    (re.compile(r"^\s*(?:export\s+)?(default\s+)?(?:declare\s+)?(?:abstract\s+)?class\s+" + _NAME), "class"),
    (
        re.compile(r"^\s*(?:export\s+)?()(?:declare\s+)?(?:interface|enum|namespace|module)\s+" + _NAME),
        "class",
    ),
    (re.compile(r"^\s*(?:export\s+)?()(?:declare\s+)?type\s+" + _NAME + r"\s*(?:<[^=]*>)?\s*="), "type"),
    (
        re.compile(
            r"^\s*(?:export\s+)?()(?:const|let|var)\s+" + _NAME
            + r"\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|\([^)]*\)?\s*(?::[^=]+)?=>|\(|[\w$]+\s*=>)"
        ),
        "function",
    ),
    (re.compile(r"^\s*(?:export\s+)()(?:const|let|var)\s+" + _NAME), "variable"),
    (re.compile(r"^\s*()(?:module\.)?exports\.([\w$]+)\s*=\s*(?:async\s+)?function"), "function"),
    (re.compile(r"^\s*()[\w$]+\.prototype\.([\w$]+)\s*=\s*(?:async\s+)?function"), "function"),
]  # fmt: skip
_GO_PATTERNS = [
    (re.compile(r"^func\s+(?:\([^)]*\)\s*)?()" + _NAME), "function"),
    (re.compile(r"^type\s+()" + _NAME + r"\s+(?:struct|interface)\b"), "class"),
    (re.compile(r"^type\s+()" + _NAME), "type"),
    (re.compile(r"^(?:var|const)\s+()" + _NAME), "variable"),
]
_RUST_PATTERNS = [
    (
        re.compile(
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:default\s+)?()(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?"
            r'(?:extern\s+"[^"]*"\s+)?fn\s+' + _NAME
        ),
        "function",
    ),
    (re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?()(?:struct|enum|trait|union)\s+" + _NAME), "class"),
    (re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?()(?:type|const|static)\s+" + _NAME), "type"),
    (re.compile(r"^\s*()macro_rules!\s*" + _NAME), "function"),
]
_GENERIC_PATTERNS = [
    (
        re.compile(
            r"^\s*(?:[\w@]+\s+)*?()(?:def|function|func|fun|fn|sub|proc|defn|defp|defmodule)\s+"
            r"(?:self\.)?([A-Za-z_][\w?!]*)"
        ),
        "function",
    ),
    (
        re.compile(
            r"^\s*(?:(?:public|private|protected|internal|abstract|final|sealed|static|partial|open|data"
            r"|export)\s+)*"
            r"()(?:class|struct|interface|trait|enum|module|object|record|protocol|extension)\s+([A-Za-z_]\w*)"
        ),
        "class",
    ),
    (  # C-like: `static int parse_line(const char *s) {`, `public List<X> findAll(Query q)`
        re.compile(
            r"^\s*(?:[\w:<>,\[\]\*&]+\s+)+?[\*&]*()([A-Za-z_]\w*)\s*\([^;{}]*\)?\s*(?:const\s*)?"
            r"(?:throws\s+[\w.,\s]+)?\{?\s*$"
        ),
        "function",
    ),
]
_C_FAMILY = frozenset(
    {"c", "cpp", "java", "csharp", "objective-c", "dart", "php", "kotlin", "scala", "swift", "zig"}
)
_NOT_NAMES = frozenset(
    ["if", "for", "while", "switch", "catch", "return", "else", "do", "sizeof", "new", "delete"]
)
_METHOD = re.compile(
    r"^\s+(?:(?:static|async|public|private|protected|readonly|override|abstract|get|set|pub|fn|func)\s+)*"
    r"\*?([A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\s*\("
)


def _patterns(language: str) -> list[tuple[re.Pattern[str], str]]:
    if language in ("javascript", "typescript", "vue", "svelte"):
        return _JS_PATTERNS
    if language == "go":
        return _GO_PATTERNS
    if language == "rust":
        return _RUST_PATTERNS
    if language in _C_FAMILY:
        return _GENERIC_PATTERNS
    return _GENERIC_PATTERNS[:2]  # `puts shout('hi')` is a call, not a C declaration


def _doc_start(lines: list[str], index: int) -> int:
    """First line of the doc comment / decorators / attributes right above line ``index``."""
    start = index
    while start > 0:
        above = lines[start - 1].strip()
        if above.startswith(("//", "/*", "*", "#", "@", "--", "///", "%")) and not above.startswith(
            "#include"
        ):
            start -= 1
        else:
            break
    return start


def _strip_code(line: str, in_block: bool) -> tuple[str, bool]:
    """The line without strings and comments (roughly), and whether a block comment is open."""
    out: list[str] = []
    i, quote = 0, ""
    while i < len(line):
        char = line[i]
        if in_block:
            if line.startswith("*/", i):
                in_block, i = False, i + 2
                continue
            i += 1
            continue
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
            i += 1
            continue
        if line.startswith("//", i) or (char == "#" and not out):
            break
        if line.startswith("/*", i):
            in_block, i = True, i + 2
            continue
        if char in "\"'`":
            quote = char
        else:
            out.append(char)
        i += 1
    return "".join(out), in_block


def _brace_end(lines: list[str], index: int, limit: int = 4000) -> tuple[int, int | None]:
    """Last line of the declaration at ``index``, and the line where its ``{`` body opens."""
    depth = 0
    opened: int | None = None
    in_block = False
    for j in range(index, min(len(lines), index + limit)):
        code, in_block = _strip_code(lines[j], in_block)
        for char in code:
            if char in "{([":
                if char == "{" and opened is None and depth == 0:
                    opened = j
                depth += 1
            elif char in "})]":
                depth = max(0, depth - 1)
                if depth == 0 and opened is not None:
                    return j, opened
            elif char == ";" and depth == 0 and opened is None:
                return j, None
        stripped = code.rstrip()
        if (
            depth == 0
            and opened is None
            and stripped
            and not stripped.endswith((",", "=", "=>", "(", "+", "-", ":", "|", "&", "?"))
        ):
            if j + 1 < len(lines) and lines[j + 1].lstrip().startswith(("{", ".", "=>", ":")):
                continue
            return j, None
    return min(len(lines), index + limit) - 1, opened


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _indent_end(lines: list[str], index: int) -> int:
    level = _indent(lines[index])
    end = index
    for j in range(index + 1, len(lines)):
        if not lines[j].strip():
            continue
        if _indent(lines[j]) <= level:
            if _indent(lines[j]) == level and re.match(r"\s*(end\b|\}|\))", lines[j]):
                end = j
            break
        end = j
    return end


def _outline(lines: list[str], start: int, header: int, end: int, opened: int | None, kind: str) -> str:
    whole = "".join(lines[start : end + 1])
    if end - start + 1 <= SHORT_LINES and len(whole) <= SHORT_CHARS:
        return whole
    head_end = opened if opened is not None else header
    out = lines[start : head_end + 1]
    if kind == "class" and opened is not None:
        depth, in_block, member = 1, False, 0
        for j in range(opened + 1, end):
            code, in_block = _strip_code(lines[j], in_block)
            if depth == 1 and code.strip():
                text = lines[j]
                if ("{" in code and not code.rstrip().endswith(("{", ","))) or "{" not in code:
                    out.append(text)
                else:
                    out.append(text.rstrip("\r\n").rstrip().rstrip("{").rstrip() + " { … }\n")
                member += 1
            depth += code.count("{") - code.count("}")
            if len(out) > CLASS_LINES:
                out.append("  …\n")
                break
    else:
        body_indent = ""
        if head_end + 1 < len(lines):
            body_indent = re.match(r"[ \t]*", lines[head_end + 1]).group(0)  # type: ignore[union-attr]
        out.append(f"{body_indent or '    '}…\n")
    if end > head_end and lines[end].strip() in ("}", "};", "end", "})", "});"):
        out.append(lines[end])
    text = "".join(out)
    return text if text.endswith("\n") else text + "\n"


def _scan(text: str, language: str) -> list[Definition]:
    lines = _lines_of(text)
    patterns = _patterns(language)
    found: list[Definition] = []
    skip_until = -1
    container: tuple[str, int, int] | None = None  # class name, body first, body last
    for index, line in enumerate(lines):
        if index <= skip_until:
            if container and container[1] <= index <= container[2] and language not in ("python",):
                match = _METHOD.match(line)
                if match and match.group(1) not in _NOT_NAMES and _indent(line) > 0:
                    end, opened = _brace_end(lines, index, 800)
                    if opened is not None:
                        start = _doc_start(lines, index)
                        summary = _outline(lines, start, index, end, opened, "function")
                        found.append(Definition(match.group(1), "method", index, summary, container[0]))
            continue
        if not line.strip() or len(line) > 400:
            continue
        for pattern, kind in patterns:
            match = pattern.match(line)
            if match is None or match.group(2) in _NOT_NAMES:
                continue
            if language in _INDENTED or language in _BRACELESS_END:
                end, opened = _indent_end(lines, index), None
            else:
                end, opened = _brace_end(lines, index)
            start = _doc_start(lines, index)
            summary = _outline(lines, start, index, end, opened, kind)
            default = bool(match.group(1))
            found.append(Definition(match.group(2), kind, index, summary, exported_default=default))
            if kind == "class":
                container = (match.group(2), index + 1, end)
            skip_until = end if kind != "class" or opened is not None else index
            break
    return found


_DEFAULT_EXPORT = re.compile(r"^\s*export\s+default\s+([A-Za-z_$][\w$]*)\s*;?\s*$", re.M)


def extract_definitions(language: str | None, text: str) -> list[Definition]:
    """The definitions of a file (top level, and methods of classes)."""
    if not language or not text:
        return []
    if language == "python":
        parsed = _python(text)
        if parsed is not None:
            return parsed
    found = _scan(text, language)
    if language in ("javascript", "typescript"):
        for match in _DEFAULT_EXPORT.finditer(text):
            name = match.group(1)
            found = [
                Definition(d.name, d.kind, d.line, d.text, d.container, True) if d.name == name else d
                for d in found
            ]
    return found


# -- imports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRef:
    """One import statement: the module as written, the names it binds, a namespace alias.

    ``names`` pairs the name in the module with the local name; ``namespace`` is the local name
    bound to the module itself (``import x.y as z``, ``import * as ns``, a Go package), if any.
    """

    module: str
    names: tuple[tuple[str, str], ...] = ()
    namespace: str | None = None
    level: int = 0  # Python: leading dots of a relative import
    reexport: bool = False  # JS: ``export ... from``; Python: names of an __init__ stay importable


_PY_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)", re.M)
_PY_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#;]+)", re.M)
_JS_IMPORT = re.compile(
    r"""^\s*import\s+(?:type\s+)?([\w$]+)?\s*,?\s*(\{[^}]*\}|\*\s*as\s+[\w$]+)?\s*from\s*['"]([^'"]+)['"]""",
    re.M,
)
_JS_EXPORT_FROM = re.compile(
    r"""^\s*export\s+(?:type\s+)?(\{[^}]*\}|\*(?:\s*as\s+[\w$]+)?)\s*from\s*['"]([^'"]+)['"]""", re.M
)
_JS_REQUIRE = re.compile(
    r"""(?:const|let|var)\s+(\{[^}]*\}|[\w$]+)\s*=\s*require\(\s*['"]([^'"]+)['"]\s*\)(\.[\w$]+)?"""
)
_GO_IMPORT = re.compile(r'^\s*(?:import\s+)?([\w.]+\s+)?"([^"]+)"\s*$', re.M)
_GO_BLOCK = re.compile(r"^import\s*\(([^)]*)\)", re.M)
_GO_SINGLE = re.compile(r'^import\s+([\w.]+\s+)?"([^"]+)"', re.M)
_RUST_USE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M)
_RUST_MOD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)


def _split_names(spec: str, separator: str) -> tuple[tuple[str, str], ...]:
    names: list[tuple[str, str]] = []
    for part in spec.strip("(){} \t\n").replace("\n", " ").split(","):
        part = re.sub(r"^\s*type\s+", "", part).strip()
        if not part:
            continue
        pieces = re.split(rf"\s+{separator}\s+" if separator == "as" else r"\s*:\s*", part)
        original = pieces[0].strip()
        local = pieces[-1].strip()
        if IDENTIFIER.fullmatch(original) and IDENTIFIER.fullmatch(local):
            names.append((original, local))
    return tuple(names)


def _rust_paths(spec: str, prefix: str = "") -> list[tuple[str, str]]:
    """``a::{b, c::d as e}`` → [("a::b", "b"), ("a::c::d", "e")]."""
    spec = spec.strip()
    brace = spec.find("{")
    if brace < 0:
        path, _, alias = spec.partition(" as ")
        path = (prefix + path).strip()
        last = path.rsplit("::", 1)[-1]
        return [(path, alias.strip() or last)]
    head = prefix + spec[:brace]
    inner = spec[brace + 1 : spec.rfind("}")]
    parts, depth, current = [], 0, ""
    for char in inner:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += (char == "{") - (char == "}")
        current += char
    parts.append(current)
    found: list[tuple[str, str]] = []
    for part in parts:
        if part.strip() == "self":
            found.append((head.rstrip(":"), head.rstrip(":").rsplit("::", 1)[-1]))
        elif part.strip():
            found.extend(_rust_paths(part, head))
    return found


def parse_imports(language: str | None, text: str) -> list[ImportRef]:
    """The imports of a file (Python, JavaScript/TypeScript, Go, Rust; ``[]`` for others)."""
    refs: list[ImportRef] = []
    if language == "python":
        for match in _PY_FROM.finditer(text):
            refs.append(
                ImportRef(match.group(2), _split_names(match.group(3), "as"), level=len(match.group(1)))
            )
        for match in _PY_IMPORT.finditer(text):
            for part in match.group(1).split(","):
                module, _, alias = part.strip().partition(" as ")
                module = module.strip()
                if module:
                    refs.append(ImportRef(module, namespace=alias.strip() or module))
    elif language in ("javascript", "typescript", "vue", "svelte"):
        for match in _JS_IMPORT.finditer(text):
            default, group, module = match.groups()
            names = list(_split_names(group, "as")) if group and group.startswith("{") else []
            if default:
                names.append(("default", default))
            namespace = group.split("as")[-1].strip() if group and group.startswith("*") else None
            # a default import is often an object of functions: `utils.forEach(...)`
            refs.append(ImportRef(module, tuple(names), namespace or default))
        for match in _JS_EXPORT_FROM.finditer(text):
            group, module = match.groups()
            exported = _split_names(group, "as") if group.startswith("{") else ()
            namespace = group.split("as")[-1].strip() if "as" in group else None
            refs.append(ImportRef(module, exported, namespace, reexport=not exported and namespace is None))
        for match in _JS_REQUIRE.finditer(text):
            target, module, member = match.groups()
            if target.startswith("{"):
                refs.append(ImportRef(module, _split_names(target, ":")))
            elif member:
                refs.append(ImportRef(module, ((member.lstrip("."), target),)))
            else:
                refs.append(ImportRef(module, (("default", target),), namespace=target))
    elif language == "go":
        specs: list[tuple[str | None, str]] = []
        for block in _GO_BLOCK.finditer(text):
            for match in _GO_IMPORT.finditer(block.group(1)):
                specs.append(((match.group(1) or "").strip() or None, match.group(2)))
        for match in _GO_SINGLE.finditer(text):
            specs.append(((match.group(1) or "").strip() or None, match.group(2)))
        for alias, path in specs:
            refs.append(ImportRef(path, namespace=alias or path.rsplit("/", 1)[-1]))
    elif language == "rust":
        for match in _RUST_MOD.finditer(text):
            refs.append(ImportRef("self::" + match.group(1), namespace=match.group(1)))
        for match in _RUST_USE.finditer(text):
            for path, local in _rust_paths(" ".join(match.group(1).split())):
                module, _, name = path.rpartition("::")
                if name == "*":
                    refs.append(ImportRef(module, reexport=True))
                elif module:
                    refs.append(ImportRef(module, ((name, local),), namespace=None))
                    refs.append(ImportRef(path, namespace=local))
    return refs
