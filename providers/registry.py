"""The provider factory: parses `provider:model` ids and aliases, finds providers (built in, registered at run
time, or from the `coditect_magics.providers` entry-point group) and reports which are usable."""

from __future__ import annotations

import importlib
import os
import re
import socket
import threading
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Union
from urllib.parse import urlsplit

from . import errors
from .base import Provider, ProviderSpec, Settings
from .handle import LLM
from .output import OutputMode

BUILTIN = ("anthropic", "openai", "gemini", "huggingface", "ollama", "lmstudio", "local", "search")
ENTRY_POINT_GROUP = "coditect_magics.providers"

# The one alias table: the kit's names, then Claude Code's agent model names (the newest of each family in
# genai-prices' bundled data and the anthropic SDK's model list, November 2026). A session overlays its own.
ALIASES: dict[str, str] = {
    "claude": "anthropic:claude-sonnet-4-6",
    "gpt": "openai:gpt-4.1-mini",
    "llama": "ollama:llama3.2",
    "sonnet": "anthropic:claude-sonnet-5-5",
    "opus": "anthropic:claude-opus-5-5",
    "haiku": "anthropic:claude-haiku-5-5",
    "fable": "anthropic:claude-fable-5-2",
}
# a bare vendor model name as Claude Code files write it (claude-opus-4-8, gpt-4.1, gemini-2.5-pro) → its provider
_BARE_MODELS = ((re.compile(r"^claude-"), "anthropic"), (re.compile(r"^(gpt-|chatgpt-|o\d)"), "openai"),
                (re.compile(r"^gemini-"), "gemini"))

Factory = Union[type[Provider], Callable[[Settings], Provider]]


@dataclass(frozen=True)
class Entry:
    spec: ProviderSpec
    factory: Factory


@dataclass(frozen=True)
class Availability:
    """One row of `available()`: can this provider be called now, and if not, why."""

    name: str
    usable: bool
    reason: str
    default_model: str
    description: str
    endpoint: str = ""       # the base URL calls will use; "" means the SDK's own default
    endpoint_env: str = ""   # the variable that sets it


_lock = threading.Lock()
_entries: dict[str, Entry] = {}
_entry_points_loaded = False


def _builtin(name: str) -> Entry:
    module = importlib.import_module(f"{__package__}.{name}")
    return Entry(module.PROVIDER.spec, module.PROVIDER)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _entries and ep.name not in BUILTIN:
            try:
                register(ep.name, ep.load())
            except Exception as exc:  # a broken plugin must not break the kit
                import warnings
                warnings.warn(f"provider plugin {ep.name!r} failed to load: {exc}", stacklevel=2)


def register(name: str, factory: Factory, *, default_model: str = "", description: str = "") -> None:
    """Add a provider at run time. `factory` is a Provider subclass or a callable taking Settings."""
    spec = getattr(factory, "spec", None)
    if isinstance(spec, ProviderSpec):
        spec = replace(spec, name=name, default_model=default_model or spec.default_model)
    else:
        spec = ProviderSpec(name=name, default_model=default_model, description=description or "registered at run time",
                            key_required=False)
    with _lock:
        _entries[name] = Entry(spec, factory)


def names() -> list[str]:
    """Every known provider name: built in first, then registered ones."""
    _load_entry_points()
    return list(BUILTIN) + [n for n in _entries if n not in BUILTIN]


def entry(name: str) -> Entry:
    with _lock:
        found = _entries.get(name)
    if found:
        return found
    if name in BUILTIN:
        found = _builtin(name)
        with _lock:
            _entries.setdefault(name, found)
        return found
    _load_entry_points()
    if name in _entries:
        return _entries[name]
    raise errors.UnknownProvider(
        f"unknown provider {name!r}; known providers: {', '.join(names())}; aliases: {', '.join(sorted(ALIASES))}")


def qualify(model_id: str, aliases: Mapping[str, str] | None = None) -> str:
    """An alias (the kit's table overlaid with `aliases`), a bare vendor model name or a full id → the id to call.
    A name it does not know passes unchanged, for `resolve` to report."""
    table = {**ALIASES, **(aliases or {})}
    model = model_id.strip()
    for _ in range(5):  # an alias may name another alias
        if model not in table or (model in BUILTIN and model not in (aliases or {})):
            break
        model = table[model].strip()
    if ":" not in model:
        for pattern, provider in _BARE_MODELS:
            if pattern.match(model):
                return f"{provider}:{model}"
    return model


def resolve(model_id: str) -> tuple[str, str]:
    """`provider:model`, a bare provider (its default model) or an alias → (provider, model)."""
    model_id = model_id.strip()
    if not model_id:
        raise errors.UnknownProvider(f"no model given; use provider:model with one of: {', '.join(names())}")
    if model_id in ALIASES and model_id not in BUILTIN:
        model_id = ALIASES[model_id]
    provider, _, model = model_id.partition(":")
    spec = entry(provider).spec
    model = model or spec.default_model
    if not model:
        raise errors.UnknownProvider(f"provider {provider!r} has no default model: use {provider}:MODEL")
    return provider, model


_PARAMS = ("temperature", "max_tokens", "stop")
_SETTINGS = ("api_key", "base_url", "timeout", "options")


def get(model_id: str, **kwargs: Any) -> LLM:
    """A handle on a model: `get("anthropic:claude-sonnet-4-6", temperature=0.2, max_tokens=512)`.
    Keyword arguments: temperature, max_tokens, stop, api_key, base_url, timeout, options."""
    unknown = set(kwargs) - set(_PARAMS) - set(_SETTINGS)
    if unknown:
        raise TypeError(f"unknown argument(s) {', '.join(sorted(unknown))}; accepted: {', '.join(_PARAMS + _SETTINGS)}")
    provider, model = resolve(model_id)
    found = entry(provider)
    settings = Settings(**{k: v for k, v in kwargs.items() if k in _SETTINGS and v is not None})
    params = {k: v for k, v in kwargs.items() if k in _PARAMS and v is not None}
    return LLM(found.spec, found.factory, model, settings, params)


def _reachable(url: str, timeout: float = 0.3) -> bool:
    parts = urlsplit(url if "//" in url else f"http://{url}")
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout):
            return True
    except OSError:
        return False


def status(name: str, settings: Settings | None = None, *, wrapped: str | None = None) -> Availability:
    """Whether one provider can be called now, checked without importing its SDK. A wrapper (search) is usable
    only when the model it wraps is: `wrapped` (default: the first usable provider's default model, else the
    wrapper's own default), which its row gives as its default model; `settings` then belong to that model."""
    settings = settings or Settings()
    spec = entry(name).spec
    if spec.wraps:
        inner = wrapped or _first_usable({}) or spec.default_model
        return _wrapper(name, spec, inner, lambda provider: status(provider, settings))
    row = lambda usable, reason: Availability(name, usable, reason, spec.default_model, spec.description,  # noqa: E731
                                              spec.base_url(settings) or "", spec.base_url_env)
    missing = spec.missing_modules()
    if missing:
        return row(False, f"{', '.join(missing)} not installed: {spec.install_hint()}")
    reason = spec.unusable_reason(settings)
    if reason:
        return row(False, reason)
    if spec.needs_key(settings) and not spec.key(settings):
        return row(False, f"{' or '.join(spec.key_env)} not set")
    if spec.probe_server:
        url = spec.base_url(settings)
        if not _reachable(url):
            return row(False, f"{spec.description.split(' server')[0]} not reachable at {url}")
        return row(True, f"server at {url}")
    if spec.key(settings):
        source = (settings.key_source or "api_key=") if settings.api_key else next(
            (v for v in spec.key_env if os.environ.get(v)), "saved credentials")
        return row(True, f"key from {source}")
    return row(True, "ready")


def _wrapper(name: str, spec: ProviderSpec, inner: str, base_status: Callable[[str], Availability]) -> Availability:
    """A wrapper's row: its own SDK first, then the status of the model it wraps (`base_status(provider)`)."""
    try:
        provider, model = resolve(inner)
    except errors.UnknownProvider as exc:
        return Availability(name, False, f"wraps {inner}: {exc}", inner, spec.description)
    inner = f"{provider}:{model}"
    missing = spec.missing_modules()
    if missing:
        return Availability(name, False, f"{', '.join(missing)} not installed: {spec.install_hint()}", inner,
                            spec.description)
    if entry(provider).spec.wraps:
        return Availability(name, False, f"{name} cannot wrap {inner}: name a model, as {name}:openai:gpt-4.1-mini",
                            inner, spec.description)
    base = base_status(provider)
    reason = f"wraps {inner} ({base.reason})" if base.usable else f"wraps {inner}, but {provider} is not usable: " \
                                                                  f"{base.reason}"
    return Availability(name, base.usable, reason, inner, spec.description, base.endpoint, base.endpoint_env)


def _first_usable(rows: Mapping[str, Availability], settings: Mapping[str, Settings] | None = None) -> str | None:
    """`provider:default model` of the first usable provider that wraps none (`rows`: the ones already checked)."""
    for name in names():
        if entry(name).spec.wraps:
            continue
        row = rows.get(name) or status(name, (settings or {}).get(name))
        if row.usable:
            return f"{name}:{row.default_model}"
    return None


def available(settings: dict[str, Settings] | None = None, *, wrapped: str | None = None) -> list[Availability]:
    """One row per provider: name, usable, reason (what to install or set when it is not), endpoint; `settings`
    gives a provider's connection settings (a base URL set in the notebook, say) by name. `wrapped`: the model a
    wrapper (search) wraps, e.g. the session's default model (default: the first usable provider's)."""
    settings = settings or {}
    rows = {name: status(name, settings.get(name)) for name in names() if not entry(name).spec.wraps}
    for name in names():
        spec = entry(name).spec
        if not spec.wraps:
            continue
        own = settings.get(name)  # a wrapper's own settings belong to the model it wraps

        def base_status(provider: str, own: Settings | None = own) -> Availability:
            return status(provider, own) if own is not None else rows.get(provider) or status(provider)

        rows[name] = _wrapper(name, spec, wrapped or _first_usable(rows) or spec.default_model, base_status)
    return [rows[name] for name in names()]


ANY_VISION = "anthropic:claude-sonnet-4-6, openai:gpt-4.1-mini or gemini"  # suggested where a spec names none


def accepts_images(model_id: str) -> bool | None:
    """Whether a model (an id `resolve` takes) reads images: True, False, or None when only its server can say."""
    provider, model = resolve(model_id)
    return entry(provider).spec.accepts_images(model)


def require_images(model_id: str) -> None:
    """A one-line BadRequest naming the model, and vision models that would do, when it cannot read images."""
    provider, model = resolve(model_id)
    spec = entry(provider).spec
    if spec.accepts_images(model) is False:
        raise errors.BadRequest(f"{provider}:{model} does not accept images; use a vision model such as "
                                f"{spec.vision_models or ANY_VISION}")


def context_window(model_id: str) -> int | None:
    """A model's input limit in tokens as its provider's spec knows it; None when unknown (or no such provider)."""
    try:
        provider, model = resolve(model_id)
    except errors.UnknownProvider:
        return None
    return entry(provider).spec.context_window(model)


def output_mode(model_id: str, tools: bool = False) -> OutputMode | None:
    """How a model (an id `resolve` takes) is held to an output schema (`tools`: in a request with tools):
    "json_schema", "tool", "grammar", or None when it cannot be (or there is no such provider): the caller then
    asks in the prompt and validates."""
    try:
        provider, model = resolve(model_id)
    except errors.UnknownProvider:
        return None
    return entry(provider).spec.output_mode(model, tools)
