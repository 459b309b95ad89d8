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
* Trust: settings can come from a cloned repository, the environment cannot (and over LSP the
  server cannot tell user settings from workspace settings, so every setting is treated as
  possibly the workspace's). So a ``baseUrl`` *setting* may name only Mistral's endpoints, this
  machine, or a host the user's environment names (``CODESTRAL_BASE_URL``'s host and port, or an
  entry ``host`` / ``host:port`` of ``CODESTRAL_TRUSTED_HOSTS``); a ``baseUrl`` setting on this
  machine that the environment does not name gets no key (any user can listen on a loopback
  port); and an ``apiKeyEnv`` setting may name only ``CODESTRAL_API_KEY``, ``MISTRAL_API_KEY``
  or a variable listed in ``CODESTRAL_KEY_VARS``.
* Plain ``http://`` is accepted only for loopback hosts, so a key never crosses a network in
  clear text. The key is held only here, is never part of ``repr``, and is sent only to this
  base URL (the HTTP client follows no redirects). It is sent stripped of surrounding white
  space (a CRLF ``.env`` file leaves a carriage return), and registered with
  :data:`~codestral_lsp.redaction.REDACTOR` so that nothing the server says or writes shows it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from codestral_lsp.api.errors import (
    InsecureEndpointError,
    InvalidEndpointError,
    InvalidKeyError,
    UntrustedEndpointError,
    UntrustedKeyVariableError,
)
from codestral_lsp.redaction import REDACTOR

CODESTRAL_BASE_URL = "https://codestral.mistral.ai/v1"
MISTRAL_BASE_URL = "https://api.mistral.ai/v1"
CODESTRAL_KEY_VAR = "CODESTRAL_API_KEY"
MISTRAL_KEY_VAR = "MISTRAL_API_KEY"
BASE_URL_VAR = "CODESTRAL_BASE_URL"
TRUSTED_HOSTS_VAR = "CODESTRAL_TRUSTED_HOSTS"
KEY_VARS_VAR = "CODESTRAL_KEY_VARS"

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

    ``key_source`` names the environment variable the key came from (``None``: no key);
    ``key_note`` says why no key is sent when one was withheld by the trust rules.
    """

    base_url: str
    kind: EndpointKind
    key_source: str | None = None
    api_key: str | None = field(default=None, repr=False)
    key_note: str | None = None

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
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in text):
        raise InvalidEndpointError(
            f"The base URL {text[:200]!r} contains a space, line break or control character; "
            f"write it on one line without spaces, e.g. {CODESTRAL_BASE_URL}."
        )
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


Origin = tuple[str, int | None]
"""A host and a port (``None``: any port)."""


def _origin(url: str) -> Origin:
    """The host (lower case) and port (the scheme's default when not written) of a URL."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port or (443 if parts.scheme == "https" else 80)


def _host_entry(entry: str) -> Origin:
    """One ``CODESTRAL_TRUSTED_HOSTS`` entry: ``host``, ``host:port``, ``[::1]:port`` or ``::1``."""
    try:
        parts = urlsplit("//" + entry)
        if parts.hostname and parts.port is not None:
            return parts.hostname.lower(), parts.port
    except ValueError:
        pass
    return entry.strip("[]").lower(), None


def trusted_origins(env: Mapping[str, str]) -> list[Origin]:
    """What the user's own environment names: ``CODESTRAL_BASE_URL``'s host and port, and the
    entries of ``CODESTRAL_TRUSTED_HOSTS`` (a host alone trusts its every port)."""
    origins = [_host_entry(h.strip()) for h in env.get(TRUSTED_HOSTS_VAR, "").split(",") if h.strip()]
    if env.get(BASE_URL_VAR, "").strip():
        origins.append(_origin(env[BASE_URL_VAR].strip()))
    return origins


def environment_names(url: str, env: Mapping[str, str]) -> bool:
    """True when the user's environment names this URL's host (and port, where it gives one)."""
    host, port = _origin(url)
    return any(h == host and p in (None, port) for h, p in trusted_origins(env))


def check_trusted(url: str, env: Mapping[str, str]) -> None:
    """Refuse a ``baseUrl`` *setting* that would send code and key to a host the user did not name.

    Editor settings can come from a cloned repository (``.helix/languages.toml``, ``.nvim.lua``,
    workspace settings). So a ``baseUrl`` setting may point only at Mistral's endpoints, this
    machine, or a host named in the user's environment (``CODESTRAL_BASE_URL`` or the
    comma-separated ``CODESTRAL_TRUSTED_HOSTS``).
    """
    host = (urlsplit(url).hostname or "").lower()
    if endpoint_kind(url) != "custom" or is_loopback_host(host) or environment_names(url, env):
        return
    raise UntrustedEndpointError(
        f"The baseUrl setting points at {host}, which your environment does not name, so no code "
        f"or key is sent there. If you trust it, add it to {TRUSTED_HOSTS_VAR} (e.g. "
        f"{TRUSTED_HOSTS_VAR}={host}) or set {BASE_URL_VAR} in your environment."
    )


def allowed_key_vars(env: Mapping[str, str]) -> list[str]:
    """The variables an ``apiKeyEnv`` setting may name: the two standard ones and those the user
    listed in ``CODESTRAL_KEY_VARS`` (comma-separated)."""
    listed = [name.strip() for name in env.get(KEY_VARS_VAR, "").split(",") if name.strip()]
    return [CODESTRAL_KEY_VAR, MISTRAL_KEY_VAR, *listed]


_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_key_var(name: str, env: Mapping[str, str]) -> None:
    """Refuse an ``apiKeyEnv`` setting naming a variable the environment does not allow.

    Otherwise a cloned repository could name ``AWS_SECRET_ACCESS_KEY`` (or any variable) and have
    its value sent as the bearer token.
    """
    if name in allowed_key_vars(env):
        return
    # A key pasted in place of the name must not be echoed: show only what is plainly a name.
    if not _VARIABLE_NAME.fullmatch(name) or (name not in env and name != name.upper()):
        raise UntrustedKeyVariableError(
            "The apiKeyEnv setting must be the name of an environment variable (letters, digits, "
            "'_') that is set, not the key itself; nothing is sent. Put the key in "
            "CODESTRAL_API_KEY or another variable, and name that."
        )
    shown = name if len(name) <= 80 else name[:80] + "…"
    raise UntrustedKeyVariableError(
        f"The apiKeyEnv setting names {shown!r}, which your environment does not allow as a key "
        f"variable, so nothing is sent (settings can come from a cloned repository). If it holds "
        f"your key, add it to {KEY_VARS_VAR} in your environment (e.g. {KEY_VARS_VAR}={shown})."
    )


def _loopback_key_note(url: str) -> str:
    host, port = _origin(url)
    entry = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return (
        f"the baseUrl setting points at a port on this machine ({entry}) that your environment "
        f"does not name, and any user of the machine could be listening there. If it needs your "
        f"key, set {BASE_URL_VAR}={url} or add {entry} to {TRUSTED_HOSTS_VAR}."
    )


def _usable_key(value: str, var: str) -> str:
    """The key as it is sent (stripped); :class:`InvalidKeyError` for one no header can carry."""
    key = value.strip()
    if any(not (0x21 <= ord(char) <= 0x7E) for char in key):
        raise InvalidKeyError(
            f"The key in {var} contains a space, line break, control or non-ASCII character, so "
            f"it cannot be sent; check the variable's value."
        )
    return key


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
    """Resolve the endpoint and key from the settings and the environment (see module doc).

    ``base_url`` and ``api_key_env`` are *settings* (perhaps a workspace's): the trust rules apply
    to them. The key returned is registered for redaction.
    """

    def key_from(var: str) -> str | None:
        value = env.get(var, "").strip()
        return _usable_key(value, var) if value else None

    if api_key_env:
        check_key_var(api_key_env, env)
    configured = base_url or env.get(BASE_URL_VAR, "").strip()
    if configured:
        url = normalise_base_url(configured)
        if base_url:
            check_trusted(url, env)
    elif key_from(CODESTRAL_KEY_VAR) is None and key_from(MISTRAL_KEY_VAR) is not None:
        url = MISTRAL_BASE_URL
    else:
        url = CODESTRAL_BASE_URL
    kind = endpoint_kind(url)

    if base_url and is_loopback_host(_origin(url)[0]) and not environment_names(url, env):
        return Endpoint(base_url=url, kind=kind, key_note=_loopback_key_note(url))
    if api_key_env:
        candidates = [api_key_env]
    elif kind in _KEY_VAR_BY_KIND:
        candidates = [_KEY_VAR_BY_KIND[kind]]
    else:
        candidates = [CODESTRAL_KEY_VAR, MISTRAL_KEY_VAR]
    for var in candidates:
        key = key_from(var)
        if key is not None:
            REDACTOR.add(key)
            return Endpoint(base_url=url, kind=kind, key_source=var, api_key=key)
    return Endpoint(base_url=url, kind=kind)
