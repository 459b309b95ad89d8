"""Logging set-up: stderr or a private log file, never stdout (stdout carries the protocol).

Every handler gets :class:`RedactSecrets`, so even a key that slipped into a message or a
traceback (or an API server echoed) is written as ``[redacted]``.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from codestral_lsp.api.bodylog import set_body_detail
from codestral_lsp.api.endpoint import allowed_key_vars
from codestral_lsp.redaction import REDACTOR, Redactor

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Hide the keys (see :mod:`codestral_lsp.redaction`) in a record's final text, traceback included."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor.secrets:
            return True
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = self.redactor.redact(text), None
        return True


class UnusableLogFile(Exception):
    """The ``--log-file`` cannot be used safely; ``str()`` says why."""


def open_private(path: Path) -> TextIO:
    """Open ``path`` for appending, created readable by the user alone (its folder too).

    Refuses (:class:`UnusableLogFile`) a path that is a symbolic link, not a regular file (a FIFO
    would block), or a file of another user (logs hold code; on a shared machine a log file
    planted in ``/tmp`` must not receive them).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
    except OSError as error:
        reasons = {errno.ELOOP: "it is a symbolic link", errno.ENXIO: "it is not a regular file"}
        reason = reasons.get(error.errno or 0) or error.strerror or str(error)
        raise UnusableLogFile(reason) from None
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "it is not a regular file"
    elif hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        problem = "it belongs to another user"
    if problem:
        os.close(fd)
        raise UnusableLogFile(problem)
    os.set_blocking(fd, True)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8")


def configure_logging(verbose: int, log_file: str | None, env: Mapping[str, str]) -> None:
    """Send logs to stderr (or ``log_file``, created 0600), redacting the API keys.

    ``verbose``: 0 info, 1 (-v) debug with HTTP bodies without code text, 2 (-vv) with it.
    A log file that cannot be used safely does not stop the server: logs go to stderr, which
    says why first.
    """
    handler: logging.Handler = logging.StreamHandler()  # stderr
    refused = None
    if log_file:
        path = Path(log_file).expanduser()
        try:
            handler = logging.StreamHandler(open_private(path))
        except UnusableLogFile as error:
            refused = f"not writing logs to {path}: {error}; logging to stderr instead"
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    REDACTOR.add_env_keys(env, allowed_key_vars(env))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    set_body_detail(int(verbose))
    if not verbose:  # -v shows every LSP message and HTTP exchange
        for noisy in ("httpx", "httpcore", "pygls.protocol", "pygls.feature_manager"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if refused:
        logging.getLogger(__name__).warning("%s", refused)
