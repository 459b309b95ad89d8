"""HTTP bodies in the log: with ``-v`` without the user's code, with ``-vv`` with it.

Secret fields (and credential headers) are always replaced; the fields that carry code or the
model's answer about it are replaced by their length below ``-vv``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

CODE_FIELDS = frozenset({"content", "prompt", "suffix", "input_prefix", "input_suffix", "text", "prediction"})
"""Body fields that carry the user's code (or the model's answer about it): logged only at -vv."""
SECRET_FIELDS = frozenset({"api_key", "apikey", "authorization", "key", "token", "password", "secret"})
_body_detail = 0  # 0: no bodies, 1: bodies without code text, 2: bodies with code text


def set_body_detail(level: int) -> None:
    """How much of each HTTP body to log: 0 none, 1 without code text (-v), 2 everything (-vv)."""
    global _body_detail
    _body_detail = max(0, min(2, level))


def redact_body(value: Any, with_code: bool) -> Any:
    """``value`` with secret fields replaced, and code fields too unless ``with_code``."""
    if isinstance(value, dict):
        shown: dict[str, Any] = {}
        for name, item in value.items():
            lowered = str(name).lower()
            if lowered in SECRET_FIELDS:
                shown[name] = "[redacted]"
            elif lowered in CODE_FIELDS and isinstance(item, str) and not with_code:
                shown[name] = f"[{len(item)} characters]"
            else:
                shown[name] = redact_body(item, with_code)
        return shown
    if isinstance(value, list):
        return [redact_body(item, with_code) for item in value]
    return value


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers for the log, with credentials replaced."""
    return {
        name: "[redacted]" if name.lower() in ("authorization", "x-api-key", "api-key") else value
        for name, value in headers
    }


def log_body(logger: logging.Logger, what: str, body: Any) -> None:
    """Log an HTTP body (a JSON value, or raw bytes) at debug level, as -v/-vv allow."""
    if _body_detail == 0 or not logger.isEnabledFor(logging.DEBUG):
        return
    with_code = _body_detail >= 2
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            logger.debug("%s %s", what, text if with_code else f"[{len(text)} characters, not JSON]")
            return
    logger.debug("%s %s", what, json.dumps(redact_body(body, with_code), ensure_ascii=False))
