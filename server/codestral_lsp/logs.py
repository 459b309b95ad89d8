"""Logging set-up: stderr or a private log file, never stdout (stdout carries the protocol).

Every handler gets :class:`RedactSecrets`, so even a key that slipped into a message or a
traceback is written as ``[redacted]``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from codestral_lsp.api.bodylog import set_body_detail
from codestral_lsp.api.endpoint import CODESTRAL_KEY_VAR, MISTRAL_KEY_VAR

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Replace any of the given secrets in a record's final text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        record.msg, record.args = text, None
        return True


def redact_also(secret: str | None) -> None:
    """Add a secret (e.g. the value of a variable named by apiKeyEnv) to every handler's filter."""
    if not secret or len(secret) < 6:
        return
    for handler in logging.getLogger().handlers:
        for existing in handler.filters:
            if isinstance(existing, RedactSecrets) and secret not in existing.secrets:
                existing.secrets = sorted({*existing.secrets, secret}, key=len, reverse=True)


def secrets_in(env: Mapping[str, str], extra_vars: Iterable[str] = ()) -> list[str]:
    """The values of the key variables (the standard two and any named in settings)."""
    names = {CODESTRAL_KEY_VAR, MISTRAL_KEY_VAR, *extra_vars}
    return [env[n] for n in names if env.get(n)]


def open_private(path: Path) -> None:
    """Create ``path`` (and its folder) readable by the user alone."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def configure_logging(verbose: int, log_file: str | None, env: Mapping[str, str]) -> None:
    """Send logs to stderr (or ``log_file``, created 0600), redacting the API keys.

    ``verbose``: 0 info, 1 (-v) debug with HTTP bodies without code text, 2 (-vv) with it."""
    handler: logging.Handler
    if log_file:
        path = Path(log_file).expanduser()
        open_private(path)
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler()  # stderr
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactSecrets(secrets_in(env)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    set_body_detail(int(verbose))
    if not verbose:  # -v shows every LSP message and HTTP exchange
        for noisy in ("httpx", "httpcore", "pygls.protocol", "pygls.feature_manager"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
