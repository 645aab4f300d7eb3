"""Agent runs as records: `Run`s of nested `Step`s, read from wherever runs are kept.

`from_ledger` builds them from the ledger's rows (grouped by `run_id`, nested by `parent_call_id`); `from_traces`
from agent traces (tool calls and delegations); `merged` puts both together. The runs panel shows them; any other
source of `Run`s serves as well."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from coditect_magics.text import one_line

BRIEF = 60  # characters of a tool call's arguments and result in a step's label


@dataclass(frozen=True)
class Step:
    """One node of a run's tree: a model call today; a tool call, delegation or plan step from richer sources."""

    label: str
    kind: str = "call"
    status: str = "ok"
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    latency_s: float | None = None
    children: tuple["Step", ...] = ()


@dataclass(frozen=True)
class Run:
    """One agent run: who ran it, when, how it ended, and its steps."""

    run_id: str
    agent: str
    started: float
    steps: tuple[Step, ...]

    def walk(self) -> Iterable[Step]:
        """Every step of the run, nested ones included."""
        stack = list(self.steps)
        while stack:
            step = stack.pop()
            yield step
            stack.extend(step.children)

    @property
    def status(self) -> str:
        """error if any step failed, else cancelled if any was, else ok."""
        statuses = {s.status for s in self.walk()}
        return next((s for s in ("error", "cancelled") if s in statuses), "ok")

    @property
    def input_tokens(self) -> int:
        """Input tokens over every step."""
        return sum(s.input_tokens for s in self.walk())

    @property
    def output_tokens(self) -> int:
        """Output tokens over every step."""
        return sum(s.output_tokens for s in self.walk())

    @property
    def cost_usd(self) -> float | None:
        """USD over every step; None when any step's price is unknown."""
        costs = [s.cost_usd for s in self.walk()]
        return None if any(c is None for c in costs) else sum(costs)   # one unknown price makes the sum unknown


def from_ledger(ledger: Any, limit: int = 50) -> list[Run]:
    """The newest `limit` runs in the ledger: rows sharing a `run_id`, one step per call (its attempts folded in),
    nested under the call named by `parent_call_id`."""
    by_run: dict[str, list[Any]] = {}
    for record in ledger.rows():
        if record.run_id:
            by_run.setdefault(record.run_id, []).append(record)
    runs = [_run(run_id, records) for run_id, records in by_run.items()]
    return sorted(runs, key=lambda r: r.started, reverse=True)[:limit]


def _run(run_id: str, records: list[Any]) -> Run:
    calls: dict[str, list[Any]] = {}
    for record in records:
        calls.setdefault(record.call_id, []).append(record)
    parents = {call_id: attempts[0].parent_call_id for call_id, attempts in calls.items()}

    def step(call_id: str) -> Step:
        attempts = calls[call_id]
        last = attempts[-1]
        costs = [a.cost_usd for a in attempts]
        tries = f" ({len(attempts)} tries)" if len(attempts) > 1 else ""
        return Step(f"{last.provider}:{last.model}{tries}", "call", last.status,
                    sum(a.input_tokens for a in attempts), sum(a.output_tokens for a in attempts),
                    None if any(c is None for c in costs) else sum(costs), last.latency_s,
                    tuple(step(c) for c in calls if parents[c] == call_id))

    roots = tuple(step(c) for c in calls if parents[c] not in calls)
    agent = next((r.agent for r in records if r.agent), "(no agent)")
    return Run(run_id, agent, min(r.ts for r in records), roots)


def from_traces(traces: Iterable[tuple[float, Any]]) -> list[Run]:
    """Runs from agent traces (`(started, Trace)` pairs, newest last): each agent a step holding its tool calls and
    the agents it delegated to, so a run shows what it did, not only what it cost."""
    def step(trace: Any) -> Step:
        tools = tuple(Step(f"{t.tool}({one_line(t.arguments, BRIEF)}) → {one_line(t.summary, BRIEF)}", "tool",
                           "error" if t.is_error else "ok", cost_usd=0.0, latency_s=t.seconds)
                      for t in trace.tool_calls)
        return Step(f"{trace.agent} on {trace.model}", "agent", "ok" if trace.status == "done" else trace.status,
                    trace.input_tokens, trace.output_tokens, trace.cost_usd if trace.price_known else None,
                    trace.seconds, tools + tuple(step(child) for child in trace.children))
    return [Run(trace.run_id, trace.agent, started, (step(trace),)) for started, trace in reversed(list(traces))]


def merged(traces: list[Run], ledger_runs: list[Run]) -> list[Run]:
    """Traced runs first (they say more), then the ledger's runs that no trace covers, newest first."""
    traced = {run.run_id for run in traces}
    return sorted([*traces, *(r for r in ledger_runs if r.run_id not in traced)], key=lambda r: r.started,
                  reverse=True)
