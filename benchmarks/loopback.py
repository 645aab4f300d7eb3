"""Loopback provider servers for the benchmarks, each in a process of its own: a server on the client's process
would take the CPU the figures are about.

    with Servers(3, 0.2, my_responder) as urls:     # my_responder(recorded) -> Script, a module-level function
        ..."""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Any, Callable


class _Discard(list):
    """The server's request log, kept empty: thousands of recorded requests would slow the server down."""

    def append(self, item: Any) -> None:
        pass


def fake_server(latency: float, responder: Callable[[Any], Any]) -> Any:
    """A FakeServer answering through `responder`, keeping no request log (start it on a thread or in a process)."""
    from tests.fakes import FakeServer
    server = FakeServer(latency=latency)
    server.responder = responder
    server.requests = _Discard()
    return server


def _serve(latency: float, responder: Callable[[Any], Any], conn: Any) -> None:
    async def main() -> None:
        server = fake_server(latency, responder)
        conn.send(await server.start())
        conn.close()
        while True:
            await asyncio.sleep(3600)

    asyncio.run(main())


class Servers:
    """`n` FakeServers, each in a child process, answering through `responder` (passed by reference, so it must be
    a module-level function); entering gives their URLs."""

    def __init__(self, n: int, latency: float, responder: Callable[[Any], Any]) -> None:
        self.n, self.latency, self.responder, self.procs = n, latency, responder, []

    def __enter__(self) -> list[str]:
        ctx = multiprocessing.get_context("spawn")
        urls = []
        for _ in range(self.n):
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_serve, args=(self.latency, self.responder, child), daemon=True)
            proc.start()
            self.procs.append(proc)
            if not parent.poll(30):
                raise RuntimeError("a fake server did not start")
            urls.append(parent.recv())
        return urls

    def __exit__(self, *exc: Any) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.join(10)
