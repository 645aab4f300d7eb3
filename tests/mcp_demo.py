"""An MCP server for the tests and the benchmark, on the SDK's MCPServer (FastMCP's name before mcp 2): a tool that
returns text, one an image, one a resource, one that raises, one reading its environment.

    python tests/mcp_demo.py                   # stdio
    python tests/mcp_demo.py http PORT         # Streamable HTTP on 127.0.0.1:PORT/mcp; with DEMO_TOKEN set, a
                                               # request without `Authorization: Bearer $DEMO_TOKEN` gets 401
"""

from __future__ import annotations

import base64
import os
import sys
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.utilities.types import Image
from mcp_types import EmbeddedResource, TextResourceContents
from pydantic import Field

# a 1x1 PNG
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                         "AAAABJRU5ErkJggg==")

server = MCPServer("demo")


@server.tool()
def shout(text: str, times: Annotated[int, Field(gt=0, description="How many times")] = 1) -> str:
    """The text in capitals."""
    return " ".join([text.upper()] * times)


@server.tool()
def picture() -> Image:
    """A one-pixel picture."""
    return Image(data=PIXEL, format="png")


@server.tool()
def readme() -> EmbeddedResource:
    """The project's readme, as a resource."""
    return EmbeddedResource(type="resource", resource=TextResourceContents(
        uri="file:///project/README.md", mime_type="text/markdown", text="# Demo\nIt shouts."))


@server.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"it failed: {reason}")


@server.tool()
def environment(variable: str) -> str:
    """An environment variable of the server's process."""
    return os.environ.get(variable, "(unset)")


def http_app(token: str | None) -> Any:
    """The Streamable HTTP app, behind a bearer token when one is given."""
    app = server.streamable_http_app(host="127.0.0.1")
    if not token:
        return app

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        """Refuse an HTTP request without the token; pass everything else (lifespan) on."""
        if scope["type"] == "http":
            sent = dict(scope.get("headers") or ()).get(b"authorization", b"").decode()
            if sent != f"Bearer {token}":
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return guarded


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        import uvicorn
        uvicorn.run(http_app(os.environ.get("DEMO_TOKEN")), host="127.0.0.1", port=int(sys.argv[2]),
                    log_level="warning", lifespan="on")
    else:
        server.run()
