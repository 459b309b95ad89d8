"""The Codestral HTTP API: endpoint resolution, request bodies, streaming client, typed errors.

Nothing in this package knows about LSP; the language server and the ``check`` command both
build on it.
"""

from codestral_lsp.api.client import CodestralClient, RetryNotice
from codestral_lsp.api.endpoint import Endpoint, resolve_endpoint
from codestral_lsp.api.errors import CodestralError
from codestral_lsp.api.types import Completion, ModelInfo, RetryPolicy, TextDelta, Timeouts, Usage

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
