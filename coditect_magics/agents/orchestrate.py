"""The orchestrator: an agent whose model writes a plan (JSON, validated against `Plan`, asked again with the
problems when it is not valid), whose steps run as a DAG through the runner (independent steps at once, each given
its dependencies' results; a failed step's dependents skipped with the reason, the rest still run), and which then
writes the final answer from the step results.

    orchestrator = Orchestrator(runner, resolved_orchestrator)
    plan = await orchestrator.plan("Compare X and Y", agents=["researcher", "writer"])
    done = await orchestrator.execute(plan)          # done.text, done.steps, done.trace"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from coditect_magics.executor import CallContext
from coditect_magics.providers import Message

from .resolve import ResolvedAgent
from .runner import AgentEvent, RunFinished, RunStarted, Runner
from .trace import Trace

PLAN_ONLY = ("Answer with the plan as one JSON object and nothing else, matching this JSON schema:\n{schema}\n"
             "Use only the agents offered. Each step's task must stand on its own: the agent sees nothing but its "
             "task and the results of the steps it depends on. Keep dependencies to the real ones: steps without "
             "them run at the same time.")
FINAL = ("The plan has run. Write the final answer to the user's request from the step results: lead with the "
         "conclusion, keep the specialists' caveats, and say plainly what is missing when a step failed or was "
         "skipped. Do not invent results.")


class PlanError(ValueError):
    """The orchestrator model gave no valid plan after its retries; the message lists the last problems."""


@dataclass(frozen=True)
class PlanReady:
    """The plan the steps will run (an event, before any step starts)."""

    plan: Any
    attempts: int


@dataclass(frozen=True)
class StepResult:
    id: str
    agent: str
    status: str            # done | failed | skipped
    text: str = ""
    note: str = ""
    trace: Trace | None = None


@dataclass(frozen=True)
class Orchestration:
    """A finished orchestrated run: the plan, each step's result, the final answer and the whole trace."""

    plan: Any
    steps: tuple[StepResult, ...]
    text: str
    status: str
    trace: Trace

    def _repr_markdown_(self) -> str:
        return self.text


class Orchestrator:
    """Plans with `agent` (the orchestrator's resolved definition) and runs plans through `runner`."""

    def __init__(self, runner: Runner, agent: ResolvedAgent, *, candidates: int = 5, retries: int = 2,
                 ranking: str = "auto") -> None:
        self.runner, self.agent, self.candidates, self.retries = runner, agent, candidates, retries
        self.ranking = ranking  # find()'s: "auto" ranks by meaning when the memory embedder is installed
        self._planning: list[Any] = []   # the planning calls (executions) since the last run
        self._planned_from: float | None = None  # when that planning began: the run's trace counts it

    @property
    def planning(self) -> tuple[Any, ...]:
        """The planning calls (executions: `.reply`, `.row`) made since the last run."""
        return tuple(self._planning)

    def _context(self, run_id: str) -> CallContext:
        return CallContext(agent=self.agent.name, run_id=run_id, agent_budget_usd=self.agent.budget_usd)

    def offered(self, goal: str, agents: Sequence[str] | None = None) -> list[tuple[str, str]]:
        """The agents the plan may use: those named, else the best `find()` matches for the goal."""
        from .discovery import find
        from .front_matter import first_line
        library = self.runner.agents
        if agents:
            return [(name, first_line(library.get(name).description, 200)) for name in agents]
        items = library.items  # one scan of the search path, not one per agent
        others = sorted(n for n in items if n != self.agent.name)
        if len(others) <= self.candidates:  # nothing to rank away: spare loading an embedder
            return [(name, first_line(items[name].description, 200)) for name in others]
        found = find(goal, k=self.candidates + 1, library=library, ranking=self.ranking)
        return [(m.name, first_line(m.description, 200)) for m in found if m.name != self.agent.name][:self.candidates]

    async def plan(self, goal: str, agents: Sequence[str] | None = None, *, run_id: str | None = None,
                   on_event: Callable[[Any], Any] | None = None) -> Any:
        """Ask the orchestrator model for a plan; re-ask with the validation problems up to `retries` times."""
        from .plan import as_plan, problems_of, schema_text
        offered = self.offered(goal, agents)
        names = {name for name, _ in offered}
        context = {"agents": names, "suggest": lambda task: self._suggest(task, names)}
        system = "\n\n".join(p for p in (self.agent.system_prompt, PLAN_ONLY.format(schema=schema_text())) if p)
        listed = "\n".join(f"- {name}: {description}" for name, description in offered)
        messages = [Message("system", system), Message("user", f"Request:\n{goal}\n\nAgents you may use:\n{listed}")]
        run_id = run_id or uuid.uuid4().hex
        self._planned_from = self._planned_from or time.perf_counter()
        problems: list[str] = []
        for attempt in range(1, self.retries + 2):
            execution = self.runner.executor.stream(self.agent.model_id, messages, context=self._context(run_id),
                                                    stream=False, fallbacks=self.agent.fallbacks,
                                                    **self.agent.params)
            async for _ in execution:
                pass
            self._planning.append(execution)
            text = execution.reply.text
            try:
                plan = as_plan(text, context)
            except ValueError as exc:
                problems = problems_of(exc)
                messages += [Message("assistant", text), Message("user", "That plan is not valid:\n" + "\n".join(
                    f"- {p}" for p in problems) + "\nAnswer again with the corrected JSON only.")]
                continue
            if not plan.goal:
                plan = plan.model_copy(update={"goal": goal})
            if on_event is not None:
                on_event(PlanReady(plan, attempt))
            return plan
        raise PlanError(f"the orchestrator gave no valid plan in {self.retries + 1} tries; last problems: "
                        + "; ".join(problems))

    def _suggest(self, task: str, names: set[str]) -> list[str]:
        """The offered agents best suited to a step's task (told to the model when it named an unknown one)."""
        if len(names) <= 3:
            return sorted(names)
        from .discovery import find
        found = find(task, k=len(self.runner.agents.items), library=self.runner.agents, ranking=self.ranking)
        return [m.name for m in found if m.name in names][:3]

    async def run(self, goal: str, agents: Sequence[str] | None = None, *,
                  on_event: Callable[[Any], Any] | None = None) -> Orchestration:
        """Plan, run the plan, answer."""
        run_id = uuid.uuid4().hex
        plan = await self.plan(goal, agents, run_id=run_id, on_event=on_event)
        return await self.execute(plan, run_id=run_id, on_event=on_event)

    async def execute(self, plan: Any, *, run_id: str | None = None,
                      on_event: Callable[[Any], Any] | None = None) -> Orchestration:
        """Run a plan's steps as a DAG, then write the final answer; the plan is checked again first (an edited
        plan may name an agent that does not exist or add a cycle)."""
        from .plan import as_plan
        plan = as_plan(plan, {"agents": set(self.runner.agents.items)})
        run_id = run_id or uuid.uuid4().hex
        started = self._planned_from or time.perf_counter()
        planning, self._planning, self._planned_from = self._planning, [], None
        parent = planning[-1].call_id if planning else None
        emit = on_event or (lambda event: None)
        futures: dict[str, asyncio.Future[StepResult]] = {}

        async def one(step: Any) -> StepResult:
            needed = [await futures[d] for d in step.depends_on]
            return await self.run_step(step, needed, run_id=run_id, parent=parent, on_event=on_event)

        for wave in plan.waves():  # dependencies first, so each step finds its dependencies' futures
            for id_ in wave:
                futures[id_] = asyncio.ensure_future(one(plan.step(id_)))
        try:
            results = [await futures[s.id] for s in plan.steps]
        finally:
            for future in futures.values():
                future.cancel()
        final = await self.answer(plan, results, run_id=run_id, parent=parent, on_event=emit)
        return self.finish(plan, results, final, planning, started)

    async def run_step(self, step: Any, needed: Sequence[StepResult], *, run_id: str, parent: str | None = None,
                       on_event: Callable[[Any], Any] | None = None) -> StepResult:
        """One step, given the results of the steps it depends on (a worker runs it as one job): skipped when one
        of them did not finish, else its agent's run on its task followed by those results."""
        emit = on_event or (lambda event: None)
        missing = [d for d in needed if d.status != "done"]
        if missing:
            why = "; ".join(f"{d.id} {d.status}" for d in missing)
            skipped = StepResult(step.id, step.agent, "skipped", note=f"skipped because {why}")
            node = Trace(agent=step.agent, model="", status="skipped", task=step.task, note=skipped.note,
                         run_id=run_id, parent_call_id=parent)
            emit(RunFinished(1, node))
            return replace(skipped, trace=node)
        prompt = step.task + "".join(
            ("\n\nResults of the steps this one builds on:" if i == 0 else "") + f"\n\n### {d.id} ({d.agent})\n"
            f"{d.text}" for i, d in enumerate(needed))
        try:
            agent, tools, skills = self.runner.resolve(step.agent, self.agent.model_id)
            done = await self.runner.run(agent, prompt, tools=tools, skills=skills, on_event=on_event,
                                         run_id=run_id, parent_call_id=parent, depth=1)
        except Exception as exc:  # noqa: BLE001 - one step's failure is reported; the others go on
            note = f"{type(exc).__name__}: {exc}"
            node = Trace(agent=step.agent, model="", status="failed", task=prompt, note=note, run_id=run_id)
            emit(RunFinished(1, node))
            return StepResult(step.id, step.agent, "failed", note=note, trace=node)
        if done.status != "done":
            return StepResult(step.id, step.agent, "failed", done.text, f"{done.status}: {done.trace.note}",
                              done.trace)
        return StepResult(step.id, step.agent, "done", done.text, trace=done.trace)

    async def answer(self, plan: Any, results: Sequence[StepResult], *, run_id: str, parent: str | None = None,
                     on_event: Callable[[Any], Any] | None = None) -> Any:
        """The orchestrator's final answer from the step results, streamed as TextDelta events."""
        emit = on_event or (lambda event: None)
        from coditect_magics.tools import ToolLoop
        body = "\n\n".join(f"### {r.id} ({r.agent}) — {r.status}" + (f": {r.note}" if r.note else "")
                           + (f"\n{r.text}" if r.text else "") for r in results)
        messages = [Message("system", "\n\n".join(p for p in (self.agent.system_prompt, FINAL) if p)),
                    Message("user", f"Request:\n{plan.goal}\n\nStep results:\n\n{body}")]
        emit(RunStarted(self.agent.name, self.agent.model_id, 0, plan.goal))
        loop = ToolLoop(self.runner.executor, self.agent.model_id, messages, [],
                        context=replace(self._context(run_id), parent_call_id=parent), stream=self.runner.stream,
                        fallbacks=self.agent.fallbacks, **self.agent.params)
        async for event in loop:
            emit(AgentEvent(self.agent.name, 0, event))
        return loop.result

    def finish(self, plan: Any, results: Sequence[StepResult], final: Any, planning: Sequence[Any],
               started: float) -> Orchestration:
        """The Orchestration: the plan, the step results, the final answer, and a trace whose cost counts the
        planning calls, the steps and the answer."""
        rows = [e.row for e in planning if e.row is not None]
        usage_in = sum(e.reply.usage.input_tokens for e in planning if e.reply) + final.usage.input_tokens
        usage_out = sum(e.reply.usage.output_tokens for e in planning if e.reply) + final.usage.output_tokens
        failed = [r for r in results if r.status != "done"]
        status = "done" if not failed and final.status == "done" else "partial" if final.status == "done" \
            else final.status
        note = "; ".join(f"{r.id} {r.status}" + (f" ({r.note})" if r.note else "") for r in failed)
        trace = Trace(agent=self.agent.name, model=self.agent.model_id, status=status,
                      messages=len(final.messages), steps=len(planning) + final.steps, input_tokens=usage_in,
                      output_tokens=usage_out, cost_usd=sum(r.cost_usd or 0.0 for r in rows) + final.cost_usd,
                      price_known=all(r.price_known for r in rows) and final.price_known,
                      seconds=time.perf_counter() - started, task=plan.goal, note=note, run_id=final.run_id,
                      call_ids=tuple(e.call_id for e in planning) + final.call_ids,
                      children=tuple(r.trace for r in results if r.trace is not None))
        return Orchestration(plan, tuple(results), final.text, status, trace)
