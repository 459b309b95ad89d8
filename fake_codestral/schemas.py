"""Validation of request bodies (and the fake's own answers) against the API's schemas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

STORED = Path(__file__).with_name("openapi_schemas.json")
BASE_URI = "urn:mistral-openapi"


@cache
def _registry() -> Registry:
    document = json.loads(STORED.read_text(encoding="utf-8"))
    registry: Registry = Registry().with_resource(BASE_URI, DRAFT202012.create_resource(document))
    return registry


@cache
def validator(schema_name: str) -> Draft202012Validator:
    """A validator for ``#/components/schemas/<schema_name>``."""
    ref = {"$ref": f"{BASE_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=_registry())


def violations(schema_name: str, instance: Any) -> list[dict[str, Any]]:
    """Schema violations as the API reports them: FastAPI-style ``detail`` entries."""
    found = []
    for error in validator(schema_name).iter_errors(instance):
        location = ["body", *[str(part) for part in error.absolute_path]]
        kind = "extra_forbidden" if error.validator == "additionalProperties" else str(error.validator)
        if kind == "extra_forbidden" and isinstance(error.instance, dict):
            schema = error.schema if isinstance(error.schema, dict) else {}
            for name in error.instance:
                if name not in schema.get("properties", {}):
                    found.append(
                        {
                            "type": kind,
                            "loc": [*location, name],
                            "msg": "Extra inputs are not permitted",
                            "input": error.instance[name],
                        }
                    )
            continue
        found.append({"type": kind, "loc": location, "msg": error.message})
    return found
