"""The `%skill` front: list, show and run skills (folders with a SKILL.md) from the skill search path."""

from __future__ import annotations

import dataclasses
from typing import Any

from coditect_magics.agents import SkillLibrary
from coditect_magics.context import interpolate

from . import agent, llm
from .args import UsageError
from .output import show_error

USAGE = "%skill list | show NAME | run NAME [arguments...]"


def skills(magics: Any) -> SkillLibrary:
    """The skill search path: the project's, the user's, CoditectMagics.skill_dirs, then the kit's examples."""
    library = getattr(magics, "_skills", None)
    if library is None or library.configured != tuple(magics.skill_dirs):
        library = magics._skills = SkillLibrary(magics.skill_dirs)
    return library


def run(magics: Any, line: str) -> Any:
    try:
        verb, _, rest = line.strip().partition(" ")
        name, _, arguments = rest.strip().partition(" ")
        if verb == "list" and not rest.strip():
            return listing(magics)
        if verb == "show" and name and not arguments:
            return show(magics, name)
        if verb == "run" and name:
            return run_skill(magics, name, arguments)
        raise UsageError(f"write {USAGE}")
    except agent.EXPECTED as exc:
        show_error(str(exc), exc)
        return None


def listing(magics: Any) -> Any:
    from IPython.display import Markdown
    library = skills(magics)
    lines = ["| skill | description | agent | tools | source |", "|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['description'].replace('|', '/')} | {r['agent']} | {r['tools']} | {r['source']} |"
              for r in library.rows(width=100)]
    lines += [f"\n**Not loaded:** `{error}`" for error in library.errors]
    return Markdown("\n".join(lines))


def show(magics: Any, name: str) -> Any:
    from IPython.display import Markdown
    skill = skills(magics).get(name)
    files = ", ".join(p.name for p in skill.tool_files) or "none"
    return Markdown(f"### {skill.name}" + (f" ({skill.label})" if skill.label and skill.label != skill.name else "")
                    + f"\n\n{skill.description}\n\n- agent: {skill.agent or 'default'}\n- allowed tools: "
                    f"{', '.join(skill.allowed_tools) or 'none'}\n- tool files: {files}\n- folder: {skill.folder}\n\n"
                    f"```\n{skill.instructions}\n```")


def run_skill(magics: Any, name: str, arguments: str) -> Any:
    """Run the skill's agent (or its model, or the default) with the skill's instructions added to the system
    prompt and the arguments as the task."""
    skill = skills(magics).get(name)
    prompt = interpolate(arguments, magics.shell.user_ns).strip()
    if not prompt:
        raise UsageError(f"what should {name!r} work on? write %skill run {name} TASK")
    if skill.allowed_tools or skill.tool_files:  # its tools: the runner's loop, each call shown
        from coditect_magics.agents import ResolvedAgent

        from .acting import run_skill as act
        resolved = agent.resolved(magics, skill.agent, {"model": skill.model}) if skill.agent else ResolvedAgent(
            name="", model_id=llm.resolve_alias(magics, skill.model or llm.default_model(magics)), system_prompt="")
        return act(magics, skill, resolved, prompt)
    instructions = f"You are using the skill {skill.name!r}: {skill.description}\n\n{skill.instructions}"
    if skill.agent:
        resolved = agent.resolved(magics, skill.agent, {"model": skill.model})
        resolved = dataclasses.replace(resolved, system_prompt=f"{resolved.system_prompt}\n\n{instructions}")
        return agent.run_agent(magics, resolved, prompt, fmt=magics.format)
    model = skill.model or llm.default_model(magics)
    return llm.ask(magics, model, [{"role": "system", "content": instructions}, {"role": "user", "content": prompt}],
                   params=llm._params_of(magics), fmt=magics.format)

