"""The settings object: typed, documented defaults, validated key by key.

Sources, lowest precedence first: the defaults below, ``initializationOptions`` (the settings
object itself, or ``{"codestral": {...}}``), then the ``codestral`` section of
``workspace/configuration``. Keys are camelCase in JSON (``maxTokens``) and snake_case here
(``max_tokens``). Secrets never live here: only the *name* of the variable holding the key
(``apiKeyEnv``).

A wrong value never stops the server: :func:`parse_settings` keeps the default for that key and
returns a sentence naming it, which the server shows to the user.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from codestral_lsp.api.types import RetryPolicy, Timeouts

ActionMode = Literal["replace", "explain", "insertAfter"]
"""What becomes of a custom action's answer (the built-in actions add theirs: ``actions.Mode``)."""
FimApi = Literal["auto", "mistral", "openai", "llamacpp"]


def _bounds(minimum: float | None = None, maximum: float | None = None) -> dict[str, Any]:
    """A numeric setting's range, checked by :func:`parse_settings` (what each setting means is
    the README's Configuration table, checked against these classes by the settings tests)."""
    return {"minimum": minimum, "maximum": maximum}


@dataclass(frozen=True)
class TimeoutSettings:
    """Time limits, in seconds, for explicit actions (defaults: the API client's, one source)."""

    connect: float = field(default=Timeouts.connect, metadata=_bounds(0.1, 300))
    first_byte: float = field(default=Timeouts.first_byte, metadata=_bounds(0.1, 3600))
    idle: float = field(default=Timeouts.idle, metadata=_bounds(0.1, 3600))

    def to_api(self) -> Timeouts:
        """The client's form."""
        return Timeouts(connect=self.connect, first_byte=self.first_byte, idle=self.idle)


@dataclass(frozen=True)
class RetrySettings:
    """Retries of 429, 5xx and connection failures (defaults: the API client's)."""

    max_attempts: int = field(default=RetryPolicy.max_attempts, metadata=_bounds(1, 20))
    initial_delay: float = field(default=RetryPolicy.initial_delay, metadata=_bounds(0, 60))
    max_delay: float = field(default=RetryPolicy.max_delay, metadata=_bounds(0, 600))
    total_seconds: float = field(default=RetryPolicy.total_seconds, metadata=_bounds(0, 3600))

    def to_api(self) -> RetryPolicy:
        """The client's form."""
        return RetryPolicy(
            max_attempts=self.max_attempts,
            initial_delay=self.initial_delay,
            max_delay=self.max_delay,
            total_seconds=self.total_seconds,
        )


DEFAULT_BUDGET_TOKENS = 6000  # the context budget when the model's window is not known (and its floor)


@dataclass(frozen=True)
class ContextSettings:
    """How much surrounding code the model sees."""

    budget_tokens: int | None = field(default=None, metadata=_bounds(0, 1_000_000))
    window_fraction: float = field(default=0.1, metadata=_bounds(0, 0.5))
    chars_per_token: float = field(default=3.5, metadata=_bounds(1, 10))
    nearby_lines: int = field(default=30, metadata=_bounds(0, 1000))
    workspace: bool = True
    exclude: tuple[str, ...] = ()

    @property
    def budget_chars(self) -> int:
        """The budget in characters (:data:`DEFAULT_BUDGET_TOKENS` when it is not set: a job's
        snapshot has it set, from :func:`codestral_lsp.models.context_budget`)."""
        tokens = self.budget_tokens if self.budget_tokens is not None else DEFAULT_BUDGET_TOKENS
        return int(tokens * self.chars_per_token)


@dataclass(frozen=True)
class CustomAction:
    """An action defined by the user: a prompt template and what to do with the answer."""

    id: str = ""
    title: str = ""
    prompt: str = ""
    mode: ActionMode = "replace"
    model: str | None = None


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: float = field(default=0.0, metadata=_bounds(0, 1e6))
    output: float = field(default=0.0, metadata=_bounds(0, 1e6))


# Built-in defaults (USD per 1M tokens, input/output) from Mistral's 2026 price list; the
# ``prices`` setting overrides them model by model. Aliases share their model's price.
DEFAULT_PRICES: dict[str, Price] = {
    "codestral-latest": Price(0.3, 0.9),
    "codestral-2508": Price(0.3, 0.9),
    "devstral-latest": Price(0.4, 2.0),
    "devstral-2512": Price(0.4, 2.0),
    "devstral-medium-latest": Price(0.4, 2.0),
    "devstral-small-latest": Price(0.1, 0.3),
    "mistral-large-latest": Price(0.5, 1.5),
    "mistral-large-2512": Price(0.5, 1.5),
    "mistral-medium-latest": Price(0.4, 2.0),
    "mistral-medium-2508": Price(0.4, 2.0),
    "mistral-small-latest": Price(0.1, 0.3),
    "mistral-small-2506": Price(0.1, 0.3),
}


@dataclass(frozen=True)
class CompletionSettings:
    """Inline (ghost-text) completion from the fill-in-the-middle endpoint."""

    enabled: bool = True
    debounce_ms: int = field(default=200, metadata=_bounds(0, 5000))
    max_tokens: int = field(default=128, metadata=_bounds(1, 4096))
    model: str | None = None
    api: FimApi = "auto"
    prefix_chars: int = field(default=6000, metadata=_bounds(0, 400000))
    suffix_chars: int = field(default=2000, metadata=_bounds(0, 400000))
    context_tokens: int = field(default=400, metadata=_bounds(0, 8000))
    timeout: float = field(default=5.0, metadata=_bounds(0.1, 120))
    chat_fallback: bool = False
    fallback_completion_item: bool = True


@dataclass(frozen=True)
class Settings:
    """Everything a user can set. See the README's Configuration section for each key."""

    base_url: str | None = None
    model: str = "codestral-latest"
    api_key_env: str | None = None
    temperature: float = field(default=0.2, metadata=_bounds(0, 1.5))
    max_tokens: int = field(default=4096, metadata=_bounds(1, 262144))
    timeouts: TimeoutSettings = field(default_factory=TimeoutSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    predicted_outputs: bool | Literal["auto"] = "auto"
    retry_on_elision: bool = True
    review: Literal["auto", "always", "never"] = "auto"
    review_expiry_seconds: float = field(default=900.0, metadata=_bounds(1, 86400))
    models: dict[str, str] = field(
        default_factory=dict,
    )
    actions: tuple[CustomAction, ...] = ()
    prices: dict[str, Price] = field(default_factory=dict)
    completion: CompletionSettings = field(default_factory=CompletionSettings)

    def price_for(self, model: str) -> Price | None:
        """The user's price for a model, else the built-in one, else ``None``."""
        return self.prices.get(model) or DEFAULT_PRICES.get(model)

    def model_for(self, action_id: str, own: str | None = None) -> str:
        """The model an action uses: its own ``model`` (custom actions), else ``models[id]``,
        else ``model``."""
        return own or self.models.get(action_id) or self.model

    def action(self, action_id: str) -> CustomAction | None:
        """The user-defined action with this id."""
        return next((a for a in self.actions if a.id == action_id), None)


def camel(name: str) -> str:
    """``first_byte`` → ``firstByte``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _type_name(tp: Any) -> str:
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if get_origin(tp) is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    return "an object"


class _Problems(list[str]):
    def add(self, path: str, what: str, default: Any) -> None:
        shown = "none" if default is None else repr(default)
        self.append(f"Setting {path}: {what}; using the default ({shown}).")


_MISSING = object()


def _shown(value: Any) -> str:
    """A value for a warning, cut short (a setting can be megabytes long)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"… ({len(text):,} characters)"


def _finite(value: float) -> bool:
    """True for a number a float can hold that is neither NaN nor infinite (JSON allows both)."""
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _convert(tp: Any, value: Any, path: str, problems: _Problems, meta: dict[str, Any], default: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(options) < len(get_args(tp)):
            return None
        for option in options:
            trial = _Problems()
            converted = _convert(option, value, path, trial, meta, default)
            if not trial:
                return converted
        if len(options) == 1:
            return _convert(options[0], value, path, problems, meta, default)
        expected = " or ".join(_type_name(o) for o in options)
        problems.add(path, f"expected {expected}, got {_shown(value)}", default)
        return default
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if value == []:  # an empty Lua table (Neovim) or PHP-style array encodes as []
            value = {}
        if not isinstance(value, dict):
            problems.add(path, f"expected an object, got {_shown(value)}", "defaults")
            return default
        return _build(tp, value, path, problems)
    if origin is tuple:
        (item_type, _) = get_args(tp)
        if not isinstance(value, list):
            problems.add(path, f"expected a list, got {_shown(value)}", default)
            return default
        items = []
        for index, item in enumerate(value):
            sub = _Problems()
            built = _convert(item_type, item, f"{path}[{index}]", sub, {}, _MISSING)
            if sub or built is _MISSING:
                problems.extend(p.replace("using the default", "skipping this entry") for p in sub)
                continue
            items.append(built)
        return tuple(items)
    if origin is dict:
        (_, item_type) = get_args(tp)
        if value == []:
            value = {}
        if not isinstance(value, dict):
            problems.add(path, f"expected an object, got {_shown(value)}", default)
            return default
        return {
            str(k): _convert(item_type, v, f"{path}.{k}", problems, {}, item_type()) for k, v in value.items()
        }
    if origin is Literal:
        if value in get_args(tp):
            return value
        problems.add(path, f"expected {_type_name(tp)}, got {_shown(value)}", default)
        return default
    ok = (
        (tp is bool and isinstance(value, bool))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (tp is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (tp is str and isinstance(value, str))
    )
    if not ok:
        problems.add(path, f"expected {_type_name(tp)}, got {_shown(value)}", default)
        return default
    if tp is float and not _finite(value):
        problems.add(path, f"expected a finite number, got {_shown(value)}", default)
        return default
    low, high = meta.get("minimum"), meta.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        problems.add(path, f"{_shown(value)} is outside {low}…{high}", default)
        return default
    return float(value) if tp is float else value


def _build(cls: type, raw: dict[str, Any], path: str, problems: _Problems) -> Any:
    hints = get_type_hints(cls)
    by_key = {camel(f.name): f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        spec = by_key.get(key) or next((f for f in dataclasses.fields(cls) if f.name == key), None)
        if spec is None:
            problems.append(f"Setting {path}.{key} is not a known setting; it is ignored.")
            continue
        if spec.default is not dataclasses.MISSING:
            default = spec.default
        elif spec.default_factory is not dataclasses.MISSING:
            default = spec.default_factory()
        else:  # pragma: no cover - every field has a default
            default = None
        values[spec.name] = _convert(
            hints[spec.name], value, f"{path}.{camel(spec.name)}", problems, dict(spec.metadata), default
        )
    return cls(**values)


_ACTION_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
# The built-in actions' ids (codestral_lsp.actions.BUILTIN_ACTIONS; a test keeps them equal).
BUILTIN_ACTION_IDS = ("explain", "review", "refactor", "fix", "document", "tests", "edit")


def _check_models(settings: Settings, problems: list[str]) -> dict[str, str]:
    """``models`` without the keys that name no action (each reported)."""
    known = [*BUILTIN_ACTION_IDS, *(a.id for a in settings.actions)]
    kept: dict[str, str] = {}
    for action_id, model in settings.models.items():
        if action_id not in known:
            problems.append(
                f"Setting codestral.models.{action_id}: there is no action {action_id!r} "
                f"(known: {', '.join(known)}); it is ignored."
            )
        elif not model.strip():
            problems.append(f"Setting codestral.models.{action_id}: the model is empty; it is ignored.")
        else:
            kept[action_id] = model
    return kept


def _check_actions(actions: tuple[CustomAction, ...], problems: list[str]) -> tuple[CustomAction, ...]:
    kept: list[CustomAction] = []
    for action in actions:
        if not _ACTION_ID.match(action.id):
            problems.append(
                f"Setting codestral.actions: an action needs an id of letters, digits, '.', '-' or "
                f"'_' (got {_shown(action.id)}); skipping it."
            )
        elif not action.prompt.strip():
            problems.append(
                f"Setting codestral.actions: action {_shown(action.id)} has no prompt; skipping it."
            )
        elif any(a.id == action.id for a in kept):
            problems.append(
                f"Setting codestral.actions: action id {_shown(action.id)} is used twice; keeping the first."
            )
        else:
            kept.append(dataclasses.replace(action, title=action.title or action.id))
    return tuple(kept)


def unwrap_section(raw: Any) -> Any:
    """The ``codestral`` settings in a raw object: the settings object itself, or its
    ``codestral`` section when it is sectioned (``{"codestral": {...}, "python": {...}}``, as
    clients that push every server's settings send). An object of sections none of which is
    ours (no key is a setting, every value an object) holds nothing for us: ``None``."""
    if not isinstance(raw, dict):
        return raw
    if isinstance(raw.get("codestral"), dict | list):
        return raw["codestral"]
    known = {camel(f.name) for f in dataclasses.fields(Settings)}
    if raw and not known & set(raw) and all(isinstance(v, dict) for v in raw.values()):
        return None
    return raw


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge two raw settings objects; ``override`` wins key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_settings(*sources: Any) -> tuple[Settings, list[str]]:
    """Build :class:`Settings` from raw sources, later ones winning; return it and the problems."""
    problems = _Problems()
    raw: dict[str, Any] = {}
    for source in sources:
        source = unwrap_section(source)
        if source is None or source == []:  # [] is how an empty Lua table encodes: no settings
            continue
        if not isinstance(source, dict):
            problems.append(f"Settings for codestral must be an object, got {_shown(source)}; ignoring them.")
            continue
        raw = merge(raw, source)
    settings: Settings = _build(Settings, raw, "codestral", problems)
    settings = dataclasses.replace(settings, actions=_check_actions(settings.actions, problems))
    settings = dataclasses.replace(settings, models=_check_models(settings, problems))
    return settings, list(problems)
