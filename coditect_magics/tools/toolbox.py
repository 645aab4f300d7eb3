"""`Toolbox`: names to Tools. A name is a built-in (as Claude Code names it), an extra tool the caller supplies
(delegation plugs in here), or a function in the notebook's namespace. A name it cannot resolve is reported once in
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


class Toolbox:
    """Resolves tool names for one call or agent: `toolbox.resolve("Read, Grep, my_fn")` → Tools."""

    def __init__(self, *, root: str | os.PathLike[str] | None = None, allow: Any = None,
                 namespace: Mapping[str, Any] | None = None, extra: Iterable[Tool] = (),
                 memory: Any = None, search_backend: Callable[..., Any] | None = None,
                 fetch_limits: Mapping[str, float] | None = None) -> None:
        """`root`: the folder the file tools see (default: the working directory); `allow`: "write", "bash" or both;
        `namespace`: where notebook functions are found by name; `extra`: more tools by their names (e.g. Task).
        `allow` says what runs without asking ("run", "write", "bash", "mcp", "all"); other tools that act still
        come when named, and each call is put to the run's approval policy."""
        self.namespace = namespace if namespace is not None else {}
        self.builtins = Builtins(Root.at(root), Builtins.permissions(allow), search_backend, memory,
                                 dict(fetch_limits or {}), self.namespace)
        self.extra = {t.name: t for t in extra}
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
            found = item if isinstance(item, Tool) else self.lookup(item) if isinstance(item, str) \
                else Tool.from_function(item)
            if found is not None and found.name not in tools:
                tools[found.name] = found
        return tuple(tools.values())

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
