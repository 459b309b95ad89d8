"""A rassumfrassum preset for codestral.el: ``rass codestral-rass.py -- SERVER -- codestral-lsp``.

rass answers ``initialize`` with whatever servers have answered after 3 s and drops later
answers, so a server that starts slowly (a loaded machine, a cold Python) would silently lose
all its features. This preset waits for every server's ``initialize`` answer instead; every
other request keeps rass's own timeouts. Without rassumfrassum's ``LspLogic`` (another
version), rass's default logic is used.
"""

from __future__ import annotations

from typing import Any

INITIALIZE_TIMEOUT_MS = 60_000

try:
    from rassumfrassum.frassum import LspLogic
except ImportError:  # pragma: no cover - another rassumfrassum: its default logic
    LspLogic = None
else:

    class CodestralLogic(LspLogic):  # type: ignore[misc, valid-type]
        """rass's LspLogic, with a long ``initialize`` timeout."""

        def get_aggregation_timeout_ms(self, method: str | None) -> int:
            if method == "initialize":
                return INITIALIZE_TIMEOUT_MS
            timeout: int = super().get_aggregation_timeout_ms(method)
            return timeout


def servers() -> list[list[str]]:
    """The servers come from the command line."""
    return []


def logic_class() -> Any:
    """rass's logic, waiting longer for ``initialize`` (rass's own class if it changed)."""
    return CodestralLogic if LspLogic is not None else None
