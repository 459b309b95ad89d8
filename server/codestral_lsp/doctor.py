"""``codestral-lsp check``: say which endpoint, model and key will be used, and whether they work.

Exit status 0 only when the key is accepted (or none is needed), the model is served, and
fill-in-the-middle is not known to be missing. Every problem comes with the fix; no traceback.
Everything printed passes through the redactor: an API server echoing the key shows
``[redacted]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Protocol, TextIO

from codestral_lsp.api import CodestralClient, CodestralError, RetryPolicy, Timeouts
from codestral_lsp.api.bodies import ChatRequest, FimRequest, Message
from codestral_lsp.api.client import FimDialect
from codestral_lsp.api.endpoint import (
    CODESTRAL_KEY_VAR,
    MISTRAL_KEY_VAR,
    Endpoint,
    allowed_key_vars,
    resolve_endpoint,
)
from codestral_lsp.api.errors import ApiError, AuthenticationError
from codestral_lsp.api.types import ModelInfo
from codestral_lsp.redaction import REDACTOR, redact
from codestral_lsp.settings import Settings

OK, BAD, UNSURE = "ok", "FAIL", "??"


class Output(Protocol):
    """Where the report goes (a text stream)."""

    def write(self, text: str, /) -> int:
        """Write ``text``."""
        ...


class RedactedOutput:
    """An output that hides the keys in everything written to it."""

    def __init__(self, out: Output) -> None:
        self.out = out

    def write(self, text: str, /) -> int:
        """Write ``text`` with the keys redacted."""
        return self.out.write(redact(text))


def _line(out: Output, mark: str, text: str) -> None:
    out.write(f"  [{mark:>4}] {text}\n")


def _missing_key_advice(endpoint: Endpoint, env: Mapping[str, str]) -> str:
    other = MISTRAL_KEY_VAR if endpoint.kind == "codestral" else CODESTRAL_KEY_VAR
    advice = f"Set {endpoint.expected_key_var} to your key"
    if endpoint.kind == "codestral":
        advice += " (console.mistral.ai → Codestral)"
    elif endpoint.kind == "mistral":
        advice += " (console.mistral.ai → API keys)"
    if env.get(other):
        advice += (
            f". {other} is set, but its keys belong to the other endpoint: remove baseUrl/"
            f"CODESTRAL_BASE_URL to use it"
        )
    return advice + "."


async def run_check(env: Mapping[str, str], settings: Settings, out: Output) -> int:
    """Run the checks, writing the report to ``out``; return the exit status."""
    out.write("codestral-lsp check\n")
    try:
        endpoint = resolve_endpoint(env, settings.base_url, settings.api_key_env)
    except CodestralError as error:
        _line(out, BAD, str(error))
        return 1
    fim_model = settings.completion.model or settings.model
    out.write(f"  endpoint: {endpoint.describe()}\n")
    out.write(f"  model:    {settings.model}")
    out.write(f" (inline completion: {fim_model})\n" if fim_model != settings.model else "\n")
    if endpoint.key_source:
        out.write(f"  key:      from {endpoint.key_source} ({endpoint.masked_key})\n")
    else:
        out.write(f"  key:      none ({endpoint.key_note})\n" if endpoint.key_note else "  key:      none\n")
        if endpoint.is_mistral:
            _line(out, BAD, f"No API key for {endpoint.base_url}. {_missing_key_advice(endpoint, env)}")
            return 1

    client = CodestralClient(
        endpoint,
        timeouts=Timeouts(connect=5, first_byte=15, idle=15),
        retry=RetryPolicy(max_attempts=2, initial_delay=0.5, max_delay=5, total_seconds=15),
    )
    try:
        try:
            models = await client.list_models()
        except ApiError as error:
            if error.status not in (404, 405):
                raise
            return await _check_by_chat(client, endpoint, settings, out)
        return await _report_models(client, endpoint, settings, models, out)
    except AuthenticationError as error:
        _line(out, BAD, f"key rejected: {error}")
        return 1
    except CodestralError as error:
        _line(out, BAD, str(error))
        return 1
    finally:
        await client.aclose()


async def _report_models(
    client: CodestralClient, endpoint: Endpoint, settings: Settings, models: list[ModelInfo], out: Output
) -> int:
    """The rest of the report, once ``GET /models`` answered."""
    fim_model = settings.completion.model or settings.model
    _line(out, OK, "key accepted" if endpoint.key_source else "server answered (no key needed)")

    status = 0
    served = ", ".join(sorted(m.id for m in models)[:12]) or "none"
    chat_model = next((m for m in models if m.answers_to(settings.model)), None)
    if chat_model is None:
        _line(
            out,
            BAD,
            f"model {settings.model!r} is not served here. Available: {served}. "
            f"Set the model setting to one of them.",
        )
        status = 1
    else:
        context = (
            f" ({chat_model.max_context_length:,}-token context)" if chat_model.max_context_length else ""
        )
        _line(out, OK, f"model {settings.model} available{context}")

    if settings.completion.enabled:
        fim = next((m for m in models if m.answers_to(fim_model)), None)
        if fim is None and fim_model != settings.model:
            _line(out, BAD, f"completion model {fim_model!r} is not served here. Available: {served}.")
            status = 1
        elif fim is not None and fim.fim is False:
            _line(
                out,
                BAD,
                f"{fim_model} has no fill-in-the-middle, so inline completion will be off. "
                f"Set completion.model to codestral-latest, or completion.enabled to false.",
            )
            status = 1
        elif fim is not None and fim.fim:
            _line(out, OK, "fill-in-the-middle supported (inline completion)")
        elif endpoint.is_mistral:
            _line(
                out,
                UNSURE,
                "the server does not say whether it supports fill-in-the-middle; "
                "inline completion will try it and switch itself off if it fails",
            )
        else:
            status = max(status, await _check_fim(client, settings, out))
    out.write("All good.\n" if status == 0 else "Problems found: see FAIL lines above.\n")
    return status


async def _check_by_chat(client: CodestralClient, endpoint: Endpoint, settings: Settings, out: Output) -> int:
    """For a server without ``GET /models`` (several mocks and proxies): one minimal chat request
    tells whether the key and the model work."""
    _line(
        out, UNSURE, f"{endpoint.base_url}/models is not served (404); checking with a one-token chat request"
    )
    await client.chat(
        ChatRequest(
            model=settings.model, messages=[Message("user", "Say OK.")], temperature=0.0, max_tokens=1
        )
    )
    _line(out, OK, "key accepted" if endpoint.key_source else "server answered (no key needed)")
    _line(out, OK, f"model {settings.model} answered a chat request")
    status = await _check_fim(client, settings, out) if settings.completion.enabled else 0
    out.write("All good.\n" if status == 0 else "Problems found: see FAIL lines above.\n")
    return status


async def _check_fim(client: CodestralClient, settings: Settings, out: Output) -> int:
    """Ask a one-token fill-in-the-middle in the dialect(s) inline completion would use."""
    from codestral_lsp.completion import FimRefused, NoFimEndpoint, candidate_dialects, fill_in_middle

    model = settings.completion.model or settings.model
    dialects: dict[str, FimDialect] = {}
    request = FimRequest(model=model, prompt="def add(a, b):\n    return ", suffix="\n", max_tokens=1)
    try:
        await fill_in_middle(
            client, request, candidate_dialects(settings.completion.api, client, None), dialects
        )
    except (NoFimEndpoint, FimRefused) as error:
        if settings.completion.chat_fallback:
            _line(out, OK, f"{error}; inline completion will use the chat endpoint (completion.chatFallback)")
            return 0
        _line(
            out,
            BAD,
            f"{error}. Inline completion will be off: set completion.api to the dialect the server "
            f"speaks, completion.chatFallback to true, or completion.enabled to false.",
        )
        return 1
    except CodestralError as error:
        _line(out, BAD, f"fill-in-the-middle failed: {error}")
        return 1
    dialect = dialects.get(client.endpoint.base_url, "mistral")
    _line(out, OK, f"fill-in-the-middle answered ({dialect} dialect: POST {_fim_path(client, dialect)})")
    return 0


def _fim_path(client: CodestralClient, dialect: FimDialect) -> str:
    from codestral_lsp.completion import fim_url

    return fim_url(client, dialect)


def check(env: Mapping[str, str], settings: Settings, out: TextIO, problems: Sequence[str] = ()) -> int:
    """Synchronous entry point for the command line (``problems``: what was wrong in the settings)."""
    REDACTOR.add_env_keys(env, allowed_key_vars(env))
    redacted = RedactedOutput(out)
    for problem in problems:
        redacted.write(problem + "\n")
    return asyncio.run(run_check(env, settings, redacted))
