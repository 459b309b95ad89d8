"""Composition: the one place that builds the server and plugs the handlers into it.

A request's path: :mod:`codestral_lsp.handlers` (LSP in and out) → a stage —
:mod:`codestral_lsp.runner` for an action, :mod:`codestral_lsp.completion` for inline
completion — → :mod:`codestral_lsp.api.client` (HTTP) → back through
:mod:`codestral_lsp.delivery` (``workspace/applyEdit``, a kept answer, a proposal) to a
:class:`codestral_lsp.results.ActionResult`, which the handler sends as the command's answer.
The stages see the server only through :mod:`codestral_lsp.port`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from codestral_lsp.handlers import register
from codestral_lsp.server import CodestralLanguageServer


def create_server(env: Mapping[str, str] | None = None) -> CodestralLanguageServer:
    """Build the server with every feature registered (``env``: the process's environment by
    default)."""
    server = CodestralLanguageServer(os.environ if env is None else env)
    register(server)
    return server
