"""The session's MCP servers: configured ones (config.load, read afresh when their files change), each started on
first use and kept for the kernel's life on the kit's loop, restarted on request, stopped at close. A server that
fails to start or dies is one line naming it with its stderr's last lines; the others go on.

    servers = Manager(lambda: load(settings.mcp_config), lambda: Timeouts(30, 120))
    tools = await servers.tools("time")                  # the kit's Tools: mcp__time__get_current_time, ...
    result = await servers.call("time", "get_current_time", {"timezone": "Europe/Paris"})
    servers.rows()                                       # name, transport, status, tools ... for %mcp list

Async methods run their work on the kit's loop whatever loop awaits them (the servers' tasks live there); the sync
ones (`tools_now`, `close`) may be called from any thread but the kit loop's own."""

from __future__ import annotations

import asyncio
import atexit
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from coditect_magics.errors import UsageError

from .config import Loaded, ServerConfig
from .connection import Connection, ServerFailed, Timeouts
from .tools import CallResult, RemoteTool, make_tool, result_of

T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    """One server as `%mcp list` shows it."""

    name: str
    transport: str
    where: str
    scope: str
    status: str
    tools: int | None
    problem: str = ""


class Manager:
    """Connections to the configured servers, by name."""

    def __init__(self, load: Callable[[], Loaded], timeouts: Callable[[], Timeouts] = Timeouts,
                 log_dir: Path | None = None) -> None:
        self._load, self._timeouts = load, timeouts
        self.log_dir = log_dir if log_dir is not None else default_log_dir()
        self._connections: dict[str, Connection] = {}
        self._tools: dict[str, tuple[RemoteTool, ...]] = {}
        self._closing = False
        self._at_exit = False

    def __repr__(self) -> str:
        return f"Manager({', '.join(f'{n}: {c.status}' for n, c in self._connections.items()) or 'none started'})"

    # what is configured
    def loaded(self) -> Loaded:
        """The servers as configured now (the files are read again when they change)."""
        return self._load()

    def names(self) -> list[str]:
        """The configured servers' names."""
        return list(self.loaded().servers)

    def config(self, name: str) -> ServerConfig:
        """The server called `name`; a UsageError listing the servers when there is none."""
        servers = self.loaded().servers
        if name not in servers:
            known = ", ".join(servers) or "none (add one with %mcp add NAME -- command args, or write .mcp.json)"
            raise UsageError(f"no MCP server is called {name!r}; the servers are: {known}")
        return servers[name]

    def rows(self) -> list[Row]:
        """Every configured server with its state (nothing is started to list them)."""
        rows = []
        for name, config in self.loaded().servers.items():
            connection = self._current(name, config)
            status = connection.status if connection is not None else "not started"
            count = len(self._tools[name]) if connection is not None and connection.ready else None
            rows.append(Row(name, config.transport, config.where, config.scope, status, count,
                            connection.problem if connection is not None else ""))
        return rows

    def cached(self, name: str) -> tuple[RemoteTool, ...]:
        """The tools of a server that is running now (nothing is started): for completion."""
        connection = self._connections.get(name)
        return self._tools.get(name, ()) if connection is not None and connection.ready else ()

    # the servers, on the kit's loop
    async def tools(self, name: str) -> tuple[RemoteTool, ...]:
        """The server's tools as the kit's Tools, starting it if need be; ServerFailed says why it cannot."""
        return await on_kit_loop(self._connected(name))

    async def call(self, name: str, tool: str, arguments: dict[str, Any]) -> CallResult:
        """One call of a server's tool (the user's own from `%mcp call`, or a model's through its Tool)."""
        return await on_kit_loop(self._call(name, tool, arguments))

    async def restart(self, name: str) -> tuple[RemoteTool, ...]:
        """Stop the server (if it runs) and start it afresh; its tools."""
        return await on_kit_loop(self._restart(name))

    async def aclose(self) -> None:
        """Stop every server (stdio processes end)."""
        await on_kit_loop(self._close_all())

    # from any thread but the kit loop's
    def tools_now(self, name: str) -> tuple[tuple[RemoteTool, ...], str]:
        """(tools, "") or ((), the one line saying why not). On the kit's loop itself only a server already
        running answers (a caller there awaits `tools()` first, as the runner does)."""
        from coditect_magics import bridge
        try:
            connection = self._current(name, self.config(name))
            if connection is not None and connection.ready:
                return self._tools[name], ""
            if connection is not None and connection.status == "failed":
                return (), connection.problem
            if _running_loop() is bridge.loop():
                return (), f"MCP server {name} is not started (it starts when a run names its tools)"
            return bridge.run(self.tools(name)), ""
        except UsageError as exc:
            return (), str(exc)

    def close(self) -> None:
        """Stop every server, waiting for them (from any thread but the kit loop's)."""
        if not self._connections:
            return
        from coditect_magics import bridge
        bridge.run(self.aclose())

    # the work itself (on the kit's loop)
    def _current(self, name: str, config: ServerConfig) -> Connection | None:
        """The connection for this config; one made from an older config of the same name does not count."""
        connection = self._connections.get(name)
        return connection if connection is not None and connection.config == config else None

    async def _connected(self, name: str) -> tuple[RemoteTool, ...]:
        """The server's tools, its connection made (or remade for a changed entry) and started if need be."""
        config = self.config(name)
        connection = self._current(name, config)
        if connection is None:
            stale = self._connections.pop(name, None)
            if stale is not None:  # its entry changed in the file: the new one replaces it
                await stale.stop()
            connection = self._connections[name] = Connection(config, self._timeouts(), self.log_dir)
            self._exit_hook()
        if not connection.ready:
            connection.timeouts = self._timeouts()
            if connection.status == "exited":   # it died since: start it again
                connection.status = "not started"
            await connection.start()
            self._tools[name] = tuple(make_tool(name, listed, self._caller(name)) for listed in connection.tools)
        return self._tools[name]

    def _caller(self, name: str) -> Callable[[str, dict[str, Any]], Awaitable[CallResult]]:
        """What a tool of server `name` calls: `call(tool, arguments)`."""
        return lambda tool, arguments: self.call(name, tool, arguments)

    async def _call(self, name: str, tool: str, arguments: dict[str, Any]) -> CallResult:
        """One call on the kit's loop, the server started if need be."""
        await self._connected(name)
        connection = self._connections[name]
        connection.timeouts = self._timeouts()
        return result_of(await connection.call(tool, arguments))

    async def _restart(self, name: str) -> tuple[RemoteTool, ...]:
        """Stop the server's connection and start a new one."""
        self.config(name)
        connection = self._connections.pop(name, None)
        self._tools.pop(name, None)
        if connection is not None:
            await connection.stop()
        return await self._connected(name)

    async def _close_all(self) -> None:
        """Stop every connection at once."""
        connections, self._connections = list(self._connections.values()), {}
        self._tools.clear()
        await asyncio.gather(*(c.stop() for c in connections), return_exceptions=True)

    def _exit_hook(self) -> None:
        """Stop the servers when the interpreter exits (a kernel shut down without unloading the extension)."""
        if self._at_exit:
            return
        self._at_exit = True
        ref = weakref.ref(self)
        atexit.register(lambda: (lambda m: m is not None and _quietly(m.close))(ref()))


async def on_kit_loop(work: Awaitable[T]) -> T:
    """Await `work` on the kit's loop: at once when already there, else through it."""
    from coditect_magics import bridge
    kit = bridge.loop()
    if _running_loop() is kit:
        return await work
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, kit))  # type: ignore[arg-type]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _quietly(close: Callable[[], None]) -> None:
    """Call `close`, saying nothing of what fails (at interpreter exit)."""
    try:
        close()
    except Exception:  # noqa: BLE001 - at exit, nothing is left to tell
        pass


def default_log_dir() -> Path:
    """Where stdio servers' stderr is kept: the kit's user log dir, mcp/NAME.log."""
    import platformdirs
    return Path(platformdirs.user_log_dir("coditect-magics")) / "mcp"


__all__ = ["Manager", "Row", "ServerFailed", "Timeouts", "on_kit_loop"]
