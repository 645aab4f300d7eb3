"""Widget events while a cell waits: the kernel's main thread is busy running the cell, so a click on a widget
the cell shows would wait until the cell ends. `wait_for(done)` handles the frontend's widget (comm) messages while
it polls `done()`, keeping every other request (a cell run meanwhile, a completion) for after the cell, in order.

On kernels that still have `do_one_iteration` (ipykernel 6 to 7.1) this is jupyter-ui-poll's `run_ui_poll_loop`.
ipykernel 7.2 and later dropped that hook and jupyter-ui-poll 1.1.0 then handles nothing (measured with ipykernel
7.4: a widget's value never changed while the cell polled), so here the kit reads the main shell's queue itself:
comm messages go to their handlers (with the idle status ipywidgets' send throttle waits for), the rest is put
back on the kernel's loop to run when the cell has finished."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, TypeVar

T = TypeVar("T")
COMM_MESSAGES = frozenset({"comm_open", "comm_msg", "comm_close"})
INTERVAL_S = 0.01   # between polls when nothing arrived: a click is handled within this


def kernel() -> Any:
    """The ipykernel kernel running this cell, or None (terminal IPython, a script)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None)


def wait_for(done: Callable[[], T | None], interval: float = INTERVAL_S) -> T:
    """Call `done()` until it returns something other than None, handling widget events meanwhile; what it
    returned. KeyboardInterrupt (the kernel's interrupt) propagates; requests kept meanwhile still run after."""
    running = kernel()
    if running is None:
        raise RuntimeError("widget events can only be waited for in a Jupyter kernel")
    if hasattr(running, "do_one_iteration"):
        from jupyter_ui_poll import run_ui_poll_loop
        return run_ui_poll_loop(done, sleep=interval, n=8)
    pump = ShellPump(running)
    try:
        while (value := done()) is None:
            if not pump.once():
                time.sleep(interval)
        return value
    finally:
        pump.release()


class ShellPump:
    """Reads the main shell's messages while a cell runs (ipykernel 7 without `do_one_iteration`)."""

    def __init__(self, running: Any) -> None:
        self.kernel = running
        channel = getattr(running, "shell_channel_thread", None)
        if channel is not None:  # ipykernel 7: the shell channel thread forwards the main shell's messages
            pair = channel.manager.get_shell_channel_to_subshell_pair(None)
            self.socket, self.incoming = pair.to_socket, pair.to_stream
            self.stream: Any = channel.manager.get_subshell_to_shell_channel_socket(None)
        else:
            self.socket, self.incoming = running.shell_stream.socket, running.shell_stream
            self.stream = running.shell_stream
        self.kept: list[Any] = []

    def once(self) -> bool:
        """Handle one waiting message, if any (True when there was one)."""
        if not self.socket.poll(0):
            return False
        frames = self.socket.recv_multipart(copy=False)
        session = self.kernel.session
        try:  # the header only: a peek does not record the signature, so the kernel can still read it later
            idents, rest = session.feed_identities(frames, copy=False)
            header = session.deserialize(rest, content=False, copy=False)["header"]
            if header["msg_type"] not in COMM_MESSAGES:
                raise LookupError(header["msg_type"])
            message = session.deserialize(rest, content=True, copy=False)
        except Exception:  # noqa: BLE001 - not a comm message, or not ours to judge: the kernel reads it after
            self.kept.append(frames)
            return True
        self._handle(idents, message)
        return True

    def _handle(self, idents: Any, message: dict[str, Any]) -> None:
        """A comm message to its handler; then idle for it (ipywidgets sends a model's next update only after the
        idle of its last) and busy again for the cell, so the kernel still shows busy."""
        handler = self.kernel.shell_handlers.get(message["header"]["msg_type"])
        try:
            if handler is not None:
                handler(self.stream, idents, message)
        finally:
            publish = getattr(self.kernel, "_publish_status", None)
            if publish is not None:
                publish("idle", "shell", parent=message)
                publish("busy", "shell", parent=self.kernel.get_parent("shell"))

    def release(self) -> None:
        """Hand the requests kept meanwhile back to the kernel: they run, in order, once the cell has finished."""
        loop = getattr(self.kernel, "io_loop", None)
        if loop is None:
            return
        for frames in self.kept:
            loop.add_callback(self.kernel.shell_main, None, frames)
        self.kept.clear()
        if self.incoming is not None:  # its socket was read behind its back: have it look again
            import zmq
            loop.add_callback(self.incoming.flush, zmq.POLLIN)
