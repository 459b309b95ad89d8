"""The Codestral HTTP API: endpoint resolution, request bodies, streaming client, typed errors.

Nothing in this package knows about LSP; the language server and the ``check`` command both
build on it. The client (and with it httpx) is imported on first use of ``CodestralClient`` or
``RetryNotice``, so that the server starts without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codestral_lsp.api.endpoint import Endpoint, resolve_endpoint
from codestral_lsp.api.errors import CodestralError
from codestral_lsp.api.types import Completion, ModelInfo, RetryPolicy, TextDelta, Timeouts, Usage

if TYPE_CHECKING:
    from codestral_lsp.api.client import CodestralClient, RetryNotice

_FROM_CLIENT = ("CodestralClient", "RetryNotice")

__all__ = [
    "CodestralClient",
    "CodestralError",
    "Completion",
    "Endpoint",
    "ModelInfo",
    "RetryNotice",
    "RetryPolicy",
    "TextDelta",
    "Timeouts",
    "Usage",
    "resolve_endpoint",
]


def __getattr__(name: str) -> Any:
    """``CodestralClient`` and ``RetryNotice``, imported from the client module when first asked."""
    if name in _FROM_CLIENT:
        from codestral_lsp.api import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
