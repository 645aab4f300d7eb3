"""The fronts of agents that act: `%%agent` with tools, `%%llm --tools`, `%skill run` with a skill's tools and
`%agent find`. Each builds the runner from the kernel's settings, runs one service call and shows it (run_view)."""

from __future__ import annotations

from typing import Any, Sequence

from coditect_magics.executor import CallContext

from .args import UsageError


def runner(magics: Any, *, allow: str | None = None, stream: bool = True) -> Any:
    """The runner for this kernel: its agents, skills and bindings; tools see the working directory, the
    notebook's functions by name and the memory store; `allow` widens to Write/Edit ("write") and Bash ("bash")."""
    from coditect_magics.agents import load_bindings
    from coditect_magics.agents.runner import Limits, Runner

    from . import agent, memory, skill
    try:
        from coditect_magics.tools.builtins import Builtins
        Builtins.permissions(allow)
        limits = Limits(**magics.agent_limits)
    except TypeError:
        raise UsageError(f"CoditectMagics.agent_limits takes depth, steps, total_steps, time_s and budget_usd, got "
                         f"{sorted(magics.agent_limits)}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Runner(magics.executor, agents=agent.agents(magics), skills=skill.skills(magics),
                  bindings=load_bindings(magics.bindings_path), model_aliases=magics.model_aliases,
                  toolbox={"allow": allow, "namespace": magics.shell.user_ns, "memory": lambda: memory.store(magics)},
                  stream=stream, limits=limits,
                  recall=lambda who, task: memory.recall(magics, task, who.memory_items, who.memory_min_score))


def tool_names(option: str | None, definition: Any = None) -> Any:
    """What an agent may use: `--tools a,b` over its file's `tools:`; None = the default set; () = talk only."""
    if option is not None:
        return tuple(n for n in option.replace(",", " ").split() if n)
    if definition is not None and definition.declares_tools:
        return tuple(definition.tools)
    return None


def run(magics: Any, agent: Any, messages: Sequence[Any], *, tools: Any, allow: str | None, fmt: str, stream: bool,
        out: str | None, context: CallContext = CallContext(), skills: Any = None) -> Any:
    """Run a resolved agent with tools on built messages; the cell shows each tool call, then the answer."""
    from .memory import remember
    from .output import show_error
    from .run_view import show
    acting = runner(magics, allow=allow, stream=stream)
    result, final = show(magics, lambda: acting.events(agent, list(messages), tools=tools, skills=skills,
                                                       memory_items=context.memory_items, run_id=context.run_id),
                         model=agent.model_id, fmt=fmt, stream=stream, out=out)
    for warning in acting.warnings:
        show_error(warning)
    if final is not None:
        last = next((m for m in reversed(messages) if getattr(m, "role", None) == "user"), None)
        remember(magics, last.text if last is not None else "", result, agent=agent.name or None)
    return result


def run_llm(magics: Any, model: str, messages: Sequence[Any], tools: str, *, allow: str | None,
            params: dict[str, Any], fmt: str, stream: bool, out: str | None, context: CallContext) -> Any:
    """`%%llm MODEL --tools fn,fn`: the model with notebook functions and built-ins, no agent."""
    from coditect_magics.agents import ResolvedAgent

    from .llm import resolve_alias
    bare = ResolvedAgent(name="", model_id=resolve_alias(magics, model), system_prompt="",
                         temperature=params.get("temperature"), max_tokens=params.get("max_tokens"))
    return run(magics, bare, messages, tools=tool_names(tools), allow=allow, fmt=fmt, stream=stream, out=out,
               context=context)


def run_skill(magics: Any, found: Any, resolved: Any, prompt: str) -> Any:
    """`%skill run` for a skill that brings tools: its agent (or model) with its instructions and its tools."""
    from coditect_magics.agents.skill_tools import skill_tools
    from coditect_magics.providers.types import Message
    instructions = f"You are using the skill {found.name!r}: {found.description}\n\n{found.instructions}"
    system = "\n\n".join(p for p in (resolved.system_prompt, instructions) if p)
    brought = skill_tools(found)
    tools = [*brought, *(n for n in found.allowed_tools if n not in {t.name for t in brought})]
    return run(magics, resolved, [Message("system", system), Message("user", prompt)], tools=tools, allow=None,
               fmt=magics.format, stream=True, out=None, context=CallContext(agent=resolved.name or None))


def find_agents(magics: Any, query: str) -> Any:
    """`%agent find QUERY`: the agents best suited to a task, and which ranking said so."""
    from coditect_magics.agents import find

    from . import agent
    if not query.strip():
        raise UsageError("write %agent find WHAT IT SHOULD DO, e.g. %agent find review Python code")
    return find(query, k=5, library=agent.agents(magics))
