"""The agents a notebook can run: agent files found on a search path (see `search_path` for ordering, lenient
reading and re-scanning when files change)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from .definitions import AgentDefinition, load_agent
from .errors import AgentFileError, UnknownAgent
from .front_matter import first_line
from .search_path import MarkdownLibrary

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
PROJECT_AGENTS = Path(".claude/agents")
USER_AGENTS = Path("~/.claude/agents")


def agent_dirs(configured: Iterable[Path | str] = (), *, examples: bool = True) -> list[Path]:
    """The standard search path: `./.claude/agents`, `~/.claude/agents`, the configured directories, then the
    kit's shipped examples."""
    return [PROJECT_AGENTS, USER_AGENTS, *(Path(d) for d in configured), *([EXAMPLES_DIR] if examples else [])]


class AgentLibrary(MarkdownLibrary[AgentDefinition]):
    """`AgentLibrary(["~/my-agents"])` searches the standard path with the given directories in it (see
    `agent_dirs`); `standard=False` searches exactly `dirs`; `examples=False` leaves out the shipped examples."""

    kind = "agent"
    unknown = UnknownAgent
    file_error = AgentFileError

    def __init__(self, dirs: Iterable[Path | str] = (), *, standard: bool = True, examples: bool = True) -> None:
        dirs = tuple(dirs)
        self.configured = dirs  # as given, so a caller can tell when its configuration changed
        super().__init__(agent_dirs(dirs, examples=examples) if standard else dirs)

    def load(self, path: Path) -> AgentDefinition:
        return load_agent(path)

    @property
    def agents(self) -> Mapping[str, AgentDefinition]:
        """Name → AgentDefinition (read-only view), current with the files."""
        return self.items

    def rows(self, bindings: Mapping[str, Any] | None = None, width: int = 80,
             items: Mapping[str, AgentDefinition] | None = None) -> list[dict[str, str]]:
        """One dict per agent, by name: name, description (its first line, cut to `width`), model (as the file
        says, "" if none), binding (the bound model id from `bindings`, "" if unbound), source (the file).
        `items`: a snapshot's (default: the library as it is now)."""
        rows, items = [], self.items if items is None else items
        for name in sorted(items):
            agent = items[name]
            bound = bindings.get(name) if bindings is not None else None
            rows.append({"name": name, "description": first_line(agent.description, width),
                         "model": agent.model or "", "binding": getattr(bound, "model_id", None) or "",
                         "source": str(agent.source or "")})
        return rows
