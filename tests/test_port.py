"""The editor port (:mod:`codestral_lsp.port`): the server implements all of it, and a stage runs
against a stand-in that implements only the port — no language server, no editor."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from codestral_lsp import delivery
from codestral_lsp.actions import BUILTIN_ACTIONS
from codestral_lsp.port import Editor, Session
from codestral_lsp.server import CodestralLanguageServer
from lsprotocol import types


def _members(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


def test_the_server_implements_every_member_of_the_port() -> None:
    server = CodestralLanguageServer({})
    wanted = _members(Editor) | _members(Session)
    assert {"tell_user", "apply_edit", "show_document", "jobs", "proposals"} <= wanted
    assert sorted(name for name in wanted if not hasattr(server, name)) == []


@dataclass
class StandIn:
    """The part of the port :func:`delivery.keep_answer` and :func:`delivery.show_markdown` use."""

    env: dict[str, str]
    declared: set[str] = field(default_factory=set)
    told: list[tuple[types.MessageType, str]] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)

    def tell_user(self, kind: types.MessageType, message: str) -> None:
        self.told.append((kind, message))

    async def show_document(self, uri: str, take_focus: bool = False) -> bool:
        self.shown.append(uri)
        return True

    def client_declares(self, name: str) -> bool:
        return name in self.declared

    def client_capability(self, field: str, default: Any = None) -> Any:
        return True if field == "window.show_document.support" else default


def test_a_kept_answer_through_the_port(tmp_path: Path) -> None:
    editor = StandIn(env={"XDG_STATE_HOME": str(tmp_path)})
    answer = "Here it is:\n\n```python\nx = 1\n```\n"
    result = asyncio.run(
        delivery.keep_answer(cast(Session, editor), "file:///w/a.py", answer, "The code changed.")
    ).to_json()
    assert result["status"] == "kept" and result["reason"] == "The code changed."
    code = Path(result["answerUri"].removeprefix("file://"))
    assert code.read_text() == "x = 1\n" and code.suffix == ".py"
    assert Path(result["fullAnswerUri"].removeprefix("file://")).read_text() == answer
    assert editor.shown == [result["answerUri"]]
    assert editor.told == [(types.MessageType.Warning, result["message"])]


def test_an_explanation_for_a_plugin_that_shows_it_writes_nothing(tmp_path: Path) -> None:
    editor = StandIn(env={"XDG_STATE_HOME": str(tmp_path)}, declared={"showsExplanations"})
    spec = BUILTIN_ACTIONS["explain"]
    result = asyncio.run(
        delivery.show_markdown(cast(Session, editor), spec, "file:///w/a.py", "It adds.", cut_at=None)
    )
    assert result.to_json() == {
        "status": "shown",
        "message": "explanation ready",
        "markdown": "It adds.",
        "truncated": False,
    }
    assert editor.shown == [] and not (tmp_path / "codestral-lsp").exists()
