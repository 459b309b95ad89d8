"""Reading and creating files in the user's project, within the workspace folders only.

A cloned repository can hold symbolic links (``tests -> /elsewhere``, ``tests/test_x.py ->
~/.bashrc``), FIFOs and device files. The rules, applied to real paths (every link resolved):

* the server reads and writes only inside the workspace folders (for a document outside every
  folder: only inside that document's own folder);
* it reads only regular files, at most :data:`MAX_READ_BYTES`, never blocking on a FIFO;
* it creates only new files (never replacing one, never through a link).

These functions block: call them with :func:`asyncio.to_thread`, off the event loop.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

MAX_READ_BYTES = 8 * 1024 * 1024


class ProjectFileError(Exception):
    """A project file that cannot be used; ``str()`` is the sentence for the user."""


def real(path: Path | str) -> Path:
    """``path`` with every symbolic link resolved (whether or not the file exists)."""
    return Path(os.path.realpath(path))


def is_inside(path: Path, folder: Path) -> bool:
    """True when ``path`` is ``folder`` or lies below it (both taken as given, not resolved)."""
    try:
        return os.path.commonpath([path, folder]) == str(folder)
    except ValueError:  # different drives, or relative against absolute
        return False


def check_inside(path: Path, folders: Iterable[Path], shown_as: str) -> Path:
    """The real path of ``path`` if it lies in one of the (real) ``folders``; else raise."""
    resolved = real(path)
    if not any(is_inside(resolved, folder) for folder in folders):
        raise ProjectFileError(
            f"{shown_as} leads outside your workspace (to {resolved}, through a symbolic link), "
            f"so Codestral did not touch it."
        )
    return resolved


def read_regular(path: Path, shown_as: str, limit: int = MAX_READ_BYTES) -> str:
    """The text of a regular file (UTF-8, undecodable bytes replaced), at most ``limit`` bytes.

    Opens without following a final link and without blocking (a FIFO would wait for a writer),
    then checks what was opened: anything but a regular file is refused.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise ProjectFileError(f"{shown_as} could not be read ({error.strerror}).") from None
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ProjectFileError(f"{shown_as} is not a regular file, so Codestral did not touch it.")
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ProjectFileError(
            f"{shown_as} is larger than {limit // (1024 * 1024)} MB, so Codestral did not append to it."
        )
    return data.decode("utf-8", errors="replace")


def create_new(path: Path, text: str, shown_as: str) -> None:
    """Create ``path`` (and missing folders) holding ``text``; never replace an existing file.

    ``path`` must be a real path already checked with :func:`check_inside`.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o666)  # an ordinary project file: the umask decides
    except FileExistsError:
        raise ProjectFileError(f"{shown_as} appeared meanwhile, so Codestral did not overwrite it.") from None
    except OSError as error:
        raise ProjectFileError(f"{shown_as} could not be created ({error.strerror}).") from None
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
        stream.write(text)
