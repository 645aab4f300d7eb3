"""The costs panel: the ledger with filters, totals, a chart of spend and a gauge per configured budget; it refreshes
when new calls land.

The chart is matplotlib (its object API and the Agg canvas, no pyplot state) drawn to PNG in an `Image` widget:
no JavaScript and no CDN, so it renders offline in JupyterLab, Notebook 7 and VS Code alike; a transparent
background and mid-grey text keep it readable in light and dark themes."""

from __future__ import annotations

import datetime as dt
import html
import io
import math
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

from coditect_magics.session import Session, current
from coditect_magics.text import usd

from .shared import in_thread, is_open, labelled, panel, row, submit, watch_ledger

ALL = "(all)"
FILTERS = ("provider", "model", "agent", "status")
GROUPS = ("provider", "model", "agent", "day")
MAX_ROWS = 200                 # newest rows shown; the totals cover every matching row
INK, BAR = "#8a8a8a", "#4c8bd6"   # read on light and dark backgrounds


@dataclass(frozen=True)
class Gauge:
    """Spend against one configured limit."""

    scope: str
    spent: float
    limit: float


@dataclass(frozen=True)
class View:
    """What one refresh shows: the choices for each filter, the table, the totals line, the chart and the gauges."""

    choices: dict[str, list[str]]
    table_html: str
    totals: str
    chart_png: bytes
    gauges: tuple[Gauge, ...]


class CostsPanel:
    """`CostsPanel(session).widget`; `refresh()` reloads (it also runs when a filter changes or calls land)."""

    def __init__(self, session: Session, watch_every_s: float = 2.0) -> None:
        self.session = session
        self.ledger = session.executor.ledger
        self.filters = {name: labelled(name.capitalize(), w.Dropdown(options=[ALL], value=ALL), "200px")
                        for name in FILTERS}
        for name, dropdown in self.filters.items():
            dropdown.add_class(f"cm-filter-{name}")
        self.since = labelled("From", w.DatePicker(), "190px")
        self.until = labelled("To", w.DatePicker(), "190px")
        self.by = labelled("Spend by", w.Dropdown(options=GROUPS, value="provider"), "180px")
        self.table = w.HTML()
        self.table.add_class("cm-table")
        self.totals = w.HTML()
        self.totals.add_class("cm-totals")
        self.chart = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.chart.add_class("cm-chart")
        self.gauges = w.VBox()
        self.gauges.add_class("cm-gauges")
        refresh = w.Button(description="Refresh", icon="refresh")
        refresh.on_click(lambda _: self.refresh())
        self._muted = False   # set while a refresh replaces the filters' options itself
        for control in (*self.filters.values(), self.since, self.until, self.by):
            control.observe(self._changed, "value")
        self.widget = panel("Costs", row(*self.filters.values()), row(self.since, self.until, self.by, refresh),
                            self.totals, self.table, row(self.chart, self.gauges), name="costs")
        self._apply(self._load())
        self.watching = watch_ledger(self.ledger, lambda: self._apply(self._load()), lambda: is_open(self.widget),
                                     watch_every_s)

    def _changed(self, _: Any) -> None:
        if not self._muted:
            self.refresh()

    def refresh(self) -> Future[None]:
        """Reload off the kernel's thread; the returned future finishes once the panel shows the new state."""
        async def reload() -> None:
            self._apply(await in_thread(self._load))
        return submit(reload())

    # reading the ledger
    def _where(self) -> dict[str, Any]:
        chosen = {name: d.value for name, d in self.filters.items() if d.value != ALL}
        if self.since.value:
            chosen["since"] = dt.datetime.combine(self.since.value, dt.time())
        if self.until.value:
            chosen["until"] = dt.datetime.combine(self.until.value + dt.timedelta(days=1), dt.time())
        return chosen

    def _load(self) -> View:
        from coditect_magics.costs import costs
        everything = costs(ledger=self.ledger)
        choices = {name: sorted(str(v) for v in everything[name].dropna().unique()) for name in FILTERS}
        rows = costs(ledger=self.ledger, **self._where())
        table = '<span class="cm-muted">no calls match</span>'
        if len(rows):
            import pandas as pd
            newest = type(rows)(rows.iloc[::-1].head(MAX_ROWS))
            with pd.option_context("display.max_rows", MAX_ROWS + 1):
                table = newest.display_frame().iloc[:-1].to_html(index=False, escape=True, border=0)
        return View(choices, table, self._totals(rows), self._chart(), self._gauges())

    def _totals(self, rows: Any) -> str:
        known = rows["cost_usd"].dropna()
        unknown = int(rows["cost_usd"].isna().sum())
        extra = f" + {unknown} unknown" if unknown else ""
        more = f" (newest {MAX_ROWS} shown)" if len(rows) > MAX_ROWS else ""
        return (f"<b>{len(rows)} calls</b>{more} · {int(rows['input_tokens'].sum())} in / "
                f"{int(rows['output_tokens'].sum())} out · <b>{usd(float(known.sum()) if len(known) else 0.0)}"
                f"</b>{extra}")

    def _chart(self) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from coditect_magics.costs import costs
        where = self._where()
        by = self.by.value
        spend = costs(by=by, ledger=self.ledger, **where)["cost_usd"].fillna(0.0) if self.ledger.count() else None
        figure = Figure(figsize=(4.8, 2.4), dpi=100)
        figure.patch.set_alpha(0)
        axes = figure.add_subplot()
        axes.set_facecolor("none")
        if spend is not None and len(spend):
            labels = [i.strftime("%Y-%m-%d") if hasattr(i, "strftime") else str(i) for i in spend.index]
            axes.barh(labels, spend.values, color=BAR)
            axes.invert_yaxis()
        axes.set_xlabel("USD", color=INK)
        axes.set_title(f"spend by {by}", color=INK, fontsize=10)
        axes.tick_params(colors=INK, labelsize=8)
        for spine in axes.spines.values():
            spine.set_color(INK)
        figure.tight_layout()
        buffer = io.BytesIO()
        FigureCanvasAgg(figure).print_png(buffer)
        return buffer.getvalue()

    def _gauges(self) -> tuple[Gauge, ...]:
        executor = self.session.executor
        budgets = executor.settings.budgets
        found = []
        if budgets.session_usd is not None:
            found.append(Gauge("session", self.ledger.spend(session=executor.session_id), budgets.session_usd))
        if budgets.agent_usd is not None:
            from coditect_magics.costs import costs
            agents = costs(by="agent", ledger=self.ledger).index
            found += [Gauge(f"agent {a}", self.ledger.spend(agent=a), budgets.agent_usd) for a in agents
                      if a != "(none)"]
        if budgets.total_usd is not None:
            found.append(Gauge("overall", self.ledger.spend(), budgets.total_usd))
        return tuple(found)

    # showing it
    def _apply(self, view: View) -> None:
        self._muted = True
        try:
            for name, dropdown in self.filters.items():
                options = [ALL, *view.choices[name]]
                if list(dropdown.options) != options:
                    current = dropdown.value
                    dropdown.options = options
                    dropdown.value = current if current in options else ALL
        finally:
            self._muted = False
        self.table.value = view.table_html
        self.totals.value = view.totals
        self.chart.value = view.chart_png
        self.gauges.children = [self._gauge(g) for g in view.gauges] or [
            w.HTML('<span class="cm-muted">no budget set (%config CoditectMagics.budget_session_usd = 5)</span>')]

    @staticmethod
    def _gauge(gauge: Gauge) -> w.Widget:
        share = gauge.spent / gauge.limit if gauge.limit else math.inf
        bar = w.FloatProgress(value=min(gauge.spent, gauge.limit), min=0, max=gauge.limit or 1,
                              bar_style="danger" if share >= 1 else "warning" if share >= 0.8 else "success",
                              layout=w.Layout(width="160px"))
        label = w.HTML(f"{html.escape(gauge.scope)}: {usd(gauge.spent)} of {usd(gauge.limit)}")
        box = row(label, bar)
        box.add_class("cm-gauge")
        return box

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)


def costs(session: Session | None = None, **options: Any) -> CostsPanel:
    """Open the costs panel on a session (default: the kernel's: the ledger the magics write to)."""
    return CostsPanel(session or current(), **options)
