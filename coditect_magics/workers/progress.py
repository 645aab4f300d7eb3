"""A queued run's state in Redis, shared by the jobs that make it up (one agent run, a plan's steps, a map's
chunks) and read by any kernel: a hash of counters (steps, tokens, cost, rows) and a pub/sub channel that says
"something changed" so a watching cell redraws at once instead of polling.

Runs are listed in a sorted set by the time they were queued, so `%agent runs` needs no scan of RQ's registries."""

from __future__ import annotations

import json
import time
from typing import Any

RUNS = "coditect:runs"
TTL_S = 30 * 24 * 3600  # how long a run's state and result are kept
FINAL = ("done", "failed", "partial", "cancelled")


class RunCancelled(Exception):
    """Someone asked for the run to stop (`%agent cancel`); raised in a job at its next step."""


def state_key(run_id: str) -> str:
    return f"coditect:run:{run_id}"


def channel(run_id: str) -> str:
    return f"coditect:run:{run_id}:events"


def cancel_key(run_id: str) -> str:
    return f"coditect:run:{run_id}:cancel"


def request_cancel(redis: Any, run_id: str) -> None:
    """Ask every job of the run to stop at its next step (and those not started yet to do nothing)."""
    redis.set(cancel_key(run_id), 1, ex=TTL_S)


def create(redis: Any, run_id: str, **fields: Any) -> None:
    """Register a queued run: its state hash and its place in the list of runs."""
    now = time.time()
    with redis.pipeline() as pipe:
        pipe.hset(state_key(run_id), mapping={"status": "queued", "queued": now, "steps": 0, "input_tokens": 0,
                                              "output_tokens": 0, "cost_usd": 0.0,
                                              **{k: _text(v) for k, v in fields.items()}})
        pipe.expire(state_key(run_id), TTL_S)
        pipe.zadd(RUNS, {run_id: now})
        pipe.execute()


def read(redis: Any, run_id: str) -> dict[str, Any]:
    """The run's state as plain values (numbers as numbers); {} when there is no such run."""
    raw = redis.hgetall(state_key(run_id))
    state: dict[str, Any] = {}
    for key, value in raw.items():
        key, value = key.decode(), value.decode()
        if key in ("steps", "input_tokens", "output_tokens", "rows", "rows_done", "rows_failed", "jobs"):
            state[key] = int(float(value))
        elif key in ("cost_usd", "queued", "started", "ended"):
            state[key] = float(value)
        else:
            state[key] = value
    return state


class Progress:
    """What a job tells the run it belongs to. `on_event` takes the runner's events."""

    def __init__(self, redis: Any, run_id: str) -> None:
        self.redis, self.run_id, self.key = redis, run_id, state_key(run_id)

    def cancelled(self) -> bool:
        return bool(self.redis.exists(cancel_key(self.run_id)))

    def set(self, **fields: Any) -> None:
        with self.redis.pipeline() as pipe:
            pipe.hset(self.key, mapping={k: _text(v) for k, v in fields.items()})
            self._tell(fields.get("status", "update"), pipe)
            pipe.execute()

    def started(self, **fields: Any) -> None:
        """The first job of the run to start marks it running (later ones leave the start time alone)."""
        with self.redis.pipeline() as pipe:
            pipe.hsetnx(self.key, "started", time.time())
            pipe.hset(self.key, mapping={"status": "running", **{k: _text(v) for k, v in fields.items()}})
            self._tell("running", pipe)
            pipe.execute()

    def add(self, **counts: float) -> None:
        """Add to counters (steps, tokens, cost, rows done) atomically: several jobs of a run count at once."""
        with self.redis.pipeline() as pipe:
            for name, amount in counts.items():
                if isinstance(amount, float):
                    pipe.hincrbyfloat(self.key, name, amount)
                else:
                    pipe.hincrby(self.key, name, amount)
            self._tell("update", pipe)
            pipe.execute()

    def count_call(self, call_id: str, usage: Any, cost_usd: float) -> None:
        """Count one model call once: a job re-run after its worker died replays the calls it had made, with the
        same call ids (see `replay`), and they must not count twice."""
        if self._first(f"{self.key}:calls", call_id):
            self.add(steps=1, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                     cost_usd=float(cost_usd or 0.0))

    def count_row(self, index: Any, ok: bool, usage: Any, cost_usd: float | None) -> None:
        """Count one finished map row once (a re-run chunk finishes its replayed rows again)."""
        if self._first(f"{self.key}:rows", repr(index)):
            self.add(rows_done=1, rows_failed=int(not ok), steps=1, input_tokens=usage.input_tokens,
                     output_tokens=usage.output_tokens, cost_usd=float(cost_usd or 0.0))

    def _first(self, members: str, member: str) -> bool:
        with self.redis.pipeline() as pipe:
            pipe.sadd(members, member)
            pipe.expire(members, TTL_S)
            added, _ = pipe.execute()
        return bool(added)

    def finished(self, status: str, **fields: Any) -> None:
        """The run's end; once cancelled, a run stays cancelled whatever a job still running reports."""
        if status != "cancelled" and self.cancelled():
            status = "cancelled"
        with self.redis.pipeline() as pipe:
            pipe.hset(self.key, mapping={"status": status, "ended": time.time(),
                                         **{k: _text(v) for k, v in fields.items()}})
            self._tell(status, pipe)
            pipe.execute()

    def job_done(self) -> bool:
        """Count one of the run's jobs finished; True for the last of them."""
        with self.redis.pipeline() as pipe:
            pipe.hincrby(self.key, "jobs_done", 1)
            pipe.hget(self.key, "jobs")
            done, jobs = pipe.execute()
        return done >= int(jobs or 0)

    def on_event(self, event: Any) -> None:
        """Count a runner event: a model reply is a step with its tokens and cost; a tool call is the latest
        thing done. Each is also where a cancelled run stops (RunCancelled)."""
        from coditect_magics.agents.runner import AgentEvent
        from coditect_magics.tools import ModelReplied, ToolStarted
        if not isinstance(event, AgentEvent):
            return
        inner = event.event
        if isinstance(inner, (ModelReplied, ToolStarted)) and self.cancelled():
            raise RunCancelled(self.run_id)
        if isinstance(inner, ModelReplied):
            from coditect_magics.agents.runner import known_cost
            self.count_call(inner.call_id, inner.reply.usage, known_cost(inner.reply))
        elif isinstance(inner, ToolStarted):
            self.set(last=f"{event.agent or 'llm'}: {inner.call.name}")

    def _tell(self, what: str, pipe: Any) -> None:
        pipe.publish(channel(self.run_id), json.dumps({"run": self.run_id, "what": what}))


def _text(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bytes)) else json.dumps(value, default=str)
