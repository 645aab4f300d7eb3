"""An agent: a Markdown file in Claude Code's subagent format. The front matter names it (`name`, `description`,
optional `tools` and `model`, any other keys kept as text); the body is its system prompt."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from .errors import AgentFileError
from .front_matter import FrontMatter, as_list, as_text, read_markdown, split_markdown

KNOWN_KEYS = ("name", "description", "tools", "model")
_NAME = re.compile(r"^[\w.-]+$")


@dataclass(frozen=True)
class AgentDefinition:
    """One agent as its file says it.

    - `tools`: the names listed; `()` both when the key is absent (Claude Code: the agent may use every tool) and
      when it is empty (`tools: []`); `declares_tools` tells the two apart.
    - `model`: as written (`sonnet`, `inherit`, `anthropic:claude-opus-4-8`, `claude-opus-4-8`) or None.
    - `extra`: every other key, values as text (`maxTurns: 3000` → "3000"; lists and maps keep their shape).
    - `warnings`: what was lenient about reading it (no name, no description, front matter that is not strict YAML).
    """

    name: str
    description: str
    system_prompt: str
    tools: tuple[str, ...] = ()
    model: str | None = None
    source: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)
    declares_tools: bool = field(default=False, compare=False)


def load_agent(path: Path | str) -> AgentDefinition:
    """Read one agent file. Raises AgentFileError (`path:line: message`) for a file that is not an agent at all:
    no front matter, front matter never closed or without any `key: value`, not UTF-8 text, binary."""
    path = Path(path)
    return _definition(read_markdown(path, AgentFileError), path)


def parse_agent(text: str, source: Path | str | None = None) -> AgentDefinition:
    """An agent from its file's text (e.g. a definition shipped to a worker); `source` names it in errors."""
    where = Path(source) if source is not None else Path("<agent>")
    definition = _definition(split_markdown(text, where, AgentFileError), where)
    return definition if source is not None else replace(definition, source=None)


def _definition(front: FrontMatter, path: Path) -> AgentDefinition:
    if not front.present:
        raise AgentFileError(path, 1, "no front matter: an agent file starts with a --- line, then `name:` and "
                                      "`description:` lines, a closing --- line, and the system prompt")
    data = front.data
    if not data:
        raise AgentFileError(path, 1 if front.body_line <= 3 else 2,
                             "the front matter has no `key: value` lines (an agent needs at least `name:`)")
    warnings: list[str] = []
    if front.lenient:
        warnings.append(f"front matter is not strict YAML ({front.problem}); read line by line")
    name = as_text(data.get("name")).strip()
    if not name:
        name = path.stem
        warnings.append(f"no `name:`; named after the file: {name!r}")
    elif not _NAME.match(name):
        warnings.append(f"name {name!r} holds spaces or symbols; Claude Code expects letters, digits and -")
    description = as_text(data.get("description")).strip().replace("\\n", "\n")
    if not description:
        warnings.append("no `description:`")
    system_prompt = front.body.strip()
    if not system_prompt:
        warnings.append("no system prompt: the body after the front matter is empty")
    model = as_text(data.get("model")).strip() or None
    return AgentDefinition(
        name=name, description=description, system_prompt=system_prompt, tools=as_list(data.get("tools")),
        model=model, source=path, extra={k: v for k, v in data.items() if k not in KNOWN_KEYS},
        warnings=tuple(warnings), declares_tools="tools" in data)
