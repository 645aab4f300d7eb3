"""Waiting on evidence instead of sleeping a fixed time: a test polls for what it expects to see."""

from __future__ import annotations

import _thread
import threading
import time
from typing import Any, Callable


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until `condition()` is truthy and return its value (panels work on the kit's loop, not the test's
    thread); fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {condition}")


def interrupt_when(evidence: threading.Event, timeout: float = 60.0) -> threading.Thread:
    """Send the kernel's interrupt (KeyboardInterrupt in the main thread) from another thread once `evidence` is set:
    a test interrupts after what it waits for has happened, however long the first call's SDK import took."""
    def interrupt() -> None:
        if evidence.wait(timeout):
            _thread.interrupt_main()

    thread = threading.Thread(target=interrupt, name="interrupter", daemon=True)
    thread.start()
    return thread
