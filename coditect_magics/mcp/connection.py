"""One MCP server kept open on the kit's loop (coditect_magics.bridge) through the official SDK's `Client`.

The SDK's transports are anyio context managers that must be entered and left in one task, so each server lives
in a task of its own: it connects, lists the tools, then waits until it is told to stop; calls from any task of
the kit's loop go through its client meanwhile. A stdio server's stderr goes to a log file (a real file: the SDK
hands it to the subprocess, which needs a fileno), whose last lines explain a server that would not start or died.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coditect_magics.errors import UsageError
from coditect_magics.providers.secrets import redact, remember
from coditect_magics.text import one_line

from .config import ServerConfig

TAIL_LINES = 3
TAIL_CHARS = 300
# The initialize handshake every MCP server in use speaks; measured here it answers a call in 0.75 ms on stdio,
# where 'auto' (probing the 2026 protocol first) took 3.0 ms
MODE = "legacy"


class ServerFailed(UsageError):
    """A server that did not start, or stopped answering: one line naming it, why, and its stderr's last lines."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect (spawn, handshake, tool list) and for one tool call."""

    connect_s: float = 30.0
    call_s: float = 120.0


class Connection:
    """One server: `await start()`, `await call(tool, arguments)`, `await stop()`; `status` says where it is."""

    def __init__(self, config: ServerConfig, timeouts: Timeouts, log_dir: Path) -> None:
        self.config, self.timeouts = config, timeouts
        self.log = log_dir / f"{config.name}.log"
        self.status = "not started"      # starting, ready, failed, exited, stopped
        self.problem = ""
        self.tools: tuple[Any, ...] = ()  # the SDK's Tool objects, as the server lists them
        self.started_s = 0.0
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock = asyncio.Lock()
        self.http_status = 0             # an HTTP server's last error status (401: a header key is wrong, say)

    def __repr__(self) -> str:
        return f"Connection({self.config.name!r}, {self.config.transport}, {self.status})"

    @property
    def ready(self) -> bool:
        """Connected, with its tools listed."""
        return self.status == "ready" and self._client is not None

    async def start(self) -> None:
        """Connect (once: concurrent callers wait for the same start); ServerFailed when it cannot."""
        async with self._lock:
            if self.ready:
                return
            if self.status == "failed":
                raise ServerFailed(self.problem)
            await self._start()

    async def _start(self) -> None:
        """Expand the config, start the server's task and wait for its tool list (at most the connect timeout)."""
        self.status, self.problem, self.http_status = "starting", "", 0
        started = time.perf_counter()
        ready: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        ready.add_done_callback(lambda f: f.cancelled() or f.exception())  # a start given up on fails unheard
        self._stop = asyncio.Event()
        try:
            config = self.config.expanded()
        except UsageError as exc:   # a ${VAR} not set: the message names the server and the variable
            self.status, self.problem = "failed", str(exc)
            raise ServerFailed(self.problem) from None
        for secret in config.secrets():
            remember(secret)
        try:
            self._task = asyncio.ensure_future(self._serve(config, ready, self._stop))
            self.tools = await asyncio.wait_for(asyncio.shield(ready), self.timeouts.connect_s)
        except asyncio.CancelledError:   # interrupted while it started: nothing is left running, nothing failed
            if self._task is not None:
                self._task.cancel()
            self.status = "not started"
            raise
        except asyncio.TimeoutError:
            self._fail(f"did not start within {self.timeouts.connect_s:g} s "
                       f"(CoditectMagics.mcp_connect_timeout)")
        except Exception as exc:  # noqa: BLE001 - whatever stopped it is said in one line
            self._fail(f"did not start: {reason(exc)}")
        self.started_s = time.perf_counter() - started
        self.status = "ready"

    def _fail(self, why: str) -> None:
        """Record a failed start, stop what is left of it (in the background) and raise the one line."""
        self.status, self.problem = "failed", self._line(why)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        raise ServerFailed(self.problem)

    async def _serve(self, config: ServerConfig, ready: asyncio.Future[tuple[Any, ...]],
                     stop: asyncio.Event) -> None:
        """The server's own task: open the client, list the tools, wait for `stop`, close the client."""
        from mcp import Client
        try:
            with self._errlog() as errlog:
                async with Client(transport(config, errlog, self.timeouts, self._saw), mode=MODE,
                                  client_info=client_info()) as client:
                    tools = await list_tools(client)
                    self._client = client
                    ready.done() or ready.set_result(tools)
                    await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError(reason(exc)))
            elif self.status == "ready":   # it ended on its own: the next call says why
                self._died(reason(exc))
            if not isinstance(exc, Exception):
                raise
        finally:
            self._client = None

    async def _saw(self, response: Any) -> None:
        """Keep an HTTP server's error status for the failure line."""
        if response.status_code >= 400:
            self.http_status = response.status_code

    def _errlog(self) -> Any:
        """Where a stdio server's stderr goes (this start's own log file); nothing for HTTP servers."""
        import contextlib
        if self.config.transport != "stdio":
            return contextlib.nullcontext(None)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        return open(self.log, "w", encoding="utf-8", errors="replace")

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """One tool call: the SDK's CallToolResult. ServerFailed when the server is gone or the call times out."""
        await self.start()
        client = self._client
        try:
            return await asyncio.wait_for(client.call_tool(tool, arguments), self.timeouts.call_s)
        except asyncio.TimeoutError:
            raise ServerFailed(f"MCP server {self.config.name} did not answer {tool} within "
                               f"{self.timeouts.call_s:g} s (CoditectMagics.mcp_call_timeout)") from None
        except Exception as exc:  # noqa: BLE001 - the connection broke: say so, and start afresh next time
            if _closed(exc):
                self._died(reason(exc))
                await self.stop(keep_status=True)
                raise ServerFailed(self.problem) from None
            raise

    def _died(self, why: str) -> None:
        """Record that the server stopped answering (the next use starts it again)."""
        self.status, self.problem = "exited", self._line(f"stopped: {why}")
        self._client = None

    async def stop(self, *, keep_status: bool = False) -> None:
        """Close the client (a stdio server's process is ended by the SDK: stdin closed, then SIGTERM, SIGKILL)."""
        task, self._task = self._task, None
        if self._stop is not None:
            self._stop.set()
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 10)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:  # noqa: BLE001 - closing: what failed was said when it failed
                pass
        self._client = None
        if not keep_status:
            self.status, self.problem = "stopped", ""

    def _line(self, what: str) -> str:
        """`MCP server NAME what; stderr: its last lines` with every known secret hidden."""
        tail = self.stderr_tail()
        status = f" (HTTP {self.http_status})" if self.http_status else ""
        return redact(f"MCP server {self.config.name} {what}{status}" + (f"; stderr: {tail}" if tail else ""))

    def stderr_tail(self) -> str:
        """The last lines the server wrote to stderr, in one line."""
        try:
            lines = [line for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines()
                     if line.strip()] if self.config.transport == "stdio" else []
        except OSError:
            return ""
        return one_line(" | ".join(lines[-TAIL_LINES:]), TAIL_CHARS)


def transport(config: ServerConfig, errlog: Any, timeouts: Timeouts, saw: Any = None) -> Any:
    """The SDK transport for an expanded config: stdio with its errlog, Streamable HTTP or SSE with its headers
    (`saw(response)`: an async hook told of each HTTP response)."""
    if config.transport == "stdio":
        from mcp import StdioServerParameters, stdio_client
        return stdio_client(StdioServerParameters(command=config.command, args=list(config.args),
                                                  env=dict(config.env) or None, cwd=config.cwd or None),
                            errlog=errlog)
    if config.transport == "sse":
        from mcp.client.sse import sse_client
        return sse_client(config.url, headers=dict(config.headers) or None, timeout=timeouts.connect_s,
                          sse_read_timeout=max(timeouts.call_s, 300.0))
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    http = httpx2.AsyncClient(headers=dict(config.headers),
                              timeout=httpx2.Timeout(timeouts.connect_s, read=max(timeouts.call_s, 300.0)),
                              event_hooks={"response": [saw]} if saw is not None else None)
    return _owning(streamable_http_client(config.url, http_client=http), http)


class _owning:
    """The Streamable HTTP transport with the httpx2 client it was given, closed with it."""

    def __init__(self, inner: Any, http: Any) -> None:
        self.inner, self.http = inner, http

    async def __aenter__(self) -> Any:
        await self.http.__aenter__()
        try:
            return await self.inner.__aenter__()
        except BaseException:
            await self.http.__aexit__(None, None, None)
            raise

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self.inner.__aexit__(*exc)
        finally:
            await self.http.__aexit__(None, None, None)


def client_info() -> Any:
    """How the kit introduces itself to a server: coditect-magics and its version."""
    from mcp import Implementation
    try:
        from importlib.metadata import version
        own = version("coditect-magics")
    except Exception:  # noqa: BLE001 - a checkout without metadata
        own = "0"
    return Implementation(name="coditect-magics", version=own)


async def list_tools(client: Any) -> tuple[Any, ...]:
    """Every tool the server lists, page by page."""
    tools: list[Any] = []
    cursor = None
    for _ in range(100):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if not cursor:
            break
    return tuple(tools)


def reason(exc: BaseException) -> str:
    """The innermost cause of a failure in one line (the SDK wraps them in exception groups)."""
    while getattr(exc, "exceptions", None):   # an ExceptionGroup (a builtin from Python 3.11)
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"command not found ({exc.filename or exc})"
    text = str(exc) or type(exc).__name__
    return one_line(text if type(exc).__module__.startswith("mcp") else f"{type(exc).__name__}: {text}", 300)


def _closed(exc: BaseException) -> bool:
    """True when the failure means the connection is gone (not a tool's own error)."""
    text = reason(exc).lower()
    return any(word in text for word in ("connection closed", "closedresource", "brokenresource", "endofstream",
                                         "connecterror", "remoteprotocolerror"))
