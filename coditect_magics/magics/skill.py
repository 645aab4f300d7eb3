"""The `%skill` front: list, show and run skills (folders with a SKILL.md) from the session's skill search path."""

from __future__ import annotations

from typing import Any

from coditect_magics.context import interpolate
from coditect_magics.session import Session, skill_work

from . import agent, llm
from .args import UsageError
from .output import library_table, say_notices, show_error
from .subcommands import SKILL


def run(session: Session, line: str) -> Any:
    """`%skill list | show NAME | run NAME TASK...`."""
    try:
        call = SKILL.find(session, line)
        if call is None:
            raise UsageError("write " + " | ".join(f"%skill {s.name} {s.usage}".rstrip() for s in SKILL.entries))
        return call()
    except agent.EXPECTED as exc:
        show_error(str(exc), exc)
        return None
    finally:
        say_notices(session)


def listing(session: Session, words: list[str]) -> Any:
    """`%skill list`: every skill with its description, agent, tools and folder."""
    library = session.skills
    found = library.snapshot()  # one scan of the folders for the rows and the errors
    rows = [[r["name"], r["description"], r["agent"], r["tools"], r["source"]]
            for r in library.rows(width=100, items=found.items)]
    return library_table(["skill", "description", "agent", "tools", "source"], rows, found.errors)


def show(session: Session, words: list[str]) -> Any:
    from IPython.display import Markdown
    skill = session.skills.get(words[0])
    files = ", ".join(p.name for p in skill.tool_files) or "none"
    return Markdown(f"### {skill.name}" + (f" ({skill.label})" if skill.label and skill.label != skill.name else "")
                    + f"\n\n{skill.description}\n\n- agent: {skill.agent or 'default'}\n- allowed tools: "
                    f"{', '.join(skill.allowed_tools) or 'none'}\n- tool files: {files}\n- folder: {skill.folder}\n\n"
                    f"```\n{skill.instructions}\n```")


def run_skill(session: Session, words: list[str]) -> Any:
    """Run the skill's agent (or its model, or the default) with the skill's instructions added to the system
    prompt and the arguments as the task."""
    name, _, arguments = words[0].partition(" ")
    if not name:
        raise UsageError("name the skill: %skill run NAME TASK (%skill list shows them)")
    prompt = interpolate(arguments, session.namespace).strip()
    if not prompt:
        raise UsageError(f"what should {name!r} work on? write %skill run {name} TASK")
    work = skill_work(session, name)
    if work.tools:  # its tools: the runner's loop, each call shown
        from .acting import run_skill as act
        return act(session, work, prompt)
    if work.skill.agent:
        return agent.run_agent(session, work.agent, prompt, fmt=session.settings.format)
    return llm.plain_call(session, work.agent.model_id, work.agent.system_prompt, prompt, session.settings.format)
