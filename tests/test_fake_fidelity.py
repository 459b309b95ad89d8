"""The fake answers as the real API does: its own output validates against the API's schemas,
and the schemas it checks requests with are the ones in Mistral's OpenAPI description."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fake_codestral import FakeCodestral, Script
from fake_codestral.extract_schemas import STORED, extract
from fake_codestral.schemas import violations

OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "mistral-openapi.yaml"


@pytest.mark.skipif(not OPENAPI.exists(), reason="the shared OpenAPI description is not beside this checkout")
def test_stored_schemas_match_the_openapi_description() -> None:
    assert json.loads(STORED.read_text()) == extract(OPENAPI)


def test_stream_chunks_and_model_list_follow_the_schemas(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="hello world", chunk_size=3))
    body = {"model": "codestral-latest", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.Client(base_url=fake.base_url) as client:
        response = client.post("/chat/completions", json=body)
        models = client.get("/models").json()
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[len("data: ") :] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        assert violations("CompletionEvent", {"data": chunk}) == []
    assert "usage" in chunks[-1] and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert violations("ModelList", models) == []


def test_non_streaming_answers_follow_the_schemas(fake: FakeCodestral) -> None:
    with httpx.Client(base_url=fake.base_url) as client:
        chat = client.post(
            "/chat/completions",
            json={"model": "codestral-latest", "messages": [{"role": "user", "content": "x"}]},
        )
        fim = client.post(
            "/fim/completions", json={"model": "codestral-latest", "prompt": "def f(", "suffix": ")"}
        )
    # The description lists "data" as required in these responses, but the API does not send it
    # (the description's own FIM example has none), so neither does the fake.
    for schema, response in (("ChatCompletionResponse", chat), ("FIMCompletionResponse", fim)):
        found = violations(schema, response.json())
        assert [v for v in found if v["msg"] != "'data' is a required property"] == []


@pytest.mark.allow_schema_errors
def test_an_invalid_body_is_answered_422_like_the_api(fake: FakeCodestral) -> None:
    body = {
        "model": "codestral-latest",
        "messages": [{"role": "user", "content": "x"}],
        "stream_options": {},
        "temperature": 3,
    }
    with httpx.Client(base_url=fake.base_url) as client:
        response = client.post("/chat/completions", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {
        "type": "extra_forbidden",
        "loc": ["body", "stream_options"],
        "msg": "Extra inputs are not permitted",
        "input": {},
    } in detail
    assert any(d["loc"] == ["body", "temperature"] for d in detail)
    assert violations("HTTPValidationError", response.json()) == []


@pytest.mark.parametrize(
    "script",
    [
        Script(text="hello world", chunk_size=3, list_content=True),
        Script(text="hello world", chunk_size=3, second_choice="another answer"),
        Script(text="hello world", keepalives=2, bom=True, crlf=True),
    ],
    ids=["content chunks", "two choices", "BOM, keep-alives, CRLF"],
)
def test_odd_but_legal_streams_follow_the_schemas(fake: FakeCodestral, script: Script) -> None:
    fake.enqueue(script)
    body = {"model": "codestral-latest", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.Client(base_url=fake.base_url) as client:
        raw = client.post("/chat/completions", json=body).content
    text = raw.removeprefix(b"\xef\xbb\xbf").decode().replace("\r\n", "\n")
    events = [e[len("data: ") :] for e in text.split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "[DONE]"
    for chunk in (json.loads(e) for e in events[:-1]):
        assert violations("CompletionEvent", {"data": chunk}) == []
