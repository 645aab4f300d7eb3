"""The kit's own event loop on a background thread, so sync code in a Jupyter kernel (whose loop is already
running) can run the kit's coroutines and streams without nest_asyncio. An interrupt cancels the work promptly."""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, TypeVar

T = TypeVar("T")
_POLL_S = 0.05  # how often a waiting caller wakes to notice an interrupt
_CANCEL_GRACE_S = 5.0  # how long an interrupted caller waits for the cancelled task to record what it must

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def loop() -> asyncio.AbstractEventLoop:
    """The kit's loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or not _thread or not _thread.is_alive():
            ready = threading.Event()
            new_loop = asyncio.new_event_loop()

            def serve() -> None:
                asyncio.set_event_loop(new_loop)
                new_loop.call_soon(ready.set)
                new_loop.run_forever()

            _thread = threading.Thread(target=serve, name="coditect-magics-loop", daemon=True)
            _thread.start()
            ready.wait()
            _loop = new_loop
        return _loop


def _check_thread() -> asyncio.AbstractEventLoop:
    kit_loop = loop()
    if threading.current_thread() is _thread:
        raise RuntimeError("bridge.run was called from the kit's own loop: await the coroutine instead")
    return kit_loop


def _submit(coro: Awaitable[T]) -> tuple[Future[T], threading.Event]:
    """Schedule on the kit's loop; the event is set once the task has really finished (also after a cancel)."""
    finished = threading.Event()

    async def tracked() -> T:
        try:
            return await coro
        finally:
            finished.set()

    return asyncio.run_coroutine_threadsafe(tracked(), _check_thread()), finished


def _cancel(future: Future[Any], finished: threading.Event) -> None:
    """Cancel the task and give it a moment to finish its bookkeeping (ledger row, partial text): the future
    reports cancelled at once, before the task has run its cleanup."""
    future.cancel()
    finished.wait(_CANCEL_GRACE_S)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine on the kit's loop and wait for it; KeyboardInterrupt cancels it and is re-raised."""
    future, finished = _submit(coro)
    try:
        while True:
            try:
                return future.result(timeout=_POLL_S)
            except FutureTimeout:
                continue
    except KeyboardInterrupt:
        _cancel(future, finished)
        raise
    except FutureCancelled:
        raise KeyboardInterrupt from None


def iterate(make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Pull items of an async iterator (made on the kit's loop) into this thread as they arrive.
    KeyboardInterrupt, or closing this generator early, cancels the producer."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue()

    async def pump() -> None:
        try:
            async for item in make():
                items.put(("item", item))
        except BaseException as exc:
            items.put(("error", exc))
            raise
        items.put(("end", None))

    future, task_finished = _submit(pump())
    finished = False
    try:
        while True:
            try:
                kind, value = items.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if kind == "item":
                yield value
            elif kind == "error":
                finished = True
                if isinstance(value, asyncio.CancelledError):
                    raise KeyboardInterrupt from None
                raise value
            else:
                finished = True
                return
    finally:
        if not finished:
            _cancel(future, task_finished)
