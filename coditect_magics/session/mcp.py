"""The session's MCP servers (a mixin of Session): configured from `.mcp.json`, `~/.claude.json` and the
`mcp_config` setting, started on first use, kept for the session's life and stopped when it closes."""

from __future__ import annotations

from typing import Any


class McpWork:
    """`session.mcp`: the Manager of this session's MCP servers (made on first use; nothing of the SDK is imported
    until a server starts)."""

    settings: Any
    _mcp: Any = None

    @property
    def mcp(self) -> Any:
        """The MCP servers this session knows, with the settings' config file and timeouts (read at each use)."""
        if self._mcp is None:
            from coditect_magics.mcp.config import load
            from coditect_magics.mcp.manager import Manager, Timeouts
            self._mcp = Manager(lambda: load(self.settings.mcp_config),
                                lambda: Timeouts(self.settings.mcp_connect_timeout, self.settings.mcp_call_timeout))
        return self._mcp

    def close_mcp(self) -> None:
        """Stop the servers this session started (stdio processes end)."""
        if self._mcp is not None:
            self._mcp.close()
