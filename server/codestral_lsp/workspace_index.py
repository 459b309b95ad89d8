"""An index of the workspace's definitions and imports, for context beyond the current file.

What is read (everything by real path, every symbolic link resolved):

* only files inside the workspace folders: a file whose link leads outside is skipped, and linked
  folders are not descended into (what they hold is either outside, or indexed where it lies);
* only code files (:data:`codestral_lsp.definitions.LANGUAGES`), regular, at most
  :attr:`IndexLimits.max_file_bytes`, without a NUL byte in their first 8 KB (binaries), at most
  :attr:`IndexLimits.max_files` in all;
* never what ``.gitignore`` files (and ``.git/info/exclude``) ignore, nor what a
  ``context.exclude`` glob matches, nor VCS/dependency/cache folders (:data:`SKIPPED_FOLDERS`).

The ``.gitignore`` matcher is simple: ``*``, ``**``, ``?``, ``[...]``, ``!`` negation, a
trailing ``/`` for folders and a leading or inner ``/`` for anchoring, per folder. It does not
read the user's global excludes file, and an ignored folder is never entered (as with git, a
``!`` rule cannot bring back a file below an ignored folder).

Open documents win over the disk: the server marks them dirty and :meth:`WorkspaceIndex.entry`
re-reads them from the editor's buffer when they are next looked at. The server builds the index
with :func:`build` (the walk in a thread, parsing in a worker process, results taken back in small
batches) and hands the result to :meth:`WorkspaceIndex.install`; :meth:`WorkspaceIndex.scan` does
it all in the calling thread (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import os
import posixpath
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codestral_lsp.definitions import Definition, ImportRef, extract_definitions, language_of, parse_imports

SKIPPED_FOLDERS = frozenset(
    {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".tox", ".nox", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", ".idea", ".vscode", ".next", ".cache"}
)  # fmt: skip
INSTRUCTION_FILES = (".codestral/instructions.md", "AGENTS.md")
INSTRUCTIONS_MAX_CHARS = 8000
ADMITTED_MEMORY = 4096  # paths whose admission is remembered
JS_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")


@dataclass(frozen=True)
class IndexLimits:
    """What the index reads at most."""

    max_file_bytes: int = 512 * 1024
    max_files: int = 20000


def glob_regex(pattern: str) -> str:
    """A gitignore-style glob as a regular expression over ``/``-separated paths."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            close = pattern.find("]", i + 1)
            if close < 0:
                out.append(re.escape("["))
                i += 1
            else:
                inner = pattern[i + 1 : close].replace("\\", "\\\\")
                out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
                i = close + 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Rule:
    base: str  # folder of the .gitignore, relative to the root ("" for the root)
    regex: re.Pattern[str]
    negate: bool
    folders_only: bool


def parse_gitignore(text: str, base: str) -> list[_Rule]:
    """The rules of one ``.gitignore`` file lying in folder ``base`` (root-relative)."""
    rules: list[_Rule] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:] if negate else line
        folders_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = glob_regex(line)
        regex = re.compile(("" if anchored else "(?:.*/)?") + body + r"\Z")
        rules.append(_Rule(base, regex, negate, folders_only))
    return rules


def ignored(rules: Sequence[_Rule], rel: str, is_folder: bool) -> bool:
    """Whether ``rel`` (root-relative) is ignored by ``rules`` (later rules win)."""
    verdict = False
    for rule in rules:
        if rule.folders_only and not is_folder:
            continue
        if rule.base:
            if not rel.startswith(rule.base + "/"):
                continue
            local = rel[len(rule.base) + 1 :]
        else:
            local = rel
        if rule.regex.match(local):
            verdict = not rule.negate
    return verdict


def exclude_matcher(globs: Sequence[str]) -> Callable[[str], bool]:
    """A test for ``context.exclude``: a glob with ``/`` matches the root-relative path, one
    without matches a file or folder name at any depth."""
    rules = parse_gitignore("\n".join(g for g in globs if g.strip()), "")

    def excluded(rel: str) -> bool:
        return any(rule.regex.match(rel) for rule in rules)

    return excluded


@dataclass(frozen=True)
class FileEntry:
    """What the index keeps of one file (its text is not kept)."""

    path: str  # real absolute path
    rel: str  # relative to its workspace folder, with /
    root: str
    language: str | None
    definitions: tuple[Definition, ...]
    imports: tuple[ImportRef, ...]
    size: int


def make_entry(path: str, rel: str, root: str, text: str) -> FileEntry:
    """Index one file's text."""
    language = language_of(rel)
    return FileEntry(
        path=path,
        rel=rel,
        root=root,
        language=language,
        definitions=tuple(extract_definitions(language, text)),
        imports=tuple(parse_imports(language, text)),
        size=len(text),
    )


@dataclass
class ScanResult:
    """What a scan found: entries, instruction files, Go modules and Rust crates."""

    entries: dict[str, FileEntry] = field(default_factory=dict)
    instructions: dict[str, str] = field(default_factory=dict)  # rel → text
    go_modules: dict[str, str] = field(default_factory=dict)  # folder (real) → module path
    crates: set[str] = field(default_factory=set)  # folders (real) holding Cargo.toml
    skipped: dict[str, int] = field(default_factory=dict)  # reason → count
    truncated: bool = False
    pending: list[tuple[str, str, str]] = field(default_factory=list)  # (real path, rel, root) to read


def index_files(items: Sequence[tuple[str, str, str]], max_bytes: int) -> list[FileEntry]:
    """Read and index files (``(real path, rel, root)``); unreadable, binary or large ones are left
    out. A plain function of plain data, so that it can run in another process."""
    entries: list[FileEntry] = []
    for real, rel, root in items:
        text = read_text(real, max_bytes)
        if text is not None:
            entries.append(make_entry(real, rel, root, text))
    return entries


def _quiet_worker() -> None:
    """In an indexing process: never touch the LSP channel (stdin/stdout), and yield the CPU."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)


def indexing_executor() -> concurrent.futures.Executor:
    """One worker process for indexing: parsing thousands of files in the server's own process
    would hold the interpreter lock for long stretches and delay requests. Threads where no
    process can be started."""
    try:
        context = multiprocessing.get_context("spawn")
        return concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=_quiet_worker)
    except (OSError, ValueError, NotImplementedError):  # pragma: no cover - no processes here
        return concurrent.futures.ThreadPoolExecutor(1)


async def build(
    index: WorkspaceIndex, executor: concurrent.futures.Executor | None = None, batch: int = 64
) -> ScanResult:
    """List the workspace in a thread, then index its files in batches on ``executor`` (small
    batches: taking each one back costs the event loop little)."""
    loop = asyncio.get_running_loop()
    if executor is not None:  # starting the worker process blocks: not on the event loop
        await asyncio.to_thread(lambda: executor.submit(int).result())
    result = await asyncio.to_thread(index.list_files)
    limit = index.limits.max_file_bytes
    for start in range(0, len(result.pending), batch):
        chunk = result.pending[start : start + batch]
        for entry in await loop.run_in_executor(executor, index_files, chunk, limit):
            result.entries[entry.path] = entry
    result.skipped["binary, too large or unreadable"] = len(result.pending) - len(result.entries)
    return result


def read_text(path: str, limit: int) -> str | None:
    """A regular file's text, or ``None`` (too big, binary, unreadable, not a regular file)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        data = stream.read(limit + 1)
    if len(data) > limit or b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


class WorkspaceIndex:
    """Definitions and imports of the workspace's code files, kept current by the server."""

    def __init__(
        self,
        roots: Iterable[Path | str],
        exclude: Sequence[str] = (),
        limits: IndexLimits = IndexLimits(),
        buffer_text: Callable[[str], str | None] = lambda path: None,
    ) -> None:
        self.roots = [os.path.realpath(r) for r in roots]
        self.exclude = tuple(exclude)
        self._excluded = exclude_matcher(self.exclude)
        self.limits = limits
        self.buffer_text = buffer_text
        self.files: dict[str, FileEntry] = {}
        self.instructions: dict[str, str] = {}
        self.go_modules: dict[str, str] = {}
        self.crates: set[str] = set()
        self.by_name: dict[str, list[str]] = {}
        self.dirty: set[str] = set()
        self.ready = False
        self.touched: set[str] = set()  # paths changed by events since the scan began
        self._modules: dict[str, list[str]] | None = None
        self._folders: dict[str, list[str]] | None = None
        self._rules: dict[str, list[_Rule]] = {}
        self._admitted: dict[str, str | None] = {}

    # -- boundaries and rules --------------------------------------------------------------

    def locate(self, path: str) -> tuple[str, str] | None:
        """(root, root-relative path) of a real path inside a workspace folder, else ``None``."""
        for root in self.roots:
            try:
                if os.path.commonpath([path, root]) == root and path != root:
                    return root, os.path.relpath(path, root).replace(os.sep, "/")
            except ValueError:
                continue
        return None

    def _rules_for(self, root: str, folder_rel: str) -> list[_Rule]:
        """Rules of the .gitignore files from the root down to ``folder_rel`` (cached)."""
        key = root + "\0" + folder_rel
        if key not in self._rules:
            parent: list[_Rule] = []
            if folder_rel:
                parent = self._rules_for(root, posixpath.dirname(folder_rel))
            else:
                info = read_text(os.path.join(root, ".git", "info", "exclude"), 1 << 20)
                parent = parse_gitignore(info or "", "")
            own = read_text(os.path.join(root, folder_rel, ".gitignore"), 1 << 20)
            self._rules[key] = parent + parse_gitignore(own or "", folder_rel)
        return self._rules[key]

    def admits(self, path: str) -> tuple[str, str] | None:
        """(root, rel) when the file at real ``path`` may be indexed by the rules above."""
        located = self.locate(path)
        if located is None:
            return None
        root, rel = located
        parts = rel.split("/")
        if any(p in SKIPPED_FOLDERS for p in parts[:-1]) or language_of(rel) is None:
            return None
        if self._excluded(rel) or any(
            self._excluded("/".join(parts[: i + 1])) for i in range(len(parts) - 1)
        ):
            return None
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if ignored(self._rules_for(root, posixpath.dirname(folder)), folder, True):
                return None
        if ignored(self._rules_for(root, posixpath.dirname(rel)), rel, False):
            return None
        return root, rel

    def admitted_rel(self, path: str) -> str | None:
        """The relative path of a real ``path`` :meth:`admits`, else ``None``; remembered (the
        rules are read once per index), as open documents and edited regions are checked on
        every inline completion."""
        try:
            return self._admitted[path]
        except KeyError:
            pass
        found = self.admits(path)
        if len(self._admitted) >= ADMITTED_MEMORY:
            self._admitted.clear()
        rel = self._admitted[path] = found[1] if found is not None else None
        return rel

    # -- scanning (blocking: in a thread) --------------------------------------------------

    def list_files(self) -> ScanResult:
        """Walk every workspace folder: the files the rules admit (``pending``), the instruction
        files, Go modules and Rust crates. Reads no code file."""
        result = ScanResult()

        def skip(reason: str) -> None:
            result.skipped[reason] = result.skipped.get(reason, 0) + 1

        for root in self.roots:
            for name in INSTRUCTION_FILES:
                candidate = os.path.realpath(os.path.join(root, name))
                if self.locate(candidate) is not None:
                    text = read_text(candidate, INSTRUCTIONS_MAX_CHARS * 4)
                    if text and text.strip():
                        result.instructions[name] = text[:INSTRUCTIONS_MAX_CHARS]
            for folder, dirs, files in os.walk(root, followlinks=False):
                folder_rel = os.path.relpath(folder, root).replace(os.sep, "/")
                folder_rel = "" if folder_rel == "." else folder_rel
                rules = self._rules_for(root, folder_rel)
                kept = []
                for d in sorted(dirs):
                    rel = f"{folder_rel}/{d}" if folder_rel else d
                    if d in SKIPPED_FOLDERS or ignored(rules, rel, True) or self._excluded(rel):
                        skip("ignored folder")
                    elif os.path.islink(os.path.join(folder, d)):
                        skip("linked folder")
                    else:
                        kept.append(d)
                dirs[:] = kept
                if "go.mod" in files:
                    text = read_text(os.path.join(folder, "go.mod"), 1 << 20) or ""
                    match = re.search(r"^module\s+(\S+)", text, re.M)
                    if match:
                        result.go_modules[os.path.realpath(folder)] = match.group(1)
                if "Cargo.toml" in files:
                    result.crates.add(os.path.realpath(folder))
                for name in sorted(files):
                    rel = f"{folder_rel}/{name}" if folder_rel else name
                    if language_of(name) is None:
                        continue
                    if ignored(rules, rel, False) or self._excluded(rel):
                        skip("ignored")
                        continue
                    full = os.path.join(folder, name)
                    real = os.path.realpath(full)
                    if real != full and self.locate(real) is None:
                        skip("link out of the workspace")
                        continue
                    if len(result.pending) >= self.limits.max_files:
                        result.truncated = True
                        break
                    result.pending.append((real, rel, root))
        return result

    def scan(self) -> ScanResult:
        """List and index every admitted file, in this thread (see also :func:`build`)."""
        result = self.list_files()
        for entry in index_files(result.pending, self.limits.max_file_bytes):
            result.entries[entry.path] = entry
        result.skipped["binary, too large or unreadable"] = len(result.pending) - len(result.entries)
        return result

    def install(self, result: ScanResult) -> None:
        """Take a scan's result; changes seen by events since the scan began win over it."""
        for path, entry in self.files.items():
            if path in self.touched:
                result.entries[path] = entry
        for path in self.touched:
            if path not in self.files:
                result.entries.pop(path, None)
        self.files = result.entries
        self.instructions = result.instructions
        self.go_modules = result.go_modules
        self.crates = result.crates
        self.by_name = {}
        for entry in self.files.values():
            self._add_names(entry)
        self._modules = self._folders = None
        self._module_map()  # built now rather than during the first completion
        self.touched.clear()
        self.ready = True

    # -- updates (on the event loop) -------------------------------------------------------

    def _add_names(self, entry: FileEntry) -> None:
        for definition in entry.definitions:
            self.by_name.setdefault(definition.name, []).append(entry.path)

    def _drop_names(self, entry: FileEntry) -> None:
        for definition in entry.definitions:
            paths = self.by_name.get(definition.name)
            if paths and entry.path in paths:
                paths.remove(entry.path)
                if not paths:
                    del self.by_name[definition.name]

    def put(self, entry: FileEntry) -> None:
        """Add or replace one file's entry."""
        old = self.files.get(entry.path)
        if old is not None:
            self._drop_names(old)
        else:
            self._modules = self._folders = None
        self.files[entry.path] = entry
        self._add_names(entry)
        self.touched.add(entry.path)

    def remove(self, path: str) -> None:
        """Forget a file (deleted, or no longer admitted)."""
        real = os.path.realpath(path)
        self.dirty.discard(real)
        self.touched.add(real)
        old = self.files.pop(real, None)
        if old is not None:
            self._drop_names(old)
            self._modules = self._folders = None

    def update_text(self, path: str, text: str) -> FileEntry | None:
        """Index ``text`` as the content of the file at ``path`` (a buffer, or a fresh read)."""
        real = os.path.realpath(path)
        admitted = self.admits(real)
        if admitted is None:
            self.remove(real)
            return None
        root, rel = admitted
        entry = make_entry(real, rel, root, text[: self.limits.max_file_bytes])
        self.put(entry)
        return entry

    def read_again(self, path: str) -> str | None:
        """The file's text from disk if it may be indexed, else ``None`` (blocking: in a thread)."""
        real = os.path.realpath(path)
        return read_text(real, self.limits.max_file_bytes) if self.admits(real) else None

    def reloaded(self, path: str, text: str | None) -> None:
        """Take what :meth:`read_again` found: index it, or forget a file that is gone."""
        if text is None:
            self.remove(path)
        else:
            self.update_text(path, text)

    def reload(self, path: str) -> None:
        """Read the file at ``path`` again from disk (blocking), or forget it if it is gone."""
        self.reloaded(path, self.read_again(path))

    def mark_dirty(self, path: str) -> None:
        """An open document changed: re-read its buffer when it is next looked at."""
        self.dirty.add(os.path.realpath(path))

    def refresh_dirty(self, skip: str | None = None) -> None:
        """Re-read every changed buffer (but ``skip``) so that names are looked up in its text."""
        for path in list(self.dirty):
            if path != skip:
                self.entry(path)

    def entry(self, path: str) -> FileEntry | None:
        """The entry of a (real) path, refreshed from the editor's buffer when dirty."""
        if path in self.dirty:
            self.dirty.discard(path)
            text = self.buffer_text(path)
            if text is not None:
                return self.update_text(path, text)
        return self.files.get(path)

    # -- resolution --------------------------------------------------------------------------

    def _module_map(self) -> dict[str, list[str]]:
        """Python dotted module names (every suffix of the path) → files, shortest path first."""
        if self._modules is None:
            modules: dict[str, list[str]] = {}
            for entry in self.files.values():
                if entry.language != "python":
                    continue
                parts = entry.rel.rsplit(".", 1)[0].split("/")
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                for start in range(len(parts)):
                    modules.setdefault(".".join(parts[start:]), []).append(entry.path)
            for paths in modules.values():
                paths.sort(key=len)
            self._modules = modules
        return self._modules

    def folder_files(self, folder: str) -> list[str]:
        """Indexed files directly in a (real) folder."""
        if self._folders is None:
            folders: dict[str, list[str]] = {}
            for path in self.files:
                folders.setdefault(os.path.dirname(path), []).append(path)
            self._folders = folders
        return self._folders.get(folder, [])

    def module_files(self, importer: FileEntry, ref: ImportRef) -> list[str]:
        """The workspace files an import refers to (``[]`` for a library or an unknown module)."""
        language = importer.language
        folder = os.path.dirname(importer.path)
        if language == "python":
            if ref.level:
                base = folder
                for _ in range(ref.level - 1):
                    base = os.path.dirname(base)
                target = os.path.join(base, *ref.module.split(".")) if ref.module else base
                candidates = [target + ".py", target + ".pyi", os.path.join(target, "__init__.py")]
                return [c for c in candidates if c in self.files][:1]
            return self._module_map().get(ref.module, [])[:1]
        if language in ("javascript", "typescript", "vue", "svelte"):
            if not ref.module.startswith("."):
                return []
            target = os.path.normpath(os.path.join(folder, ref.module))
            stem = re.sub(r"\.(m|c)?js$", "", target)
            candidates = [target] + [stem + ext for ext in JS_EXTENSIONS]
            candidates += [os.path.join(target, "index" + ext) for ext in JS_EXTENSIONS]
            return [c for c in candidates if c in self.files][:1]
        if language == "go":
            for module_folder, module in self.go_modules.items():
                if ref.module == module or ref.module.startswith(module + "/"):
                    rest = ref.module[len(module) :].lstrip("/")
                    return sorted(
                        self.folder_files(os.path.join(module_folder, rest) if rest else module_folder)
                    )
            return []
        if language == "rust":
            return self._rust_files(importer, ref.module)
        return []

    def _rust_files(self, importer: FileEntry, module: str) -> list[str]:
        parts = module.split("::")
        path = importer.path
        if parts[0] == "crate":
            crate = next(
                (c for c in sorted(self.crates, key=len, reverse=True) if path.startswith(c + os.sep)), None
            )
            if crate is None:
                return []
            base = os.path.join(crate, "src")
        elif parts[0] in ("self", "super"):
            name = os.path.basename(path)
            base = os.path.dirname(path)
            if name not in ("mod.rs", "lib.rs", "main.rs"):
                base = os.path.join(base, name[:-3])
            while parts and parts[0] == "super":
                base = os.path.dirname(base)
                parts = parts[1:]
            parts = ["self", *parts] if parts and parts[0] != "self" else parts
        else:
            return []
        segments = parts[1:]
        for cut in range(len(segments), 0, -1):  # the longest prefix that is a file
            target = os.path.join(base, *segments[:cut])
            for candidate in (target + ".rs", os.path.join(target, "mod.rs")):
                if candidate in self.files:
                    return [candidate]
        if not segments:
            for candidate in (
                os.path.join(base, "lib.rs"),
                os.path.join(base, "main.rs"),
                os.path.join(base, "mod.rs"),
            ):
                if candidate in self.files:
                    return [candidate]
        return []

    def find_in(self, paths: Iterable[str], name: str, depth: int = 0) -> list[tuple[FileEntry, Definition]]:
        """Definitions named ``name`` in the given files, following re-exports a few steps."""
        found: list[tuple[FileEntry, Definition]] = []
        for path in paths:
            entry = self.entry(path)
            if entry is None:
                continue
            here = [d for d in entry.definitions if d.name == name and d.kind != "method"]
            if name == "default":
                here = [d for d in entry.definitions if d.exported_default]
            found.extend((entry, d) for d in here[-1:])  # overloads first, the implementation last
            if here or depth >= 3:
                continue
            for ref in entry.imports:  # re-exported: `from .models import X`, `export * from './x'`
                originals = [orig for orig, local in ref.names if local == name]
                if originals or ref.reexport:
                    target = originals[0] if originals else name
                    found.extend(self.find_in(self.module_files(entry, ref), target, depth + 1))
        return found
