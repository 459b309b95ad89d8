"""Extract the schemas the fake validates against from Mistral's OpenAPI description.

The full description (``../shared/mistral-openapi.yaml``, about 1 MB) is not part of this
repository, so the few schemas the fake needs — with every schema they reference — are kept in
``openapi_schemas.json`` beside this file. Regenerate it after the description changes::

    python -m fake_codestral.extract_schemas ../shared/mistral-openapi.yaml

``tests/test_fake_fidelity.py`` checks the stored copy still matches the description when the
description is present.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT_SCHEMAS = (
    "ChatCompletionRequest",
    "FIMCompletionRequest",
    "ChatCompletionResponse",
    "FIMCompletionResponse",
    "CompletionEvent",
    "ModelList",
    "HTTPValidationError",
)
STORED = Path(__file__).with_name("openapi_schemas.json")
REF_PREFIX = "#/components/schemas/"


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            found.add(ref[len(REF_PREFIX) :])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def extract(openapi_path: Path) -> dict[str, Any]:
    """Return ``{"components": {"schemas": {...}}}`` holding the roots and their references."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with openapi_path.open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=loader)
    all_schemas = document["components"]["schemas"]
    wanted: dict[str, Any] = {}
    pending = list(ROOT_SCHEMAS)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted[name] = all_schemas[name]
        pending.extend(sorted(_refs(all_schemas[name]) - wanted.keys()))
    return {"components": {"schemas": dict(sorted(wanted.items()))}}


def main(argv: list[str]) -> int:
    """Write the stored schema file from the OpenAPI description named on the command line."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    STORED.write_text(json.dumps(extract(Path(argv[0])), indent=1, sort_keys=True) + "\n")
    print(f"wrote {STORED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
