"""Commands: Markdown prompt templates (`./.claude/commands/NAME.md`). `$ARGUMENTS` is the whole argument string,
`$ARGUMENTS[N]` the Nth argument counting from 0, `$1`, `$2`... the arguments counting from 1 (shell style, as most
command files in the wild assume). A template without placeholders gets `ARGUMENTS: ...` appended."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .frontmatter_text import as_list, as_text, read

_PLACEHOLDER = re.compile(r"\$ARGUMENTS\[(\d+)\]|\$ARGUMENTS|\$(\d+)")


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
    extra: Mapping[str, Any] = field(default_factory=dict)

    def render(self, args: str) -> str:
        """The prompt for these arguments."""
        args = args.strip()
        try:
            words = shlex.split(args)
        except ValueError:  # an apostrophe in free text
            words = args.split()

        def fill(match: re.Match[str]) -> str:
            if match.group(1) is not None:
                index = int(match.group(1))
            elif match.group(2) is not None:
                index = int(match.group(2)) - 1
            else:
                return args
            return words[index] if 0 <= index < len(words) else ""

        if _PLACEHOLDER.search(self.body):
            return _PLACEHOLDER.sub(fill, self.body)
        return f"{self.body}\n\nARGUMENTS: {args}" if args else self.body


def load_command(path: Path | str) -> CommandTemplate:
    path = Path(path)
    data, body, _ = read(path)
    first_line = next((line.strip("# ").strip() for line in body.splitlines() if line.strip()), "")
    known = ("description", "agent", "model", "argument-hint", "allowed-tools")
    return CommandTemplate(
        name=path.stem, description=as_text(data.get("description")).strip() or first_line, body=body.strip(),
        agent=as_text(data.get("agent")).strip() or None, model=as_text(data.get("model")).strip() or None,
        argument_hint=as_text(data.get("argument-hint")), allowed_tools=as_list(data.get("allowed-tools")),
        source=path, extra={k: v for k, v in data.items() if k not in known})
