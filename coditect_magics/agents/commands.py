"""Commands: Markdown prompt templates (`./.claude/commands/NAME.md`, `~/.claude/commands/NAME.md`, configured
directories), run with `%cmd NAME args...`.

Front matter is optional: `description` (default: the body's first line), `agent` (who runs it), `model`,
`argument-hint` (kept as written: `[name]` is text, not a YAML list), `allowed-tools` (kept); other keys in `extra`.

Placeholders in the body:
- `$ARGUMENTS`: the whole argument string, as typed.
- `$ARGUMENTS[N]`: the Nth argument, counting from 0.
- `$1`, `$2`, ...: the arguments counting from 1, shell style, as issue 4 specifies and as command files written
  before 2026-01 assume. Current Claude Code counts `$N` from 0 (`$0` is the first argument), so a template that
  uses `$0` is taken as written for it: in that template `$N` counts from 0.
- A missing argument renders as "". When the body has no placeholder and arguments are given, they are appended
  as `\n\nARGUMENTS: <args>` (as Claude Code does).
Arguments are split like a shell (quotes group words; backslashes are kept, so Windows paths survive); with
unbalanced quotes (`don't`) they are split on whitespace. `!`command`` and `@file` are not expanded: the body is
sent as text. Note that `$5` in prose (a price) is a placeholder too, as in Claude Code.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import CommandFileError, UnknownCommand
from .front_matter import unquote, as_list, as_text, first_line, read_markdown
from .search_path import MarkdownLibrary

PROJECT_COMMANDS = Path(".claude/commands")
USER_COMMANDS = Path("~/.claude/commands")
KNOWN_KEYS = ("description", "agent", "model", "argument-hint", "allowed-tools")
_PLACEHOLDER = re.compile(r"\$ARGUMENTS\[(\d+)\]|\$ARGUMENTS\b|\$(\d+)")
_ZERO = re.compile(r"\$0(?!\d)")


def split_arguments(args: str) -> list[str]:
    """Shell-like words; whitespace-separated words when the quotes do not balance."""
    lexer = shlex.shlex(args, posix=True)
    lexer.whitespace_split, lexer.commenters, lexer.escape = True, "", ""
    try:
        return list(lexer)
    except ValueError:
        return args.split()


@dataclass(frozen=True)
class CommandTemplate:
    name: str
    description: str
    body: str
    agent: str | None = None
    model: str | None = None
    argument_hint: str = ""
    allowed_tools: tuple[str, ...] = ()
    source: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def zero_based(self) -> bool:
        """True when the body uses `$0`: it was written for current Claude Code, where `$N` counts from 0."""
        return bool(_ZERO.search(self.body))

    def render(self, args: str = "") -> str:
        """The prompt for this argument string (see the module's docstring for the placeholders)."""
        args = (args or "").strip()
        if not _PLACEHOLDER.search(self.body):
            return f"{self.body}\n\nARGUMENTS: {args}" if args else self.body
        words = split_arguments(args)
        offset = 0 if self.zero_based else 1

        def fill(match: re.Match[str]) -> str:
            if match.group(1) is not None:
                index = int(match.group(1))
            elif match.group(2) is not None:
                index = int(match.group(2)) - offset
            else:
                return args
            return words[index] if 0 <= index < len(words) else ""

        return _PLACEHOLDER.sub(fill, self.body)


def load_command(path: Path | str) -> CommandTemplate:
    """Read one command file; CommandFileError (`path:line: message`) when it cannot be read or has no prompt."""
    path = Path(path)
    front = read_markdown(path, CommandFileError)
    data = front.data
    if front.present and not data and front.body_line > 3:
        raise CommandFileError(path, 2, "the front matter has no `key: value` lines")
    body = front.body.strip()
    if not body:
        raise CommandFileError(path, front.body_line, "the command has no prompt text")
    warnings = [f"front matter is not strict YAML ({front.problem}); read line by line"] if front.lenient else []
    hint = front.raw.get("argument-hint")
    hint = unquote(hint) if hint else as_text(data.get("argument-hint"))
    return CommandTemplate(
        name=path.stem, description=as_text(data.get("description")).strip() or first_line(body, width=0),
        body=body, agent=as_text(data.get("agent")).strip() or None,
        model=as_text(data.get("model")).strip() or None, argument_hint=hint.strip(),
        allowed_tools=as_list(data.get("allowed-tools")), source=path,
        extra={k: v for k, v in data.items() if k not in KNOWN_KEYS}, warnings=tuple(warnings))


def command_dirs(configured: Iterable[Path | str] = ()) -> list[Path]:
    """The standard search path: `./.claude/commands`, `~/.claude/commands`, then the configured directories."""
    return [PROJECT_COMMANDS, USER_COMMANDS, *(Path(d) for d in configured)]


class CommandLibrary(MarkdownLibrary[CommandTemplate]):
    """Like AgentLibrary: `CommandLibrary(dirs)` searches the standard path with `dirs` in it; `standard=False`
    searches exactly `dirs`. `.commands`, `.errors`, `.warnings`, `get(name)` (UnknownCommand), `rows()`."""

    kind = "command"
    unknown = UnknownCommand
    file_error = CommandFileError

    def __init__(self, dirs: Iterable[Path | str] = (), *, standard: bool = True) -> None:
        dirs = tuple(dirs)
        self.configured = dirs  # as given, so a caller can tell when its configuration changed
        super().__init__(command_dirs(dirs) if standard else dirs)

    def load(self, path: Path) -> CommandTemplate:
        return load_command(path)

    @property
    def commands(self) -> Mapping[str, CommandTemplate]:
        return self.items

    def rows(self, width: int = 80, items: Mapping[str, CommandTemplate] | None = None) -> list[dict[str, str]]:
        """One dict per command, by name: name, description (first line, cut to `width`), argument_hint, agent,
        model, source. `items`: a snapshot's (default: the library as it is now)."""
        items = self.items if items is None else items
        return [{"name": name, "description": first_line(items[name].description, width),
                 "argument_hint": items[name].argument_hint, "agent": items[name].agent or "",
                 "model": items[name].model or "", "source": str(items[name].source or "")}
                for name in sorted(items)]
