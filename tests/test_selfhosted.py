"""Self-hosted servers, imitated by the fake's flavours: usage in streams, ``check`` without
``GET /models``, the request/response bodies in the verbose log. (Fill-in-the-middle dialects:
tests/test_completion.py; the real llama.cpp server: tests/test_selfhosted_llamacpp.py.)"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from codestral_lsp.api import Completion, Usage
from codestral_lsp.api.bodies import FimRequest
from codestral_lsp.api.client import (
    infill_from_json,
    names_stream_options,
    server_root,
    text_completion_from_json,
)
from codestral_lsp.api.errors import ApiError, ErrorBody
from codestral_lsp.fim import endpoint_missing, trim_echo

from fake_codestral import FakeCodestral, Script, environment_without_keys
from tests.conftest import CANARY_KEY
from tests.editor import Editor, lsp_range

CODE = "def area(r):\n    return 3.14 * r * r\n"


def check(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codestral_lsp", "check", *args],
        env=environment_without_keys(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- usage from OpenAI-compatible servers -----------------------------------------------------


async def test_an_openai_compatible_server_is_asked_for_usage_so_tokens_are_counted(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    fake.flavour = "llamacpp"  # sends usage in a stream only when asked, as vLLM and Ollama do
    editor = await start_session()
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(text="It computes an area.", usage=(120, 7)), Script(text="Again.", usage=(130, 3)))
    first = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(0, 0, 2, 0)})
    second = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(0, 0, 2, 0)})
    asked = [r.asked_usage for r in fake.completion_requests()]
    assert asked == [False, True]  # asked once a stream came without usage
    assert first["usage"]["promptTokens"] != 120  # the first was estimated
    assert (second["usage"]["promptTokens"], second["usage"]["completionTokens"]) == (130, 3)
    totals = await editor.run("codestral.usage")
    assert totals["tokensEstimated"] is True


@pytest.mark.allow_schema_errors  # the one refused request is asserted on below
async def test_a_server_that_refuses_stream_options_is_asked_again_without_and_never_again(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    # Mistral's own API (or a proxy to it) refuses the field with 422; this fake is Mistral's API
    # but sends no usage in its first stream, so the client decides to ask.
    editor = await start_session()
    uri = editor.open("geo.py", CODE)
    fake.enqueue(
        Script(text="One.", omit_usage=True),
        Script(text="Two.", usage=(50, 2)),
        Script(text="Three.", usage=(60, 3)),
    )
    for _ in range(3):
        result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(0, 0, 2, 0)})
        assert result["status"] == "shown"
    requests = fake.completion_requests()
    assert [r.asked_usage for r in requests] == [False, True, False, False]
    assert [r.schema_errors != [] for r in requests] == [False, True, False, False]
    assert (result["usage"]["promptTokens"], result["usage"]["completionTokens"]) == (60, 3)


# -- check against a server without GET /models ---------------------------------------------


def test_check_without_a_model_list_checks_with_a_chat_request(fake: FakeCodestral) -> None:
    fake.flavour, fake.serve_models, fake.api_key = "openai", False, CANARY_KEY
    result = check("--model", "gemma-3-270m", CODESTRAL_BASE_URL=fake.base_url, CODESTRAL_API_KEY=CANARY_KEY)
    assert result.returncode == 0, result.stdout
    assert "answered a chat request" in result.stdout and "does not know model None" not in result.stdout
    paths = [r.path for r in fake.requests]
    assert paths == [
        "/v1/models",
        "/v1/chat/completions",
        "/v1/fim/completions",
        "/infill",
        "/v1/completions",
    ]
    assert "fill-in-the-middle answered (openai dialect" in result.stdout
    chat = fake.requests[1].body
    assert chat["model"] == "gemma-3-270m" and chat["max_tokens"] == 1 and chat["stream"] is False


def test_check_without_a_model_list_names_a_model_the_server_refuses(fake: FakeCodestral) -> None:
    fake.flavour, fake.serve_models = "openai", False
    fake.enqueue(
        Script(status=404, body={"error": {"message": 'model "nope" not found, try pulling it first'}})
    )
    result = check("--model", "nope", CODESTRAL_BASE_URL=fake.base_url)
    assert result.returncode == 1
    assert "'nope'" in result.stdout and "not found" in result.stdout


# -- the pure parts ---------------------------------------------------------------------------


def test_fim_bodies_in_each_dialect() -> None:
    request = FimRequest("m", "def f(", ")\n", temperature=0.0, max_tokens=9, stop=["\n"], random_seed=3)
    assert request.openai_body(False) == {
        "model": "m", "prompt": "def f(", "suffix": ")\n", "stream": False,
        "temperature": 0.0, "max_tokens": 9, "stop": ["\n"], "seed": 3,
    }  # fmt: skip
    assert request.infill_body(False) == {
        "input_prefix": "def f(", "input_suffix": ")\n", "stream": False, "cache_prompt": True,
        "model": "m", "temperature": 0.0, "n_predict": 9, "stop": ["\n"], "seed": 3,
    }  # fmt: skip


def test_fim_answers_in_each_dialect() -> None:
    openai = b'{"choices":[{"text":"x)","index":0,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":8}}'
    assert text_completion_from_json(openai) == Completion("x)", "length", Usage(4, 8))
    infill = b'{"content":"a, b","stop":true,"stop_type":"eos","tokens_predicted":3,"tokens_evaluated":11}'
    assert infill_from_json(infill) == Completion("a, b", "stop", Usage(11, 3))
    assert infill_from_json(b'{"content":"a","stop":true,"stop_type":"limit"}').truncated


def test_where_infill_lives_and_what_a_missing_endpoint_looks_like() -> None:
    assert server_root("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080"
    assert server_root("http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080"
    assert server_root("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert endpoint_missing(404, "File Not Found") and endpoint_missing(405, None)
    assert not endpoint_missing(404, 'model "x" not found, try pulling it first')
    assert not endpoint_missing(400, "bad")


def test_a_refusal_of_stream_options_is_recognised() -> None:
    said = ApiError("x", 422, ErrorBody(message="Extra inputs are not permitted", field="stream_options"))
    assert names_stream_options(said)
    assert names_stream_options(ApiError("x", 400, ErrorBody(message="unknown field stream_options")))
    assert not names_stream_options(ApiError("x", 422, ErrorBody(message="bad", field="max_tokens")))
    assert not names_stream_options(ApiError("x", 404, ErrorBody(message="stream_options")))


def test_echoes_of_the_text_before_the_cursor_are_trimmed() -> None:
    prefix = "def area(r):\n    return "
    assert trim_echo("    return math.pi", prefix) == "math.pi"
    assert trim_echo("return math.pi", prefix) == "math.pi"
    assert trim_echo("def area(r):\n    return math.pi", prefix) == "math.pi"
    assert trim_echo("math.pi", prefix) == "math.pi"
    assert trim_echo("r * r", "x = ") == "r * r"


# -- the verbose log --------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-v", "-vv"])
async def test_the_verbose_log_has_the_bodies_with_the_code_only_at_vv(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]], tmp_path: Path, flag: str
) -> None:
    log_file = tmp_path / "server.log"
    fake.api_key = CANARY_KEY
    editor = await start_session(server_args=(flag, "--log-file", str(log_file)))
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(text="It multiplies RADIUS_TWICE.", usage=(40, 6)))
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(0, 0, 2, 0)})
    assert result["status"] == "shown"
    log = log_file.read_text(encoding="utf-8")
    assert "→ POST http://127.0.0.1" in log and '"messages"' in log and '"model": "codestral-latest"' in log
    assert "'authorization': '[redacted]'" in log.lower() and CANARY_KEY not in log
    assert '"prompt_tokens": 40' in log  # the answer's usage
    code_logged = "3.14 * r * r" in log and "RADIUS_TWICE" in log
    assert code_logged == (flag == "-vv")
    if flag == "-v":
        assert "characters]" in log


@pytest.mark.parametrize(
    ("flavour", "infill", "expected"),
    [
        (
            "openai",
            True,
            "fill-in-the-middle answered (openai dialect: POST http://127.0.0.1:{port}/v1/completions)",
        ),
        (
            "llamacpp",
            True,
            "fill-in-the-middle answered (llamacpp dialect: POST http://127.0.0.1:{port}/infill)",
        ),
    ],
)
def test_check_finds_the_fim_dialect_of_a_self_hosted_server(
    fake: FakeCodestral, flavour: str, infill: bool, expected: str
) -> None:
    fake.flavour, fake.infill_supported = flavour, infill
    fake.models = [{"id": "coder", "object": "model", "owned_by": "me"}]  # capabilities not said
    result = check("--model", "coder", CODESTRAL_BASE_URL=fake.base_url)
    assert result.returncode == 0, result.stdout
    assert expected.format(port=fake.port) in result.stdout


def test_check_says_when_the_model_cannot_fill_in_the_middle(fake: FakeCodestral) -> None:
    fake.flavour, fake.infill_supported = "llamacpp", False
    fake.models = [{"id": "gemma", "object": "model", "owned_by": "llamacpp"}]
    result = check("--model", "gemma", CODESTRAL_BASE_URL=fake.base_url)
    assert result.returncode == 1
    assert (
        "Infill is not supported by this model" in result.stdout
        and "completion.chatFallback" in result.stdout
    )
    with_fallback = check(
        "--model",
        "gemma",
        "--settings",
        '{"completion": {"chatFallback": true}}',
        CODESTRAL_BASE_URL=fake.base_url,
    )
    assert with_fallback.returncode == 0, with_fallback.stdout
    assert "will use the chat endpoint" in with_fallback.stdout
