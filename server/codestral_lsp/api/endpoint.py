"""Which URL to call and which key to send: the endpoint and key resolution contract.

Rules (documented in the README, relied on by the editors and tests):

* The base URL comes from the ``baseUrl`` setting, else ``CODESTRAL_BASE_URL``, else it follows
  the key that is set: ``CODESTRAL_API_KEY`` → ``https://codestral.mistral.ai/v1``,
  ``MISTRAL_API_KEY`` → ``https://api.mistral.ai/v1`` (Codestral's own endpoint when both or
  neither are set).
* The key: the variable named by ``apiKeyEnv`` when given; for codestral.mistral.ai only
  ``CODESTRAL_API_KEY``, for api.mistral.ai only ``MISTRAL_API_KEY`` (the two kinds of key are not
  interchangeable); for any other server ``CODESTRAL_API_KEY``, else ``MISTRAL_API_KEY``, else no
  key at all (local servers need none).
* A ``baseUrl`` *setting* may name only Mistral's endpoints, this machine, or a host the user's
  environment names (``CODESTRAL_BASE_URL``, ``CODESTRAL_TRUSTED_HOSTS``): settings can come
  from a cloned repository, the environment cannot.
* Plain ``http://`` is accepted only for loopback hosts, so a key never crosses a network in
  clear text. The key is held only here, is never part of ``repr``, and is sent only to this
  base URL (the HTTP client follows no redirects).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from codestral_lsp.api.errors import InsecureEndpointError, InvalidEndpointError, UntrustedEndpointError

CODESTRAL_BASE_URL = "https://codestral.mistral.ai/v1"
MISTRAL_BASE_URL = "https://api.mistral.ai/v1"
CODESTRAL_KEY_VAR = "CODESTRAL_API_KEY"
MISTRAL_KEY_VAR = "MISTRAL_API_KEY"
BASE_URL_VAR = "CODESTRAL_BASE_URL"
TRUSTED_HOSTS_VAR = "CODESTRAL_TRUSTED_HOSTS"

EndpointKind = Literal["codestral", "mistral", "custom"]

_KIND_BY_HOST: dict[str, EndpointKind] = {
    "codestral.mistral.ai": "codestral",
    "api.mistral.ai": "mistral",
}
_KEY_VAR_BY_KIND: dict[EndpointKind, str] = {
    "codestral": CODESTRAL_KEY_VAR,
    "mistral": MISTRAL_KEY_VAR,
}
KIND_DESCRIPTIONS: dict[EndpointKind, str] = {
    "codestral": "Codestral's endpoint (keys from console.mistral.ai → Codestral)",
    "mistral": "La Plateforme (keys from console.mistral.ai → API keys)",
    "custom": "a self-hosted or OpenAI-compatible server",
}


@dataclass(frozen=True)
class Endpoint:
    """A resolved endpoint: where requests go and the key they carry.

    ``key_source`` names the environment variable the key came from (``None``: no key).
    """

    base_url: str
    kind: EndpointKind
    key_source: str | None = None
    api_key: str | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        """The host name requests go to."""
        return urlsplit(self.base_url).hostname or ""

    @property
    def is_mistral(self) -> bool:
        """True for Mistral's own endpoints (which accept ``prediction``, FIM, etc.)."""
        return self.kind != "custom"

    @property
    def masked_key(self) -> str:
        """The key with all but its first and last few characters hidden, safe to print."""
        return mask_secret(self.api_key)

    @property
    def expected_key_var(self) -> str:
        """The variable that normally holds keys for this endpoint."""
        return _KEY_VAR_BY_KIND.get(self.kind, self.key_source or CODESTRAL_KEY_VAR)

    def describe(self) -> str:
        """A short human description, e.g. ``https://api.mistral.ai/v1 (La Plateforme …)``."""
        return f"{self.base_url} ({KIND_DESCRIPTIONS[self.kind]})"


def mask_secret(secret: str | None) -> str:
    """Hide a secret for display: ``sk-…93b1`` for long keys, ``…`` for short ones."""
    if not secret:
        return "(none)"
    if len(secret) < 12:
        return f"…({len(secret)} characters)"
    return f"{secret[:3]}…{secret[-4:]}"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_base_url(url: str) -> str:
    """Check a base URL is usable and safe, and return it without a trailing slash.

    Raises :class:`InvalidEndpointError` for something that is not an http(s) URL, and
    :class:`InsecureEndpointError` for plain HTTP to a host other than this machine.
    """
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidEndpointError(
            f"The base URL {text!r} is not an http(s) URL. Use for example "
            f"{CODESTRAL_BASE_URL} or http://127.0.0.1:11434/v1 for a local server."
        )
    if parts.username or parts.password:
        raise InvalidEndpointError(
            "The base URL must not contain a user name or password; put the key in an "
            "environment variable and name it with apiKeyEnv."
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InsecureEndpointError(
            f"Refusing plain http:// to {parts.hostname}: the API key and your code would cross "
            f"the network unencrypted. Use https://, or a loopback address (127.0.0.1, "
            f"localhost) for a server on this machine."
        )
    return text.rstrip("/")


def trusted_hosts(env: Mapping[str, str]) -> set[str]:
    """Hosts the user's own environment names: ``CODESTRAL_BASE_URL``'s and ``CODESTRAL_TRUSTED_HOSTS``."""
    hosts = {h.strip().lower() for h in env.get(TRUSTED_HOSTS_VAR, "").split(",") if h.strip()}
    if env.get(BASE_URL_VAR, "").strip():
        hosts.add((urlsplit(env[BASE_URL_VAR].strip()).hostname or "").lower())
    return hosts


def check_trusted(url: str, env: Mapping[str, str]) -> None:
    """Refuse a ``baseUrl`` *setting* that would send code and key to a host the user did not name.

    Editor settings can come from a cloned repository (``.helix/languages.toml``, ``.nvim.lua``,
    workspace settings). So a ``baseUrl`` setting may point only at Mistral's endpoints, this
    machine, or a host named in the user's environment (``CODESTRAL_BASE_URL`` or the
    comma-separated ``CODESTRAL_TRUSTED_HOSTS``).
    """
    host = (urlsplit(url).hostname or "").lower()
    if endpoint_kind(url) != "custom" or is_loopback_host(host) or host in trusted_hosts(env):
        return
    raise UntrustedEndpointError(
        f"The baseUrl setting points at {host}, which your environment does not name, so no code "
        f"or key is sent there. If you trust it, add it to {TRUSTED_HOSTS_VAR} (e.g. "
        f"{TRUSTED_HOSTS_VAR}={host}) or set {BASE_URL_VAR} in your environment."
    )


def endpoint_kind(base_url: str) -> EndpointKind:
    """Which kind of endpoint a base URL is (Mistral's two, or anything else)."""
    parts = urlsplit(base_url)
    if parts.scheme != "https":
        return "custom"
    return _KIND_BY_HOST.get((parts.hostname or "").lower(), "custom")


def resolve_endpoint(
    env: Mapping[str, str],
    base_url: str | None = None,
    api_key_env: str | None = None,
) -> Endpoint:
    """Resolve the endpoint and key from the settings and the environment (see module doc)."""

    def key_from(var: str) -> str | None:
        value = env.get(var, "").strip()
        return value or None

    configured = base_url or key_from(BASE_URL_VAR)
    if configured:
        url = normalise_base_url(configured)
        if base_url:
            check_trusted(url, env)
    elif key_from(CODESTRAL_KEY_VAR) is None and key_from(MISTRAL_KEY_VAR) is not None:
        url = MISTRAL_BASE_URL
    else:
        url = CODESTRAL_BASE_URL
    kind = endpoint_kind(url)

    if api_key_env:
        candidates = [api_key_env]
    elif kind in _KEY_VAR_BY_KIND:
        candidates = [_KEY_VAR_BY_KIND[kind]]
    else:
        candidates = [CODESTRAL_KEY_VAR, MISTRAL_KEY_VAR]
    for var in candidates:
        key = key_from(var)
        if key is not None:
            return Endpoint(base_url=url, kind=kind, key_source=var, api_key=key)
    return Endpoint(base_url=url, kind=kind)
