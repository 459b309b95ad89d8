"""The API client against the fake Codestral over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from contextlib import aclosing

import httpx
import pytest
from codestral_lsp.api import CodestralClient, Completion, RetryNotice, TextDelta
from codestral_lsp.api.bodies import ChatRequest, FimRequest, Message
from codestral_lsp.api.client import MAX_CONCURRENT_REQUESTS, AnswerLimits, read_chunk, retry_after_seconds
from codestral_lsp.api.endpoint import Endpoint, resolve_endpoint
from codestral_lsp.api.errors import (
    AnswerTooLong,
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    FirstByteTimeout,
    ModelNotFoundError,
    NetworkError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitedError,
    RedirectRefused,
    RequestValidationError,
    ServerError,
    StreamFailed,
    StreamInterrupted,
    StreamStalled,
    TlsError,
)
from codestral_lsp.api.types import RetryPolicy, Timeouts

from fake_codestral import FakeCodestral, Gate, Script
from tests.conftest import CANARY_KEY

FAST_RETRY = RetryPolicy(max_attempts=4, initial_delay=0.01, max_delay=2.0, total_seconds=10.0)


def make_client(fake: FakeCodestral, **kwargs: object) -> CodestralClient:
    endpoint = resolve_endpoint({"CODESTRAL_API_KEY": CANARY_KEY, "CODESTRAL_BASE_URL": fake.base_url})
    kwargs.setdefault("retry", FAST_RETRY)
    return CodestralClient(endpoint, **kwargs)  # type: ignore[arg-type]


def chat(text: str = "Say hi", **kwargs: object) -> ChatRequest:
    return ChatRequest(model="codestral-latest", messages=[Message("user", text)], **kwargs)  # type: ignore[arg-type]


async def collect(
    client: CodestralClient, request: ChatRequest, notices: list[RetryNotice] | None = None
) -> tuple[list[str], Completion]:
    deltas: list[str] = []
    final: Completion | None = None
    async with aclosing(
        client.stream_chat(request, on_retry=notices.append if notices is not None else None)
    ) as stream:
        async for item in stream:
            if isinstance(item, TextDelta):
                deltas.append(item.text)
            else:
                final = item
    assert final is not None
    return deltas, final


# -- streaming --------------------------------------------------------------------------


async def test_stream_yields_deltas_then_completion_with_usage(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="def add(a, b):\n    return a + b\n", chunk_size=5, usage=(12, 9)))
    client = make_client(fake)
    deltas, final = await collect(client, chat(temperature=0.2, max_tokens=100))
    await client.aclose()

    assert len(deltas) > 1 and "".join(deltas) == "def add(a, b):\n    return a + b\n"
    assert final.text == "".join(deltas)
    assert final.finish_reason == "stop"
    assert final.usage is not None and (final.usage.prompt_tokens, final.usage.completion_tokens) == (12, 9)
    [request] = fake.completion_requests()
    assert request.authorization == f"Bearer {CANARY_KEY}"
    assert request.headers["accept"] == "text/event-stream"
    assert request.body["stream"] is True and request.body["temperature"] == 0.2


async def test_crlf_framing_and_comment_lines_are_understood(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="héllo wörld 😀", chunk_size=3, crlf=True, comments=True))
    client = make_client(fake)
    _, final = await collect(client, chat())
    await client.aclose()
    assert final.text == "héllo wörld 😀"


async def test_prediction_is_sent_in_the_schema_shape(fake: FakeCodestral) -> None:
    client = make_client(fake)
    await collect(client, chat(prediction="x = 1\n", stop=["```\n\n"]))
    await client.aclose()
    [request] = fake.completion_requests()
    assert request.body["prediction"] == {"type": "content", "content": "x = 1\n"}
    assert request.schema_errors == []


async def test_non_streaming_chat_and_fim(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="whole answer"), Script(text="b):\n    return a + b"))
    client = make_client(fake)
    answer = await client.chat(chat())
    fim = await client.fill_in_middle(
        "mistral",
        FimRequest(model="codestral-latest", prompt="def add(a, ", suffix="\n", max_tokens=64, stop=["\n\n"]),
    )
    await client.aclose()
    assert answer.text == "whole answer" and answer.usage is not None
    assert fim.text == "b):\n    return a + b"
    chat_request, fim_request = fake.completion_requests()
    assert chat_request.body["stream"] is False and chat_request.headers["accept"] == "application/json"
    assert fim_request.path == "/v1/fim/completions" and fim_request.body["suffix"] == "\n"


async def test_one_connection_is_reused(fake: FakeCodestral) -> None:
    client = make_client(fake)
    for _ in range(3):
        await collect(client, chat())
    await client.aclose()
    assert len({r.connection for r in fake.completion_requests()}) == 1


async def test_a_one_megabyte_answer_arrives_whole(fake: FakeCodestral) -> None:
    text = ("x = 'a line of generated code'\n" * 40000)[: 1024 * 1024]
    fake.enqueue(Script(text=text, chunk_size=4096))
    client = make_client(fake)
    _, final = await collect(client, chat())
    await client.aclose()
    assert final.text == text


# -- retries ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_transient_statuses_are_retried_then_succeed(fake: FakeCodestral, status: int) -> None:
    fake.enqueue(Script(status=status), Script(status=status), Script(text="done"))
    notices: list[RetryNotice] = []
    client = make_client(fake)
    _, final = await collect(client, chat(), notices)
    await client.aclose()
    assert final.text == "done"
    assert len(fake.completion_requests()) == 3
    assert [n.next_attempt for n in notices] == [2, 3]
    reason = "rate limited" if status == 429 else f"server error {status}"
    assert all(n.reason == reason for n in notices)


async def test_retry_after_ms_replaces_the_computed_wait(fake: FakeCodestral) -> None:
    fake.enqueue(Script(status=429, headers={"retry-after-ms": "150"}), Script(text="ok"))
    notices: list[RetryNotice] = []
    client = make_client(
        fake, retry=RetryPolicy(max_attempts=3, initial_delay=5.0, max_delay=10.0, total_seconds=20.0)
    )
    started = time.monotonic()
    await collect(client, chat(), notices)
    elapsed = time.monotonic() - started
    await client.aclose()
    assert [n.delay for n in notices] == [0.15]
    assert 0.15 <= elapsed < 5.0  # honoured the header, not the 5 s backoff


async def test_retry_after_seconds_and_http_date(fake: FakeCodestral) -> None:
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    fake.enqueue(
        Script(status=429, headers={"retry-after": "0"}),
        Script(status=503, headers={"retry-after": past}),
        Script(text="ok"),
    )
    notices: list[RetryNotice] = []
    client = make_client(
        fake, retry=RetryPolicy(max_attempts=3, initial_delay=5.0, max_delay=10.0, total_seconds=20.0)
    )
    await collect(client, chat(), notices)
    await client.aclose()
    assert [n.delay for n in notices] == [0.0, 0.0]
    assert notices[0].describe() == "retrying in 0 s (rate limited)"


def test_retry_after_header_forms() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after_seconds(httpx.Headers({"retry-after": "3"}), now) == 3.0
    assert retry_after_seconds(httpx.Headers({"retry-after": date}), now) == pytest.approx(7.0)
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"}), now) == 0.25
    assert retry_after_seconds(httpx.Headers({"retry-after": "soon"}), now) is None
    assert retry_after_seconds(httpx.Headers({}), now) is None


async def test_persistent_503_gives_up_after_the_attempt_budget(fake: FakeCodestral) -> None:
    fake.enqueue(*[Script(status=503) for _ in range(10)])
    client = make_client(fake)
    with pytest.raises(ServerError) as caught:
        await collect(client, chat())
    await client.aclose()
    assert len(fake.completion_requests()) == FAST_RETRY.max_attempts
    assert "503" in str(caught.value) and "try again" in str(caught.value)


async def test_a_retry_after_longer_than_allowed_gives_up_at_once_and_says_when(fake: FakeCodestral) -> None:
    fake.enqueue(
        Script(
            status=429,
            headers={"retry-after": "120"},
            body={
                "object": "error",
                "message": "Rate limit exceeded",
                "type": "rate_limited",
                "param": None,
                "code": "1300",
            },
        )
    )
    client = make_client(fake)
    with pytest.raises(RateLimitedError) as caught:
        await collect(client, chat())
    await client.aclose()
    assert len(fake.completion_requests()) == 1
    assert "Try again in 120 s" in str(caught.value)


async def test_total_retry_time_is_bounded(fake: FakeCodestral) -> None:
    fake.enqueue(*[Script(status=500, headers={"retry-after": "0.4"}) for _ in range(10)])
    client = make_client(
        fake, retry=RetryPolicy(max_attempts=10, initial_delay=0.01, max_delay=5.0, total_seconds=1.0)
    )
    with pytest.raises(ServerError):
        await collect(client, chat())
    await client.aclose()
    assert len(fake.completion_requests()) == 3  # 0 s, 0.4 s, 0.8 s; a fourth would end after 1 s


@pytest.mark.parametrize(
    ("status", "body", "error_type", "words"),
    [
        (
            400,
            {
                "object": "error",
                "message": "Prompt contains 140000 tokens, too large for model with 131072 maximum context length",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            },
            ContextTooLongError,
            "context window",
        ),
        (
            400,
            {
                "object": "error",
                "message": "Invalid stop sequence",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            },
            BadRequestError,
            "Invalid stop sequence",
        ),
        (401, {"detail": "Unauthorized"}, AuthenticationError, "CODESTRAL_API_KEY"),
        (401, {"message": "Unauthorized", "request_id": "abc"}, AuthenticationError, "was rejected"),
        (
            403,
            {"object": "error", "message": "Forbidden", "type": "forbidden", "param": None, "code": 3},
            PermissionDeniedError,
            "403",
        ),
        (
            404,
            {
                "object": "error",
                "message": "Invalid model: codestral-nope",
                "type": "invalid_request_error",
                "param": "model",
                "code": "unknown_model",
            },
            ModelNotFoundError,
            "'codestral-latest'",
        ),
        (
            422,
            {
                "detail": [
                    {
                        "type": "extra_forbidden",
                        "loc": ["body", "store"],
                        "msg": "Extra inputs are not permitted",
                    }
                ]
            },
            RequestValidationError,
            "'store'",
        ),
        (
            422,
            {
                "object": "error",
                "message": {
                    "detail": [
                        {
                            "type": "less_than_equal",
                            "loc": ["body", "temperature"],
                            "msg": "Input should be less than or equal to 1.5",
                        }
                    ]
                },
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            },
            RequestValidationError,
            "'temperature'",
        ),
        (422, "<html>bad gateway</html>", RequestValidationError, "422"),
    ],
)
async def test_client_errors_are_typed_explained_and_never_retried(
    fake: FakeCodestral, status: int, body: object, error_type: type, words: str
) -> None:
    fake.enqueue(Script(status=status, body=body))
    client = make_client(fake)
    with pytest.raises(error_type) as caught:
        await collect(client, chat())
    await client.aclose()
    assert len(fake.completion_requests()) == 1
    assert words in str(caught.value)
    assert CANARY_KEY not in str(caught.value)


async def test_401_names_the_variable_and_the_endpoint_it_belongs_to(fake: FakeCodestral) -> None:
    fake.api_key = "the-right-key-0000000"
    endpoint = resolve_endpoint({"MISTRAL_API_KEY": CANARY_KEY, "CODESTRAL_BASE_URL": fake.base_url})
    client = CodestralClient(endpoint, retry=FAST_RETRY)
    with pytest.raises(AuthenticationError) as caught:
        await collect(client, chat())
    await client.aclose()
    message = str(caught.value)
    assert "MISTRAL_API_KEY" in message and fake.base_url in message
    assert CANARY_KEY not in message


# -- connection failures and timeouts ---------------------------------------------------


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_retried_then_explained() -> None:
    endpoint = Endpoint(base_url=f"http://127.0.0.1:{unused_port()}/v1", kind="custom")
    notices: list[RetryNotice] = []
    client = CodestralClient(endpoint, retry=FAST_RETRY)
    with pytest.raises(NetworkError) as caught:
        await collect(client, chat(), notices)
    await client.aclose()
    assert len(notices) == FAST_RETRY.max_attempts - 1
    assert "connection refused" in str(caught.value)


async def test_tls_failure_is_named() -> None:
    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = CodestralClient(
        Endpoint(base_url=f"https://127.0.0.1:{port}/v1", kind="custom"), retry=FAST_RETRY
    )
    with pytest.raises(TlsError) as caught:
        await collect(client, chat())
    await client.aclose()
    server.close()
    assert "TLS" in str(caught.value)


async def test_slow_headers_hit_the_first_byte_timeout(fake: FakeCodestral) -> None:
    fake.enqueue(Script(header_delay=5.0))
    client = make_client(fake, timeouts=Timeouts(connect=2, first_byte=0.2, idle=5))
    with pytest.raises(FirstByteTimeout) as caught:
        await collect(client, chat())
    await client.aclose()
    assert "firstByte" in str(caught.value)
    [request] = fake.completion_requests()
    assert request.disconnected.wait(5)


async def test_a_stalled_stream_ends_with_an_error_and_hangs_up(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="abcdefgh", chunk_size=2, stall_after_chunks=2))
    client = make_client(fake, timeouts=Timeouts(connect=2, first_byte=5, idle=0.2))
    with pytest.raises(StreamStalled) as caught:
        await collect(client, chat())
    await client.aclose()
    assert "stopped sending" in str(caught.value)
    assert fake.completion_requests()[0].disconnected.wait(5)


async def test_a_stream_cut_mid_answer_is_an_error_not_a_short_answer(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="abcdefgh", chunk_size=2, cut_after_chunks=2))
    client = make_client(fake)
    with pytest.raises(StreamInterrupted) as caught:
        await collect(client, chat())
    await client.aclose()
    assert "4 characters received" in str(caught.value)


async def test_a_stream_without_done_or_finish_reason_is_cut(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="abcdef", omit_done=True, omit_finish_reason=True))
    client = make_client(fake)
    with pytest.raises(StreamInterrupted):
        await collect(client, chat())
    await client.aclose()


async def test_a_finished_stream_without_done_is_accepted(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="complete", omit_done=True))
    client = make_client(fake)
    _, final = await collect(client, chat())
    await client.aclose()
    assert final.text == "complete" and final.finish_reason == "stop"


async def test_a_malformed_event_is_an_error(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="abcdef", chunk_size=2, malformed_after_chunks=1))
    client = make_client(fake)
    with pytest.raises(ProtocolError) as caught:
        await collect(client, chat())
    await client.aclose()
    assert "malformed" in str(caught.value)


async def test_an_error_object_mid_stream_is_an_error(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="abcdef", chunk_size=2, error_after_chunks=2))
    client = make_client(fake)
    with pytest.raises(StreamFailed) as caught:
        await collect(client, chat())
    await client.aclose()
    assert "Internal server error during generation" in str(caught.value)


async def test_finish_reason_length_is_reported_as_truncated(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="partial", finish_reason="length"))
    client = make_client(fake)
    _, final = await collect(client, chat())
    await client.aclose()
    assert final.truncated


async def test_a_200_that_is_not_sse_is_explained(fake: FakeCodestral) -> None:
    fake.enqueue(Script(non_sse_body="<html><body>Welcome to nginx</body></html>"))
    client = make_client(fake)
    with pytest.raises(ProtocolError) as caught:
        await collect(client, chat())
    await client.aclose()
    assert "text/html" in str(caught.value) and "baseUrl" in str(caught.value)


async def test_a_json_answer_to_a_stream_request_is_accepted(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="from json", json_instead_of_stream=True))
    client = make_client(fake)
    _, final = await collect(client, chat())
    await client.aclose()
    assert final.text == "from json"


# -- cancellation -----------------------------------------------------------------------


async def test_cancelling_the_consumer_closes_the_http_stream(fake: FakeCodestral) -> None:
    gate = Gate()
    fake.enqueue(Script(text="abcdefgh", chunk_size=2, hold_after_chunks=2, gate=gate))
    client = make_client(fake)
    received: list[str] = []
    two_chunks = asyncio.Event()

    async def consume() -> None:
        async with aclosing(client.stream_chat(chat())) as stream:
            async for item in stream:
                if isinstance(item, TextDelta):
                    received.append(item.text)
                    if len(received) == 2:
                        two_chunks.set()

    task = asyncio.create_task(consume())
    await two_chunks.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [request] = fake.completion_requests()
    assert await asyncio.to_thread(request.disconnected.wait, 5)
    gate.open()
    await client.aclose()
    assert received == ["ab", "cd"]


# -- models -----------------------------------------------------------------------------


async def test_list_models_reads_capabilities_and_aliases(fake: FakeCodestral) -> None:
    client = make_client(fake)
    models = await client.list_models()
    await client.aclose()
    codestral = next(m for m in models if m.answers_to("codestral-latest"))
    assert codestral.fim is True and codestral.max_context_length == 128000
    medium = next(m for m in models if m.id == "mistral-medium-latest")
    assert medium.fim is False


async def test_list_models_reads_vllms_context_length(fake: FakeCodestral) -> None:
    fake.models = [{"id": "qwen-coder", "object": "model", "owned_by": "vllm", "max_model_len": 32768}]
    client = make_client(fake)
    [model] = await client.list_models()
    await client.aclose()
    assert model.max_context_length == 32768


# -- odd but legal streams, and hostile servers -----------------------------------------------


async def test_a_leading_bom_does_not_drop_the_first_event(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="first line\nsecond line\n", chunk_size=100, bom=True, role_chunk=False))
    client = make_client(fake)
    _, final = await collect(client, chat())
    await client.aclose()
    assert final.text == "first line\nsecond line\n"


async def test_a_second_choice_is_never_mixed_into_the_answer(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="the answer", chunk_size=3, second_choice="OTHER CHOICE TEXT"))
    client = make_client(fake)
    deltas, final = await collect(client, chat())
    await client.aclose()
    assert "".join(deltas) == final.text == "the answer" and final.complete


@pytest.mark.parametrize("stream", [True, False])
async def test_content_as_a_list_of_chunks_is_read(fake: FakeCodestral, stream: bool) -> None:
    text = "def f():\n    return 1\n"
    fake.enqueue(Script(text=text, chunk_size=5, list_content=True, json_instead_of_stream=not stream))
    client = make_client(fake)
    _, final = await collect(client, chat())
    await client.aclose()
    assert final.text == text


def test_only_text_chunks_of_the_first_choice_are_the_answer() -> None:
    chunk = {
        "choices": [
            {"index": 1, "delta": {"content": "no"}, "finish_reason": None},
            {
                "index": 0,
                "delta": {
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
                        {"type": "text", "text": "yes"},
                        {"text": " and"},
                        {"type": "reference", "reference_ids": [1]},
                    ]
                },
                "finish_reason": "model_length",
            },
        ]
    }
    content = read_chunk(chunk)
    assert (content.text, content.finish_reason) == ("yes and", "model_length")


@pytest.mark.parametrize(
    ("reason", "truncated"),
    [("model_length", True), ("content_filter", False), ("tool_calls", False), ("something_new", False)],
)
async def test_only_stop_means_complete(fake: FakeCodestral, reason: str, truncated: bool) -> None:
    fake.enqueue(Script(text="partial", finish_reason=reason))
    client = make_client(fake)
    _, final = await collect(client, chat())
    await client.aclose()
    assert not final.complete and final.truncated == truncated
    assert final.why_incomplete()


async def test_a_redirect_is_refused_not_read_as_the_answer(fake: FakeCodestral) -> None:
    fake.enqueue(
        Script(text="from the redirect", redirect_to="https://elsewhere.example/v1/chat/completions")
    )
    client = make_client(fake)
    with pytest.raises(RedirectRefused) as caught:
        await collect(client, chat())
    await client.aclose()
    assert "redirect (HTTP 307)" in str(caught.value) and "elsewhere.example" in str(caught.value)
    assert len(fake.completion_requests()) == 1


async def test_done_ends_the_stream_even_if_the_connection_stays_open(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="complete answer", hold_after_done=True))
    client = make_client(fake, timeouts=Timeouts(connect=2, first_byte=30, idle=30))
    started = time.monotonic()
    _, final = await collect(client, chat())
    elapsed = time.monotonic() - started
    await client.aclose()
    assert final.text == "complete answer" and final.complete
    assert elapsed < Timeouts(connect=2, first_byte=30, idle=30).idle  # not ended by the idle limit
    assert await asyncio.to_thread(fake.completion_requests()[0].disconnected.wait, 5)


async def test_a_steady_trickle_is_not_silence(fake: FakeCodestral) -> None:
    # Every line takes longer than the idle limit to arrive, but bytes never stop.
    idle = 0.2
    fake.enqueue(Script(text="slow but steady", chunk_size=100, trickle=(24, idle / 3)))
    client = make_client(fake, timeouts=Timeouts(connect=2, first_byte=10, idle=idle))
    _, final = await collect(client, chat())
    await client.aclose()
    assert final.text == "slow but steady"


async def test_keepalives_further_apart_than_idle_before_the_first_token_are_waited_through(
    fake: FakeCodestral,
) -> None:
    # As llama.cpp reading a long prompt: a comment every ~30.5 s with the idle limit at 30 s.
    idle = 0.3
    fake.enqueue(Script(text="answer", keepalives=3, keepalive_interval=idle * 1.5))
    client = make_client(fake, timeouts=Timeouts(connect=2, first_byte=10, idle=idle))
    _, final = await collect(client, chat())
    await client.aclose()
    assert final.text == "answer"


def test_default_limits_outlast_the_common_servers_keepalive_interval() -> None:
    llama_cpp_keepalive = 30.5  # seconds, as measured against llama.cpp's server (see README)
    defaults = Timeouts()
    assert defaults.idle > llama_cpp_keepalive and defaults.first_byte > llama_cpp_keepalive


async def test_a_server_that_only_sends_keepalives_is_ended_with_a_sentence(fake: FakeCodestral) -> None:
    fake.enqueue(Script(text="never", keepalives=10**6, keepalive_interval=0.05))
    client = make_client(fake, timeouts=Timeouts(connect=2, first_byte=0.5, idle=0.2))
    with pytest.raises(FirstByteTimeout) as caught:
        await collect(client, chat())
    await client.aclose()
    assert "sent no answer within 0.5 s" in str(caught.value) and "timeouts.firstByte" in str(caught.value)
    assert await asyncio.to_thread(fake.completion_requests()[0].disconnected.wait, 5)


@pytest.mark.parametrize("endless_line", [False, True], ids=["endless answer", "endless line"])
async def test_an_answer_longer_than_max_tokens_allows_is_stopped(
    fake: FakeCodestral, endless_line: bool
) -> None:
    fake.enqueue(Script(text="start ", endless=True, endless_line=endless_line))
    client = make_client(fake)
    with pytest.raises(AnswerTooLong) as caught:
        await collect(client, chat(max_tokens=64))
    await client.aclose()
    assert "64-token answer" in str(caught.value)
    assert await asyncio.to_thread(fake.completion_requests()[0].disconnected.wait, 5)


def test_answer_limits_follow_max_tokens() -> None:
    small, large = AnswerLimits.for_body({"max_tokens": 16}), AnswerLimits.for_body({"max_tokens": 65536})
    assert small.text_chars < large.text_chars and small.line_bytes < large.line_bytes
    assert AnswerLimits.for_body({"n_predict": 16}) == small
    assert AnswerLimits.for_body({}).max_tokens == AnswerLimits.for_body({"max_tokens": True}).max_tokens


async def test_a_huge_error_message_is_shortened(fake: FakeCodestral) -> None:
    body = {"object": "error", "message": "x" * 10_000_000, "type": "invalid_request_error", "code": None}
    fake.enqueue(Script(status=400, body=body))
    client = make_client(fake)
    with pytest.raises(BadRequestError) as caught:
        await collect(client, chat())
    await client.aclose()
    assert "(400)" in str(caught.value) and len(str(caught.value)) < 600


async def test_more_requests_than_connections_wait_their_turn(fake: FakeCodestral) -> None:
    count = MAX_CONCURRENT_REQUESTS + 8
    gates = [Gate() for _ in range(count)]
    fake.enqueue(*[Script(text=f"answer {i}", hold_after_chunks=1, gate=gates[i]) for i in range(count)])
    client = make_client(fake, timeouts=Timeouts(connect=0.2, first_byte=30, idle=30))
    notices: list[RetryNotice] = []
    tasks = [asyncio.create_task(collect(client, chat(), notices)) for _ in range(count)]
    assert await asyncio.to_thread(fake.wait_for_completion_requests, MAX_CONCURRENT_REQUESTS)
    for _ in range(10_000):  # let the remaining tasks reach the queue (no time passes; bounded)
        if len(notices) >= count - MAX_CONCURRENT_REQUESTS:
            break
        await asyncio.sleep(0)
    assert all("already running" in n.describe() for n in notices)
    assert len(fake.completion_requests()) == MAX_CONCURRENT_REQUESTS
    for gate in gates:
        gate.open()
    results = await asyncio.gather(*tasks)
    await client.aclose()
    assert sorted(final.text for _, final in results) == sorted(f"answer {i}" for i in range(count))
