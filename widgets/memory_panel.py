"""The memory panel: a search box with live results (snippet, score, source, time), filters by kind and source, a
note to add, and a Forget button on each result. Searches run off the kernel's thread; a newer keystroke wins."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
from concurrent.futures import Future
from typing import Any

import ipywidgets as w

from coditect_magics.memory.sources import shown_sources
from coditect_magics.session import Session, current
from coditect_magics.text import one_line

from .shared import in_thread, labelled, panel, row, submit

KINDS = [("any kind", None), ("message", "message"), ("note", "note"), ("file", "file")]
DEBOUNCE_S = 0.25   # typing pauses this long before a search starts
SNIPPET = 240


class MemoryPanel:
    """`MemoryPanel(session).widget`; `search()` runs what the box holds, `add(text)` and `forget(id)` change memory."""

    def __init__(self, session: Session, k: int = 10) -> None:
        self.session = session
        self.query = w.Text(placeholder="Search memory by meaning…", layout=w.Layout(flex="1 1 300px"))
        self.query.add_class("cm-query")
        self.kind = labelled("Kind", w.Dropdown(options=KINDS, value=None), "160px")
        self.source = labelled("Source", w.Text(placeholder="exact source, e.g. notes.md", continuous_update=False),
                               "260px")
        self.k = labelled("Results", w.BoundedIntText(value=k, min=1, max=100), "130px")
        self.results = w.VBox(layout=w.Layout(width="100%"))
        self.results.add_class("cm-results")
        self.note = w.Textarea(placeholder="A note to remember", rows=2, layout=w.Layout(flex="1 1 300px"))
        self.note.add_class("cm-note")
        add = w.Button(description="Add note", icon="plus")
        add.add_class("cm-add")
        add.on_click(lambda _: self.add(self.note.value))
        self.status = w.HTML()
        self.status.add_class("cm-status")
        self.pending: Future[None] | None = None
        self._generation = 0
        for control in (self.query, self.kind, self.source, self.k):
            control.observe(lambda _: self.search(delay=DEBOUNCE_S), "value")
        self.widget = panel("Memory", row(self.query, self.kind, self.source, self.k), self.results,
                            row(self.note, add), self.status, name="memory")

    def search(self, delay: float = 0.0) -> Future[None]:
        """Search for the box's text with the filters; an earlier search still waiting or running is dropped."""
        self._generation += 1
        generation = self._generation
        if self.pending is not None:
            self.pending.cancel()
        query, kind, source, k = self.query.value.strip(), self.kind.value, self.source.value.strip(), self.k.value

        async def run() -> None:
            await asyncio.sleep(delay)
            if not query:
                self._show([], generation, "")
                return
            self._say("searching…")
            try:
                hits = await in_thread(lambda: self.session.settled_memory().search(query, k=k, kind=kind,
                                                                            source=source or None))
            except Exception as exc:  # an embedder that cannot load, a store that cannot open: said here
                self._say(f"{type(exc).__name__}: {exc}", error=True)
                return
            self._show(hits, generation, f"{len(hits)} result{'s' * (len(hits) != 1)} for “{query}”")

        self.pending = submit(run())
        return self.pending

    def add(self, text: str) -> Future[None] | None:
        """Remember a note (kind note, source panel), then search again."""
        text = text.strip()
        if not text:
            return None

        async def run() -> None:
            try:
                await in_thread(lambda: self.session.settled_memory().add(text, kind="note", source="panel"))
            except Exception as exc:
                self._say(f"{type(exc).__name__}: {exc}", error=True)
                return
            self.note.value = ""
            self._say("note added")
            if self.query.value.strip():
                await asyncio.wrap_future(self.search())

        return submit(run())

    def forget(self, item_id: str) -> Future[None]:
        """Forget one item, then search again."""
        async def run() -> None:
            gone = await in_thread(lambda: self.session.settled_memory().forget(item_id))
            await asyncio.wrap_future(self.search())
            self._say(f"forgot {gone} item{'s' * (gone != 1)}")

        return submit(run())

    def _show(self, hits: list[Any], generation: int, summary: str) -> None:
        if generation != self._generation:  # a newer search has started: its results win
            return
        self.results.children = [self._hit(hit) for hit in hits]
        self._say(summary)

    def _hit(self, hit: Any) -> w.Widget:
        snippet = one_line(hit.text, SNIPPET)
        stamp = hit.metadata.get("timestamp")
        when = dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M") if isinstance(stamp, (int, float)) else ""
        facts = " · ".join(p for p in (f"{hit.score:.2f}", str(hit.metadata.get("kind", "")),
                                       shown_sources(hit.sources), when) if p)
        text = w.HTML(f'<div>{html.escape(snippet)}</div><div class="cm-muted">{html.escape(facts)}</div>',
                      layout=w.Layout(flex="1 1 300px"))
        forget = w.Button(description="Forget", icon="trash", layout=w.Layout(width="auto"))
        forget.add_class("cm-forget")
        forget.on_click(lambda _: self.forget(hit.id))
        box = row(text, forget)
        box.add_class("cm-hit")
        return box

    def _say(self, text: str, error: bool = False) -> None:
        self.status.value = f'<span class="{"cm-error" if error else "cm-muted"}">{html.escape(text)}</span>'

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)


def memory(session: Session | None = None, **options: Any) -> MemoryPanel:
    """Open the memory panel on a session (default: the kernel's)."""
    return MemoryPanel(session or current(), **options)
