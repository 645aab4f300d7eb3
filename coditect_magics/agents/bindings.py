"""Bindings: a YAML file mapping each agent to provider, model and settings
(default `./.claude/config/agent-llm-bindings.yaml`). A malformed file or entry is named with its line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .frontmatter_text import FrontMatterError, as_list

BindingFileError = FrontMatterError


@dataclass(frozen=True)
class Binding:
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    fallbacks: tuple[str, ...] = ()
    search: bool | None = None
    budget_usd: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


_FIELDS = {"provider", "model", "temperature", "max_tokens", "fallbacks", "search", "budget_usd"}


def _entry(path: Path, agent: str, node: Any, values: Mapping[str, Any]) -> Binding:
    """One agent's binding; `node` is the YAML node, for line numbers."""
    lines = {k.value: k.start_mark.line + 1 for k, _ in getattr(node, "value", [])}

    def number(key: str, kind: type) -> Any:
        if values.get(key) in (None, ""):
            return None
        try:
            return kind(values[key])
        except (TypeError, ValueError):
            raise BindingFileError(path, lines.get(key, node.start_mark.line + 1),
                                   f"{agent}.{key} must be a number, not {values[key]!r}") from None

    model, provider = values.get("model"), values.get("provider")
    if provider and model and ":" not in str(model):
        model = f"{provider}:{model}"
    elif provider and not model:
        model = str(provider)
    search = values.get("search")
    return Binding(model=str(model) if model else None, temperature=number("temperature", float),
                   max_tokens=number("max_tokens", int), fallbacks=as_list(values.get("fallbacks")),
                   search=None if search is None else bool(search), budget_usd=number("budget_usd", float),
                   extra={k: v for k, v in values.items() if k not in _FIELDS})


def load_bindings(path: Path | str) -> tuple[dict[str, Binding], list[BindingFileError]]:
    """Agent name → Binding, and the errors of entries that could not be read (the others still load).
    A missing file binds nothing; YAML that does not parse raises BindingFileError with its line."""
    import yaml

    path = Path(path)
    if not path.exists():
        return {}, []
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise BindingFileError(path, (mark.line + 1) if mark else 1, str(exc.problem or exc)) from None
    if not isinstance(data, dict):
        raise BindingFileError(path, 1, "bindings must map agent names to settings")
    nodes = {k.value: v for k, v in root.value} if root is not None else {}
    bindings, errors = {}, []
    for agent, values in data.items():
        node = nodes.get(str(agent))
        if not isinstance(values, dict):
            errors.append(BindingFileError(path, node.start_mark.line + 1 if node else 1,
                                           f"{agent} must map to settings (model, temperature, ...)"))
            continue
        try:
            bindings[str(agent)] = _entry(path, str(agent), node, values)
        except BindingFileError as exc:
            errors.append(exc)
    return bindings, errors
