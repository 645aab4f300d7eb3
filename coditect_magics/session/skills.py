"""A skill as a session runs it, for every front that runs one (`%skill run`, the MCP server's `skill__NAME`): the
skill's agent, else a bare agent on the skill's model or the default, with the skill's instructions joining its
system prompt, and the tools the skill brings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class SkillWork:
    """What a skill's run needs: the skill, the agent that runs it (`name` "" when the skill names none) with the
    instructions in its system prompt, and its tools (the Tools its `*.py` files define, then the names of its
    allowed tools; () when it brings none, so the run is one plain call)."""

    skill: Any
    agent: Any
    tools: tuple[Any, ...] = ()


def skill_work(session: Any, name: str) -> SkillWork:
    """The skill `name` from the session's search path, ready to run (UnknownSkill lists the known names)."""
    from coditect_magics.agents import ResolvedAgent
    skill = session.skills.get(name)
    if skill.agent:
        agent = session.resolve_agent(skill.agent, {"model": skill.model})
    else:
        agent = ResolvedAgent(name="", model_id=session.resolve(skill.model or session.default_model()),
                              system_prompt="")
    instructions = f"You are using the skill {skill.name!r}: {skill.description}\n\n{skill.instructions}"
    agent = replace(agent, system_prompt="\n\n".join(p for p in (agent.system_prompt, instructions) if p))
    tools: tuple[Any, ...] = ()
    if skill.allowed_tools or skill.tool_files:  # the files are imported only for a run that uses them
        from coditect_magics.agents.skill_tools import skill_tools
        brought = skill_tools(skill)
        names = {t.name for t in brought}
        tools = (*brought, *(n for n in skill.allowed_tools if n not in names))
    return SkillWork(skill, agent, tools)
