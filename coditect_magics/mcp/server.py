"""The kit as an MCP server (`coditect-magics mcp`), on the `mcp` SDK's MCPServer (FastMCP's name before mcp 2):

- `agent__NAME` `{"task"}` for every agent on the session's search path: the agent runs headless with its binding,
  memory, tools and budget (tools that act run only where its binding or the server's `--allow` allows them);
- `skill__NAME` `{"task"}` for every skill: its agent (or model) with its instructions and tools, as `%skill run`;
- `memory_search` `{"query", "k", "kind"}` and `costs` `{"by", "since"}` (the ledger as a Markdown table);
- resources `coditect://agents/NAME` (the agent's file) and `coditect://skills/NAME` (its SKILL.md).

Tool names follow MCP's `^[A-Za-z0-9_-]{1,64}$`: a name with other characters (a dot, a space) or too long is
mapped (`agent__code_reviewer_v2_…` plus a short hash of the real name); the tool's title keeps the real name.
The tool set follows the search path: agents and skills added or removed show at the next listing.

Every model call lands in the ledger with agent `mcp:<client>/<agent>` (`mcp:<client>` where no agent runs), the
client's name as its initialize request gave it (server_work). Errors come back as tool errors, one line each,
scrubbed of keys."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from typing import Annotated, Any, Callable, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from . import server_work as work

log = logging.getLogger("coditect_magics.mcp")

NAME_OK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
AGENT_URI, SKILL_URI = "coditect://agents/{name}", "coditect://skills/{name}"
Task = Annotated[str, Field(description="What to do, as you would tell a colleague: the whole task in words")]
INSTRUCTIONS = ("The coditect-magics kit: its agents (agent__NAME) and skills (skill__NAME) run on the models their "
                "bindings name and answer in text; memory_search finds what the kit remembers; costs shows what "
                "every model call cost.")


def tool_name(prefix: str, name: str) -> str:
    """`prefix + name` where MCP allows it, else the name with other characters as `_`, cut, and a short hash of
    the real name (so two names that map alike stay apart)."""
    plain = f"{prefix}{name}"
    if NAME_OK.match(plain):
        return plain
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{prefix}{re.sub(r'[^A-Za-z0-9_-]', '_', name)}"[:55] + f"_{digest}"


class CoditectServer(MCPServer):
    """An MCPServer whose agent and skill tools follow the session's search path (synced before each listing,
    and before a call to a name not yet offered)."""

    def __init__(self, session: Any, **options: Any) -> None:
        super().__init__("coditect-magics", instructions=INSTRUCTIONS, **options)
        self.session = session
        self.offered: dict[str, tuple[str, str, str]] = {}   # tool name -> (agent | skill, name, description)
        self._fixed_tools()
        self._resources()

    # the tool set
    def sync(self) -> None:
        """Offer a tool per agent and skill on the search path now; withdraw those that left it or changed."""
        wanted: dict[str, tuple[str, str, str]] = {}
        for kind, library in (("agent", self.session.agents), ("skill", self.session.skills)):
            for name, item in library.snapshot().items.items():
                wanted[tool_name(f"{kind}__", name)] = (kind, name, item.description)
        for gone in [tool for tool, offer in self.offered.items() if wanted.get(tool) != offer]:
            self.remove_tool(gone)
            del self.offered[gone]
        for tool, offer in wanted.items():
            if tool not in self.offered:
                self._offer(tool, *offer)

    def _offer(self, tool: str, kind: str, name: str, description: str) -> None:
        session, run = self.session, work.run_agent if kind == "agent" else work.run_skill

        async def call(task: Task, ctx: Context) -> str:
            return await _answer(run(session, name, task, _caller(ctx)))

        call.__name__ = tool  # its input schema's title
        what = "the agent" if kind == "agent" else "the skill"
        self.add_tool(call, name=tool, title=name, description=f"Run {what} {name!r}: {description}".strip(),
                      annotations=ToolAnnotations(title=name, read_only_hint=False, open_world_hint=True))
        self.offered[tool] = (kind, name, description)

    def _fixed_tools(self) -> None:
        session = self.session

        async def memory_search(query: Annotated[str, Field(description="What to look for, in words")],
                                k: Annotated[int, Field(ge=1, le=50, description="How many items")] = 5,
                                kind: Literal["message", "note", "file"] | None = None) -> str:
            """Search the kit's memory (notes, indexed files, remembered exchanges): the closest in meaning fused
            with the best word matches, best first, each with its score, kind, source and time."""
            return await _answer(asyncio.to_thread(work.search_memory, session, query, k, kind))

        async def costs(by: Literal["provider", "model", "agent", "day", "session", "status", "run"] | None = None,
                        since: Annotated[str | None, Field(description="An ISO date or a span back from now: "
                                                                       "30m, 12h, 7d, 2w")] = None) -> str:
            """The cost ledger as a Markdown table: every model call (no `by`) or totals per provider, model,
            agent, day, session, status or run, with tokens, cost in USD and a totals row."""
            return await _answer(asyncio.to_thread(work.costs_table, session, by, since))

        for fn in (memory_search, costs):
            self.add_tool(fn, annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))

    def _resources(self) -> None:
        session = self.session

        @self.resource(AGENT_URI, name="agent", mime_type="text/markdown",
                       description="An agent's file: front matter (name, description, tools, model), then its "
                                   "system prompt")
        def agent(name: str) -> str:
            return work.agent_file(session, name)

        @self.resource(SKILL_URI, name="skill", mime_type="text/markdown",
                       description="A skill's SKILL.md: front matter, then its instructions")
        def skill(name: str) -> str:
            return work.skill_file(session, name)

    # MCPServer's listing and calls, after a sync
    async def list_tools(self) -> list[Any]:
        """The tools, the agents and skills as the search path holds them now."""
        self.sync()
        return await super().list_tools()

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        """Call a tool, offering an agent or skill that joined the search path since the last listing."""
        if name not in self.offered and name.startswith(("agent__", "skill__")):
            self.sync()
        return await super().call_tool(name, arguments, context)

    async def list_resources(self) -> list[Any]:
        """A resource per agent file and skill on the search path (their templates read any of them)."""
        from mcp_types import Resource
        listed = list(await super().list_resources())
        for kind, library, uri in (("agent", self.session.agents, AGENT_URI), ("skill", self.session.skills,
                                                                              SKILL_URI)):
            for name, item in sorted(library.snapshot().items.items()):
                listed.append(Resource(uri=uri.format(name=name), name=f"{kind}:{name}", title=name,
                                       description=item.description, mime_type="text/markdown"))
        return listed


def build(session: Any) -> CoditectServer:
    """The server on `session`, its tools offered."""
    server = CoditectServer(session, log_level="WARNING")
    server.sync()
    return server


def serve(session: Any, *, port: int | None = None, say: Callable[[str], None] = print) -> None:
    """Serve `session` until the client leaves (stdio) or the process is stopped (`port`: Streamable HTTP on
    127.0.0.1 behind a bearer token, `say` telling the URL and the token)."""
    import anyio
    anyio.run(_serve, build(session), port, say)


async def _serve(server: CoditectServer, port: int | None, say: Callable[[str], None]) -> None:
    """Serve on the chosen transport; at the end close what the session opened on this loop."""
    try:
        if port is None:
            await server.run_stdio_async()
        else:
            from .server_http import serve_http
            await serve_http(server, port, say)
    finally:  # the SDK clients were made on this loop: closed on it; remembered exchanges written
        await server.session.executor.aclose()
        await asyncio.to_thread(server.session.flush_memory)


def _caller(ctx: Context) -> str:
    """`mcp:<client name>` for the client that sent this request."""
    params = ctx.session.client_params
    return work.caller_label(params.client_info.name if params is not None else None)


async def _answer(pending: Any) -> str:
    """The work's text; any failure as a tool error of one line with no key in it (logged the same way)."""
    from coditect_magics.providers.secrets import redact
    try:
        return await pending
    except Exception as exc:  # the client gets one clear line whatever failed; the log, no traceback of keys
        message = redact(" ".join(str(exc).split()) or type(exc).__name__)
        log.warning("%s: %s", type(exc).__name__, message)
        raise ToolError(message) from None
