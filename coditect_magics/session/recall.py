"""Memory as a session uses it: the store opened from the settings, what it holds about a prompt as context, and
each finished exchange remembered in the background (the journal)."""

from __future__ import annotations

import os
from typing import Any, Sequence


class Recall:
    """The session's memory (a mixin of Session: it reads `self.settings` and keeps `self._memory`,
    `self._journal`)."""

    settings: Any
    namespace: dict[str, Any]
    notice: Any
    _memory: Any
    _journal: Any
    _lock: Any

    @property
    def memory(self) -> Any:
        """The memory store, opened on first use from the settings (a Chroma server or the local store)."""
        with self._lock:
            if self._memory is None:
                from coditect_magics.memory import Memory
                settings = self.settings
                self._memory = Memory(settings.memory_dir or None, url=settings.chroma_url or None,
                                      embedder=settings.embedder or None)
            return self._memory

    def flush_memory(self) -> None:
        """Wait until the exchanges remembered so far are written."""
        journal = self._journal
        if journal is not None:
            journal.flush()

    def settled_memory(self) -> Any:
        """The store once the journal's pending writes have landed, so a search sees the last exchange."""
        self.flush_memory()
        return self.memory

    def memory_in_use(self) -> bool:
        """Whether there is a memory to draw on: a Chroma server, or a local store that holds something. Checked
        without importing Chroma or the embedder, so calls that never touch memory stay fast."""
        from coditect_magics.memory.store import URL_ENV, default_dir
        if self.settings.chroma_url or os.environ.get(URL_ENV) or self._journal is not None:
            return True
        path = self.settings.memory_dir or default_dir()
        return os.path.isdir(path) and bool(os.listdir(path))

    def recall(self, prompt: str, k: int | None = None, min_score: float | None = None,
               already: Sequence[str] = ()) -> tuple[str, int]:
        """The memory block for a system prompt and how many memories it holds (("", 0) when memory is off, empty
        or failing: a notice says why). `k` and `min_score` default to the settings; memories whose text the
        conversation `already` holds are left out rather than sent twice."""
        k = self.settings.memory_context if k is None else k
        if k <= 0 or not self.memory_in_use():
            return "", 0
        from coditect_magics.memory import MemoryError_, context_block, relevant
        held = [" ".join(text.split()) for text in already]
        floor = self.settings.memory_min_score if min_score is None else min_score
        try:
            hits = relevant(self.settled_memory(), prompt, k=k + len(held), min_score=floor)
        except MemoryError_ as exc:
            self.notice(f"memory context skipped: {exc}")
            return "", 0
        fresh = [hit for hit in hits if not any(" ".join(hit.text.split()) in text for text in held)][:k]
        return context_block(fresh), len(fresh)

    def remember(self, prompt: str, reply: str, *, model: str, source: str, agent: str | None = None) -> None:
        """Keep a finished exchange in memory, in the background, unless the `remember` setting is off."""
        if not self.settings.remember or not reply.strip() or not prompt.strip():
            return
        from coditect_magics.costs.ledger import session_id
        from coditect_magics.memory import Journal
        with self._lock:
            if self._journal is None:
                self._journal = Journal(lambda: self.memory)
            journal = self._journal
        if journal.failure is not None:
            self.notice(f"exchanges are not remembered: {journal.failure} (%config CoditectMagics.remember = False "
                        "turns this off)", once="journal-failed")
            return
        journal.exchange(prompt, reply, source=source, session=session_id(), agent=agent, model=model)

    def cell_source(self, cell: int | None) -> str:
        """Where an exchange came from: the notebook's file name and the cell (`ipython#cell3` in a terminal)."""
        notebook = self.namespace.get("__session__") or os.environ.get("JPY_SESSION_NAME") or "ipython"
        return f"{os.path.basename(str(notebook))}#cell{cell}"

