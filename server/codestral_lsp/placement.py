"""Where generated tests go: the file a developer of each language would look in."""

from __future__ import annotations

from pathlib import Path

_BESIDE_SUFFIX = {  # language id or extension → file name pattern beside the source
    "go": "{stem}_test.go",
    "javascript": "{stem}.test.js",
    "javascriptreact": "{stem}.test.jsx",
    "typescript": "{stem}.test.ts",
    "typescriptreact": "{stem}.test.tsx",
    "ruby": "{stem}_spec.rb",
    "elixir": "{stem}_test.exs",
    "dart": "{stem}_test.dart",
}
_BY_EXTENSION = {
    ".go": "go",
    ".js": "javascript",
    ".jsx": "javascriptreact",
    ".ts": "typescript",
    ".tsx": "typescriptreact",
    ".py": "python",
    ".rb": "ruby",
    ".java": "java",
    ".kt": "kotlin",
    ".rs": "rust",
    ".ex": "elixir",
    ".dart": "dart",
}


def _tests_folder(source: Path, root: Path | None, names: tuple[str, ...]) -> Path | None:
    """The nearest existing tests folder between the source's folder and the workspace root.

    Without a root holding the source (a document outside the workspace), only the source's own
    folder is looked in: the search never climbs towards ``/``.
    """
    folders = [source.parent]
    if root is not None and source.parent != root and root in source.parents:
        folders = [p for p in source.parents if p == root or root in p.parents]
    for folder in folders:
        for name in names:
            if (folder / name).is_dir():
                return folder / name
    return None


def _java_test_source(source: Path, root: Path | None) -> Path:
    """``src/main/…/X.java`` → ``src/test/…/XTest.java``, matched in the path below the root only."""
    name = f"{source.stem}Test{source.suffix}"
    if root is None or root not in source.parents:
        return source.with_name(name)
    parts = source.relative_to(root).parts
    for index in range(len(parts) - 2):
        if parts[index : index + 2] == ("src", "main"):
            moved = (*parts[:index], "src", "test", *parts[index + 2 : -1], name)
            return root.joinpath(*moved)
    return source.with_name(name)


def test_file_for(source: Path, language: str, root: Path | None) -> Path:
    """The test file for ``source``: e.g. ``tests/test_util.py``, ``util_test.go``, ``util.test.ts``.

    ``root`` is the workspace folder holding ``source`` (``None`` when none does); nothing above
    it is looked at.
    """
    language = language or _BY_EXTENSION.get(source.suffix, "")
    stem = source.stem
    if language == "python":
        folder = _tests_folder(source, root, ("tests", "test"))
        return (folder or source.parent) / f"test_{stem}.py"
    if language in ("java", "kotlin"):
        return _java_test_source(source, root)
    if language == "rust":
        folder = _tests_folder(source, root, ("tests",))
        return (folder or source.parent) / f"{stem}_test.rs"
    pattern = _BESIDE_SUFFIX.get(language)
    if pattern:
        return source.with_name(pattern.format(stem=stem))
    return source.with_name(f"{stem}_test{source.suffix}")
