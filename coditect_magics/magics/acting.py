"""The fronts of agents that act: `%%agent` with tools, `%%llm --tools`, `%skill run` with a skill's tools and
`%agent find`. Each takes the session's runner, runs one service call and shows it (run_view)."""

from __future__ import annotations

from typing import Any

from coditect_magics.agents import ResolvedAgent
from coditect_magics.session import Prepared, Session, SkillWork, tool_names

from .args import UsageError
from .output import LLMResult, show_error


def act(session: Session, agent: ResolvedAgent, prepared: Prepared, *, tools: Any, allow: str | None, fmt: str,
        stream: bool, out: str | None, skills: Any = None, schema: Any = None) -> LLMResult:
    """Run a resolved agent with tools on prepared messages; the cell shows each tool call, then the answer.
    With `schema` the tool loop is told the schema in its system prompt (tools and a native response format do
    not mix on every API) and its final answer is validated, asked again without tools when it does not fit."""
    from .run_view import show
    acting = session.runner(allow=allow, stream=stream, asks=True)
    context = prepared.context
    messages = list(prepared.messages)
    if schema is not None:
        from coditect_magics.structured import with_instructions
        messages = with_instructions(messages, schema)
    result, final = show(session, lambda: acting.events(agent, messages, tools=tools, skills=skills,
                                                        memory_items=context.memory_items, run_id=context.run_id),
                         model=agent.model_id, fmt=fmt, stream=stream, out=None if schema is not None else out)
    for warning in acting.warnings:
        show_error(warning)
    if schema is not None and final is not None and final.status == "done":
        _settle(session, agent, messages, context, result, schema, out)
    if final is not None:
        session.remember(prepared.question.text, result.text, model=result.model, agent=agent.name or None,
                         source=session.cell_source(result.shown_in))
    return result


def _settle(session: Session, agent: ResolvedAgent, messages: list[Any], context: Any, result: LLMResult,
            schema: Any, out: str | None) -> None:
    """The run's final answer validated into `result.parsed` (asked again with the errors, its cost added), shown
    as the object and kept in `out`; one line when it still does not fit."""
    from IPython.display import display

    from coditect_magics import bridge
    from coditect_magics.providers import Usage
    from coditect_magics.structured import InvalidAnswer, settle
    try:
        parsed, call = bridge.run(settle(session.executor, agent.model_id, messages, result.text, schema,
                                         retries=session.settings.schema_retries, stream=False, context=context,
                                         **agent.params))
    except InvalidAnswer as exc:
        result.status = "invalid"
        show_error(f"{exc} (the raw text is in _llm.text)", exc)
        return
    if call is not None:
        spent = call.row
        result.text = call.text
        result.usage = result.usage + Usage(spent.input_tokens, spent.output_tokens)
        result.cost = None if result.cost is None or spent.cost_usd is None else result.cost + spent.cost_usd
    result.parsed = parsed
    display(result.bundle(), raw=True, metadata=result.metadata())
    if out:
        session.namespace[out] = parsed


def run_llm(session: Session, model: str, prepared: Prepared, tools: str, *, allow: str | None,
            params: dict[str, Any], fmt: str, stream: bool, out: str | None, schema: Any = None) -> LLMResult:
    """`%%llm MODEL --tools fn,fn`: the model with notebook functions and built-ins, no agent."""
    bare = ResolvedAgent(name="", model_id=session.resolve(model), system_prompt="",
                         temperature=params.get("temperature"), max_tokens=params.get("max_tokens"))
    names = tool_names(tools)  # `--tools default`: the set an agent without `tools:` gets (None, to the runner)
    return act(session, bare, prepared, tools=None if names == ("default",) else names, allow=allow, fmt=fmt,
               stream=stream, out=out, schema=schema)


def run_skill(session: Session, work: SkillWork, prompt: str) -> LLMResult:
    """`%skill run` for a skill that brings tools: its agent (or model) with its instructions and its tools."""
    from coditect_magics.executor import CallContext
    from coditect_magics.providers.types import Message
    prepared = session.prepare(Message("user", prompt), system=work.agent.system_prompt,
                               context=CallContext(agent=work.agent.name or None))
    return act(session, work.agent, prepared, tools=list(work.tools), allow=None, fmt=session.settings.format,
               stream=True, out=None)


def find_agents(session: Session, words: list[str]) -> Any:
    """`%agent find QUERY`: the agents best suited to a task, and which ranking said so."""
    from coditect_magics.agents import find
    query = " ".join(words).strip()
    if not query:
        raise UsageError("write %agent find WHAT IT SHOULD DO, e.g. %agent find review Python code")
    return find(query, k=5, library=session.agents)
