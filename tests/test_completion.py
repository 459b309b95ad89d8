"""Inline completion from fill-in-the-middle, through a real client, against the fake."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from codestral_lsp.fim import CompletionCache, clean_completion, stop_sequences, trim_prefix, trim_suffix
from lsprotocol import types

from fake_codestral import FakeCodestral, Gate, Script
from tests.editor import CAPABILITIES, Editor, utf16_position

INLINE = types.ClientCapabilities(
    workspace=CAPABILITIES.workspace,
    window=CAPABILITIES.window,
    text_document=types.TextDocumentClientCapabilities(
        inline_completion=types.InlineCompletionClientCapabilities(),
        code_action=CAPABILITIES.text_document.code_action,
    ),
)
CODE = "import math\n\n\ndef area(r):\n    return \n\n\nprint(area(2))\n"
CURSOR = CODE.index("return ") + len("return ")


async def session(
    start_session: Callable[..., Awaitable[Editor]],
    settings: dict[str, Any] | None = None,
    capabilities: types.ClientCapabilities = INLINE,
) -> Editor:
    return await start_session(settings=settings, capabilities=capabilities)


def inline(editor: Editor, uri: str, offset: int, automatic: bool = True) -> Any:
    kind = (
        types.InlineCompletionTriggerKind.Automatic
        if automatic
        else types.InlineCompletionTriggerKind.Invoked
    )
    return editor.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=utf16_position(editor.text(uri), offset),
            context=types.InlineCompletionContext(trigger_kind=kind),
        )
    )


def texts(result: types.InlineCompletionList | list[Any] | None) -> list[str]:
    if result is None:
        return []
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    return [i.insert_text if isinstance(i.insert_text, str) else i.insert_text.value for i in items]


async def test_a_completion_request_has_the_right_shape(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(text="math.pi * r ** 2"))
    result = await inline(editor, uri, CURSOR)
    assert texts(result) == ["math.pi * r ** 2"]
    assert result.items[0].range.start == utf16_position(CODE, CURSOR)
    [request] = fake.completion_requests()
    assert request.path == "/v1/fim/completions"
    body = request.body
    assert body["prompt"] == CODE[:CURSOR] and body["suffix"] == CODE[CURSOR:]
    assert body["model"] == "codestral-latest" and body["max_tokens"] == 128 and body["stop"] == ["\n\n\n"]


async def test_prefix_and_suffix_are_trimmed_to_their_budgets_at_line_boundaries(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(
        start_session, {"completion": {"debounceMs": 0, "prefixChars": 30, "suffixChars": 10}}
    )
    before = "".join(f"line_{i} = {i}\n" for i in range(20))
    after = "".join(f"after_{i} = {i}\n" for i in range(5))
    uri = editor.open("long.py", before + "x = " + "\n" + after)
    fake.enqueue(Script(text="42"))
    await inline(editor, uri, len(before) + 4)
    body = fake.completion_requests()[0].body
    assert body["prompt"] == "line_18 = 18\nline_19 = 19\nx = "
    assert body["suffix"] == "\n"


async def test_text_already_after_the_cursor_is_not_repeated(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    text = "def add(a, b):\n    return add_all()\n"
    uri = editor.open("a.py", text)
    fake.enqueue(Script(text="a, b)"))
    result = await inline(editor, uri, text.index("()") + 1)
    assert texts(result) == ["a, b"]
    assert fake.completion_requests()[0].body["stop"] == ["\n"]  # mid-line: one line


async def test_unicode_before_the_cursor(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    text = 'greeting = "héllo 😀 wörld" + \n'
    uri = editor.open("u.py", text)
    fake.enqueue(Script(text='"!"'))
    result = await inline(editor, uri, len(text) - 1)
    assert texts(result) == ['"!"']
    assert fake.completion_requests()[0].body["prompt"] == text[:-1]
    assert result.items[0].range.start.character == len(text[:-1].encode("utf-16-le")) // 2


async def test_a_burst_of_typing_sends_one_request_and_answers_every_one(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 150}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(text=".pi * r ** 2"))
    pending = []
    for index, typed in enumerate("math"):  # a keystroke, then the editor asks for a completion
        editor.replace(uri, CURSOR + index, CURSOR + index, typed)
        pending.append(asyncio.ensure_future(inline(editor, uri, CURSOR + index + 1)))
    results = await asyncio.gather(*pending)
    assert [texts(r) for r in results] == [[], [], [], [".pi * r ** 2"]]
    [request] = fake.completion_requests()
    assert request.body["prompt"].endswith("return math")


async def test_a_newer_request_cancels_the_http_request_in_flight(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    uri = editor.open("geo.py", CODE)
    gate = Gate()
    fake.enqueue(
        Script(text="slow answer", header_delay=0, hold_after_chunks=0, gate=gate), Script(text="fast")
    )
    first = asyncio.ensure_future(inline(editor, uri, CURSOR))
    assert await asyncio.to_thread(gate.reached.wait, 10)
    second = await inline(editor, uri, CURSOR)
    assert texts(await first) == []
    assert texts(second) == ["fast"]
    assert await asyncio.to_thread(fake.completion_requests()[0].disconnected.wait, 10)
    gate.open()


async def test_typing_into_a_suggestion_is_served_from_the_cache(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(text="math.pi * r ** 2"))
    assert texts(await inline(editor, uri, CURSOR)) == ["math.pi * r ** 2"]
    editor.replace(uri, CURSOR, CURSOR, "math.")
    assert texts(await inline(editor, uri, CURSOR + 5)) == ["pi * r ** 2"]
    assert len(fake.completion_requests()) == 1
    editor.replace(uri, CURSOR + 5, CURSOR + 5, "e")  # diverges from the suggestion
    fake.enqueue(Script(text="xp(r)"))
    assert texts(await inline(editor, uri, CURSOR + 6)) == ["xp(r)"]
    assert len(fake.completion_requests()) == 2


async def test_an_empty_answer_yields_no_item(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(text="  \n"))
    assert texts(await inline(editor, uri, CURSOR)) == []


async def test_a_rejected_key_is_reported_once(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    uri = editor.open("geo.py", CODE)
    fake.api_key = "another-key-entirely-000"
    for _ in range(3):
        assert texts(await inline(editor, uri, CURSOR)) == []
    errors = editor.message_texts(types.MessageType.Error)
    assert len(errors) == 1 and "CODESTRAL_API_KEY" in errors[0]


async def test_a_server_without_any_fim_endpoint_is_told_once_which_setting_to_change(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(status=404, body={"detail": "Not Found"}))
    assert texts(await inline(editor, uri, CURSOR)) == []
    assert texts(await inline(editor, uri, CURSOR)) == []
    # auto: each dialect probed once, by the first completion; then completion is off
    assert [r.path for r in fake.completion_requests()] == [
        "/v1/fim/completions",
        "/infill",
        "/v1/completions",
    ]
    [warning] = editor.message_texts(types.MessageType.Warning)
    assert "Inline completion is off" in warning and "no fill-in-the-middle endpoint" in warning
    assert "completion.api" in warning and "completion.chatFallback" in warning
    assert "model" not in warning.split("Set ")[0]  # the model is not blamed


async def test_a_model_mistral_does_not_know_is_named(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(status=404))  # Mistral's answer: "Invalid model: no such model"
    assert texts(await inline(editor, uri, CURSOR)) == []
    assert [r.path for r in fake.completion_requests()] == ["/v1/fim/completions"]
    [warning] = editor.message_texts(types.MessageType.Warning)
    assert "does not know model" in warning and "completion.model" in warning


async def test_chat_fallback_answers_the_very_first_request(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0, "chatFallback": True}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(
        Script(status=404, body={"detail": "Not Found"}), Script(text="```python\nmath.pi * r ** 2\n```")
    )
    assert texts(await inline(editor, uri, CURSOR)) == ["math.pi * r ** 2"]
    paths = [r.path for r in fake.completion_requests()]
    assert paths == ["/v1/fim/completions", "/infill", "/v1/completions", "/v1/chat/completions"]
    [info] = editor.message_texts(types.MessageType.Info)
    assert "chat endpoint" in info
    fake.enqueue(Script(text="math.tau * r"))
    editor.replace(uri, CURSOR, CURSOR, " ")
    assert texts(await inline(editor, uri, CURSOR + 1)) == ["math.tau * r"]
    assert fake.completion_requests()[-1].path == "/v1/chat/completions"
    assert len(editor.message_texts(types.MessageType.Info)) == 1


async def test_chat_fallback_drops_an_answer_cut_at_max_tokens(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(
        start_session, {"completion": {"debounceMs": 0, "chatFallback": True, "api": "mistral"}}
    )
    uri = editor.open("geo.py", CODE)
    fake.enqueue(
        Script(status=404, body={"detail": "Not Found"}), Script(text="math.pi * (r", finish_reason="length")
    )
    assert texts(await inline(editor, uri, CURSOR)) == []
    assert [r.path for r in fake.completion_requests()] == ["/v1/fim/completions", "/v1/chat/completions"]


async def test_chat_fallback_trims_what_repeats_the_text_before_the_cursor(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(
        start_session, {"completion": {"debounceMs": 0, "chatFallback": True, "api": "mistral"}}
    )
    uri = editor.open("geo.py", CODE)
    fake.enqueue(
        Script(status=404, body={"detail": "Not Found"}),
        Script(text="```python\n    return math.pi * r ** 2\n```"),
    )
    assert texts(await inline(editor, uri, CURSOR)) == ["math.pi * r ** 2"]


# -- the three fill-in-the-middle dialects ------------------------------------------------------


async def test_ollama_and_vllm_complete_through_openai_completions_with_suffix(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    fake.flavour = "openai"
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(text="math.pi * r ** 2"), Script(text="2 * math.pi * r"))
    assert texts(await inline(editor, uri, CURSOR)) == ["math.pi * r ** 2"]
    editor.replace(uri, CURSOR, CURSOR, " ")
    assert texts(await inline(editor, uri, CURSOR + 1)) == ["2 * math.pi * r"]
    paths = [r.path for r in fake.completion_requests()]
    assert paths == ["/v1/fim/completions", "/infill", "/v1/completions", "/v1/completions"]  # probed once
    body = fake.completion_requests()[2].body
    assert body["prompt"] == CODE[:CURSOR] and body["suffix"] == CODE[CURSOR:]
    assert body["model"] == "codestral-latest" and body["max_tokens"] == 128 and body["stop"] == ["\n\n\n"]
    assert body["stream"] is False and body["temperature"] == 0
    assert editor.message_texts(types.MessageType.Warning) == []


async def test_llamacpp_completes_through_infill_at_the_server_root(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    fake.flavour = "llamacpp"
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(text="math.pi * r ** 2"), Script(text="r * r"))
    assert texts(await inline(editor, uri, CURSOR)) == ["math.pi * r ** 2"]
    editor.replace(uri, CURSOR, CURSOR, " ")
    assert texts(await inline(editor, uri, CURSOR + 1)) == ["r * r"]
    paths = [r.path for r in fake.completion_requests()]
    assert paths == ["/v1/fim/completions", "/infill", "/infill"]  # not under /v1, probed once
    body = fake.completion_requests()[1].body
    assert body["input_prefix"] == CODE[:CURSOR] and body["input_suffix"] == CODE[CURSOR:]
    assert body["n_predict"] == 128 and body["stop"] == ["\n\n\n"] and body["stream"] is False


@pytest.mark.parametrize("api", ["mistral", "openai", "llamacpp"])
async def test_a_configured_dialect_is_spoken_without_probing(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]], api: str
) -> None:
    fake.flavour = "llamacpp" if api == "llamacpp" else "openai" if api == "openai" else "mistral"
    editor = await session(start_session, {"completion": {"debounceMs": 0, "api": api}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(text="math.pi * r ** 2"))
    assert texts(await inline(editor, uri, CURSOR)) == ["math.pi * r ** 2"]
    [request] = fake.completion_requests()
    assert (
        request.path
        == {"mistral": "/v1/fim/completions", "openai": "/v1/completions", "llamacpp": "/infill"}[api]
    )


@pytest.mark.parametrize("api", ["mistral", "openai", "llamacpp"])
async def test_a_newer_request_cancels_the_one_in_flight_in_every_dialect(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]], api: str
) -> None:
    fake.flavour = "llamacpp" if api == "llamacpp" else "openai" if api == "openai" else "mistral"
    editor = await session(start_session, {"completion": {"debounceMs": 0, "api": api}})
    uri = editor.open("geo.py", CODE)
    gate = Gate()
    fake.enqueue(Script(text="slow answer", gate=gate), Script(text="fast"))
    first = asyncio.ensure_future(inline(editor, uri, CURSOR))
    assert await asyncio.to_thread(gate.reached.wait, 10)
    second = await inline(editor, uri, CURSOR)
    assert texts(await first) == []
    assert texts(second) == ["fast"]
    assert await asyncio.to_thread(fake.completion_requests()[0].disconnected.wait, 10)
    gate.open()


async def test_vllm_refusing_suffix_is_reported_once_and_chat_fallback_completes(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    fake.flavour, fake.suffix_supported = "openai", False
    editor = await session(start_session, {"completion": {"debounceMs": 0, "chatFallback": True}})
    uri = editor.open("geo.py", CODE)
    fake.enqueue(Script(text="math.pi * r ** 2"))
    assert texts(await inline(editor, uri, CURSOR)) == ["math.pi * r ** 2"]
    paths = [r.path for r in fake.completion_requests()]
    assert paths == ["/v1/fim/completions", "/infill", "/v1/completions", "/v1/chat/completions"]
    [info] = editor.message_texts(types.MessageType.Info)
    assert "suffix is not currently supported" in info and "chat endpoint" in info


async def test_a_llamacpp_model_without_fim_tokens_is_reported_once(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    fake.flavour, fake.infill_supported = "llamacpp", False
    editor = await session(start_session, {"completion": {"debounceMs": 0}})
    uri = editor.open("geo.py", CODE)
    for _ in range(2):
        assert texts(await inline(editor, uri, CURSOR)) == []
    assert [r.path for r in fake.completion_requests()] == ["/v1/fim/completions", "/infill"]
    [warning] = editor.message_texts(types.MessageType.Warning)
    assert "cannot fill in the middle" in warning and "Infill is not supported" in warning
    assert "completion.chatFallback" in warning


async def test_clients_without_inline_completion_get_one_completion_item(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"debounceMs": 0}}, capabilities=CAPABILITIES)
    text = "def area(r):\n    return ma\n"
    uri = editor.open("geo.py", text)
    fake.enqueue(Script(text="th.pi * r ** 2"))
    result = await editor.client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=utf16_position(text, text.index("ma\n") + 2),
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
        )
    )
    [item] = result.items
    assert item.text_edit.new_text == "math.pi * r ** 2"
    assert item.text_edit.range.start == utf16_position(text, text.index("ma\n"))
    assert item.filter_text.startswith("ma")


async def test_completion_can_be_turned_off(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await session(start_session, {"completion": {"enabled": False}})
    uri = editor.open("geo.py", CODE)
    assert texts(await inline(editor, uri, CURSOR)) == []
    assert fake.completion_requests() == []


# -- the pure parts ---------------------------------------------------------------------


def test_trimming_and_stops() -> None:
    assert trim_prefix("aaaa\nbbbb\ncc", 7) == "bbbb\ncc"
    assert trim_prefix("abc", 10) == "abc"
    assert trim_suffix("xx\nyyyy\nzz", 8) == "xx\nyyyy\n"
    assert stop_sequences("x = foo(", ")\n") == ["\n"]
    assert stop_sequences("def f():\n    ", "\n") == ["\n\n\n"]
    assert clean_completion("a, b)", ")\n") == "a, b"
    assert clean_completion("\n\n", "") is None


def test_cache_serves_only_a_matching_continuation() -> None:
    cache = CompletionCache()
    source = "x = \nrest"
    cache.put("u", source, 4, ("m",), "compute(1)")
    typed = "x = comp\nrest"
    assert cache.get("u", typed, 8, ("m",)) == "ute(1)"
    assert cache.get("u", "x = cop\nrest", 7, ("m",)) is None
    assert cache.get("u", typed, 8, ("other",)) is None
    assert cache.get("u", "x = compute(1)\nrest", 14, ("m",)) is None
    assert cache.get("u", typed + "more", 8, ("m",)) is None  # text added after the cursor
