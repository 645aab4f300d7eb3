"""`Toolbox`: names to Tools. A name is a built-in (as Claude Code names it), an extra tool the caller supplies
(delegation plugs in here), an MCP server's tool (`mcp__SERVER__TOOL`, or `mcp__SERVER` for all of a server's) or a
function in the notebook's namespace. A name it cannot resolve is reported once in
`warnings` and left out, so an agent file listing tools the kit lacks still runs."""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterable, Mapping

from .builtins import NAMES, NOT_PROVIDED, ON_REQUEST, Builtins
from .files import Root
from .schema import Tool

Name = str | Tool | Callable[..., Any]
# Claude Code's permission patterns, e.g. Bash(git:*) or WebFetch(domain:example.com)
PATTERN = re.compile(r"^(?P<name>[\w.-]+)\((?P<rule>.*)\)$")
MCP_PREFIX = "mcp__"   # Claude Code's names for MCP tools: mcp__SERVER__TOOL


class Toolbox:
    """Resolves tool names for one call or agent: `toolbox.resolve("Read, Grep, my_fn")` → Tools."""

    def __init__(self, *, root: str | os.PathLike[str] | None = None, allow: Any = None,
                 namespace: Mapping[str, Any] | None = None, extra: Iterable[Tool] = (),
                 memory: Any = None, search_backend: Callable[..., Any] | None = None,
                 fetch_limits: Mapping[str, float] | None = None, mcp: Any = None) -> None:
        """`root`: the folder the file tools see (default: the working directory); `allow`: "write", "bash" or both;
        `namespace`: where notebook functions are found by name; `extra`: more tools by their names (e.g. Task).
        `allow` says what runs without asking ("run", "write", "bash", "mcp", "all"); other tools that act still
        come when named, and each call is put to the run's approval policy. `mcp`: the MCP servers (a
        coditect_magics.mcp Manager) that `mcp__...` names reach."""
        self.namespace = namespace if namespace is not None else {}
        self.builtins = Builtins(Root.at(root), Builtins.permissions(allow), search_backend, memory,
                                 dict(fetch_limits or {}), self.namespace)
        self.extra = {t.name: t for t in extra}
        self.mcp = mcp
        self.warnings: list[str] = []
        self._made: dict[str, Tool] = {}
        self._reported: set[str] = set()

    def __repr__(self) -> str:
        return (f"Toolbox(root={str(self.builtins.root.path)!r}, allow={sorted(self.builtins.allow)}, "
                f"extra={sorted(self.extra)})")

    @property
    def names(self) -> tuple[str, ...]:
        """The tools given when none are named: the built-ins that run without asking (NewCell only when named),
        and the extras."""
        return (*[n for n in NAMES if self.builtins.allowed(n) and n not in ON_REQUEST], *self.extra)

    @property
    def allowed(self) -> frozenset[str]:
        """The permissions whose tools run without asking (`allow`)."""
        return self.builtins.allow

    def resolve(self, names: str | Iterable[Name]) -> tuple[Tool, ...]:
        """The tools for `names` (a comma or space separated string, or a list of names, Tools and functions), in
        order and without repeats. Names that resolve to nothing are added to `warnings` (once each) and skipped."""
        if isinstance(names, str):
            names = [n for n in re.split(r"[,\s]+", names) if n]
        tools: dict[str, Tool] = {}
        for item in names:
            if isinstance(item, str) and item.startswith(MCP_PREFIX) and item not in self.extra:
                found_all: Iterable[Tool] = self.remote(item)
            else:
                found = item if isinstance(item, Tool) else self.lookup(item) if isinstance(item, str) \
                    else Tool.from_function(item)
                found_all = () if found is None else (found,)
            for found in found_all:
                tools.setdefault(found.name, found)
        return tuple(tools.values())

    async def prepare(self, names: Any) -> None:
        """Start the MCP servers `names` need (on the kit's loop, where `resolve` cannot wait for them); a server
        that fails is reported by `resolve`."""
        if self.mcp is None or names is None:
            return
        names = re.split(r"[,\s]+", names) if isinstance(names, str) else names
        servers = {n[len(MCP_PREFIX):].partition("__")[0] for n in names
                   if isinstance(n, str) and n.startswith(MCP_PREFIX) and n not in self.extra}
        for server in sorted(servers):
            try:
                await self.mcp.tools(server)
            except Exception:  # noqa: BLE001 - said once by resolve, with the server's own line
                pass

    def remote(self, name: str) -> tuple[Tool, ...]:
        """`mcp__SERVER` (all of its tools) or `mcp__SERVER__TOOL`; nothing (and a warning) when the server is
        unknown or would not start, or has no such tool."""
        if self.mcp is None:
            self.report(f"{name} is unavailable: no MCP servers are configured here")
            return ()
        server, _, tool = name[len(MCP_PREFIX):].partition("__")
        for problem in self.mcp.loaded().problems:
            self.report(problem)
        tools, problem = self.mcp.tools_now(server)
        if problem:
            self.report(problem)
            return ()
        if not tool:
            return tools
        found = tuple(t for t in tools if t.name == name or getattr(t, "remote_name", "") == tool)
        if not found:
            self.report(f"{name} is unavailable: the MCP server {server} has no tool {tool} (it has "
                        f"{', '.join(getattr(t, 'remote_name', t.name) for t in tools) or 'none'})")
        return found[:1]

    def lookup(self, name: str) -> Tool | None:
        """One name: an extra, a built-in, a notebook function or a built-in in other letter case; None (and a
        warning) if none."""
        pattern = PATTERN.match(name)
        if pattern:
            name = pattern["name"]
            self.report(f"{pattern.string}: the rule ({pattern['rule']}) is not enforced; {name} is used as "
                        f"the toolbox permits it")
        if name in self.extra:
            return self.extra[name]
        if name.startswith(MCP_PREFIX):
            found = self.remote(name)
            return found[0] if len(found) == 1 else None
        if name in NAMES:
            return self.builtin(name)
        if name in self.namespace:
            value = self.namespace[name]
            if isinstance(value, Tool):
                return value
            if callable(value):
                return Tool.from_function(value, name=name)  # made afresh: the cell may have redefined it
            self.report(f"{name}: it is a {type(value).__name__} in the notebook, not a function, so not a tool")
            return None
        folded = {n.lower(): n for n in NAMES}.get(name.lower())
        if folded:
            return self.builtin(folded)
        reason = NOT_PROVIDED.get(name, "no built-in tool or notebook function has this name")
        self.report(f"{name} is unavailable: {reason}")
        return None

    def builtin(self, name: str) -> Tool | None:
        if name not in self._made:
            self._made[name] = self.builtins.make(name)
        return self._made[name]

    def report(self, warning: str) -> None:
        """Keep a warning once: an agent run resolves its tools at every turn but the user hears it one time."""
        if warning not in self._reported:
            self._reported.add(warning)
            self.warnings.append(warning)
