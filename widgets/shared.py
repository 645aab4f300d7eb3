"""What every panel shares: work on the kit's loop so the kernel never blocks (a panel calls its session's
services), a coalescing updater for streamed text, and theme-safe styling."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

import ipywidgets as w

from coditect_magics import bridge
from coditect_magics.session import Session

T = TypeVar("T")
MAX_UPDATES_PER_S = 20  # a fast stream must not flood the comm channel

# Jupyter's own CSS variables, so the panels read well in light and dark themes; flex-wrap so narrow windows wrap.
STYLE = """
<style>
.cm-panel { font-family: var(--jp-ui-font-family); font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1); border: 1px solid var(--jp-border-color2); border-radius: 4px;
  padding: 8px; gap: 6px; max-width: 100%; box-sizing: border-box; }
.cm-panel .cm-title { font-weight: 600; font-size: var(--jp-ui-font-size2); }
.cm-panel .cm-row { flex-wrap: wrap; gap: 6px; align-items: center; }
.cm-panel .cm-muted { color: var(--jp-ui-font-color2); }
.cm-panel .cm-error { color: var(--jp-error-color1); }
.cm-panel .cm-msg { border-left: 3px solid var(--jp-border-color1); padding-left: 6px; margin: 2px 0;
  overflow-x: auto; }
.cm-panel .cm-msg-user { border-left-color: var(--jp-brand-color1); }
.cm-panel .cm-msg-assistant { border-left-color: var(--jp-success-color1); }
.cm-panel .cm-column { flex: 1 1 220px; min-width: 200px; border: 1px solid var(--jp-border-color2);
  border-radius: 4px; padding: 4px; overflow-x: auto; }
.cm-panel table { border-collapse: collapse; font-size: var(--jp-ui-font-size0); }
.cm-panel td, .cm-panel th { border-bottom: 1px solid var(--jp-border-color2); padding: 2px 6px; text-align: left; }
.cm-panel .cm-table { overflow-x: auto; max-height: 320px; overflow-y: auto; }
</style>
"""


def submit(coro: Awaitable[T]) -> Future[T]:
    """Run a coroutine on the kit's loop without waiting: the kernel stays free while a panel works."""
    return asyncio.run_coroutine_threadsafe(coro, bridge.loop())  # type: ignore[arg-type]


def in_thread(fn: Callable[..., T], *args: Any) -> Awaitable[T]:
    """Blocking work (SQLite, Chroma, an embedder) off the kit's loop, so streams on it keep flowing."""
    return asyncio.to_thread(fn, *args)


class Coalescer:
    """Applies the latest pushed value at most MAX_UPDATES_PER_S times a second; values pushed in between are
    folded into the next update, and `flush` applies whatever is left at once."""

    def __init__(self, apply: Callable[[Any], None], interval: float = 1 / MAX_UPDATES_PER_S) -> None:
        self.apply, self.interval = apply, interval
        self.updates = 0
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self._last = float("-inf")
        self._timer: threading.Timer | None = None

    def push(self, value: Any) -> None:
        with self._lock:
            self._pending[:] = [value]
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self.flush()

    def flush(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not self._pending:
                return
            value = self._pending.pop()
            self._last = time.monotonic()
            self.updates += 1
            self.apply(value)


def panel(title: str, *children: w.Widget, name: str) -> w.VBox:
    """The outer box of a panel: the shared style, a title, and a class the browser tests select by."""
    box = w.VBox([w.HTML(STYLE), w.HTML(f'<span class="cm-title">{title}</span>'), *children],
                 layout=w.Layout(width="100%"))
    box.add_class("cm-panel")
    box.add_class(f"cm-{name}")
    return box


def row(*children: w.Widget) -> w.HBox:
    """A row of controls that wraps in a narrow window."""
    box = w.HBox(list(children), layout=w.Layout(flex_flow="row wrap", width="100%"))
    box.add_class("cm-row")
    return box


def markdown(out: w.Output, text: str) -> None:
    """Show Markdown in an Output widget by setting its outputs (safe from any thread, unlike `with out:`);
    the front end renders it, code blocks included."""
    out.outputs = ({"output_type": "display_data", "data": {"text/markdown": text, "text/plain": text},
                    "metadata": {}},)


def shown_markdown(out: w.Output) -> str:
    """The Markdown an Output widget shows (what `markdown` put there)."""
    return "".join(o.get("data", {}).get("text/markdown", "") for o in out.outputs)


def labelled(description: str, widget: w.Widget, width: str = "auto") -> w.Widget:
    """A control with its label beside it, sized to its content."""
    widget.description = description
    widget.style = {"description_width": "initial"}
    widget.layout.width = width
    return widget


@dataclass(frozen=True)
class ModelChoice:
    """A model a picker offers: its id, and why it cannot be called now ("" when it can)."""

    id: str
    reason: str = ""

    @property
    def label(self) -> str:
        return self.id if not self.reason else f"{self.id} (unusable: {self.reason})"


def model_choices(session: Session) -> list[ModelChoice]:
    """Every provider's default model and every alias (the session's too), usable ones first; the others carry
    their reason."""
    from coditect_magics import providers
    settings = {name: providers.Settings(base_url=url) for name, url in session.settings.base_urls.items()}
    rows = [r for r in providers.available(settings) if r.name != "search"]
    why = {r.name: "" if r.usable else r.reason for r in rows}
    choices = [ModelChoice(f"{r.name}:{r.default_model}", why[r.name]) for r in rows]
    for alias in session.alias_table():
        provider = session.resolve(alias).partition(":")[0]
        choices.append(ModelChoice(alias, why.get(provider, "")))
    default = session.settings.default_model
    if default and default not in [c.id for c in choices]:
        choices.insert(0, ModelChoice(default))
    return sorted(choices, key=lambda c: (bool(c.reason), c.id != default))


def watch_ledger(ledger: Any, refresh: Callable[[], Any], alive: Callable[[], bool], every_s: float = 2.0) -> Future[None]:
    """Call `refresh` when new calls land in the ledger, checking every `every_s` on the kit's loop, for as long as
    the panel is `alive` (its widget not closed)."""
    async def watch() -> None:
        seen = await in_thread(ledger.count)
        while alive():
            await asyncio.sleep(every_s)
            count = await in_thread(ledger.count)
            if count != seen and alive():
                seen = count
                await in_thread(refresh)

    return submit(watch())


def is_open(widget: w.Widget) -> bool:
    """Whether a widget is still shown somewhere (closing it drops its comm)."""
    return getattr(widget, "comm", None) is not None
