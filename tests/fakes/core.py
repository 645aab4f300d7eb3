"""A scriptable aiohttp server on 127.0.0.1. Protocol modules (anthropic_api, openai_api, gemini_api, ollama_api)
add their routes; a test queues Scripts (a reply or a fault) and reads back what the SDK really sent.

The server is strict by default, as the real APIs are: a request they would refuse (rules.py) is answered with the
API's own 400 and logged in `refusals`, and an unknown path gets the 404 its API would send. A test that sends
such a request on purpose sets `server.strict = False` or reads `refusals`. With CODITECT_FAKE_REFUSALS set to a
file, every refusal is appended to it as a JSON line too (to check a whole test run sent nothing refused)."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

# gemini_batch_api before gemini_api: its models/M:batchGenerateContent route is more specific than models/{target}
PROTOCOLS = ("anthropic_api", "openai_api", "gemini_batch_api", "gemini_api", "ollama_api", "openai_batch_api",
             "anthropic_batch_api")


@dataclass
class Script:
    """One scripted answer. Defaults give a plain successful reply; the other fields inject faults."""

    text: str = "Hello from the loopback server."
    input_tokens: int = 11
    output_tokens: int = 7
    finish_reason: str = "stop"          # protocol modules translate it to their own vocabulary
    # prompt caching, in each API's own terms: Anthropic reports input_tokens without the cache reads and writes
    # (cache_read_input_tokens, cache_creation_input_tokens); OpenAI's prompt_tokens and Gemini's promptTokenCount
    # include the cached tokens (prompt_tokens_details.cached_tokens, cachedContentTokenCount)
    cached_tokens: int = 0
    cache_write_tokens: int = 0          # Anthropic only: tokens written to the cache
    # [{"id", "name", "arguments": {...}}]; arguments as a string are sent as they are (malformed JSON, say) where the
    # protocol carries them as text: OpenAI's arguments and Anthropic's streamed input_json_delta pieces
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None             # model name to report (default: the one requested)
    status: int = 200                    # anything else answers with the provider's error body
    error_message: str = "scripted failure"
    retry_after: str | None = None       # Retry-After header on an error
    delay: float = 0.0                   # seconds before the response starts (a stall: nothing is sent meanwhile)
    reset: bool = False                  # after the delay, reset the connection (TCP RST) instead of answering
    chunk_delay: float = 0.0             # seconds between stream events
    cut_after: int | None = None         # stream: abort the connection after this many text pieces
    end_early: bool = False              # stream: end cleanly but without the final event(s)
    # stream: after this many text pieces, the API's own in-stream error event (Anthropic `event: error`, OpenAI
    # `data: {"error": ...}`, TGI `{"error", "error_type"}`, Gemini an error chunk then a cut, Ollama an error line);
    # fail_status is the HTTP status the error stands for (529: Anthropic's overloaded_error)
    fail_after: int | None = None
    fail_status: int = 500
    bad_json: bool = False               # the body (or a stream event) is not JSON
    echo_key: bool = False               # the error body repeats the credential the client sent


@dataclass
class Recorded:
    """One request as the server received it; `at` is its arrival (time.monotonic(), before the body was read)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)

    @property
    def credential(self) -> str:
        """The key the client sent, whichever header carried it."""
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        return self.headers.get("x-api-key") or self.headers.get("x-goog-api-key") or self.query.get("key", "")

    @property
    def prompt(self) -> str:
        """The last user turn's text, whichever protocol carried it (messages or Gemini's contents)."""
        body = self.body if isinstance(self.body, dict) else {}
        turns = [m for m in body.get("messages") or body.get("contents") or [] if m.get("role") == "user"]
        if not turns:
            return ""
        content = turns[-1].get("content", turns[-1].get("parts"))
        if isinstance(content, str):
            return content
        return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def argument_text(call: dict[str, Any]) -> str:
    """A scripted call's arguments as JSON text (a string is taken as already written)."""
    arguments = call.get("arguments", {})
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def argument_pieces(text: str) -> list[str]:
    """Arguments as a stream sends them: an empty first piece, then three uneven slices that join back to `text`."""
    cuts = sorted({0, len(text) // 4, len(text) // 2 + 1, len(text)})
    return [""] + [text[a:b] for a, b in zip(cuts, cuts[1:]) if text[a:b]]


def pieces(text: str) -> list[str]:
    """Split text into word-sized stream deltas that join back to exactly `text`."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


def reset(request: web.Request) -> None:
    """Close the connection with a TCP RST (SO_LINGER 0), as a crashed proxy or a dropped route does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class FakeServer:
    """Serves every protocol at once on one port: `url` is the base for all SDKs."""

    def __init__(self, latency: float = 0.0, strict: bool = True) -> None:
        self.latency = latency
        self.strict = strict                 # refuse what the real APIs refuse (rules.py)
        self.scripts: deque[Script] = deque()
        self.default = Script()
        self.responder: Callable[[Recorded], Script] | None = None  # answers unscripted requests from their content
        self.requests: list[Recorded] = []
        self.refusals: list[tuple[Recorded, int, str]] = []  # (request, status, the API's message)
        # the batch APIs' state (batches.py): kept on the server, so a new client (a new kernel) finds its batches
        self.batches: dict[str, Any] = {}      # batch id -> batches.FakeBatch
        self.files: dict[str, Any] = {}        # OpenAI file id -> openai_batch_api.FakeFile
        self.batch_plan: Any = None            # batches.BatchPlan for the batches created next (None: the default)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # scripting
    def script(self, *items: Script) -> None:
        self.scripts.extend(items)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def receive(self, request: web.Request) -> Recorded:
        """Record the request (its arrival time first: a retry's wait is measured between arrivals)."""
        at = time.monotonic()
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode(errors="replace")
        recorded = Recorded(request.method, request.path, dict(request.query), dict(request.headers), body, at)
        self.requests.append(recorded)
        return recorded

    def refuse(self, recorded: Recorded, status: int, message: str) -> None:
        """Log a refusal (the caller answers it in its API's shape)."""
        self.refusals.append((recorded, status, message))
        log = os.environ.get("CODITECT_FAKE_REFUSALS")
        if log:
            with open(log, "a", encoding="utf-8") as file:
                file.write(json.dumps({"path": recorded.path, "status": status, "message": message,
                                       "body": recorded.body}, default=str) + "\n")

    async def answer(self, request: web.Request, recorded: Recorded) -> Script:
        """The next script (or the responder's, or the default), after its delay; a `reset` script resets the
        connection here and raises ConnectionResetError, which ends the handler without a response."""
        script = self.next_script(recorded)
        await self.stall(request, script.delay + self.latency)
        if script.reset:
            reset(request)
            raise ConnectionResetError("the fake server reset the connection, as scripted")
        return script

    def next_script(self, recorded: Recorded) -> Script:
        """The answer to `recorded`: the next queued script, else the responder's, else the default."""
        if self.scripts:
            return self.scripts.popleft()
        return self.responder(recorded) if self.responder else self.default

    async def take(self, request: web.Request) -> tuple[Recorded, Script]:
        """Record the request, pick the next script and wait its delay (for routes without refusal rules)."""
        recorded = await self.receive(request)
        return recorded, await self.answer(request, recorded)

    @staticmethod
    async def stall(request: web.Request, seconds: float) -> None:
        """Send nothing for `seconds`, or until the client hangs up (a timed-out client is not waited for)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if request.transport is None or request.transport.is_closing():
                return
            await asyncio.sleep(min(left, 0.05))

    def error(self, script: Script, recorded: Recorded, body: dict[str, Any], *, header: bool = True) -> web.Response:
        """An error response in the provider's shape; `body` holds the message (already echoing the key if asked).
        `header=False`: no Retry-After header even when the script has a retry_after (Gemini puts it in the body)."""
        headers = {"Retry-After": script.retry_after} if script.retry_after is not None and header else {}
        return web.json_response(body, status=script.status, headers=headers)

    @staticmethod
    def message(script: Script, recorded: Recorded) -> str:
        if script.echo_key:
            return f"{script.error_message}: invalid key {recorded.credential}"
        return script.error_message

    @staticmethod
    def bad_json() -> web.Response:
        return web.Response(text='{"id": "broken", "choices": [', content_type="application/json")

    async def events(self, request: web.Request, script: Script, events: list[str],
                     content_type: str = "text/event-stream", *, cut: bool = False) -> web.StreamResponse:
        """Write pre-rendered stream events, honouring chunk_delay, cut_after (abort) and end_early; `cut`: abort
        the connection after the last event, as Gemini does after an error chunk."""
        response = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-cache"})
        await response.prepare(request)
        try:
            for event in events:
                await response.write(event.encode())
                if script.chunk_delay:
                    await asyncio.sleep(script.chunk_delay)
        except ConnectionResetError:  # the client hung up (a cancelled stream): nothing left to send
            return response
        if script.cut_after is not None or cut:
            await asyncio.sleep(0.05)
            request.transport.abort() if request.transport else None
            return response
        await response.write_eof()
        return response

    # lifecycle
    def app(self) -> web.Application:
        # bodies as large as the APIs take (Gemini's inline batches: 20 MiB), so the protocols refuse larger ones
        app = web.Application(middlewares=[self._unknown_paths], client_max_size=64 * 1024 * 1024)
        for name in PROTOCOLS:
            module = importlib.import_module(f"{__package__}.{name}")
            app.add_routes(module.routes(self))
        return app

    @web.middleware
    async def _unknown_paths(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        """A path (or method) no protocol serves: recorded, and answered with the 404 its API would send."""
        if getattr(request.match_info, "http_exception", None) is None:
            try:
                return await handler(request)
            except ConnectionResetError:  # a scripted reset: the connection is gone, nothing to answer
                return web.Response(status=499)
        from .rules import not_found
        recorded = await self.receive(request)
        self.refuse(recorded, 404, f"unknown path {request.method} {request.path}")
        return not_found(request)

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self) -> str:
        """Run the server on its own loop in a daemon thread (for notebooks, benchmarks and sync code)."""
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-provider-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.url

    def stop_thread(self) -> None:
        if self._loop and self._thread:
            asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
