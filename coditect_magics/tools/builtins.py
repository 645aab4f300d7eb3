"""The built-in tools by their Claude Code names, and which permission each needs: `Write` and `Edit` need
"write", `Bash` needs "bash"; the rest are read-only and always there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .files import Root, edit_tool, glob_tool, grep_tool, read_tool, write_tool
from .schema import Tool

PERMISSIONS = ("write", "bash")
NEEDS = {"Write": "write", "Edit": "write", "Bash": "bash"}
READ_ONLY = ("Read", "Grep", "Glob", "WebSearch", "WebFetch", "MemorySearch")
NAMES = (*READ_ONLY, "Write", "Edit", "Bash")
# Claude Code tools the kit does not have (yet): an agent file naming them still loads, they are reported
NOT_PROVIDED = {
    "Task": "delegation to other agents is not available here",
    "Agent": "delegation to other agents is not available here",
    "MultiEdit": "use Edit", "NotebookEdit": "not provided", "NotebookRead": "use Read", "LS": "use Glob",
    "TodoWrite": "not provided", "TodoRead": "not provided", "BashOutput": "not provided",
    "KillShell": "not provided", "KillBash": "not provided", "Skill": "not provided",
    "SlashCommand": "not provided", "ExitPlanMode": "not provided",
}


@dataclass(frozen=True)
class Builtins:
    """How the built-ins are made: the root the file tools see, what is allowed, and where search and memory go."""

    root: Root
    allow: frozenset[str] = frozenset()
    search_backend: Callable[..., Any] | None = field(default=None, repr=False)   # (query, n) -> results; None: ddgs
    memory: Any = field(default=None, repr=False)          # a Memory, a function opening one, or None: the default
    fetch_limits: Mapping[str, float] = field(default_factory=dict)   # max_bytes, max_chars, timeout_s for WebFetch

    @staticmethod
    def permissions(allow: Any) -> frozenset[str]:
        """`allow` as a set: "write,bash", ["write"], or None; an unknown permission is a clear error."""
        if not allow:
            return frozenset()
        items = allow.replace(",", " ").split() if isinstance(allow, str) else list(allow)
        chosen = frozenset(str(item).strip().lower() for item in items if str(item).strip())
        unknown = sorted(chosen - set(PERMISSIONS))
        if unknown:
            raise ValueError(f"unknown permission {', '.join(map(repr, unknown))}: allow any of "
                             f"{', '.join(PERMISSIONS)}, e.g. --allow write,bash")
        return chosen

    def permitted(self, name: str) -> bool:
        return name in NAMES and NEEDS.get(name, "") in self.allow | {""}

    def refusal(self, name: str) -> str:
        """Why a built-in the user did not allow is left out."""
        return f"{name} is not allowed: it runs only with --allow {NEEDS[name]}"

    def make(self, name: str) -> Tool:
        """The built-in called `name` (which must be permitted)."""
        if not self.permitted(name):
            raise PermissionError(self.refusal(name) if name in NEEDS else f"no built-in tool is called {name!r}")
        if name in ("WebSearch", "WebFetch"):
            from .web import fetch_tool, search_tool
            return search_tool(self.search_backend) if name == "WebSearch" else fetch_tool(**self.fetch_limits)
        if name == "MemorySearch":
            from .recall import memory_tool
            return memory_tool(self.memory)
        if name == "Bash":
            from .shell import bash_tool
            return bash_tool(self.root)
        makers = {"Read": read_tool, "Grep": grep_tool, "Glob": glob_tool, "Write": write_tool, "Edit": edit_tool}
        return makers[name](self.root)
