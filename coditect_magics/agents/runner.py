"""Runs an agent with tools: its system prompt (+ memory, + the skills it may load), the tool loop over the executor
with the tools its file names (no `tools:` key: the default set), and two built-ins that only the runner can give:

- `Skill` loads a skill's instructions, and the functions in its `*.py` files as tools, when the agent asks;
- `Task` (also answering to `Agent`, Claude Code's newer name) runs another agent by name through this same runner
  and returns its final answer. A reply's delegations run together (the loop runs a reply's calls at once).

One `Limits` holds for the whole tree of a run: depth, model calls in all, wall time and spend, checked before each
delegation and after each model reply; a hit limit ends that branch and the parent hears why. Every agent run is a
`Trace` node; every model call a ledger row with the agent, the run's id and the call that delegated it.

    runner = Runner(executor, agents=AgentLibrary(), skills=SkillLibrary())
    done = await runner.run(resolved_agent, "Review app.py", on_event=print)
    done.text, done.status, done.trace"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, AsyncIterator, Callable, Mapping, Sequence, Union

from coditect_magics.executor import CallContext, Executor
from coditect_magics.providers import Message, Usage

from .resolve import ResolvedAgent, resolve_agent
from .skill_tools import skill_tools, skills_block
from .trace import ToolRun, Trace

DELEGATION_NAMES = ("Task", "Agent")


@dataclass(frozen=True)
class Limits:
    """Bounds on a whole run tree; None: no bound."""

    depth: int = 3                   # delegations below the first agent
    steps: int = 10                  # model calls per agent run
    total_steps: int | None = 50     # model calls in the whole tree
    time_s: float | None = None      # wall time of the whole tree
    budget_usd: float | None = None  # known spend of the whole tree


@dataclass(frozen=True)
class RunStarted:
    agent: str
    model: str
    depth: int
    task: str


@dataclass(frozen=True)
class RunFinished:
    depth: int
    trace: Trace


@dataclass(frozen=True)
class AgentEvent:
    """A tool-loop event (TextDelta, ModelReplied, ToolStarted, ToolFinished) and the agent run it came from."""

    agent: str
    depth: int
    event: Any


Event = Union[RunStarted, RunFinished, AgentEvent]


@dataclass(frozen=True)
class AgentRun:
    """A finished run: the first agent's answer and status, the messages of its loop, the whole tree's trace."""

    text: str
    status: str
    trace: Trace
    messages: tuple[Message, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def usage(self) -> Usage:
        tokens_in, tokens_out = self.trace.total_tokens
        return Usage(tokens_in, tokens_out)


@dataclass
class _Tree:
    """What the runs of one tree share: its id, start, the model calls made and the known spend."""

    run_id: str
    limits: Limits
    emit: Callable[[Event], Any]
    policy: Any = None                # the run's approval policy (tools.approval.Policy), shared by its agents
    started: float = field(default_factory=time.perf_counter)
    steps: int = 0
    spent: float = 0.0

    def left_s(self) -> float | None:
        return None if self.limits.time_s is None else self.limits.time_s - (time.perf_counter() - self.started)

    def exhausted(self) -> tuple[str, str] | None:
        """(status, why) once a limit of the tree is reached, else None."""
        lim = self.limits
        if lim.total_steps is not None and self.steps >= lim.total_steps:
            return "max_steps", f"the run has made {self.steps} model calls, its limit"
        if lim.budget_usd is not None and self.spent >= lim.budget_usd:
            return "budget", f"the run has spent ${self.spent:.4f} of its ${lim.budget_usd:g} budget"
        left = self.left_s()
        if left is not None and left <= 0:
            return "time_limit", f"the run's time limit of {lim.time_s:g} s is reached"
        return None


@dataclass
class _Node:
    """One agent run under way: the tools its loop offers (a skill adds to them), the model call that asked for
    the latest tool calls (the parent of any delegation), and the runs it started."""

    depth: int
    tools: dict[str, Any] = field(default_factory=dict)
    last_call_id: str | None = None
    children: list[Trace | None] = field(default_factory=list)


class Runner:
    """Runs agents for the magics, panels and workers. `toolbox` holds Toolbox options (root, allow, namespace,
    memory, search_backend, fetch_limits); `recall(agent, task)` → (memory text, items) adds memory to a
    delegated agent's system prompt (the first agent's messages arrive built)."""

    def __init__(self, executor: Executor, *, agents: Any = None, skills: Any = None, bindings: Any = None,
                 model_aliases: Mapping[str, str] | None = None, toolbox: Mapping[str, Any] | None = None,
                 limits: Limits = Limits(), stream: bool = True,
                 recall: Callable[[ResolvedAgent, str], tuple[str, int]] | None = None, asks: bool = False) -> None:
        self.executor, self.agents, self.skills, self.bindings = executor, agents, skills, bindings
        self.model_aliases = dict(model_aliases or {})
        from coditect_magics.tools import Toolbox
        # one toolbox for every run of the tree: built-ins are made once, a missing name is reported once
        self.toolbox = Toolbox(**dict(toolbox or {}))
        self.limits, self.stream, self.recall = limits, stream, recall
        self.asks = asks   # whoever reads the events answers ApprovalNeeded (a front); else nobody is asked
        self.warnings: list[str] = []
        self._templates: dict[str, Any] = {}

    # -- the face
    async def run(self, agent: ResolvedAgent, task: str | Sequence[Any], *, tools: Any = None,
                  on_event: Callable[[Event], Any] | None = None, run_id: str | None = None,
                  skills: Any = None, memory_items: int = 0, parent_call_id: str | None = None,
                  depth: int = 0) -> AgentRun:
        """Run `agent` on a task (text, or messages already holding its system prompt, memory and history).
        `tools`: names (a comma string or a list, functions and Tools too); None: the default set. A plan's step
        runs with the plan's `run_id`, the planning call as `parent_call_id`, at `depth` 1."""
        async def emit(event: Event) -> None:
            if on_event is not None:
                handled = on_event(event)
                if asyncio.iscoroutine(handled):
                    await handled

        from coditect_magics.tools.approval import Policy, asking_through
        from coditect_magics.tools.python import main_thread, through_events
        front = self.asks and on_event is not None
        tree = _Tree(run_id or uuid.uuid4().hex, self.limits, emit,
                     Policy(self.toolbox.allowed, asking_through(emit) if front else None))
        if front:  # code the run executes goes to the front's (the kernel's main) thread, as a cell's would
            main_thread.set(through_events(emit))
        messages = [Message.coerce(m) for m in task] if not isinstance(task, str) else None
        text = task if isinstance(task, str) else next((m.text for m in reversed(messages) if m.role == "user"), "")
        return await self._run(tree, agent, text, messages, tools, depth=depth, parent_call_id=parent_call_id,
                               skills=skills, memory_items=memory_items)

    def events(self, agent: ResolvedAgent, task: Any, **options: Any) -> AsyncIterator[Event | AgentRun]:
        """The run's events as they happen, then the AgentRun: for `bridge.iterate` in a magic."""
        return stream_of(lambda emit: self.run(agent, task, on_event=emit, **options))

    def resolve(self, name: str, parent_model: str, model: str | None = None) -> tuple[ResolvedAgent, Any, Any]:
        """A delegated agent with its binding; `inherit` (or no model anywhere) takes the parent's model, as in
        Claude Code. Returns the agent, its tool names (None: the default set) and its `skills:` (None: all)."""
        definition = self.agents.get(name)
        bindings = self.bindings
        agent = resolve_agent(definition, bindings.get(name) if bindings is not None else None,
                              {"model": model}, parent_model, self.model_aliases,
                              defaults=bindings.defaults if bindings is not None else None)
        return agent, (definition.tools if definition.declares_tools else None), definition.extra.get("skills")

    # -- one agent run
    async def _run(self, tree: _Tree, agent: ResolvedAgent, task: str, messages: list[Message] | None, tools: Any,
                   *, depth: int, parent_call_id: str | None, skills: Any = None,
                   memory_items: int = 0) -> AgentRun:
        from coditect_magics.tools import ModelReplied, ToolFinished, ToolLoop, ToolStarted
        started = time.perf_counter()
        node = _Node(depth)
        names = self._default_names() if tools is None else tools
        await self.toolbox.prepare(names)   # MCP servers the names need start here, on the loop
        chosen = self._resolve(names, {t.name: t for t in self._builtins(tree, agent, node)}, agent.name or "llm")
        node.tools.update({t.name: t for t in chosen})
        if messages is None:
            memory, memory_items = ("", 0)
            if self.recall is not None and depth > 0:
                memory, memory_items = await asyncio.to_thread(self.recall, agent, task)
            messages = [Message("user", task)]
            if agent.system_prompt or memory:
                messages.insert(0, Message("system", "\n\n".join(p for p in (agent.system_prompt, memory) if p)))
        if "Skill" in node.tools:
            messages = with_system(messages, skills_block(self.skills, skills))
        await tree.emit(RunStarted(agent.name, agent.model_id, depth, task))
        context = CallContext(agent=agent.name or None, run_id=tree.run_id, parent_call_id=parent_call_id,
                              agent_budget_usd=agent.budget_usd, memory_items=memory_items)
        loop = ToolLoop(self.executor, agent.model_id, messages, list(node.tools.values()), context=context,
                        max_steps=self.limits.steps, time_limit_s=tree.left_s(), stream=self.stream,
                        fallbacks=agent.fallbacks, approval=tree.policy, **agent.params)
        node.tools = loop.tools  # the Skill tool adds to what the loop offers from its next step
        runs: list[tuple[int, ToolRun]] = []
        order: dict[tuple[int, str], int] = {}  # the trace lists calls as the model made them, not as they ended
        stopped: tuple[str, str] | None = None
        events = loop.__aiter__()
        try:
            async for event in events:
                if isinstance(event, ModelReplied):
                    node.last_call_id = event.call_id
                    tree.steps += 1
                    tree.spent += known_cost(event.reply)
                    stopped = tree.exhausted() if event.reply.tool_calls else None
                elif isinstance(event, ToolStarted):
                    order.setdefault((event.step, event.call.id), len(order))
                elif isinstance(event, ToolFinished):
                    entry = event.entry
                    runs.append((order.get((entry.step, entry.call_id), len(order)),
                                 ToolRun(entry.tool, entry.arguments, entry.summary, entry.seconds, entry.is_error,
                                         entry.call_id, entry.decision)))
                await tree.emit(AgentEvent(agent.name, depth, event))
                if stopped:
                    break
        finally:
            await events.aclose()
        result = loop.result
        status, note = stopped or (result.status, result.note)
        trace = Trace(agent=agent.name or "llm", model=agent.model_id, status=status, messages=len(result.messages),
                      steps=result.steps, tool_calls=tuple(run for _, run in sorted(runs, key=lambda r: r[0])),
                      input_tokens=result.usage.input_tokens,
                      output_tokens=result.usage.output_tokens, cost_usd=result.cost_usd,
                      price_known=result.price_known, seconds=time.perf_counter() - started, task=task, note=note,
                      run_id=tree.run_id, parent_call_id=parent_call_id, call_ids=result.call_ids,
                      children=tuple(c for c in node.children if c is not None))
        await tree.emit(RunFinished(depth, trace))
        return AgentRun(result.text, status, trace, result.messages, tuple(self.warnings))

    def _default_names(self) -> list[str]:
        """No `tools:` key: every built-in the toolbox permits, Task, and Skill when there are skills."""
        names = [*self.toolbox.names, *(["Task"] if self.agents is not None else [])]
        return names + (["Skill"] if self.skills is not None and self.skills.items else [])

    def _resolve(self, names: Any, given: Mapping[str, Any], who: str) -> list[Any]:
        """The tools for `names`: the runner's own (Task, Agent, Skill) from `given`, the rest from the toolbox;
        what the toolbox could not resolve is said once, naming the agent that asked."""
        if isinstance(names, str):
            names = names.replace(",", " ").split()
        reported = len(self.toolbox.warnings)
        chosen: dict[str, Any] = {}
        for item in names:
            for found in ([given[item]] if isinstance(item, str) and item in given else self.toolbox.resolve([item])):
                chosen.setdefault(found.name, found)
        for warning in self.toolbox.warnings[reported:]:
            self._warn(f"{who}: {warning}")
        return list(chosen.values())

    def _warn(self, warning: str) -> None:
        if warning not in self.warnings:
            self.warnings.append(warning)

    # -- the built-ins the runner gives
    def _builtins(self, tree: _Tree, agent: ResolvedAgent, node: _Node) -> list[Any]:
        made = []
        if self.agents is not None:
            delegate = self._delegate(tree, agent, node)
            description = self._task_description()
            made += [replace(self._template(name, delegate), function=delegate, description=description)
                     for name in DELEGATION_NAMES]
        if self.skills is not None:
            load = self._skill(node)
            made.append(replace(self._template("Skill", load), function=load))
        return made

    def _template(self, name: str, function: Callable[..., Any]) -> Any:
        """The tool's schema, made once per runner: each agent run only swaps in its own function."""
        from coditect_magics.tools import Tool
        made = self._templates.get(name)
        if made is None:
            made = self._templates[name] = Tool.from_function(function, name=name)
        return made

    def _task_description(self) -> str:
        from .front_matter import first_line
        items = self.agents.items  # one scan of the search path, not one per agent
        listed = "\n".join(f"- {name}: {first_line(items[name].description, 160)}" for name in sorted(items))
        return ("Hand a self-contained subtask to another agent; its final answer comes back as the result. "
                "Independent subtasks can be delegated in the same reply and run at the same time.\n"
                f"Available agents:\n{listed}")

    def _delegate(self, tree: _Tree, agent: ResolvedAgent, node: _Node) -> Callable[..., Any]:
        from coditect_magics.tools import ToolError

        async def task(description: str, prompt: str, subagent_type: str, model: str | None = None) -> str:
            """Run another agent on a subtask.

            Args:
                description: A short (3-5 word) description of the subtask.
                prompt: The whole task for the agent; it does not see this conversation.
                subagent_type: The name of the agent to run.
                model: Optional model for it (sonnet, opus, haiku or provider:model); default: its own.
            """
            if node.depth + 1 > tree.limits.depth:
                raise ToolError(f"delegation to {subagent_type} refused: it would run at depth {node.depth + 1}, "
                                f"beyond the limit of {tree.limits.depth}; do this part yourself or answer with "
                                f"what you have")
            limit = tree.exhausted()
            if limit:
                raise ToolError(f"delegation to {subagent_type} refused: {limit[1]}; answer with what you have")
            try:
                child, tools, skills = self.resolve(subagent_type, agent.model_id, model)
            except LookupError as exc:
                raise ToolError(str(exc)) from None
            slot = len(node.children)
            node.children.append(None)  # children keep the order they were started in
            try:
                done = await self._run(tree, child, prompt, None, tools, depth=node.depth + 1,
                                       parent_call_id=node.last_call_id, skills=skills)
            except Exception as exc:  # its provider failed: the trace keeps the branch, the parent hears why
                note = f"{type(exc).__name__}: {exc}"
                node.children[slot] = Trace(agent=child.name, model=child.model_id, status="error", task=prompt,
                                            note=note, run_id=tree.run_id, parent_call_id=node.last_call_id)
                raise ToolError(f"{subagent_type} failed: {note}") from None
            node.children[slot] = done.trace
            if done.status != "done":
                raise ToolError(f"{subagent_type} stopped ({done.status}): {done.trace.note}"
                                + (f"\nWhat it had so far:\n{done.text}" if done.text else ""))
            return done.text

        return task

    def _skill(self, node: _Node) -> Callable[..., Any]:
        from coditect_magics.tools import ToolError

        def load(skill: str) -> str:
            """Load a skill: its instructions, and the tools it brings, for the rest of this task.

            Args:
                skill: The skill's name, as listed under Skills.
            """
            try:
                found = self.skills.get(skill)
            except LookupError as exc:
                raise ToolError(str(exc)) from None
            brought = {t.name: t for t in skill_tools(found)}
            wanted = [n for n in found.allowed_tools if n not in brought and n not in node.tools]
            added = [*brought.values(), *self._resolve(wanted, {}, f"skill {found.name}")]
            node.tools.update({t.name: t for t in added})
            tools = f"\n\nTools it adds: {', '.join(t.name for t in added)}." if added else ""
            return f"# Skill: {found.name}\n\n{found.instructions}{tools}"

        return load


def with_system(messages: list[Message], block: str) -> list[Message]:
    """The messages with `block` added to the system prompt (one made when there is none)."""
    if not block:
        return messages
    for index, message in enumerate(messages):
        if message.role == "system":
            return [*messages[:index], Message("system", f"{message.text}\n\n{block}"), *messages[index + 1:]]
    return [Message("system", block), *messages]


def known_cost(reply: Any) -> float:
    """A reply's price where known (cached replies cost nothing); unknown prices add 0 here, the ledger keeps them."""
    if reply.cached:
        return 0.0
    from coditect_magics.costs import price
    try:
        priced = price(reply.provider, reply.model, reply.usage)
    except Exception:  # noqa: BLE001 - a price lookup must not end a run
        return 0.0
    return float(priced.usd or 0.0) if priced.known else 0.0


async def stream_of(start: Callable[[Callable[[Any], None]], Any]) -> AsyncIterator[Any]:
    """Run `start(emit)` and yield what it emits as it happens, then its result (its exception, raised)."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    done = object()
    task = asyncio.ensure_future(start(queue.put_nowait))
    task.add_done_callback(lambda _: queue.put_nowait(done))
    try:
        while (item := await queue.get()) is not done:
            yield item
        yield task.result()
    finally:
        task.cancel()
