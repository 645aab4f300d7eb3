"""An agent: a Markdown file whose front matter names it and whose body is its system prompt (Claude Code's
subagent format: name, description, tools, model, and any other keys, kept)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .frontmatter_text import FrontMatterError, as_list, as_text, read

AgentFileError = FrontMatterError
KNOWN_KEYS = ("name", "description", "tools", "model")


@dataclass(frozen=True)
class AgentDefinition:
    name: str
    description: str
    system_prompt: str
    tools: tuple[str, ...] = ()
    model: str | None = None
    source: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def load_agent(path: Path | str) -> AgentDefinition:
    """Read one agent file; a file that cannot be an agent raises AgentFileError naming file and line."""
    path = Path(path)
    data, body, body_line = read(path)
    if not data:
        raise AgentFileError(path, 1, "no front matter: an agent file starts with --- and a `name:` line")
    name = as_text(data.get("name")).strip() or path.stem
    if not body.strip():
        raise AgentFileError(path, body_line, f"agent {name!r} has no system prompt after its front matter")
    model = as_text(data.get("model")).strip() or None
    return AgentDefinition(name=name, description=as_text(data.get("description")).strip(),
                           system_prompt=body.strip(), tools=as_list(data.get("tools")), model=model, source=path,
                           extra={k: v for k, v in data.items() if k not in KNOWN_KEYS})
