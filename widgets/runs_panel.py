"""The runs panel: agent runs with their status, tokens and cost, each expandable into its tree of steps.

The panel shows a list of `Run` records and knows nothing of where they come from: `from_ledger` builds them from
the ledger's rows (grouped by `run_id`, nested by `parent_call_id`); `from_traces` from agent traces (tool calls and
delegations); `merged` puts both together; any other source passes its own through `source=`."""

from __future__ import annotations

import datetime as dt
import html
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import ipywidgets as w

from .shared import Services, in_thread, is_open, panel, row, submit, usd, watch_ledger


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
        stack = list(self.steps)
        while stack:
            step = stack.pop()
            yield step
            stack.extend(step.children)

    @property
    def status(self) -> str:
        statuses = {s.status for s in self.walk()}
        return next((s for s in ("error", "cancelled") if s in statuses), "ok")

    @property
    def input_tokens(self) -> int:
        return sum(s.input_tokens for s in self.walk())

    @property
    def output_tokens(self) -> int:
        return sum(s.output_tokens for s in self.walk())

    @property
    def cost_usd(self) -> float | None:
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
        tools = tuple(Step(f"{t.tool}({_brief(t.arguments)}) → {_brief(t.summary)}", "tool",
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


def _brief(value: Any, width: int = 60) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def tree_html(steps: Iterable[Step]) -> str:
    """A run's steps as nested lists: kind, label, status, tokens, cost, time."""
    items = []
    for s in steps:
        latency = f" · {s.latency_s:.2f} s" if s.latency_s is not None else ""
        status = f'<span class="{"cm-error" if s.status == "error" else "cm-muted"}">{html.escape(s.status)}</span>'
        items.append(f"<li><b>{html.escape(s.kind)}</b> {html.escape(s.label)} · {status} · {s.input_tokens} in / "
                     f"{s.output_tokens} out · {usd(s.cost_usd)}{latency}{tree_html(s.children)}</li>")
    return f'<ul class="cm-steps">{"".join(items)}</ul>' if items else ""


class RunsPanel:
    """`RunsPanel(services, source).widget`: one expandable row per run; `refresh()` reloads from the source."""

    def __init__(self, services: Services, source: Callable[[], list[Run]] | None = None,
                 watch_every_s: float = 2.0) -> None:
        ledger = services.executor.ledger
        self.source = source or (lambda: from_ledger(ledger))
        self.runs: list[Run] = []
        self.list = w.Accordion(layout=w.Layout(width="100%"))
        self.list.add_class("cm-runs-list")
        self.summary = w.HTML()
        self.summary.add_class("cm-status")
        reload = w.Button(description="Refresh", icon="refresh")
        reload.on_click(lambda _: self.refresh())
        self.widget = panel("Agent runs", row(reload, self.summary), self.list, name="runs")
        self._show(self.source())
        self.watching = watch_ledger(ledger, lambda: self._show(self.source()), lambda: is_open(self.widget),
                                     watch_every_s)

    def refresh(self) -> Future[None]:
        async def reload() -> None:
            self._show(await in_thread(self.source))
        return submit(reload())

    def _show(self, runs: list[Run]) -> None:
        self.runs = runs
        self.list.children = [w.HTML(tree_html(r.steps)) for r in runs]
        self.list.titles = tuple(self._title(r) for r in runs)
        self.summary.value = (f'<span class="cm-muted">{len(runs)} run{"s" * (len(runs) != 1)}</span>' if runs else
                              '<span class="cm-muted">no agent runs yet: %%agent NAME runs one</span>')

    @staticmethod
    def _title(run: Run) -> str:
        when = dt.datetime.fromtimestamp(run.started).strftime("%Y-%m-%d %H:%M:%S")
        return (f"{run.agent} · {run.status} · {run.input_tokens} in / {run.output_tokens} out · "
                f"{usd(run.cost_usd)} · {when}")

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)


def runs(services: Services | None = None, **options: Any) -> RunsPanel:
    """Open the runs panel (`source=` a callable returning `Run`s replaces the ledger as the source)."""
    return RunsPanel(services or Services.default(), **options)
