"""The functions RQ workers run. Each job rebuilds, from what it carries, the parts a kernel would use (the kit's
files in a folder of their own, an executor with the worker's keys and a replay journal for this job, a runner)
and reports to its run's state as it goes (`progress`). A job whose worker dies is run again by another worker;
the journal answers the calls the first run finished, so nothing is charged twice."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from .progress import Progress, RunCancelled
from .spec import AgentJob, Kit, import_functions, materialize

KITS_DIR = Path(tempfile.gettempdir()) / "coditect-kits"


class JobFailed(RuntimeError):
    """A queued run failed; the message says why in one line (the run's state holds the same)."""


@dataclass(frozen=True)
class Outcome:
    """A queued agent run's result, as `%agent result` shows it."""

    run_id: str
    agent: str
    model: str
    text: str
    status: str
    note: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    trace: Any = None
    warnings: tuple[str, ...] = ()   # what the worker could not give the run (a tool it lacks, say)

    def _repr_markdown_(self) -> str:
        return self.text


_ledgers: dict[str, Any] = {}
_mcp: dict[tuple[str, tuple[float, float]], Any] = {}   # by the kit's servers: started once, kept from job to job
_executors: dict[str, Any] = {}  # by settings: their handles keep their SDK clients from job to job


def ledger_for(kit: Kit) -> Any:
    """The ledger the notebook writes to when it is a database URL, else this worker's (CODITECT_LEDGER or its
    user data dir); one per process, kept from job to job so a job skips connecting and migrating."""
    from coditect_magics.costs.ledger import Ledger, default_target
    target = str(kit.settings.get("ledger_path") or default_target())
    if target not in _ledgers:
        _ledgers[target] = Ledger(target)
    return _ledgers[target]


def mcp_servers(kit: Kit) -> Any:
    """The MCP servers a kit names, started by this worker on first use and kept for its life (None: none)."""
    if not kit.mcp_servers:
        return None
    key = (kit.mcp_servers, tuple(kit.mcp_timeouts))
    if key not in _mcp:
        import json

        from coditect_magics.mcp.config import from_entries
        from coditect_magics.mcp.manager import Manager, Timeouts
        loaded = from_entries(json.loads(kit.mcp_servers).get("mcpServers", {}))
        _mcp[key] = Manager(lambda: loaded, lambda: Timeouts(*kit.mcp_timeouts))
    return _mcp[key]


class Context:
    """What one job runs with: the executor (this worker's keys, the job's replay journal), a runner over the kit's
    agents and skills, and the run's progress."""

    def __init__(self, kit: Kit, run_id: str) -> None:
        from rq import get_current_job

        from coditect_magics.executor import Executor, ExecutorSettings

        from .replay import Replay
        job = get_current_job()
        if job is None:
            raise JobFailed("a coditect job runs inside an RQ worker (coditect-magics worker)")
        self.job, self.kit, self.run_id = job, kit, run_id
        self.redis = job.connection
        settings = {k: v for k, v in kit.settings.items() if k != "ledger_path"}
        key = repr(sorted(settings.items()))
        self.executor = _executors.get(key)
        if self.executor is None:
            self.executor = _executors[key] = Executor(
                ExecutorSettings(**settings, redis_url=os.environ.get("CODITECT_REDIS_URL")), ledger=ledger_for(kit))
        self.executor.replay = Replay(self.redis, job.id)  # a worker runs one job at a time
        self.progress = Progress(self.redis, run_id)
        self._runner: Any = None

    @property
    def runner(self) -> Any:
        if self._runner is None:
            from coditect_magics.agents import AgentLibrary, SkillLibrary, load_bindings
            from coditect_magics.agents.runner import Limits, Runner
            folder = materialize(self.kit, KITS_DIR)
            self._runner = Runner(
                self.executor, agents=AgentLibrary([folder / "agents"], standard=False),
                skills=SkillLibrary([folder / "skills"], standard=False),
                bindings=load_bindings(folder / "bindings.yaml"), model_aliases=self.kit.model_aliases,
                toolbox={"allow": self.kit.allow, "namespace": import_functions(self.kit.functions),
                         "memory": _memory, "mcp": mcp_servers(self.kit)},
                limits=Limits(**self.kit.limits), stream=False, recall=_recall(self.kit))
        return self._runner

    def run(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run the job's coroutine on the worker's one loop (its SDK clients, made on it, serve the next jobs
        too: a new client costs ~40 ms of TLS set-up); a failure is said once in the run's state and raised as
        JobFailed. A cancelled run gives None: the job ends without running it, or at its next step."""
        from coditect_magics import bridge
        try:
            if self.progress.cancelled():
                raise RunCancelled(self.run_id)
            return bridge.run(work())
        except RunCancelled:
            self.progress.finished("cancelled")
            return None
        except JobFailed:
            raise
        except Exception as exc:
            from coditect_magics.providers.secrets import redact
            message = redact(f"{type(exc).__name__}: {exc}")
            self.progress.finished("failed", error=message)
            _no_more_tries(exc)
            raise JobFailed(message) from None


def _no_more_tries(exc: BaseException) -> None:
    """A failure that would come back the same (a missing key, a refused request) is not tried again: RQ's retries
    are for a worker that died or a passing fault, and a retry would show the failed run as running again."""
    from coditect_magics.providers import errors
    if isinstance(exc, errors.ProviderError) and exc.retryable:
        return
    from rq import get_current_job
    job = get_current_job()
    if job is not None:  # the very job RQ is running: its failure handler reads retries_left next
        job.retries_left = 0


_store: list[Any] = []


def _memory() -> Any:
    """The worker's memory store (the team's Chroma server when CODITECT_CHROMA_URL is set), made when first
    searched and kept for the next jobs (its embedder takes seconds to load)."""
    if not _store:
        from coditect_magics.memory import Memory
        _store.append(Memory())
    return _store[0]


def _recall(kit: Kit) -> Callable[[Any, str], tuple[str, int]] | None:
    """Memory for the agents a run delegates to, as the kernel gives it: only from a team's Chroma server
    (CODITECT_CHROMA_URL), the one store that holds the notebook's memories; a worker's own disk does not."""
    if not os.environ.get("CODITECT_CHROMA_URL"):
        return None

    def recall(agent: Any, task: str) -> tuple[str, int]:
        from coditect_magics.memory import context_block, relevant
        k = kit.memory_items if agent.memory_items is None else agent.memory_items
        floor = kit.memory_min_score if agent.memory_min_score is None else agent.memory_min_score
        hits = relevant(_memory(), task, k=k, min_score=floor)
        return context_block(hits), len(hits)

    return recall


def run_agent(job: AgentJob, run_id: str) -> Outcome:
    """One queued agent run (`%%agent NAME --queue`)."""
    context = Context(job.kit, run_id)
    context.progress.started(worker=context.job.worker_name or "")
    started = time.perf_counter()

    async def work() -> Outcome:
        if job.tools == ():
            return await _plain(context, job, run_id)
        done = await context.runner.run(job.agent, list(job.messages), tools=job.tools, skills=job.skills,
                                        memory_items=job.memory_items, run_id=run_id,
                                        on_event=context.progress.on_event)
        tokens_in, tokens_out = done.trace.total_tokens
        return Outcome(run_id, job.agent.name, job.agent.model_id, done.text, done.status, done.trace.note,
                       tokens_in, tokens_out, done.trace.total_cost_usd, time.perf_counter() - started, done.trace,
                       done.warnings)

    outcome = context.run(work)
    if outcome is None:
        return None
    context.progress.finished("done" if outcome.status == "done" else "failed",
                              error="" if outcome.status == "done" else f"{outcome.status}: {outcome.note}")
    return outcome


async def _plain(context: Context, job: AgentJob, run_id: str) -> Outcome:
    """An agent without tools: one call with its built messages."""
    from coditect_magics.agents.mapping import plain_call
    agent = job.agent
    started = time.perf_counter()
    execution = await plain_call(context.executor, agent, job.messages, run_id=run_id,
                                 memory_items=job.memory_items)
    reply, row = execution.reply, execution.row
    cost = float(row.cost_usd or 0.0) if row is not None else 0.0
    context.progress.count_call(execution.call_id, reply.usage, cost)
    return Outcome(run_id, agent.name, reply.model or agent.model_id, reply.text, "done", "",
                   reply.usage.input_tokens, reply.usage.output_tokens, cost, time.perf_counter() - started)


def run_rows(job: AgentJob, run_id: str, rows: Sequence[tuple[Any, str]]) -> list[Any]:
    """One chunk of a `%agent map`: its rows at once (up to `job.concurrency`), each row counted in the run as it
    finishes; the chunk that finishes last marks the run done."""
    from coditect_magics.agents.mapping import map_rows
    context = Context(job.kit, run_id)
    context.progress.started()

    def counted(row: Any) -> None:
        from coditect_magics.providers import Usage
        context.progress.count_row(row.index, row.status == "ok", Usage(row.input_tokens, row.output_tokens),
                                   row.cost_usd)

    results = context.run(lambda: map_rows(context.runner, job.agent, rows, tools=job.tools,
                                           concurrency=job.concurrency, run_id=run_id, on_row=counted))
    if results is None:
        return []
    if context.progress.job_done() and not context.progress.cancelled():
        context.progress.finished("done")
    return results


def run_plan(job: AgentJob, run_id: str, goal: str, agents: Sequence[str] | None) -> Any:
    """`%%orchestrate --queue`: plan, then queue each step as a job that depends on its steps' jobs (so the DAG
    spreads over the workers) and the final answer as a job after them all."""
    from rq import Queue
    from rq.job import Dependency
    context = Context(job.kit, run_id)
    context.progress.started(worker=context.job.worker_name or "")
    orchestrator = _orchestrator(context, job.agent)
    plan = context.run(lambda: orchestrator.plan(goal, agents, run_id=run_id))
    if plan is None:
        return None
    for call in orchestrator.planning:
        context.progress.count_call(call.call_id, call.reply.usage, call.row.cost_usd if call.row is not None else 0)
    queue = Queue(context.job.origin, connection=context.redis)
    ids: dict[str, str] = {}
    options = job_options(job.kit)
    for wave in plan.waves():
        for step_id in wave:
            step = plan.step(step_id)
            after = [ids[d] for d in step.depends_on]
            ids[step_id] = f"{run_id}-{step_id}"
            queue.enqueue(run_step, job, run_id, step.model_dump(), after, job_id=ids[step_id],
                          depends_on=Dependency(jobs=after, allow_failure=True) if after else None, **options)
    answer = f"{run_id}-answer"
    context.progress.set(plan=plan.model_dump_json(), result_job=answer, jobs=len(ids) + 2)
    queue.enqueue(run_answer, job, run_id, plan.model_dump(), [ids[s.id] for s in plan.steps], job_id=answer,
                  depends_on=Dependency(jobs=list(ids.values()), allow_failure=True), **options)
    return plan


def run_step(job: AgentJob, run_id: str, step: dict[str, Any], after: Sequence[str]) -> Any:
    """One plan step, given the results of the jobs of the steps it depends on."""
    from coditect_magics.agents.plan import PlanStep
    context = Context(job.kit, run_id)
    needed = [_result_of(context, job_id) for job_id in after]
    orchestrator = _orchestrator(context, job.agent)
    return context.run(lambda: orchestrator.run_step(PlanStep.model_validate(step), needed, run_id=run_id,
                                                     on_event=context.progress.on_event))


def run_answer(job: AgentJob, run_id: str, plan: dict[str, Any], steps: Sequence[str]) -> Any:
    """The orchestrator's final answer from the steps' results; marks the run finished."""
    from coditect_magics.agents.plan import as_plan
    context = Context(job.kit, run_id)
    orchestrator = _orchestrator(context, job.agent)
    results = [_result_of(context, job_id) for job_id in steps]
    started = time.perf_counter()
    checked = as_plan(plan)

    async def work() -> Any:
        final = await orchestrator.answer(checked, results, run_id=run_id, on_event=context.progress.on_event)
        return orchestrator.finish(checked, results, final, [], started)

    done = context.run(work)
    if done is not None:
        context.progress.finished(done.status, error=done.trace.note if done.status != "done" else "")
    return done


def _orchestrator(context: Context, agent: Any) -> Any:
    from coditect_magics.agents.orchestrate import Orchestrator
    return Orchestrator(context.runner, agent)


def _result_of(context: Context, job_id: str) -> Any:
    """A step job's StepResult; a step whose job failed outright (its worker kept dying) counts as failed."""
    from rq.job import Job

    from coditect_magics.agents.orchestrate import StepResult
    found = Job.fetch(job_id, connection=context.redis)
    value = found.return_value()
    if value is None:
        return StepResult(job_id.rsplit("-", 1)[-1], "", "failed", note=f"its job ended {found.get_status()}")
    return value


def job_options(kit: Kit) -> dict[str, Any]:
    """How RQ keeps a job: results for 30 days, two more tries when its worker dies or a passing fault fails it (a
    failure that would come back the same is not tried again: `_no_more_tries`), a timeout from
    the run's time limit (an hour when it has none)."""
    from rq import Retry

    from .progress import TTL_S
    limit = kit.limits.get("time_s")
    return {"result_ttl": TTL_S, "failure_ttl": TTL_S, "retry": Retry(max=2),
            "job_timeout": int(limit) + 60 if limit else 3600}

