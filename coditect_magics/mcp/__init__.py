"""MCP both ways, on the official `mcp` SDK (extra `mcp`), imported only when MCP is used.

- the client (`config`, `connection`, `manager`, `tools`): servers from `.mcp.json`, `~/.claude.json` and the
  `mcp_config` setting, started on first use and kept on the kit's loop; their tools as `mcp__SERVER__TOOL` for any
  model, agent or skill (every call approved as `mcp`); `Session.mcp` is the kernel's `Manager`.
- `coditect_magics.mcp.server`: `coditect-magics mcp` serves the session's agents, skills, memory and ledger to any
  MCP client (stdio, or Streamable HTTP on 127.0.0.1 behind a bearer token)."""
