"""Which model and settings an agent runs with.

Precedence, highest first: the magic's options > the agent's binding > the agent's front matter > the bindings
file's `defaults` entry > the kit's default model. Only `model` exists at every level; temperature, max_tokens,
fallbacks, search and budget come from options, binding or defaults.

Model names: an alias (`sonnet`, `opus`, `haiku`, `fable`, or one of `model_aliases`) maps through the registry's
one alias table (`providers.registry.qualify`);
`inherit` (and an empty value) means "not set here"; a bare Anthropic, OpenAI or Gemini model name as Claude Code
files write it (`claude-opus-4-8`, `gpt-4.1`, `gemini-2.5-pro`) gets its provider; a full `provider:model` id
passes through. With search on, the id and the fallbacks are wrapped as `search:<id>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from coditect_magics.providers.registry import qualify

from .bindings import Binding
from .definitions import AgentDefinition

INHERIT = ("inherit", "default")
_OPTION_KEYS = ("model", "temperature", "max_tokens", "fallbacks", "search", "budget_usd")


@dataclass(frozen=True)
class ResolvedAgent:
    """What a run of the agent uses. `model_id` is "" when nothing named a model and there is no default (the
    caller then picks the first usable provider). `origin` says where each setting came from: "options",
    "binding", "front matter", "defaults", "default"."""

    name: str
    model_id: str
    system_prompt: str
    temperature: float | None = None
    max_tokens: int | None = None
    fallbacks: tuple[str, ...] = ()
    search: bool = False
    budget_usd: float | None = None
    tools: tuple[str, ...] = ()
    memory_items: int | None = None        # None: the kernel's setting (CoditectMagics.memory_context)
    memory_min_score: float | None = None
    allow: str | None = None               # what its tools may do beyond reading (write, bash), from its binding
    origin: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def params(self) -> dict[str, Any]:
        """The sampling settings its calls pass (those it sets: the provider's own defaults stand for the rest)."""
        return {k: v for k, v in {"temperature": self.temperature, "max_tokens": self.max_tokens}.items()
                if v is not None}


def resolve_agent(definition: AgentDefinition, binding: Binding | None = None,
                  options: Mapping[str, Any] | None = None, default_model: str | None = None,
                  model_aliases: Mapping[str, str] | None = None, *,
                  defaults: Binding | None = None) -> ResolvedAgent:
    """The settings for one run. `options` holds the magic's choices (model, temperature, max_tokens, fallbacks
    as a list or a comma string, search, budget_usd; None or absent = not given; other keys are ignored, so
    `vars(parsed_args)` will do). `defaults` is the bindings file's `defaults` entry (`bindings.defaults`)."""
    options = {k: v for k, v in (options or {}).items() if k in _OPTION_KEYS and v is not None}
    levels: list[tuple[str, Mapping[str, Any]]] = [("options", options)]
    if binding is not None:
        levels.append(("binding", _settings(binding)))
    levels.append(("front matter", {"model": definition.model}))
    if defaults is not None:
        levels.append(("defaults", _settings(defaults)))
    levels.append(("default", {"model": default_model}))
    origin: dict[str, str] = {}

    def pick(key: str, skip: tuple[Any, ...] = (None,)) -> Any:
        for where, values in levels:
            value = values.get(key)
            if value not in skip and not (isinstance(value, str) and value.strip().lower() in INHERIT + ("",)):
                origin[key] = where
                return value
        return None

    model, prefixed = _unwrap(str(pick("model") or ""))
    search = pick("search")
    if search is None and prefixed:  # `search:<id>` given as the model turns search on at that level
        search, origin["search"] = True, origin.get("model", "")
    fallbacks = pick("fallbacks", skip=(None, (), [], ""))
    if isinstance(fallbacks, str):
        fallbacks = [f for f in fallbacks.split(",") if f.strip()]
    fallback_ids = tuple(_wrap(qualify(_unwrap(str(f))[0], model_aliases), bool(search)) for f in fallbacks or ())
    model_id = _wrap(qualify(model, model_aliases), bool(search)) if model else ("search" if search else "")
    return ResolvedAgent(
        name=definition.name, model_id=model_id, system_prompt=definition.system_prompt,
        temperature=_maybe(float, pick("temperature")), max_tokens=_maybe(int, pick("max_tokens")),
        fallbacks=fallback_ids, search=bool(search), budget_usd=_maybe(float, pick("budget_usd")),
        tools=definition.tools, memory_items=_maybe(int, pick("memory_items")),
        memory_min_score=_maybe(float, pick("memory_min_score")), allow=pick("allow"), origin=origin)


def _settings(binding: Binding) -> dict[str, Any]:
    return {"model": binding.model_id, "temperature": binding.temperature, "max_tokens": binding.max_tokens,
            "fallbacks": binding.fallbacks, "search": binding.search, "budget_usd": binding.budget_usd,
            "memory_items": binding.memory_items, "memory_min_score": binding.memory_min_score,
            "allow": binding.allow}


def _unwrap(model: str) -> tuple[str, bool]:
    """(`model` without `search:` prefixes, whether it had one)."""
    model, prefixed = model.strip(), False
    while model.startswith("search:"):
        model, prefixed = model[len("search:"):], True
    return model, prefixed


def _wrap(model: str, search: bool) -> str:
    return f"search:{model}" if search and model else model


def _maybe(kind: type, value: Any) -> Any:
    return None if value is None else kind(value)
