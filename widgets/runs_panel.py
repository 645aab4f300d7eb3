"""The runs panel: agent runs with their status, tokens and cost, each expandable into its tree of steps.

The panel shows a list of `Run` records (`coditect_magics.costs.runs`) and knows nothing of where they come from:
the ledger's runs by default, any other source through `source=`."""

from __future__ import annotations

import datetime as dt
import html
from concurrent.futures import Future
from typing import Any, Callable, Iterable

import ipywidgets as w

from coditect_magics.costs.runs import Run, Step, from_ledger, from_traces, merged

from coditect_magics.session import Session, current
from coditect_magics.text import usd

from .shared import in_thread, is_open, panel, row, submit, watch_ledger


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
    """`RunsPanel(session, source).widget`: one expandable row per run; `refresh()` reloads from the source."""

    def __init__(self, session: Session, source: Callable[[], list[Run]] | None = None,
                 watch_every_s: float = 2.0) -> None:
        ledger = session.executor.ledger
        # the session's agent traces (tool calls, delegations), with the ledger's other runs beside them
        self.source = source or (lambda: merged(from_traces(list(session.traces)), from_ledger(ledger)))
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


def runs(session: Session | None = None, **options: Any) -> RunsPanel:
    """Open the runs panel on a session (default: the kernel's); `source=` a callable returning `Run`s replaces
    the session's traces and ledger as the source."""
    return RunsPanel(session or current(), **options)
