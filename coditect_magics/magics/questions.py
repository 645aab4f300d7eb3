"""Questions end with "?", and IPython reads a line ending in "?" as a help request (`%llm What is a closure?`
would answer "Object `closure` not found"). This line transform hands such a line to the magic as it is; `%llm?`
and `%llm??` (help on the magic itself) are left to IPython."""

from __future__ import annotations

import re
from typing import Any

MAGICS = ("llm", "agent", "orchestrate", "cmd", "memory", "skill")
_QUESTION = re.compile(r"^(?P<indent>[ \t]*)%(?P<magic>" + "|".join(MAGICS) + r")[ \t]+(?P<rest>\S.*\?)[ \t]*$")


def keep_questions(lines: list[str]) -> list[str]:
    """Rewrite each `%llm ... ?` line into the magic call IPython would make for it without the "?"."""
    out = []
    for line in lines:
        found = _QUESTION.match(line.rstrip("\n"))
        if found is None:
            out.append(line)
            continue
        call = f"get_ipython().run_line_magic({found['magic']!r}, {found['rest']!r})"
        out.append(found["indent"] + call + ("\n" if line.endswith("\n") else ""))
    return out


def install(shell: Any) -> None:
    manager = getattr(shell, "input_transformer_manager", None)
    if manager is not None and keep_questions not in manager.line_transforms:
        manager.line_transforms.append(keep_questions)  # after cell_magic: a %%llm cell's body stays as it is


def uninstall(shell: Any) -> None:
    manager = getattr(shell, "input_transformer_manager", None)
    if manager is not None and keep_questions in manager.line_transforms:
        manager.line_transforms.remove(keep_questions)
