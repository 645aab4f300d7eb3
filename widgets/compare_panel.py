"""The compare panel: one prompt to several models at once, one column each, all streaming; "pick best" records the
choice in the ledger and "to DataFrame" puts the results in a variable."""

from __future__ import annotations

import html
import time
from concurrent.futures import Future
from typing import Any

import ipywidgets as w

from coditect_magics.compare import Comparing, Comparison, Progress, table
from coditect_magics.providers.types import Message

from coditect_magics.session import Session, current
from coditect_magics.text import usd

from .shared import Coalescer, labelled, markdown, model_choices, panel, row, submit


class Column:
    """One model's column: a header, the streamed reply, and its figures once it finishes."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.reply = w.Output()
        self.reply.add_class("cm-reply")
        self.figures = w.HTML('<span class="cm-muted">waiting…</span>')
        self.figures.add_class("cm-figures")
        self.widget = w.VBox([w.HTML(f"<b>{html.escape(model)}</b>"), self.reply, self.figures])
        self.widget.add_class("cm-column")

    def show(self, result: Comparison) -> None:
        """The final text and figures (or the error)."""
        markdown(self.reply, result.text)
        if result.error:
            self.figures.value = f'<span class="cm-error">{html.escape(result.error)}</span>'
            return
        ttft = f"{result.ttft_s:.2f} s" if result.ttft_s is not None else "–"
        latency = f"{result.latency_s:.2f} s" if result.latency_s is not None else "–"
        self.figures.value = (f'<span class="cm-muted">first token {ttft} · {latency} · {result.input_tokens} in / '
                              f'{result.output_tokens} out · {usd(result.cost_usd)}'
                              f'{" · stopped" if result.status == "cancelled" else ""}</span>')


class ComparePanel:
    """`ComparePanel(session).widget`; `run()` is the Run button, `pick(model)` and `to_dataframe(name)` the others."""

    def __init__(self, session: Session, models: list[str] | None = None) -> None:
        self.session = session
        choices = model_choices(session)
        chosen = set(models or [c.id for c in choices if not c.reason][:2])
        self.boxes = {c.id: w.Checkbox(value=c.id in chosen, description=c.label, indent=False,
                                       layout=w.Layout(width="auto")) for c in choices}
        for model in models or ():
            self.boxes.setdefault(model, w.Checkbox(value=True, description=model, indent=False,
                                                    layout=w.Layout(width="auto")))
        self.prompt = w.Textarea(placeholder="One prompt for every model", rows=3, layout=w.Layout(width="100%"))
        self.prompt.add_class("cm-prompt")
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.run_button.add_class("cm-run")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.stop_button.add_class("cm-stop")
        self.columns_box = w.HBox(layout=w.Layout(flex_flow="row wrap", width="100%"))
        self.columns_box.add_class("cm-columns")
        self.best = labelled("Best", w.Dropdown(options=[]), "260px")
        self.pick_button = w.Button(description="Pick best", icon="check", disabled=True)
        self.pick_button.add_class("cm-pick")
        self.variable = labelled("Variable", w.Text(value="comparison"), "200px")
        self.frame_button = w.Button(description="To DataFrame", icon="table", disabled=True)
        self.frame_button.add_class("cm-frame")
        self.status = w.HTML()
        self.status.add_class("cm-status")
        self.columns: dict[str, Column] = {}
        self.results: dict[str, Comparison] = {}
        self.running: Future[None] | None = None
        self.wall_s: float | None = None

        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.pick_button.on_click(lambda _: self.pick(self.best.value))
        self.frame_button.on_click(lambda _: self.to_dataframe(self.variable.value))
        checkboxes = row(*self.boxes.values())
        checkboxes.add_class("cm-models")
        self.widget = panel("Compare", checkboxes, self.prompt, row(self.run_button, self.stop_button),
                            self.columns_box, row(self.best, self.pick_button, self.variable, self.frame_button),
                            self.status, name="compare")

    @property
    def chosen(self) -> list[str]:
        """The models whose boxes are checked."""
        return [model for model, box in self.boxes.items() if box.value]

    def run(self, prompt: str | None = None) -> Future[None] | None:
        """Ask every chosen model at once; each column streams on its own."""
        prompt = (self.prompt.value if prompt is None else prompt).strip()
        models = self.chosen
        if self.running is not None:
            return None
        if not prompt or not models:
            self._say("write a prompt and choose at least one model", True)
            return None
        self.columns = {m: Column(m) for m in models}
        self.results = {}
        self.columns_box.children = [c.widget for c in self.columns.values()]
        self._busy(True)
        self._say("running…")
        self.running = submit(self._all(prompt, models))
        return self.running

    def stop(self) -> None:
        """Cancel every column; each keeps its partial text."""
        if self.running is not None:
            self.running.cancel()

    async def _all(self, prompt: str, models: list[str]) -> None:
        start = time.perf_counter()
        comparing = Comparing(self.session.executor, [Message("user", prompt)], models)
        self.results = comparing.results
        views = {m: Coalescer(lambda text, out=self.columns[m].reply: markdown(out, text)) for m in models}
        started: set[str] = set()
        try:
            async for event in comparing:
                column, view = self.columns[event.model], views[event.model]
                if isinstance(event, Progress):
                    if event.model not in started:
                        started.add(event.model)
                        column.figures.value = f'<span class="cm-muted">first token {event.ttft_s:.2f} s…</span>'
                    view.push(event.text)
                else:
                    view.flush()
                    column.show(event)
        finally:
            # a Stop ends the loop before the cancelled columns' records arrive: they show what they kept
            for result in comparing.results.values():
                if result.status == "cancelled":
                    views[result.model].flush()
                    self.columns[result.model].show(result)
            self._finish(models, time.perf_counter() - start)

    def _finish(self, models: list[str], wall_s: float) -> None:
        self.wall_s = wall_s
        self.running = None
        self._busy(False)
        done = [m for m in models if m in self.results and self.results[m].status == "ok"]
        self.best.options = done
        self.best.value = done[0] if done else None
        self.pick_button.disabled = not done
        self.frame_button.disabled = not self.results
        self._say(f"{len(done)} of {len(models)} answered in {wall_s:.2f} s")

    def pick(self, model: str | None) -> Any:
        """Record in the ledger that `model` gave the best answer (`Ledger.pick_best`)."""
        result = self.results.get(model or "")
        if result is None or result.call_id is None:
            self._say("run a comparison first, then pick a model that answered", True)
            return None
        executor = self.session.executor
        provider, _, name = executor.handle(result.model).id.partition(":")
        stored = executor.ledger.pick_best(result.call_id, provider=provider, model=name,
                                           session_id=executor.session_id, latency_s=result.latency_s,
                                           ttft_s=result.ttft_s)
        self._say(f"picked {html.escape(result.model)}")
        return stored

    def to_dataframe(self, name: str = "comparison") -> Any:
        """The results as a DataFrame, one row per model in column order, stored in the notebook as `name`."""
        frame = table(self.results[m] for m in self.columns if m in self.results)
        if name.isidentifier():
            self.session.namespace[name] = frame
            self._say(f"results in <code>{html.escape(name)}</code>")
        else:
            self._say(f"{html.escape(repr(name))} is not a Python name", True)
        return frame

    def _busy(self, busy: bool) -> None:
        self.run_button.disabled = busy
        self.stop_button.disabled = not busy

    def _say(self, text: str, error: bool = False) -> None:
        self.status.value = f'<span class="{"cm-error" if error else "cm-muted"}">{text}</span>'

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)


def compare(session: Session | None = None, models: list[str] | None = None) -> ComparePanel:
    """Open a compare panel; `models` are checked at first (default: the first two usable)."""
    return ComparePanel(session or current(), models)
