"""Tools for models: Python functions and Claude Code's built-ins, and the loop that lets a model use them.

    from coditect_magics.tools import Toolbox, ToolLoop, tool
    toolbox = Toolbox(namespace=globals(), allow="write")       # root: the working directory
    tools = toolbox.resolve("Read, Grep, my_function")          # toolbox.warnings: names it could not resolve
    result = await run_tools(executor, "anthropic", "Summarise notes.md", tools, on_event=print)

Importing this package is cheap: pydantic, docstring-parser, httpx and the rest load on first use."""

from __future__ import annotations

from typing import Any

from .errors import ToolArgumentsError, ToolError

_LAZY = {
    "Tool": "schema", "tool": "schema",
    "Toolbox": "toolbox", "Builtins": "builtins", "Root": "files",
    "ToolLoop": "loop", "run_tools": "loop", "LoopResult": "loop", "TraceEntry": "loop", "TextDelta": "loop",
    "ModelReplied": "loop", "ToolStarted": "loop", "ToolFinished": "loop",
    "Policy": "approval", "Decision": "approval", "ApprovalRequest": "approval", "ApprovalNeeded": "approval",
    "permissions": "approval",
}

__all__ = ["ToolArgumentsError", "ToolError", *_LAZY]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value
