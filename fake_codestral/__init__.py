"""A fake Codestral: a real HTTP server on loopback that speaks the Mistral API.

It frames SSE exactly as the API does, answers with the API's error bodies and headers, records
every request and validates each body against the API's OpenAPI schemas. Tests script what it
answers; ``python -m fake_codestral --port 8787`` runs it by hand.
"""

from fake_codestral.server import (
    FakeCodestral,
    Gate,
    RecordedRequest,
    Script,
    environment_without_keys,
)

__all__ = ["FakeCodestral", "Gate", "RecordedRequest", "Script", "environment_without_keys"]
