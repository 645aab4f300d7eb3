"""Bindings: which model and settings each agent runs with, from a YAML file (default
`./.claude/config/agent-llm-bindings.yaml`).

Two layouts are read. Flat:

    code-reviewer:
      model: anthropic:claude-opus-4-8      # or provider: anthropic + model: claude-opus-4-8
      temperature: 0.2
      max_tokens: 4000
      fallbacks: [openai:gpt-4.1, ollama:llama3.2]
      search: false
      budget_usd: 0.50
      memory_items: 5                       # memories added to its system prompt (0: none)
      memory_min_score: 0.35                # only those at least this close (0..1)
      allow: write                          # runs without asking: run, write, bash, mcp (a list) or all
    researcher: gemini:gemini-2.5-flash      # shorthand: just a model id

and CODITECT's own, with the entries under `agents:` and optional `defaults:` (provider names such as
`anthropic-claude`, `openai-gpt`, `google-gemini` are understood; `provider: search-augmented` with
`base_provider`, `search_enabled: true` or `metadata: {search_augmented: true}` turn search on). A top-level
`defaults:` entry applies to every agent, below the agent's own front matter (see `resolve`).

Keys other than provider, model, temperature, max_tokens, fallbacks, search, budget_usd, memory_items,
memory_min_score and allow are kept in `extra`.
YAML that does not parse raises BindingFileError naming the file and line; an entry with a bad value (temperature
"hot") is left out and reported in `errors` with its file, line and key, and the other entries still load.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from coditect_magics.tools.approval import PERMISSIONS

from .errors import BindingFileError

DEFAULT_PATH = Path(".claude/config/agent-llm-bindings.yaml")
KNOWN_KEYS = ("provider", "model", "temperature", "max_tokens", "fallbacks", "search", "budget_usd", "memory_items",
              "memory_min_score", "allow")
# The kit's providers (kept in step with coditect_magics.providers.registry.BUILTIN; a test checks), so that this
# module does not import the provider layer.
PROVIDERS = ("anthropic", "openai", "gemini", "huggingface", "ollama", "lmstudio", "local", "search")
PROVIDER_NAMES = {"anthropic-claude": "anthropic", "claude": "anthropic", "openai-gpt": "openai",
                  "google-gemini": "gemini", "google": "gemini", "lm-studio": "lmstudio", "hf": "huggingface",
                  "search-augmented": "search"}


@dataclass(frozen=True)
class Binding:
    """One agent's binding. None / () means "not set here": the next level of precedence decides."""

    agent: str
    provider: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    fallbacks: tuple[str, ...] = ()
    search: bool | None = None
    budget_usd: float | None = None
    memory_items: int | None = None
    memory_min_score: float | None = None
    allow: str | None = None            # "write", "bash" or "write,bash": what its tools may do beyond reading
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    source: Path | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)

    @property
    def model_id(self) -> str | None:
        """provider and model as one id: `anthropic:claude-opus-4-8`; a bare provider (`ollama`: its default
        model); a model alone as written (an alias such as `sonnet` is mapped later, by `resolve`)."""
        if not self.model:
            return self.provider
        if not self.provider or _provider_of(self.model) is not None:
            return self.model
        return f"{self.provider}:{self.model}"


class Bindings(Mapping[str, Binding]):
    """Agent name → Binding, with the file's `defaults` entry and the `errors` of entries left out."""

    def __init__(self, entries: Mapping[str, Binding] | None = None, *, path: Path | None = None,
                 defaults: Binding | None = None, errors: tuple[BindingFileError, ...] = ()) -> None:
        self._entries = dict(entries or {})
        self.path, self.defaults, self.errors = path, defaults, tuple(errors)

    def __getitem__(self, agent: str) -> Binding:
        return self._entries[agent]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def error_for(self, agent: str) -> BindingFileError | None:
        """The first error of this agent's entry, if it was left out: running the agent unbound would silently
        drop its settings (a budget, say), so a caller may prefer to show this error instead."""
        return next((e for e in self.errors if e.agent == agent), None)

    def __repr__(self) -> str:
        return f"Bindings({sorted(self._entries)!r}, path={str(self.path)!r}, errors={len(self.errors)})"


_cache: dict[str, tuple[tuple[int, int], Bindings]] = {}


def load_bindings(path: Path | str = DEFAULT_PATH) -> Bindings:
    """Read a bindings file (cached until its mtime or size changes). A missing file binds nothing."""
    path = Path(path).expanduser()
    try:
        info = os.stat(path)
    except OSError:
        return Bindings(path=path)
    key, stamp = str(path.absolute()), (info.st_mtime_ns, info.st_size)
    hit = _cache.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    bindings = parse_bindings(_read(path), path)
    _cache[key] = (stamp, bindings)
    return bindings


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BindingFileError(path, 1, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise BindingFileError(path, 1, f"cannot read the file: {exc.strerror or exc}") from None


def parse_bindings(text: str, path: Path | str = "<bindings>") -> Bindings:
    """`load_bindings` for text in memory; `path` names it in errors."""
    import yaml

    path = Path(path)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return Bindings(path=path)
        if not isinstance(root, yaml.MappingNode):
            raise BindingFileError(path, root.start_mark.line + 1,
                                   "a bindings file maps agent names to settings (model, temperature, ...)")
        errors: list[BindingFileError] = []
        top = _pairs(loader, root, path, "key", errors)
        if "agents" in top and isinstance(top["agents"][1], yaml.MappingNode):
            entries = _pairs(loader, top["agents"][1], path, "agent", errors)
        else:
            entries = top
        defaults = None
        if "defaults" in top:
            defaults = _entry(loader, path, "defaults", *top["defaults"], errors)
            entries.pop("defaults", None)
        bindings = {}
        for agent, (line, node) in entries.items():
            binding = _entry(loader, path, agent, line, node, errors)
            if binding is not None:
                bindings[agent] = binding
        return Bindings(bindings, path=path, defaults=defaults, errors=tuple(errors))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise BindingFileError(path, mark.line + 1 if mark else 1, f"invalid YAML: {problem}{context}") from None
    except yaml.YAMLError as exc:
        raise BindingFileError(path, 1, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _pairs(loader: Any, node: Any, path: Path, what: str,
           errors: list[BindingFileError]) -> dict[str, tuple[int, Any]]:
    """Key → (1-based line, value node) of a mapping node. A key given twice keeps its last value (as YAML does)
    and is reported in `errors`."""
    pairs: dict[str, tuple[int, Any]] = {}
    for key_node, value_node in node.value:
        key = str(loader.construct_document(key_node))
        line = key_node.start_mark.line + 1
        if key in pairs:
            errors.append(BindingFileError(path, line, f"{what} {key!r} is given twice (first on line "
                                                       f"{pairs[key][0]}); the last one is used"))
        pairs[key] = (line, value_node)
    return pairs


def _entry(loader: Any, path: Path, agent: str, line: int, node: Any,
           errors: list[BindingFileError]) -> Binding | None:
    """One agent's entry, or None after adding its errors to `errors`."""
    import yaml

    def fail(at: int, message: str) -> None:
        errors.append(BindingFileError(path, at, f"agent {agent!r}: {message}", agent=agent))

    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_document(node)
        if value in (None, ""):
            fail(line, "no settings (give a model id, or model:, temperature:, ...)")
            return None
        return _normalize(agent, {"model": str(value)}, path, line)
    if not isinstance(node, yaml.MappingNode):
        fail(line, "must map to settings (model, temperature, ...) or be a model id")
        return None
    fields = _pairs(loader, node, path, f"agent {agent!r}: key", errors)
    values: dict[str, Any] = {}
    bad = False
    for key, (key_line, value_node) in fields.items():
        try:
            value = loader.construct_document(value_node)
        except yaml.MarkedYAMLError as exc:  # e.g. an unknown !tag: this entry only
            fail(key_line, f"`{key}` cannot be read: {exc.problem or exc}")
            bad = True
            continue
        checked = _check(key, value)
        if isinstance(checked, _Bad):
            fail(key_line, f"`{key}` {checked.message}, not {value!r}")
            bad = True
        else:
            values[key] = checked
    if bad:
        return None
    binding = _normalize(agent, values, path, line)
    named = _provider_of(binding.model or "")
    if binding.provider and named and named != binding.provider:
        fail(fields["model"][0], f"`model` {binding.model!r} names provider {named!r}, but `provider` is "
                                 f"{binding.provider!r}")
        return None
    return binding


class _Bad:
    def __init__(self, message: str) -> None:
        self.message = message


def _check(key: str, value: Any) -> Any:
    """The value for a known key, converted, or _Bad; other keys pass unchanged."""
    if value is None or key not in KNOWN_KEYS:
        return value
    if key in ("provider", "model"):
        return str(value).strip() if isinstance(value, (str, int, float)) else _Bad("must be text")
    if key == "temperature":
        number = _number(value)
        return number if number is not None and 0 <= number <= 2 else _Bad("must be a number from 0 to 2")
    if key == "max_tokens":
        number = _number(value)
        ok = number is not None and number == int(number) and number > 0
        return int(number) if ok else _Bad("must be a whole number above 0")  # type: ignore[arg-type]
    if key == "budget_usd":
        number = _number(value.strip().lstrip("$") if isinstance(value, str) else value)
        return number if number is not None and number >= 0 else _Bad("must be an amount in dollars (0 or more)")
    if key == "memory_items":
        number = _number(value)
        ok = number is not None and number == int(number) and number >= 0
        return int(number) if ok else _Bad("must be a whole number, 0 or more")  # type: ignore[arg-type]
    if key == "memory_min_score":
        number = _number(value)
        return number if number is not None and 0 <= number <= 1 else _Bad("must be a number from 0 to 1")
    if key == "allow":
        words = value if isinstance(value, list) else str(value).replace(",", " ").split()
        chosen = [str(w).strip().lower() for w in words]
        chosen = list(PERMISSIONS) if "all" in chosen else chosen
        ok = chosen and all(w in PERMISSIONS for w in chosen)
        return ",".join(p for p in PERMISSIONS if p in chosen) if ok else _Bad(
            f"must be a list of {', '.join(PERMISSIONS)} or all")
    if key == "search":
        flag = _flag(value)
        return flag if flag is not None else _Bad("must be true or false")
    if key == "fallbacks":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            return _Bad("must be a list of model ids")
        return tuple(i.strip() for i in items)
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in ("true", "yes", "on", "1") else False if text in ("false", "no", "off", "0") else None


def _provider_of(model_id: str) -> str | None:
    prefix, sep, _ = model_id.partition(":")
    return prefix if sep and prefix in PROVIDERS else None


def _normalize(agent: str, values: dict[str, Any], path: Path, line: int) -> Binding:
    """A Binding from checked values: provider names mapped, `search:` prefixes and CODITECT's search flags
    turned into `search=True`."""
    provider = values.get("provider")
    provider = PROVIDER_NAMES.get(provider.lower(), provider.lower()) if provider else None
    search = values.get("search")
    implied = False
    if provider == "search":
        base = values.get("base_provider")
        provider = PROVIDER_NAMES.get(str(base).lower(), str(base).lower()) if base else None
        implied = True
    model = values.get("model") or None
    while model and model.startswith("search:"):
        model, implied = model[len("search:"):] or None, True
    metadata = values.get("metadata")
    flags = [values.get("search_enabled"), metadata.get("search_augmented") if isinstance(metadata, dict) else None]
    implied = implied or any(_flag(f) for f in flags if f is not None)
    return Binding(agent=agent, provider=provider, model=model, temperature=values.get("temperature"),
                   max_tokens=values.get("max_tokens"), fallbacks=values.get("fallbacks") or (),
                   search=search if search is not None else (True if implied else None),
                   budget_usd=values.get("budget_usd"), memory_items=values.get("memory_items"),
                   memory_min_score=values.get("memory_min_score"), allow=values.get("allow"),
                   extra={k: v for k, v in values.items() if k not in KNOWN_KEYS},
                   source=path, line=line)
