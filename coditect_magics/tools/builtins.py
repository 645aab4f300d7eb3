"""The built-in tools by their Claude Code names, and which permission each needs to run without asking: `Write`
and `Edit` need "write", `Bash` needs "bash", `RunPython` needs "run"; `NewCell` proposes a cell without running it
(no permission, offered only when named); the rest are read-only. A tool that acts is offered when named (or,
unnamed, when allowed); each of its calls then goes through the run's approval policy (see `approval`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from .approval import permissions
from .files import Root, edit_tool, glob_tool, grep_tool, read_tool, write_tool
from .notebook import NAMES as NOTEBOOK
from .schema import Tool

NEEDS = {"Write": "write", "Edit": "write", "Bash": "bash", "RunPython": "run"}
READ_ONLY = ("Read", "Grep", "Glob", "WebSearch", "WebFetch", "MemorySearch", *NOTEBOOK)
# offered only when named: NewCell proposes a cell (it needs no permission: it runs nothing) but is nobody's default
ON_REQUEST = ("NewCell",)
NAMES = (*READ_ONLY, "Write", "Edit", "Bash", "RunPython", *ON_REQUEST)
# Claude Code tools the kit does not have (yet): an agent file naming them still loads, they are reported
NOT_PROVIDED = {
    "Task": "delegation to other agents is not available here",
    "Agent": "delegation to other agents is not available here",
    "MultiEdit": "use Edit", "NotebookEdit": "not provided", "LS": "use Glob",
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
    namespace: Any = field(default=None, repr=False)      # the notebook's variables, where RunPython runs code

    @staticmethod
    def permissions(allow: Any) -> frozenset[str]:
        """`allow` as a set of permissions (see `approval.permissions`)."""
        return permissions(allow)

    def permitted(self, name: str) -> bool:
        """Whether the built-in exists (a tool that acts is offered; its calls are approved or denied)."""
        return name in NAMES

    def allowed(self, name: str) -> bool:
        """Whether it runs without asking: read-only, or its permission is allowed."""
        return NEEDS.get(name, "") in self.allow | {""}

    def make(self, name: str) -> Tool:
        """The built-in called `name`, marked with the permission its calls need."""
        if not self.permitted(name):
            raise PermissionError(f"no built-in tool is called {name!r}")
        made = self._make(name)
        return replace(made, permission=NEEDS[name]) if name in NEEDS else made

    def _make(self, name: str) -> Tool:
        if name in ("WebSearch", "WebFetch"):
            from .web import fetch_tool, search_tool
            return search_tool(self.search_backend) if name == "WebSearch" else fetch_tool(**self.fetch_limits)
        if name in NOTEBOOK:
            from .notebook import notebook_tool
            return notebook_tool(name, self.namespace if self.namespace is not None else {})
        if name == "MemorySearch":
            from .recall import memory_tool
            return memory_tool(self.memory)
        if name == "Bash":
            from .shell import bash_tool
            return bash_tool(self.root)
        if name == "RunPython":
            from .python import python_tool
            return python_tool(self.namespace)
        if name == "NewCell":
            from .new_cell import new_cell_tool
            return new_cell_tool(self.namespace if self.namespace is not None else {})
        makers = {"Read": read_tool, "Grep": grep_tool, "Glob": glob_tool, "Write": write_tool, "Edit": edit_tool}
        return makers[name](self.root)
