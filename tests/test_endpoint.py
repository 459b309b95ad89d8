"""Endpoint and key resolution: the contract the editors and the README describe."""

from __future__ import annotations

import pytest
from codestral_lsp.api.endpoint import (
    CODESTRAL_BASE_URL,
    MISTRAL_BASE_URL,
    Endpoint,
    mask_secret,
    resolve_endpoint,
)
from codestral_lsp.api.errors import InsecureEndpointError, InvalidEndpointError, UntrustedEndpointError


@pytest.mark.parametrize(
    ("env", "base_url", "key_env", "expected_url", "expected_source"),
    [
        ({"CODESTRAL_API_KEY": "c" * 32}, None, None, CODESTRAL_BASE_URL, "CODESTRAL_API_KEY"),
        ({"MISTRAL_API_KEY": "m" * 32}, None, None, MISTRAL_BASE_URL, "MISTRAL_API_KEY"),
        (
            {"CODESTRAL_API_KEY": "c" * 32, "MISTRAL_API_KEY": "m" * 32},
            None,
            None,
            CODESTRAL_BASE_URL,
            "CODESTRAL_API_KEY",
        ),
        ({}, None, None, CODESTRAL_BASE_URL, None),
        ({"MISTRAL_API_KEY": "m" * 32}, MISTRAL_BASE_URL + "/", None, MISTRAL_BASE_URL, "MISTRAL_API_KEY"),
        # Mistral's endpoints take only their own kind of key.
        ({"MISTRAL_API_KEY": "m" * 32}, CODESTRAL_BASE_URL, None, CODESTRAL_BASE_URL, None),
        # A custom server: apiKeyEnv, else CODESTRAL_API_KEY, else MISTRAL_API_KEY, else none.
        (
            {"MY_KEY": "k" * 20, "CODESTRAL_API_KEY": "c" * 32, "CODESTRAL_TRUSTED_HOSTS": "llm.example.com"},
            "https://llm.example.com/v1",
            "MY_KEY",
            "https://llm.example.com/v1",
            "MY_KEY",
        ),
        (
            {"CODESTRAL_API_KEY": "c" * 32, "CODESTRAL_BASE_URL": "https://llm.example.com/v1"},
            None,
            None,
            "https://llm.example.com/v1",
            "CODESTRAL_API_KEY",
        ),
        (
            {"MISTRAL_API_KEY": "m" * 32, "CODESTRAL_TRUSTED_HOSTS": "a.b, LLM.example.com"},
            "https://llm.example.com/v1",
            None,
            "https://llm.example.com/v1",
            "MISTRAL_API_KEY",
        ),
        ({}, "http://127.0.0.1:11434/v1", None, "http://127.0.0.1:11434/v1", None),
        ({"CODESTRAL_BASE_URL": "http://localhost:8000/v1"}, None, None, "http://localhost:8000/v1", None),
        # The setting wins over CODESTRAL_BASE_URL.
        (
            {"CODESTRAL_BASE_URL": "http://localhost:8000/v1"},
            "http://[::1]:9000/v1",
            None,
            "http://[::1]:9000/v1",
            None,
        ),
    ],
)
def test_resolution(
    env: dict[str, str],
    base_url: str | None,
    key_env: str | None,
    expected_url: str,
    expected_source: str | None,
) -> None:
    endpoint = resolve_endpoint(env, base_url, key_env)
    assert endpoint.base_url == expected_url
    assert endpoint.key_source == expected_source
    assert (endpoint.api_key is None) == (expected_source is None)


@pytest.mark.parametrize(
    "url", ["http://codestral.example.com/v1", "http://10.0.0.5:8000/v1", "http://localhost.evil.com/v1"]
)
def test_plain_http_is_refused_unless_loopback(url: str) -> None:
    with pytest.raises(InsecureEndpointError, match="Refusing plain http://"):
        resolve_endpoint({"CODESTRAL_API_KEY": "secret-value-123456"}, url)


@pytest.mark.parametrize("url", ["https://evil.example.com/v1", "https://codestral.mistral.ai.evil.com/v1"])
def test_a_base_url_setting_must_name_a_host_the_environment_trusts(url: str) -> None:
    env = {"CODESTRAL_API_KEY": "c" * 32, "CODESTRAL_BASE_URL": "https://team.example.com/v1"}
    with pytest.raises(UntrustedEndpointError, match="CODESTRAL_TRUSTED_HOSTS"):
        resolve_endpoint(env, url)
    # The environment's own base URL, Mistral's endpoints and loopback are fine from settings.
    assert resolve_endpoint(env, "https://team.example.com/v2").api_key == "c" * 32
    assert resolve_endpoint(env, "https://api.mistral.ai/v1").base_url == "https://api.mistral.ai/v1"
    assert resolve_endpoint(env, "http://127.0.0.1:8000/v1").base_url == "http://127.0.0.1:8000/v1"


@pytest.mark.parametrize("url", ["ftp://x/v1", "codestral.mistral.ai", "https://user:pw@host/v1"])
def test_unusable_urls_are_explained(url: str) -> None:
    with pytest.raises(InvalidEndpointError):
        resolve_endpoint({}, url)


def test_the_key_never_shows_in_repr_or_masks() -> None:
    key = "sk-not_a_real_key_93b1"
    endpoint = resolve_endpoint({"CODESTRAL_API_KEY": key})
    assert key not in repr(endpoint) and key not in endpoint.describe()
    assert endpoint.masked_key == "sk-…93b1"
    assert mask_secret("short") == "…(5 characters)" and mask_secret(None) == "(none)"
    assert Endpoint("https://x/v1", "custom").expected_key_var == "CODESTRAL_API_KEY"
