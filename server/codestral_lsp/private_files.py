"""Files the server writes for the user (explanations, answers kept after a conflict).

They live in a per-user directory created 0700, each file 0600: answers contain code.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from codestral_lsp.redaction import redact

# A file extension kept as it is: short and plain (a longer one could make the name too long).
_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9_+-]{1,15}")
_LANGUAGE_SUFFIX = {
    "python": ".py",
    "javascript": ".js",
    "javascriptreact": ".jsx",
    "typescript": ".ts",
    "typescriptreact": ".tsx",
    "go": ".go",
    "rust": ".rs",
    "java": ".java",
    "kotlin": ".kt",
    "c": ".c",
    "cpp": ".cpp",
    "csharp": ".cs",
    "ruby": ".rb",
    "php": ".php",
    "lua": ".lua",
    "shellscript": ".sh",
    "elixir": ".ex",
    "dart": ".dart",
    "swift": ".swift",
}


def suffix_for(uri: str, language_id: str | None = None) -> str:
    """The extension for code taken from document ``uri``: its own when usable, else its
    language's, else ``.txt``."""
    suffix = PurePosixPath(unquote(urlparse(uri).path)).suffix
    if _SAFE_SUFFIX.fullmatch(suffix):
        return suffix
    return _LANGUAGE_SUFFIX.get(language_id or "", ".txt")



def answers_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/codestral-lsp/answers`` (``~/.local/state/…`` by default)."""
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "codestral-lsp" / "answers"


def write_private(directory: Path, stem: str, suffix: str, text: str) -> Path:
    """Write ``text`` to a new private file in ``directory``; return its path.

    The name is ``<time>-<stem><suffix>``, made safe and short (an unusable suffix becomes
    ``.txt``), so that no document name can make the file impossible to write.
    """
    if not _SAFE_SUFFIX.fullmatch(suffix):
        suffix = ".txt"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-")[:60] or "answer"
    path = directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}{suffix}"
    counter = 1
    while path.exists():
        counter += 1
        path = directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-{counter}{suffix}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
        stream.write(redact(text))  # an answer can echo the key
    return path
