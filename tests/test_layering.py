"""The layering contract, read from the source with ``ast`` (no import is executed):

- ``codestral_lsp.api`` (HTTP, SSE, retries) knows nothing of the language server: all it
  reaches, directly or through other modules, is itself, the package's ``__version__`` and
  ``redaction`` (secret scrubbing, itself importing nothing of the package);
- the pure modules reach neither ``server`` nor ``handlers``, directly or transitively.

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

PACKAGE = "codestral_lsp"
SOURCE = Path(__file__).resolve().parents[1] / "server" / PACKAGE

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
    "recent_edits",
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
    return {name for name in found if name in modules}


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


def pure_breaches(graph: dict[str, set[str]], pure: str, package: str = PACKAGE) -> set[str]:
    """The LSP-side modules a pure module reaches."""
    return reach(graph, [f"{package}.{pure}"]) & {f"{package}.server", f"{package}.handlers"}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(SOURCE.parent)


def test_the_api_layer_knows_nothing_of_the_server(graph: dict[str, set[str]]) -> None:
    assert API in graph
    assert api_breaches(graph) == set()


@pytest.mark.parametrize("pure", PURE)
def test_a_pure_module_reaches_neither_server_nor_handlers(graph: dict[str, set[str]], pure: str) -> None:
    assert f"{PACKAGE}.{pure}" in graph
    assert pure_breaches(graph, pure) == set()


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
