"""Errors a tool raises to tell the model what went wrong; the tool loop turns them into error results."""

from __future__ import annotations


class ToolError(Exception):
    """A tool's refusal or failure, worded for the model (and the user reading the trace)."""


class ToolArgumentsError(ToolError):
    """The model's arguments did not validate; the message lists every problem, one per line."""

    def __init__(self, tool: str, problems: list[str]) -> None:
        self.tool, self.problems = tool, problems
        super().__init__(f"invalid arguments for {tool}:\n" + "\n".join(f"- {p}" for p in problems)
                         + "\nCall the tool again with arguments that match its schema.")
