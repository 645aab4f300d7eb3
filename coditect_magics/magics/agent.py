"""The `%%agent`, `%agent` and `%cmd` fronts: find the agent or command, resolve its model and settings, and run
it through the same path as `%llm`, attributed to the agent in the ledger."""

from __future__ import annotations

import uuid
from typing import Any

from coditect_magics.agents import (AgentLibrary, CommandLibrary, FileError, ResolvedAgent, UnknownName,
                                    load_bindings, resolve_agent)
from coditect_magics.context import interpolate
from coditect_magics.executor import CallContext

from coditect_magics.providers.types import Message

from . import conversation, llm
from .args import UsageError, parser_of, split_options
from .output import show_error

EXPECTED = llm.EXPECTED + (UnknownName, FileError)


def agents(magics: Any) -> AgentLibrary:
    """The agent search path: the project's, the user's, configured directories, then the kit's examples."""
    library = getattr(magics, "_agents", None)
    if library is None or library.configured != tuple(magics.agent_dirs):
        library = magics._agents = AgentLibrary(magics.agent_dirs)
    return library


def commands(magics: Any) -> CommandLibrary:
    library = getattr(magics, "_commands", None)
    if library is None or library.configured != tuple(magics.command_dirs):
        library = magics._commands = CommandLibrary(magics.command_dirs)
    return library


def resolved(magics: Any, name: str, options: dict[str, Any]) -> ResolvedAgent:
    """The agent with its binding and the magic's options applied; unreadable binding entries are said once.
    The default model is looked up only when neither the options, the binding nor the agent file name one."""
    definition = agents(magics).get(name)
    bindings = load_bindings(magics.bindings_path)
    broken = bindings.error_for(name)
    if broken is not None:  # running unbound would silently drop its settings (a budget, say)
        raise broken
    for error in bindings.errors:
        show_error(str(error))
    binding, defaults = bindings.get(name), bindings.defaults
    named = (options.get("model") or (binding and binding.model_id) or definition.model not in (None, "inherit")
             or (defaults and defaults.model_id))
    default = magics.default_model if named else llm.default_model(magics)
    return resolve_agent(definition, binding, options, default, magics.model_aliases, defaults=defaults)


def run_agent(magics: Any, agent: ResolvedAgent, prompt: str, *, fmt: str, stream: bool = True,
              cache: bool | None = None, out: str | None = None, new: bool = False, tools: Any = (),
              allow: str | None = None, queue: bool = False) -> Any:
    """Run the agent on a prompt; what memory holds about the prompt joins its system prompt (how much, and how
    close, its binding may say: memory_items, memory_min_score). With `tools` (names; None: the default set) it
    runs through the runner's tool loop; `()` is one plain call. `allow` (--allow) wins over the binding's;
    `queue`: a worker runs it (see `queued`)."""
    allow = allow or agent.allow
    from .memory import recall
    thread = conversation.store(magics).thread(conversation.notebook_of(magics), f"agent:{agent.name}")
    if new:
        thread.reset()
    recalled, used = recall(magics, prompt, agent.memory_items, agent.memory_min_score,
                            already=[m.text for m in thread.messages()])
    system = "\n\n".join(part for part in (agent.system_prompt, recalled) if part)
    question = Message("user", prompt)
    messages = conversation.with_history(magics, thread, [Message("system", system)], question,
                                         model=agent.model_id, reply_tokens=agent.max_tokens)
    context = CallContext(agent=agent.name, run_id=uuid.uuid4().hex, agent_budget_usd=agent.budget_usd,
                          memory_items=used)
    if tools is None and not calls_tools(agent.model_id):
        said = magics.__dict__.setdefault("_said_no_tools", set())
        if agent.name not in said:
            said.add(agent.name)
            show_error(f"{agent.model_id} cannot call tools, so {agent.name} answers without them (bind it to a model "
                       "that can, or write `tools: []` in its file)")
        tools = ()
    if queue:
        from .memory import remember
        from .queued import queue_agent

        def keep(result: Any) -> None:
            conversation.keep(thread, question, result)
            remember(magics, prompt, result, agent=agent.name)

        return queue_agent(magics, agent, messages, tools=tools, allow=allow, out=out, memory_items=used, keep=keep)
    if tools != ():
        from .acting import run as act
        result = act(magics, agent, messages, tools=tools, allow=allow, fmt=fmt, stream=stream, out=out,
                     context=context)
    else:
        result = llm.ask(magics, agent.model_id, messages, params=agent.params, fallbacks=agent.fallbacks, fmt=fmt,
                         stream=stream, cache=cache, out=out, context=context)
    conversation.keep(thread, question, result)
    return result


def calls_tools(model_id: str) -> bool:
    """Whether the model's provider can call tools (an id it cannot resolve is left for the call to report)."""
    from coditect_magics.providers import errors, registry
    try:
        return registry.entry(registry.resolve(model_id)[0]).spec.tools
    except errors.ProviderError:
        return True


def run(magics: Any, line: str, cell: str | None) -> Any:
    """`%%agent NAME [options]` (the cell is the prompt), `%agent NAME prompt`, `%agent list`, `%agent show NAME`."""
    try:
        name, _, rest = line.strip().partition(" ")
        if cell is None and name == "list" and not rest.strip():
            return listing(magics)
        if cell is None and name == "panel" and not rest.strip():
            from .panels import runs as panel
            return panel(magics)
        if cell is None and name == "show" and rest.strip():
            return show(magics, rest.strip())
        if cell is None and name == "find" and rest.strip():
            from .acting import find_agents
            return find_agents(magics, rest)
        if cell is None and name in ("runs", "result", "cancel", "map"):
            from . import queued
            if name == "runs" and not rest.strip():
                return queued.listing(magics)
            if name == "result":
                return queued.result(magics, rest.split())
            if name == "cancel":
                return queued.cancel(magics, rest.split())
            if name == "map":
                return queued.map_rows(magics, rest)
        if not name:
            raise UsageError("name the agent: %%agent NAME [options] (%agent list shows them)")
        args, prompt = split_options(parser_of(type(magics).agent), rest)
        if cell is not None:
            if prompt:
                raise UsageError(f"unexpected text on the %%agent line: {prompt!r}; the prompt goes in the cell")
            prompt = cell
        prompt = interpolate(prompt, magics.shell.user_ns).strip()
        if not prompt:
            raise UsageError(f"no prompt for agent {name!r}: write it in the cell")
        options = {"model": args.model, "temperature": args.temperature, "max_tokens": args.max_tokens,
                   "fallbacks": llm._ids(args.fallback) if args.fallback else None,
                   "search": True if args.search else None}
        agent = resolved(magics, name, options)
        from .acting import tool_names
        return run_agent(magics, agent, prompt, fmt=args.format or magics.format, stream=not args.no_stream,
                         cache=False if args.no_cache else None, out=args.out, new=args.new,
                         tools=tool_names(args.tools, agents(magics).get(name)), allow=args.allow,
                         queue=args.queue)
    except EXPECTED as exc:
        show_error(str(exc), exc)
        return None


def listing(magics: Any) -> Any:
    from IPython.display import Markdown
    library = agents(magics)
    lines = ["| agent | description | model | source |", "|---|---|---|---|"]
    for row in library.rows(load_bindings(magics.bindings_path), width=100):
        model = row["binding"] or row["model"] or "default"
        lines.append(f"| {row['name']} | {row['description'].replace('|', '/')} | {model} | {row['source']} |")
    lines += [f"\n**Not loaded:** `{error}`" for error in library.errors]
    return Markdown("\n".join(lines))


def show(magics: Any, name: str) -> Any:
    from IPython.display import Markdown
    agent = agents(magics).get(name)
    extra = "".join(f"\n- {k}: {v}" for k, v in agent.extra.items())
    return Markdown(f"### {agent.name}\n\n{agent.description}\n\n- model: {agent.model or 'default'}\n"
                    f"- tools: {', '.join(agent.tools) or 'none'}\n- source: {agent.source}{extra}\n\n"
                    f"```\n{agent.system_prompt}\n```")


def run_command(magics: Any, line: str) -> Any:
    """`%cmd NAME args...` fills the template and runs it through its agent (or its model, or the default)."""
    try:
        name, _, args = line.strip().partition(" ")
        if name in ("", "list"):
            from IPython.display import Markdown
            library = commands(magics)
            lines = ["| command | description | agent | arguments |", "|---|---|---|---|"]
            lines += [f"| {r['name']} | {r['description']} | {r['agent']} | {r['argument_hint']} |"
                      for r in library.rows(width=100)]
            lines += [f"\n**Not loaded:** `{error}`" for error in library.errors]
            return Markdown("\n".join(lines))
        template = commands(magics).get(name)
        prompt = interpolate(template.render(args), magics.shell.user_ns)
        if template.agent:
            agent = resolved(magics, template.agent, {"model": template.model})
            return run_agent(magics, agent, prompt, fmt=magics.format)
        model = template.model or llm.default_model(magics)
        return llm.ask(magics, model, [{"role": "user", "content": prompt}], params=llm._params_of(magics),
                       fmt=magics.format)
    except EXPECTED as exc:
        show_error(str(exc), exc)
        return None
