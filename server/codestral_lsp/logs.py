"""Logging set-up: stderr or a private log file, never stdout (stdout carries the protocol).

Every handler gets :class:`RedactSecrets`, so even a key that slipped into a message or a
traceback (or an API server echoed) is written as ``[redacted]``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

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


def open_private(path: Path) -> None:
    """Create ``path`` (and its folder) readable by the user alone."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def configure_logging(verbose: bool, log_file: str | None, env: Mapping[str, str]) -> None:
    """Send logs to stderr (or ``log_file``, created 0600), redacting the API keys."""
    handler: logging.Handler
    if log_file:
        path = Path(log_file).expanduser()
        open_private(path)
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler()  # stderr
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    REDACTOR.add_env_keys(env, allowed_key_vars(env))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:  # -v shows every LSP message and HTTP exchange
        for noisy in ("httpx", "httpcore", "pygls.protocol", "pygls.feature_manager"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
