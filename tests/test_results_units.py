"""The one typed action result (:mod:`codestral_lsp.results`): its wire form is what the module
documents, and holds every key the editor plugins read."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from codestral_lsp import results
from codestral_lsp.results import ActionResult, ActionResultJson, JobUsage, UsageJson
from lsprotocol import types

EDITORS = Path(__file__).resolve().parents[1] / "editors"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_the_wire_keys_are_the_fields_and_are_documented() -> None:
    keys = {_camel(f.name) for f in dataclasses.fields(ActionResult)}
    assert keys == set(ActionResultJson.__annotations__)
    doc = results.__doc__ or ""
    assert [key for key in sorted(keys) if f"``{key}``" not in doc] == []


def test_only_what_applies_goes_on_the_wire() -> None:
    usage = JobUsage("codestral-latest", 10, 5, 0.0000123456789)
    shown = ActionResult(
        status="shown", message="explanation ready", markdown="x", truncated=False, usage=usage
    )
    assert shown.to_json() == {
        "status": "shown",
        "message": "explanation ready",
        "markdown": "x",
        "truncated": False,
        "usage": UsageJson(
            model="codestral-latest", promptTokens=10, completionTokens=5, estimatedCostUsd=0.000012
        ),
    }
    estimated = dataclasses.replace(usage, estimated=True).to_json()
    assert estimated["estimated"] is True
    assert ActionResult(status="shown", message="", findings=0).to_json()["findings"] == 0


def test_a_proposal_carries_its_range_and_edit_as_lsp_json() -> None:
    here = types.Range(start=types.Position(line=1, character=0), end=types.Position(line=2, character=0))
    edit = types.WorkspaceEdit(changes={"file:///a.py": [types.TextEdit(range=here, new_text="x\n")]})
    wire = ActionResult(
        status="proposed", message="m", job_id="3-1", uri="file:///a.py", range=here, diff="d", edit=edit
    ).to_json()
    assert wire["jobId"] == "3-1" and wire["uri"] == "file:///a.py" and wire["diff"] == "d"
    assert wire["range"] == {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}}
    assert wire["edit"] == {"changes": {"file:///a.py": [{"range": wire["range"], "newText": "x\n"}]}}


def test_every_key_the_editor_plugins_read_from_an_action_result_is_in_it() -> None:
    """VS Code (``result.jobId``), Neovim (``result.status``) and Emacs (``(plist-get result
    :answerUri)``) read the result by key: each key they read exists."""
    read: set[str] = set()
    for path in [*EDITORS.rglob("*.js"), *EDITORS.rglob("*.lua")]:
        if "node_modules" not in path.parts:
            read |= set(re.findall(r"\bresult\??\.([A-Za-z]+)", path.read_text(encoding="utf-8")))
    for path in EDITORS.rglob("*.el"):
        read |= set(re.findall(r"\(plist-get result :([A-Za-z]+)\)", path.read_text(encoding="utf-8")))
    assert {"status", "message", "jobId", "markdown"} <= read  # the search sees the plugins
    # codestral.cancel's count; a completion list; the editor's own workspace/applyEdit answer
    not_action_results = {"cancelled", "items", "applied"}
    assert read - not_action_results - set(ActionResultJson.__annotations__) == set()
