"""What a skill brings when an agent loads it: the functions its `*.py` files define, as tools. Files are imported
only then, so listing skills never runs their code."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from typing import Any

from .skills import Skill


def skill_tools(skill: Skill) -> tuple[Any, ...]:
    """The public functions (and `@tool`s) defined in the skill's top-level Python files, as Tools."""
    from coditect_magics.tools import Tool
    found: dict[str, Any] = {}
    for path in skill.tool_files:
        module_name = "coditect_skill_" + re.sub(r"\W", "_", f"{skill.name}_{path.stem}")
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pydantic look the module up while it loads
        spec.loader.exec_module(module)
        for name, value in vars(module).items():
            if name.startswith("_") or name in found:
                continue
            if isinstance(value, Tool):
                found[value.name] = value
            elif inspect.isfunction(value) and value.__module__ == module_name:  # not what it imported
                found[name] = Tool.from_function(value)
    return tuple(found.values())


def skills_block(skills: Any, names: Any = None) -> str:
    """The lines an agent sees about its skills (`name: description`), or "" when it has none."""
    if skills is None:
        return ""
    items = skills.items
    chosen = [items[n] for n in sorted(items) if names is None or n in names]
    if not chosen:
        return ""
    return ("## Skills\nLoad a skill with the Skill tool when the task fits it; its instructions (and any tools it "
            "brings) arrive as the tool's result.\n" + "\n".join(f"- {s.summary()}" for s in chosen))
