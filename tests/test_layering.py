"""The layering contract, read from the source with ``ast`` (no import is executed):

- ``codestral_lsp.api`` (HTTP, SSE, retries) knows nothing of the language server: all it
  reaches, directly or through other modules, is itself, the package's ``__version__`` and
  ``redaction`` (secret scrubbing, itself importing nothing of the package);
- the pure modules reach neither ``server`` nor ``handlers``, directly or transitively;
- the stages (runner, delivery, completion, progress) and the port they see the server
  through reach neither ``server``, ``handlers`` nor ``app``: only ``app`` composes;
- the package's import graph has no cycles;
- the fake Codestral imports nothing of the server or the tests (it would check the server
  against its own code).

Every import counts: at module level, inside functions and under ``TYPE_CHECKING`` (a type-only
back-reference is still a dependency a reader follows, and the port makes it needless).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

PACKAGE = "codestral_lsp"
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "server" / PACKAGE

API = f"{PACKAGE}.api"
PURE = [
    "context",
    "prompts",
    "answer",
    "shapes",
    "edits",
    "anchors",
    "positions",
    "settings",
    "review",
    "models",
    "proposals",
    "recent_edits",
    "actions",
    "arguments",
    "menu",
    "completion_items",
    "results",
]


def module_name(path: Path, root: Path) -> str:
    """The dotted name of a source file under ``root`` (the directory holding the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path, package: str = PACKAGE) -> set[str]:
    """The package's modules that ``path`` imports anywhere in it (relative imports resolved;
    ``from a import b`` counts ``a.b`` when that is a module, else ``a``)."""
    here = module_name(path, root).split(".")
    own_package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = own_package[: len(own_package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    modules = modules_in(root, package)
    # (a package's ``from pkg import sub`` names ``pkg`` too: that is not an import of itself)
    return {name for name in found if name in modules} - {module_name(path, root)}


def modules_in(root: Path, package: str = PACKAGE) -> set[str]:
    """Every module of ``package`` under ``root``."""
    return {module_name(p, root) for p in (root / package).rglob("*.py")}


def import_graph(root: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module → the package's modules it imports."""
    return {module_name(p, root): imports_of(p, root, package) for p in (root / package).rglob("*.py")}


def reach(graph: dict[str, set[str]], start: Iterable[str]) -> set[str]:
    """Every module reachable from ``start`` (``start`` included)."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return seen


def api_breaches(graph: dict[str, set[str]], package: str = PACKAGE) -> set[str]:
    """Modules outside the API layer that it reaches beyond what it may use."""
    api = f"{package}.api"
    allowed = {package, f"{package}.redaction"}  # the version string; secret scrubbing
    start = [m for m in graph if m == api or m.startswith(api + ".")]
    return {m for m in reach(graph, start) if not (m == api or m.startswith(api + ".")) and m not in allowed}


STAGES = ["port", "runner", "delivery", "completion", "progress", "crossfile"]


def pure_breaches(graph: dict[str, set[str]], pure: str, package: str = PACKAGE) -> set[str]:
    """The LSP-side modules a pure module reaches."""
    return reach(graph, [f"{package}.{pure}"]) & {f"{package}.server", f"{package}.handlers"}


KNOWN_CYCLES: list[set[str]] = []
"""Import cycles allowed for now, each exactly as it is. Empty since the editor port (issue #12):
the stages see the server through :mod:`codestral_lsp.port`, and :mod:`codestral_lsp.app`
composes server and handlers. The checks fail when a new cycle appears, and when a listed one
changes or goes without its entry going too: the list only ever shrinks."""


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The import cycles: each strongly connected set of modules (Tarjan's algorithm, iterative),
    a module importing itself included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                if len(component) > 1 or module in graph.get(module, ()):
                    found.append(component)
    return found


def cycle_path(graph: dict[str, set[str]], component: set[str]) -> str:
    """One loop through a cycle's modules, for the failure message: ``a → b → a``."""
    first = min(component)
    paths = {first: [first]}
    todo = [first]
    while todo:
        module = todo.pop(0)
        for target in sorted(graph.get(module, set()) & component):
            if target == first:
                return " → ".join([*paths[module], first])
            if target not in paths:
                paths[target] = [*paths[module], target]
                todo.append(target)
    return first


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(SOURCE.parent)


def test_the_api_layer_knows_nothing_of_the_server(graph: dict[str, set[str]]) -> None:
    assert API in graph
    assert api_breaches(graph) == set()


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_sees_the_server_only_through_the_port(graph: dict[str, set[str]], stage: str) -> None:
    assert f"{PACKAGE}.{stage}" in graph
    composition = {f"{PACKAGE}.{name}" for name in ("server", "handlers", "app")}
    assert reach(graph, [f"{PACKAGE}.{stage}"]) & composition == set()


def test_the_server_does_not_import_its_handlers(graph: dict[str, set[str]]) -> None:
    assert reach(graph, [f"{PACKAGE}.server"]) & {f"{PACKAGE}.handlers", f"{PACKAGE}.app"} == set()


@pytest.mark.parametrize("pure", PURE)
def test_a_pure_module_reaches_neither_server_nor_handlers(graph: dict[str, set[str]], pure: str) -> None:
    assert f"{PACKAGE}.{pure}" in graph
    assert pure_breaches(graph, pure) == set()


def test_the_import_graph_has_no_cycles(graph: dict[str, set[str]]) -> None:
    assert [cycle_path(graph, c) for c in cycles(graph)] == []


def test_the_only_import_cycles_are_the_known_ones(graph: dict[str, set[str]]) -> None:
    found = cycles(graph)
    new = [cycle_path(graph, c) for c in found if c not in KNOWN_CYCLES]
    assert new == [], "a new import cycle: import the shared piece from a module of its own"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert gone == [], f"a known cycle changed or ended: make KNOWN_CYCLES what is left, {found}"


def test_the_fake_imports_nothing_of_the_server_or_the_tests() -> None:
    imported: set[str] = set()
    for path in (ROOT / "fake_codestral").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported.add(node.module.split(".")[0])
    assert "fake_codestral" in imported  # the walk saw the package's own imports
    assert imported & {PACKAGE, "tests", "bench"} == set()


def test_the_checker_finds_planted_breaches(tmp_path: Path) -> None:
    """The walker sees relative imports, imports inside functions and ``TYPE_CHECKING`` ones,
    and follows them transitively."""
    package = tmp_path / "pkg"
    (package / "api").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "server.py": "",
        "handlers.py": "",
        "redaction.py": "",
        "helper.py": "def f():\n    from . import handlers\n",
        "pure.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.helper import f\n",
        "clean.py": "from .redaction import x\n",
        "api/__init__.py": "from .client import C\n",
        "api/client.py": "from .. import redaction\nimport pkg.server\n",
    }
    for name, text in files.items():
        (package / name).write_text(text, encoding="utf-8")
    planted = import_graph(tmp_path, "pkg")
    assert api_breaches(planted, "pkg") == {"pkg.server"}
    assert pure_breaches(planted, "pure", "pkg") == {"pkg.handlers"}
    assert pure_breaches(planted, "clean", "pkg") == set()


def test_the_cycle_check_finds_planted_cycles(tmp_path: Path) -> None:
    """A cycle closed by an import inside a function or under ``TYPE_CHECKING`` is found; a chain
    without a loop back is not, nor a package importing its own submodule."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "def f():\n    from . import c\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n",
        "d.py": "from pkg import a\n",
        "sub/__init__.py": "def f():\n    from pkg.sub import g\n",
        "sub/g.py": "",
    }
    for name, text in files.items():
        (package / name).write_text(text, encoding="utf-8")
    planted = import_graph(tmp_path, "pkg")
    found = cycles(planted)
    assert sorted(map(sorted, found)) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert cycle_path(planted, {"pkg.a", "pkg.b", "pkg.c"}) == "pkg.a → pkg.b → pkg.c → pkg.a"
    assert cycles(planted | {"pkg.c": set()}) == []
