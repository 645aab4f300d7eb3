"""The MCP server over Streamable HTTP: on 127.0.0.1 only, every request carrying `Authorization: Bearer TOKEN`
(the token printed at start, or $CODITECT_MCP_TOKEN); any other request is answered 401 before the MCP app sees it."""

from __future__ import annotations

import hmac
import json
import os
import secrets
from typing import Any, Awaitable, Callable

HOST = "127.0.0.1"
PATH = "/mcp"
TOKEN_ENV = "CODITECT_MCP_TOKEN"

Asgi = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def new_token() -> tuple[str, bool]:
    """The bearer token: $CODITECT_MCP_TOKEN when set (True: the user chose it), else a fresh random one."""
    chosen = os.environ.get(TOKEN_ENV, "").strip()
    return (chosen, True) if chosen else (secrets.token_urlsafe(32), False)


def bearer_guard(app: Asgi, token: str) -> Asgi:
    """`app` behind the token: an HTTP request without `Authorization: Bearer <token>` gets 401 (the lifespan and
    other ASGI events pass through)."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            sent = dict(scope.get("headers") or ()).get(b"authorization", b"")
            if not hmac.compare_digest(sent, expected):
                await _refuse(send, "missing or wrong bearer token" if sent else "this server needs "
                              "'Authorization: Bearer <token>' (printed when it started)")
                return
        await app(scope, receive, send)

    return guarded


async def _refuse(send: Any, why: str) -> None:
    """Answer 401 with a JSON body saying why and how to authenticate."""
    body = json.dumps({"error": "unauthorized", "error_description": why}).encode()
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Bearer realm="coditect-magics"')]})
    await send({"type": "http.response.body", "body": body})


async def serve_http(server: Any, port: int, say: Callable[[str], None]) -> None:
    """Serve `server` (an MCPServer) on http://127.0.0.1:PORT/mcp until stopped; once it listens, say the URL and
    the token."""
    import asyncio

    import uvicorn
    token, chosen = new_token()
    app = bearer_guard(server.streamable_http_app(streamable_http_path=PATH, host=HOST), token)
    listener = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="on"))
    serving = asyncio.ensure_future(listener.serve())
    while not listener.started and not serving.done():
        await asyncio.sleep(0.02)
    if listener.started:
        say(f"coditect-magics MCP server on http://{HOST}:{port}{PATH}")
        say(f"Authorization: Bearer {token}" if not chosen else f"Authorization: Bearer ${TOKEN_ENV}")
    try:
        await serving
    except SystemExit:  # uvicorn's way of saying it could not bind
        raise OSError(f"cannot listen on {HOST}:{port} (in use?)") from None
