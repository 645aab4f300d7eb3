"""Which model and settings an agent runs with: magic options > binding > front matter > the default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .bindings import Binding
from .definitions import AgentDefinition

MODEL_ALIASES = {
    "sonnet": "anthropic:claude-sonnet-4-6",
    "opus": "anthropic:claude-opus-4-8",
    "haiku": "anthropic:claude-haiku-4-5",
    "fable": "anthropic:claude-fable-5",
}


# a bare model id in an agent file (Claude Code writes Anthropic ids without a provider): whose it is
_BARE_ID_PROVIDERS = (("claude-", "anthropic"), ("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"),
                      ("o4", "openai"), ("gemini-", "gemini"))


def model_id(model: str, aliases: Mapping[str, str]) -> str:
    """An alias, a full `provider:model` id, or a bare id whose provider its prefix tells."""
    model = aliases.get(model, model)
    if ":" not in model:
        provider = next((p for prefix, p in _BARE_ID_PROVIDERS if model.startswith(prefix)), None)
        if provider:
            return f"{provider}:{model}"
    return model


@dataclass(frozen=True)
class ResolvedAgent:
    name: str
    model_id: str
    system_prompt: str
    temperature: float | None = None
    max_tokens: int | None = None
    fallbacks: tuple[str, ...] = ()
    search: bool = False
    budget_usd: float | None = None
    tools: tuple[str, ...] = ()


def resolve_agent(definition: AgentDefinition, binding: Binding | None, options: Mapping[str, Any],
                  default_model: str, model_aliases: Mapping[str, str] | None = None) -> ResolvedAgent:
    """`options` holds the magic's own choices (model, temperature, max_tokens, fallbacks, search); None = unset."""
    binding = binding or Binding()
    aliases = {**MODEL_ALIASES, **(model_aliases or {})}

    def first(*values: Any) -> Any:
        return next((v for v in values if v is not None), None)

    front_model = None if definition.model in (None, "inherit") else definition.model
    model = model_id(first(options.get("model"), binding.model, front_model) or default_model, aliases)
    search = bool(first(options.get("search"), binding.search, False))
    if search and not model.startswith("search:"):
        model = f"search:{model}"
    return ResolvedAgent(
        name=definition.name, model_id=model, system_prompt=definition.system_prompt,
        temperature=first(options.get("temperature"), binding.temperature),
        max_tokens=first(options.get("max_tokens"), binding.max_tokens),
        fallbacks=tuple(first(options.get("fallbacks"), binding.fallbacks) or ()),
        search=search, budget_usd=first(options.get("budget_usd"), binding.budget_usd), tools=definition.tools)
