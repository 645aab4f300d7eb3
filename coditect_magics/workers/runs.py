"""The kernel's side of queued runs: put a run on the RQ queue, list runs, read one's state and fetch its result
(also from a new kernel: everything lives in Redis, keyed by the run id).

    runs = Runs("redis://127.0.0.1:6379/0")
    run_id = runs.agent(job)                      # returns at once
    runs.state(run_id)["status"], runs.result(run_id, timeout=60).text"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any, Iterator, Sequence

from coditect_magics.text import one_line

from . import progress
from .spec import AgentJob

QUEUE = "coditect"


class RunNotFound(LookupError):
    """No queued run has that id (or id prefix)."""


class RunFailed(RuntimeError):
    """The run failed; the message is the reason its jobs gave."""


class Runs:
    """Queued runs on one Redis (`url`), on the RQ queue `queue`."""

    def __init__(self, url: str, queue: str = QUEUE) -> None:
        try:
            import redis
            from rq import Queue
        except ImportError:
            raise ImportError("queued runs need RQ and redis-py: pip install 'coditect-magics[team]'") from None
        self.url = url
        self.redis = redis.Redis.from_url(url)
        self.queue = Queue(queue, connection=self.redis)

    def __repr__(self) -> str:
        from coditect_magics.costs.engine import safe_url
        return f"Runs({safe_url(self.url)!r}, queue={self.queue.name!r})"

    # -- queueing
    def agent(self, job: AgentJob) -> str:
        """Queue one agent run; its id at once."""
        from .jobs import job_options, run_agent
        run_id = new_id()
        progress.create(self.redis, run_id, kind="agent", agent=job.agent.name or "llm", model=job.agent.model_id,
                        task=_title(job), jobs=1, result_job=run_id)
        self.queue.enqueue(run_agent, job, run_id, job_id=run_id, **job_options(job.kit))
        return run_id

    def orchestrate(self, job: AgentJob, goal: str, agents: Sequence[str] | None) -> str:
        """Queue an orchestrated run: a job plans, then queues the steps and the answer as jobs of their own."""
        from .jobs import job_options, run_plan
        run_id = new_id()
        progress.create(self.redis, run_id, kind="orchestrate", agent=job.agent.name, model=job.agent.model_id,
                        task=goal[:200], jobs=1, result_job=f"{run_id}-answer")
        self.queue.enqueue(run_plan, job, run_id, goal, list(agents) if agents else None, job_id=f"{run_id}-plan",
                           **job_options(job.kit))
        return run_id

    def map(self, job: AgentJob, rows: Sequence[tuple[Any, str]], *, chunk: int | None = None) -> str:
        """Queue a map: the rows in chunks, each chunk one job that runs its rows concurrently. Default chunk:
        enough chunks for every listening worker to take several (at least 10 rows each)."""
        from .jobs import job_options, run_rows
        run_id = new_id()
        size = chunk or max(10, math.ceil(len(rows) / max(4 * max(self.workers(), 1), 1)))
        chunks = [list(rows[i:i + size]) for i in range(0, len(rows), size)]
        progress.create(self.redis, run_id, kind="map", agent=job.agent.name, model=job.agent.model_id,
                        task=f"{len(rows)} rows", rows=len(rows), rows_done=0, rows_failed=0, jobs=len(chunks),
                        jobs_done=0, result_job=",".join(f"{run_id}-{n}" for n in range(len(chunks))))
        options = job_options(job.kit)
        self.queue.enqueue_many([self.queue.prepare_data(run_rows, (job, run_id, part), job_id=f"{run_id}-{n}",
                                                         result_ttl=options["result_ttl"],
                                                         failure_ttl=options["failure_ttl"],
                                                         retry=options["retry"], timeout=options["job_timeout"])
                                 for n, part in enumerate(chunks)])
        return run_id

    # -- reading
    def workers(self) -> int:
        """Workers listening on this queue now."""
        from rq import Worker
        return Worker.count(queue=self.queue)

    def find(self, prefix: str) -> str:
        """The run id a prefix names (like git's short hashes)."""
        prefix = prefix.strip()
        if self.redis.exists(progress.state_key(prefix)):
            return prefix
        matches = [m.decode() for m in self.redis.zrange(progress.RUNS, 0, -1) if m.decode().startswith(prefix)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise RunNotFound(f"no queued run {prefix!r}: %agent runs lists them")
        raise RunNotFound(f"{prefix!r} names {len(matches)} runs ({', '.join(m[:12] for m in matches[:5])}); "
                          f"give more of the id")

    def state(self, run_id: str) -> dict[str, Any]:
        """The run's state; a run whose jobs RQ gave up on (its workers kept dying) shows as failed."""
        state = progress.read(self.redis, run_id)
        if not state:
            raise RunNotFound(f"no queued run {run_id!r}")
        if state.get("status") not in progress.FINAL:
            failed = self._failed_job(state)
            if failed:
                state.update(status="failed", error=failed)
        return state

    def _failed_job(self, state: dict[str, Any]) -> str:
        from rq.job import Job, JobStatus
        from rq.exceptions import NoSuchJobError
        ids = [j for j in str(state.get("result_job", "")).split(",") if j]
        for job in Job.fetch_many(ids, connection=self.redis):
            try:
                if job is not None and job.get_status() == JobStatus.FAILED:
                    return last_line(job.latest_result().exc_string if job.latest_result() else "") or "failed"
            except NoSuchJobError:
                continue
        return ""

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Stop a run: jobs not started never run, running ones stop at their next model call or tool call (a map
        chunk under way finishes its rows). Returns the state; a finished run is left as it was."""
        from rq.job import Job, JobStatus
        state = self.state(run_id)
        if state["status"] in progress.FINAL:
            return state
        progress.request_cancel(self.redis, run_id)
        ids = [j for j in str(state.get("result_job", "")).split(",") if j] + [f"{run_id}-plan"]
        waiting = (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)
        for job in Job.fetch_many(ids, connection=self.redis):
            if job is not None and job.get_status() in waiting:
                job.cancel()
        progress.Progress(self.redis, run_id).finished("cancelled")
        return self.state(run_id)

    def listing(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest runs, newest first: id, kind, agent, status, steps, tokens, cost, rows, times, error."""
        ids = [m.decode() for m in self.redis.zrevrange(progress.RUNS, 0, limit - 1)]
        rows = []
        for run_id in ids:
            try:
                state = self.state(run_id)
            except RunNotFound:  # expired
                continue
            rows.append({"run_id": run_id, "kind": state.get("kind", ""), "agent": state.get("agent", ""),
                         "status": state.get("status", ""), "steps": state.get("steps", 0),
                         "input_tokens": state.get("input_tokens", 0), "output_tokens": state.get("output_tokens", 0),
                         "cost_usd": round(state.get("cost_usd", 0.0), 6),
                         "rows": f"{state.get('rows_done', 0)}/{state['rows']}" if "rows" in state else "",
                         "queued": _when(state.get("queued")), "seconds": _took(state),
                         "task": state.get("task", ""), "error": state.get("error", "")})
        return rows

    def result(self, run_id: str, timeout: float | None = None) -> Any:
        """The run's result (an Outcome, an Orchestration, or a map's RowResults in row order); waits up to
        `timeout` seconds (None: not at all) for it. RunFailed when it failed; TimeoutError while it runs."""
        deadline = time.monotonic() + (timeout or 0)
        for state in self.watch(run_id, until=deadline):
            if state["status"] in progress.FINAL:
                break
        if state["status"] == "failed" and state.get("kind") != "map":
            raise RunFailed(f"run {run_id[:12]} failed: {state.get('error') or 'no reason given'}")
        if state["status"] == "cancelled" and state.get("kind") != "map":  # a map gives the rows it finished
            raise RunFailed(f"run {run_id[:12]} was cancelled ({_doing(state)})")
        if state["status"] not in progress.FINAL:
            raise TimeoutError(f"run {run_id[:12]} is {state['status']} ({_doing(state)})")
        ids = [j for j in str(state["result_job"]).split(",") if j]
        values = [self._value(job_id) for job_id in ids]
        if state.get("kind") == "map":
            return [row for chunk in values for row in (chunk or [])]
        return values[0]

    def _value(self, job_id: str) -> Any:
        """A job's return value; the run's state may say done a moment before RQ has stored it, so wait for it."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job
        try:
            kept = Job.fetch(job_id, connection=self.redis).latest_result(timeout=10)
        except NoSuchJobError:
            return None
        return getattr(kept, "return_value", None)

    def watch(self, run_id: str, until: float | None = None) -> Iterator[dict[str, Any]]:
        """The run's state now and after each change it announces, until it is final or `until` (a
        time.monotonic() deadline) passes; every second without news it is read again all the same."""
        listener = self.redis.pubsub(ignore_subscribe_messages=True)
        listener.subscribe(progress.channel(run_id))
        try:
            while True:
                state = self.state(run_id)
                yield state
                if state["status"] in progress.FINAL or (until is not None and time.monotonic() >= until):
                    return
                wait = 1.0 if until is None else max(0.0, min(1.0, until - time.monotonic()))
                if listener.get_message(timeout=wait) is not None:
                    while listener.get_message(timeout=0) is not None:  # one redraw for a burst of news
                        pass
        finally:
            listener.close()


def new_id() -> str:
    return uuid.uuid4().hex


def last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def describe(state: dict[str, Any]) -> str:
    """One line on a run: status, steps, tokens, cost (and rows for a map; the latest tool call)."""
    parts = [state.get("status", "?"), _doing(state)]
    if state.get("error"):
        parts.append(state["error"])
    return " · ".join(p for p in parts if p)


def _doing(state: dict[str, Any]) -> str:
    parts = []
    if "rows" in state:
        failed = state.get("rows_failed", 0)
        parts.append(f"{state.get('rows_done', 0)}/{state['rows']} rows" + (f" ({failed} failed)" if failed else ""))
    parts.append(f"{state.get('steps', 0)} model calls")
    parts.append(f"{state.get('input_tokens', 0):,} in / {state.get('output_tokens', 0):,} out tokens")
    parts.append(f"${state.get('cost_usd', 0.0):.4f}")
    if state.get("last") and state.get("status") == "running":
        parts.append(f"last: {state['last']}")
    return " · ".join(parts)


def _title(job: AgentJob) -> str:
    last = next((m.text for m in reversed(job.messages) if m.role == "user"), "")
    return one_line(last, 200)


def _when(epoch: float | None) -> Any:
    import pandas as pd
    return pd.Timestamp(epoch, unit="s", tz="UTC") if epoch else None


def _took(state: dict[str, Any]) -> float | None:
    start, end = state.get("started"), state.get("ended")
    return round(end - start, 3) if start and end else None
