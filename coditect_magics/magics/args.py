"""Splits a magic line into its leading options and the free text after them. The options are parsed by the
magic's own argparse parser (so `%llm?` shows them); the text after them is kept verbatim, so apostrophes,
quotes, braces and dashes inside a prompt survive."""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any

from coditect_magics.errors import UsageError

__all__ = ["UsageError", "parser_of", "split_options"]

_TOKEN = re.compile(r"\s*(\"(?:[^\"\\]|\\.)*\"|'[^']*'|\S+)")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit the kernel's process
        raise UsageError(message)


def split_options(parser: argparse.ArgumentParser, line: str) -> tuple[argparse.Namespace, str]:
    """Parse the options at the start of `line` with `parser`; return them and the rest of the line untouched."""
    actions = parser._option_string_actions
    tokens: list[str] = []
    position = 0
    while True:
        match = _TOKEN.match(line, position)
        if not match or not match.group(1).startswith("-"):
            break
        option = match.group(1).split("=", 1)[0]
        action = actions.get(option)
        if action is None:
            if option in ("-", "--") or re.match(r"^-\d", option):  # a negative number or a dash starts the text
                break
            known = ", ".join(sorted(o for o in actions if o.startswith("--")))
            raise UsageError(f"unknown option {option}; options: {known}")
        tokens.append(match.group(1))
        position = match.end()
        if action.nargs != 0 and "=" not in match.group(1):
            value = _TOKEN.match(line, position)
            if not value:
                raise UsageError(f"option {option} needs a value")
            tokens.append(value.group(1))
            position = value.end()
    try:
        words = [shlex.split(t)[0] if t[0] in "\"'" else t for t in tokens]
    except ValueError as exc:
        raise UsageError(f"cannot read the options: {exc}") from None
    namespace = parser.parse_args(words)
    return namespace, line[position:].strip()


def parser_of(func: Any) -> argparse.ArgumentParser:
    """The argparse parser IPython's @magic_arguments built for a magic, made to raise instead of exit."""
    parser = func.parser
    parser.__class__ = _Parser
    return parser
