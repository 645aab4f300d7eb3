"""The `%%agent`, `%agent` and `%cmd` fronts: parse, have the session resolve and prepare the agent (binding,
memory, its thread), run it through the same path as `%llm`, attributed to the agent in the ledger."""

from __future__ import annotations

from typing import Any

from coditect_magics.agents import FileError, ResolvedAgent, UnknownName
from coditect_magics.context import interpolate
from coditect_magics.session import Session, tool_names
from coditect_magics.structured import resolve_schema

from . import llm
from .args import UsageError, parser_of, split_options
from .output import library_table, say_notices, show_error
from .subcommands import AGENT, CMD

EXPECTED = llm.EXPECTED + (UnknownName, FileError)


def run_agent(session: Session, agent: ResolvedAgent, prompt: str, *, fmt: str, stream: bool = True,
              cache: bool | None = None, out: str | None = None, new: bool = False, tools: Any = (),
              allow: str | None = None, queue: bool = False, notebook: bool = False, schema: Any = None) -> Any:
    """Run the agent on a prompt, prepared by the session (memory in its system prompt, its thread's history;
    `notebook`: the notebook's variables and last cells too).
    With `tools` (names; None: the default set) it runs through the runner's tool loop; `()` is one plain call.
    `allow` (--allow) wins over the binding's; `queue`: a worker runs it (see `queued`); `schema`: the final answer
    validated into an object (`_llm.parsed`, `out`)."""
    allow = allow or agent.allow
    prepared = session.prepare_agent(agent, prompt, new=new, notebook=notebook)
    tools = session.tools_for(agent, tools)
    if queue and schema is not None:
        raise UsageError("--schema validates the answer in this kernel: leave out --queue")
    if queue:
        from .queued import queue_agent

        def keep(result: Any) -> None:
            session.keep(prepared, result.text, result.model)
            session.remember(prompt, result.text, model=result.model, agent=agent.name,
                             source=session.cell_source(result.shown_in))

        return queue_agent(session, agent, prepared, tools=tools, allow=allow, out=out, keep=keep)
    if tools != ():
        from .acting import act
        result = act(session, agent, prepared, tools=tools, allow=allow, fmt=fmt, stream=stream, out=out,
                     schema=schema)
    else:
        result = llm.ask(session, agent.model_id, prepared, params=agent.params, fallbacks=agent.fallbacks, fmt=fmt,
                         stream=stream, cache=cache, out=out, schema=schema)
    session.keep(prepared, result.text, result.model)
    return result


def run(session: Session, line: str, cell: str | None) -> Any:
    """`%%agent NAME [options]` (the cell is the prompt), `%agent NAME prompt`, and the subcommands."""
    try:
        if cell is None:
            call = AGENT.find(session, line)
            if call is not None:
                return call()
        name, _, rest = line.strip().partition(" ")
        if not name:
            raise UsageError("name the agent: %%agent NAME [options] (%agent list shows them)")
        from .core import CoditectMagics
        args, prompt = split_options(parser_of(CoditectMagics.agent), rest)
        if cell is not None:
            if prompt:
                raise UsageError(f"unexpected text on the %%agent line: {prompt!r}; the prompt goes in the cell")
            prompt = cell
        prompt = interpolate(prompt, session.namespace).strip()
        if not prompt:
            raise UsageError(f"no prompt for agent {name!r}: write it in the cell")
        options = {"model": args.model, "temperature": args.temperature, "max_tokens": args.max_tokens,
                   "fallbacks": llm.ids(args.fallback) if args.fallback else None,
                   "search": True if args.search else None}
        agent = session.resolve_agent(name, options)
        schema = resolve_schema(args.schema, session.namespace) if args.schema else None
        return run_agent(session, agent, prompt, fmt=args.format or ("code" if schema else session.settings.format),
                         stream=not args.no_stream, cache=False if args.no_cache else None, out=args.out,
                         new=args.new, tools=tool_names(args.tools, session.agents.get(name)), allow=args.allow,
                         queue=args.queue, notebook=args.notebook, schema=schema)
    except EXPECTED as exc:
        show_error(str(exc), exc)
        return None
    finally:
        say_notices(session)


def listing(session: Session, words: list[str]) -> Any:
    """`%agent list`: every agent with its description, model (bound or from its file) and file."""
    library = session.agents
    found = library.snapshot()  # one scan of the files for the rows and the errors
    rows = [[r["name"], r["description"], r["binding"] or r["model"] or "default", r["source"]]
            for r in library.rows(session.bindings(), width=100, items=found.items)]
    return library_table(["agent", "description", "model", "source"], rows, found.errors)


def show(session: Session, words: list[str]) -> Any:
    """`%agent show NAME`: its description, model, tools, file and system prompt."""
    from IPython.display import Markdown
    agent = session.agents.get(words[0])
    extra = "".join(f"\n- {k}: {v}" for k, v in agent.extra.items())
    return Markdown(f"### {agent.name}\n\n{agent.description}\n\n- model: {agent.model or 'default'}\n"
                    f"- tools: {', '.join(agent.tools) or 'none'}\n- source: {agent.source}{extra}\n\n"
                    f"```\n{agent.system_prompt}\n```")


def command_listing(session: Session, words: list[str]) -> Any:
    """`%cmd list`: the command templates with their description, agent and arguments."""
    library = session.commands
    found = library.snapshot()  # one scan of the files for the rows and the errors
    rows = [[r["name"], r["description"], r["agent"], r["argument_hint"]]
            for r in library.rows(width=100, items=found.items)]
    return library_table(["command", "description", "agent", "arguments"], rows, found.errors)


def run_command(session: Session, line: str) -> Any:
    """`%cmd NAME args...` fills the template and runs it through its agent (or its model, or the default)."""
    try:
        call = CMD.find(session, line.strip() or "list")
        if call is not None:
            return call()
        name, _, args = line.strip().partition(" ")
        template = session.commands.get(name)
        prompt = interpolate(template.render(args), session.namespace)
        fmt = session.settings.format
        if template.agent:
            return run_agent(session, session.resolve_agent(template.agent, {"model": template.model}), prompt,
                             fmt=fmt)
        return llm.plain_call(session, template.model or session.default_model(), "", prompt, fmt)
    except EXPECTED as exc:
        show_error(str(exc), exc)
        return None
    finally:
        say_notices(session)
