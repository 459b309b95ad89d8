"""What an HTTP error status means to the user: status, body and endpoint → a typed error
(:mod:`codestral_lsp.api.errors`) whose sentence says what to do.

The sentences name the key's variable, never the key.
"""

from __future__ import annotations

from codestral_lsp.api.endpoint import Endpoint
from codestral_lsp.api.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    ModelNotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestValidationError,
    ServerError,
    parse_error_body,
)

_CONTEXT_WORDS = ("context", "too long", "too many tokens", "maximum", "exceed")


def _key_sentence(endpoint: Endpoint) -> str:
    if endpoint.key_source is None and endpoint.key_note:
        return f"No API key was sent to {endpoint.base_url}: {endpoint.key_note}"
    if endpoint.key_source is None:
        return (
            f"No API key was sent to {endpoint.base_url}: set {endpoint.expected_key_var} "
            f"(or name your variable with the apiKeyEnv setting)."
        )
    hint = ""
    if endpoint.kind == "codestral":
        hint = (
            " Codestral keys and La Plateforme keys are not interchangeable: a La Plateforme key "
            "belongs in MISTRAL_API_KEY and works with https://api.mistral.ai/v1."
        )
    elif endpoint.kind == "mistral":
        hint = (
            " Codestral keys and La Plateforme keys are not interchangeable: a Codestral key "
            "belongs in CODESTRAL_API_KEY and works with https://codestral.mistral.ai/v1."
        )
    return f"The API key in {endpoint.key_source} was rejected by {endpoint.base_url}.{hint}"


def error_for_status(
    status: int,
    raw_body: bytes,
    endpoint: Endpoint,
    model: str | None,
    retry_after: float | None = None,
) -> ApiError:
    """Turn an HTTP error status and its body into a typed error with a user-facing sentence."""
    body = parse_error_body(raw_body)
    said = f" The server said: {body.message}" if body.message else ""
    said = said if said.endswith((".", "!", "?")) or not said else said + "."
    if status == 401:
        return AuthenticationError(_key_sentence(endpoint), status, body)
    if status == 403:
        return PermissionDeniedError(
            f"{endpoint.base_url} refused access (403) for model {model or '?'}: your key's plan "
            f"or workspace may not use it; check the key's permissions in the Mistral console.{said}",
            status,
            body,
        )
    if status == 404:
        return ModelNotFoundError(
            f"{endpoint.base_url} does not know model {model!r} (404). Set the model setting to "
            f"a model it serves (run `codestral-lsp check` to list them).{said}",
            status,
            body,
        )
    if status == 400:
        lowered = (body.message or "").lower()
        if any(word in lowered for word in _CONTEXT_WORDS):
            return ContextTooLongError(
                f"The request is too long for {model or 'the model'}'s context window: select "
                f"less code, or lower the context budget or maxTokens settings.{said}",
                status,
                body,
            )
        return BadRequestError(f"{endpoint.base_url} rejected the request (400).{said}", status, body)
    if status == 422:
        field = f" field {body.field!r}" if body.field else " a field of the request"
        return RequestValidationError(
            f"{endpoint.base_url} rejected{field} (422): {body.message or 'invalid value'}. "
            f"Check the settings for it, or report this as a bug in codestral-lsp.",
            status,
            body,
        )
    if status == 429:
        when = f" Try again in {retry_after:.0f} s." if retry_after else " Try again shortly."
        return RateLimitedError(
            f"{endpoint.base_url} is rate limiting this key (429) and retries did not get through.{when}",
            status,
            body,
        )
    if status >= 500:
        return ServerError(
            f"{endpoint.base_url} had a server error ({status}) and retries did not help; try "
            f"again in a minute.{said}",
            status,
            body,
        )
    return ApiError(f"{endpoint.base_url} answered HTTP {status}.{said}", status, body)
