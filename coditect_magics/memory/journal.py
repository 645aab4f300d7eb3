"""The journal: every exchange remembered in the background, so a cell returns while the embedder works.

    journal = Journal(lambda: Memory())
    journal.exchange("Which database do we use?", "PostgreSQL 15.", source="analysis.ipynb#cell4", model="openai:gpt-4.1")
    journal.flush()        # wait for what is pending (a search does this first, so it sees the last exchange)

One worker thread writes in order. A failure switches the journal off for the session (the same failure would repeat
on every call) and is kept in `failure` for the front to say once, from the kernel's thread rather than the
worker's. Pending writes finish at interpreter exit."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any, Callable

from .errors import MemoryError_


class Journal:
    """Writes exchanges to the memory returned by `open_memory` (called on the worker, on first write)."""

    def __init__(self, open_memory: Callable[[], Any]) -> None:
        self._open_memory = open_memory
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: list[concurrent.futures.Future[None]] = []
        self._lock = threading.Lock()
        self.failure: str | None = None  # why the journal stopped, once it has

    def exchange(self, prompt: str, reply: str, **meta: Any) -> None:
        """Remember a prompt and its reply as two messages (roles user and assistant) with the same metadata;
        long texts are split into overlapping chunks."""
        from .indexing import chunk
        stamp = time.time()
        items = [{**meta, "text": piece, "kind": "message", "role": role, "timestamp": stamp, "chunk": n}
                 for role, text in (("user", prompt), ("assistant", reply)) for n, piece in enumerate(chunk(text))]
        if items:
            self.submit(items)

    def submit(self, items: list[dict[str, Any]]) -> None:
        """Queue items (mappings with "text" and metadata) for the worker; ignored once the journal has failed."""
        with self._lock:
            if self.failure is not None:
                return
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="coditect-journal")
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._pool.submit(self._write, items))

    def _write(self, items: list[dict[str, Any]]) -> None:
        if self.failure is not None:
            return
        try:
            memory = self._open_memory()
            memory.add_many(items)
            index = memory.word_index()
            if index is not None:  # rebuilt here, in the background, rather than by the next search
                index.refresh()
        except (MemoryError_, OSError, ValueError) as exc:
            self.failure = str(exc)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything submitted so far is written (or `timeout` seconds pass)."""
        with self._lock:
            pending = list(self._pending)
        concurrent.futures.wait(pending, timeout=timeout)

    def close(self) -> None:
        """Finish pending writes and stop the worker."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
