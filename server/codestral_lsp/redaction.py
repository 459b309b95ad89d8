"""The one place keys are hidden from everything the server says or writes.

Every key the server may send is registered here (by :func:`~codestral_lsp.api.endpoint.resolve_endpoint`
when it hands one out, and at start-up for the key variables of the environment). Every outgoing
channel passes its text through :data:`REDACTOR`: LSP messages (``CodestralProtocol._send_data``:
messages, progress, command results, edits), logs (:class:`codestral_lsp.logs.RedactSecrets`),
private files (``write_private``) and ``codestral-lsp check``'s output. So a key echoed by an API
server in an error body or an answer is replaced by ``[redacted]`` wherever it would surface.

Only the exact text that is sent is matched (keys are stripped of surrounding white space before
they are sent, see the endpoint rules). Keys shorter than :data:`MIN_SECRET_LENGTH` are not
secrets worth the name (placeholders such as ``ollama``), and replacing such a common word would
corrupt code and messages, so they are left alone.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any

MIN_SECRET_LENGTH = 8
REPLACEMENT = "[redacted]"


class Redactor:
    """A set of secrets, and the functions that hide them in text and JSON values."""

    def __init__(self) -> None:
        self._secrets: tuple[str, ...] = ()
        self._escaped: tuple[str, ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        """The registered secrets, longest first."""
        return self._secrets

    def add(self, secret: str | None) -> None:
        """Register a secret (ignored when shorter than :data:`MIN_SECRET_LENGTH`)."""
        if not secret or len(secret) < MIN_SECRET_LENGTH or secret in self._secrets:
            return
        self._secrets = tuple(sorted({*self._secrets, secret}, key=len, reverse=True))
        # How each secret looks inside JSON text (json.dumps escapes non-ASCII and quotes).
        self._escaped = tuple(json.dumps(s)[1:-1] for s in self._secrets)

    def add_env_keys(self, env: Mapping[str, str], names: Iterable[str]) -> None:
        """Register the values (as they would be sent: stripped) of the variables ``names``."""
        for name in names:
            self.add(env.get(name, "").strip())

    def redact(self, text: str, keep: Collection[str] = ()) -> str:
        """``text`` with every secret (but those in ``keep``) replaced by ``[redacted]``."""
        for secret in self._secrets:
            if secret in text and secret not in keep:
                text = text.replace(secret, REPLACEMENT)
        return text

    def might_contain(self, json_text: str) -> bool:
        """Cheap test: could this JSON text hold a secret in one of its strings?"""
        return any(escaped in json_text for escaped in self._escaped)

    def redact_json(self, value: Any, keep: Collection[str] = ()) -> Any:
        """A JSON value (dicts, lists, strings…) with every secret (but those in ``keep``) hidden
        in its strings and keys."""
        if isinstance(value, str):
            return self.redact(value, keep)
        if isinstance(value, list):
            return [self.redact_json(item, keep) for item in value]
        if isinstance(value, dict):
            return {self.redact(str(k), keep): self.redact_json(v, keep) for k, v in value.items()}
        return value


REDACTOR = Redactor()
"""The process's redactor: one set of secrets for every channel."""


def redact(text: str) -> str:
    """Hide every registered secret in ``text`` (see :class:`Redactor`)."""
    return REDACTOR.redact(text)
