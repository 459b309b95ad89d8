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
    """The nearest existing tests folder between the source's folder and the workspace root."""
    for folder in [source.parent, *source.parents]:
        for name in names:
            if (folder / name).is_dir():
                return folder / name
        if root is not None and folder == root:
            break
    return None


def test_file_for(source: Path, language: str, root: Path | None) -> Path:
    """The test file for ``source``: e.g. ``tests/test_util.py``, ``util_test.go``, ``util.test.ts``."""
    language = language or _BY_EXTENSION.get(source.suffix, "")
    stem = source.stem
    if language == "python":
        folder = _tests_folder(source, root, ("tests", "test"))
        return (folder or source.parent) / f"test_{stem}.py"
    if language in ("java", "kotlin"):
        text = str(source)
        if "/src/main/" in text:
            return Path(text.replace("/src/main/", "/src/test/", 1)).with_name(f"{stem}Test{source.suffix}")
        return source.with_name(f"{stem}Test{source.suffix}")
    if language == "rust":
        folder = _tests_folder(source, root, ("tests",))
        return (folder or source.parent) / f"{stem}_test.rs"
    pattern = _BESIDE_SUFFIX.get(language)
    if pattern:
        return source.with_name(pattern.format(stem=stem))
    return source.with_name(f"{stem}_test{source.suffix}")
