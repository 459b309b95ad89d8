"""Settings are defined once, in ``settings.py``: the README's table and the VS Code manifest must
say the same keys and defaults, or users read (and VS Code sends) something the server does not do."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from codestral_lsp.settings import Settings, camel

ROOT = Path(__file__).resolve().parents[1]
# Settings whose value is a list or mapping of user-defined entries: one row, no leaf defaults.
COLLECTIONS = {"actions", "prices"}


def defaults(cls: Any = Settings, prefix: str = "") -> dict[str, Any]:
    """Every setting as its dotted camelCase key → default (JSON form)."""
    found: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        key = prefix + camel(field.name)
        if field.default is not dataclasses.MISSING:
            value = field.default
        elif field.default_factory is not dataclasses.MISSING:
            value = field.default_factory()
        else:
            value = None
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            found.update(defaults(type(value), key + "."))
        else:
            found[key] = [] if value == () else value
    return found


def readme_rows() -> dict[str, str]:
    """The Configuration table of the README: key → default cell."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Za-z.]+)` \|([^|]*)\|", section, flags=re.M)
    return {key: cell.strip() for key, cell in rows}


def manifest() -> dict[str, Any]:
    """The VS Code extension's settings: ``codestral.<key>`` → its schema."""
    package = json.loads((ROOT / "editors" / "vscode" / "package.json").read_text())
    configuration = package["contributes"]["configuration"]
    sections = configuration if isinstance(configuration, list) else [configuration]
    return {k: v for section in sections for k, v in section["properties"].items()}


def test_every_setting_is_in_the_readme_with_its_default() -> None:
    rows = readme_rows()
    for key, default in defaults().items():
        assert key in rows, f"README's Configuration table has no row for `{key}`"
        cell = rows[key]
        if key in COLLECTIONS or default is None or not cell.startswith("`"):
            continue
        literal = cell.split("`")[1]
        try:
            shown = json.loads(literal)
        except json.JSONDecodeError:
            shown = literal  # a plain string shown without quotes
        assert shown == default, f"README says `{key}` defaults to {cell}; settings.py says {default!r}"
    unknown = set(rows) - set(defaults())
    assert not unknown, f"README documents settings the server does not have: {sorted(unknown)}"


def test_the_vscode_manifest_declares_every_setting_with_the_servers_default() -> None:
    schema = manifest()
    groups: dict[str, dict[str, Any]] = {}
    for key, default in defaults().items():
        head, _, leaf = key.partition(".")
        if leaf:
            groups.setdefault(head, {})[leaf] = default
            continue
        assert f"codestral.{key}" in schema, f"package.json has no codestral.{key}"
        if key in COLLECTIONS:
            continue
        assert schema[f"codestral.{key}"].get("default") == default, (
            f"package.json's codestral.{key} default {schema[f'codestral.{key}'].get('default')!r} "
            f"is not the server's {default!r}"
        )
    for head, leaves in groups.items():
        declared = schema[f"codestral.{head}"].get("default", {})
        expected = {leaf: value for leaf, value in leaves.items() if value is not None}
        assert declared == expected, f"package.json's codestral.{head} default differs: {declared} != {expected}"


@pytest.mark.parametrize("key", ["timeouts.idle", "completion.fallbackCompletionItem"])
def test_the_check_itself_sees_a_difference(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks above can fail: a changed default is caught."""
    original = defaults()
    changed = {**original, key: "something else"}
    monkeypatch.setattr(f"{__name__}.defaults", lambda: changed)
    with pytest.raises(AssertionError):
        test_every_setting_is_in_the_readme_with_its_default()
    with pytest.raises(AssertionError):
        test_the_vscode_manifest_declares_every_setting_with_the_servers_default()
