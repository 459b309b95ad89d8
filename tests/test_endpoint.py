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
from codestral_lsp.api.errors import (
    InsecureEndpointError,
    InvalidEndpointError,
    InvalidKeyError,
    UntrustedEndpointError,
    UntrustedKeyVariableError,
)
from codestral_lsp.redaction import REDACTOR


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
            {
                "MY_KEY": "k" * 20,
                "CODESTRAL_KEY_VARS": "MY_KEY",
                "CODESTRAL_API_KEY": "c" * 32,
                "CODESTRAL_TRUSTED_HOSTS": "llm.example.com",
            },
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


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"AWS_SECRET_ACCESS_KEY": "a" * 40}, "AWS_SECRET_ACCESS_KEY"),
        ({"HOME_KEY": "h" * 20, "CODESTRAL_KEY_VARS": "HOME_KEYS, OTHER"}, "HOME_KEY"),
        ({"CODESTRAL_KEY_VARS": "*"}, "ANYTHING"),
    ],
)
def test_an_api_key_env_setting_may_name_only_allowed_variables(env: dict[str, str], name: str) -> None:
    with pytest.raises(UntrustedKeyVariableError, match="CODESTRAL_KEY_VARS") as caught:
        resolve_endpoint({**env, "CODESTRAL_API_KEY": "c" * 32}, None, name)
    assert "a" * 40 not in str(caught.value)


def test_allowed_key_variables() -> None:
    env = {"TEAM": "t" * 20, "CODESTRAL_KEY_VARS": " TEAM ,", "MISTRAL_API_KEY": "m" * 32}
    assert resolve_endpoint(env, "https://api.mistral.ai/v1", "TEAM").api_key == "t" * 20
    assert resolve_endpoint(env, None, "MISTRAL_API_KEY").key_source == "MISTRAL_API_KEY"
    for pasted in ["sk-abc def", "AbCdEfGh1234567890XyZwVu"]:  # a key where the name belongs
        with pytest.raises(UntrustedKeyVariableError, match="not the key itself") as caught:
            resolve_endpoint(env, None, pasted)
        assert pasted[:6] not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "url", "gets_key"),
    [
        ({}, "http://127.0.0.1:8000/v1", False),
        ({"CODESTRAL_BASE_URL": "http://127.0.0.1:8000/v1"}, "http://127.0.0.1:8000/v2", True),
        ({"CODESTRAL_BASE_URL": "http://127.0.0.1:8000/v1"}, "http://127.0.0.1:8001/v1", False),
        ({"CODESTRAL_BASE_URL": "http://localhost:8000/v1"}, "http://127.0.0.1:8000/v1", False),
        ({"CODESTRAL_TRUSTED_HOSTS": "127.0.0.1:8000"}, "http://127.0.0.1:8000/v1", True),
        ({"CODESTRAL_TRUSTED_HOSTS": "127.0.0.1:8000"}, "http://127.0.0.1:9000/v1", False),
        ({"CODESTRAL_TRUSTED_HOSTS": "localhost"}, "http://localhost:9000/v1", True),
        ({"CODESTRAL_TRUSTED_HOSTS": "[::1]:9000"}, "http://[::1]:9000/v1", True),
        ({"CODESTRAL_TRUSTED_HOSTS": "::1"}, "http://[::1]:9000/v1", True),
        ({"CODESTRAL_TRUSTED_HOSTS": "[::1]:9001"}, "http://[::1]:9000/v1", False),
    ],
)
def test_a_loopback_base_url_setting_gets_the_key_only_when_the_environment_names_it(
    env: dict[str, str], url: str, gets_key: bool
) -> None:
    endpoint = resolve_endpoint({**env, "CODESTRAL_API_KEY": "c" * 32}, url, "CODESTRAL_API_KEY")
    assert (endpoint.api_key == "c" * 32) is gets_key
    if not gets_key:
        assert endpoint.key_note is not None and "CODESTRAL_TRUSTED_HOSTS" in endpoint.key_note
    # From the environment alone, loopback gets the key.
    assert resolve_endpoint({"CODESTRAL_BASE_URL": url, "CODESTRAL_API_KEY": "c" * 32}).api_key == "c" * 32


def test_a_trusted_remote_host_with_a_port_is_matched_on_the_port() -> None:
    env = {"CODESTRAL_API_KEY": "c" * 32, "CODESTRAL_TRUSTED_HOSTS": "llm.example.com:8443"}
    assert resolve_endpoint(env, "https://llm.example.com:8443/v1").api_key == "c" * 32
    with pytest.raises(UntrustedEndpointError):
        resolve_endpoint(env, "https://llm.example.com/v1")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.mistral.ai/v1\nX-Injected: 1",
        "http://127.0.0.1:8000/v1\rX",
        "https://a b/v1",
        "http://x\x00/v1",
    ],
)
def test_a_base_url_with_a_line_break_or_space_is_explained(url: str) -> None:
    with pytest.raises(InvalidEndpointError, match="line break"):
        resolve_endpoint({}, url)
    with pytest.raises(InvalidEndpointError, match="line break"):
        resolve_endpoint({"CODESTRAL_BASE_URL": url})


@pytest.mark.parametrize("padding", ["\r", "\r\n", "  ", "\t", " \n"])
def test_the_key_is_sent_stripped_and_registered_for_redaction(padding: str) -> None:
    key = "stripped-key-" + padding.encode().hex()
    endpoint = resolve_endpoint({"CODESTRAL_API_KEY": padding + key + padding})
    assert endpoint.api_key == key and key in REDACTOR.secrets


@pytest.mark.parametrize("value", ["abc\ndef-ghijkl", "abc def-ghijkl", "clé-0123456789"])
def test_a_key_no_header_can_carry_is_explained_without_showing_it(value: str) -> None:
    with pytest.raises(InvalidKeyError, match="CODESTRAL_API_KEY") as caught:
        resolve_endpoint({"CODESTRAL_API_KEY": value})
    assert value not in str(caught.value) and "ghijkl" not in str(caught.value)
