"""What the MCP tests share: the demo server (tests/mcp_demo.py, a FastMCP server run over stdio), its config entry,
a `.mcp.json` writer and scripted tool calls."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEMO = str(Path(__file__).with_name("mcp_demo.py"))


def call(id_: str, name: str, **arguments) -> dict:
    """A scripted tool call (for Script.tool_calls)."""
    return {"id": id_, "name": name, "arguments": arguments}


def write_config(folder: Path, servers: dict) -> None:
    """`.mcp.json` in `folder`, naming `servers`."""
    (folder / ".mcp.json").write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")


def stdio_demo(**more) -> dict:
    """The demo server's stdio entry (with `more` keys: env, args...)."""
    return {"command": sys.executable, "args": [DEMO], **more}
