"""Errors of the agent files: a file that cannot be read names itself and the line (`path:line: message`), and an
unknown name lists the names that are known."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Iterable


class FileError(ValueError):
    """A file (agent, command, bindings) that cannot be read. `str()` is `path:line: message`; line is 1-based."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path, self.line, self.message = Path(path), int(line), message
        super().__init__(f"{path}:{line}: {message}")

    def __reduce__(self):  # picklable with its three arguments
        return type(self), (self.path, self.line, self.message)


class AgentFileError(FileError):
    """An agent file that cannot be read."""


class CommandFileError(FileError):
    """A command file that cannot be read."""


class BindingFileError(FileError):
    """A bindings file, or one entry of it, that cannot be read; `agent` names the entry (None: the whole file)."""

    def __init__(self, path: Path | str, line: int, message: str, agent: str | None = None) -> None:
        super().__init__(path, line, message)
        self.agent = agent

    def __reduce__(self):
        return type(self), (self.path, self.line, self.message, self.agent)


class UnknownName(LookupError):
    """No agent or command of that name; the message suggests close names and lists the known ones."""

    kind = "item"

    def __init__(self, name: str, known: Iterable[str], searched: Iterable[Path | str] = ()) -> None:
        self.name, self.known, self.searched = name, sorted(known), [str(d) for d in searched]
        close = difflib.get_close_matches(name, self.known, n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        known_text = ", ".join(self.known) if self.known else "none"
        where = ", ".join(self.searched)
        super().__init__(f"no {self.kind} named {name!r}{hint}; known {self.kind}s: {known_text}"
                         + (f" (searched {where})" if where else ""))

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self):
        return type(self), (self.name, self.known, self.searched)


class UnknownAgent(UnknownName):
    kind = "agent"


class UnknownCommand(UnknownName):
    kind = "command"
