"""`coditect-magics mcp` driven by the `mcp` SDK's own client, as Claude Code or Cursor would drive it: over stdio
(the server a child process of the client) and over Streamable HTTP (with and without its bearer token). The
server's models are the loopback server's; its ledger and memory are the test's temp files."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests import parts
from tests.conftest import KEY
from tests.fakes import Script
from tests.servers import free_port

parts.module("mcp", "pip install -e '.[dev]' (the mcp extra)")

from mcp import Client, StdioServerParameters, stdio_client  # noqa: E402
from mcp_types import Implementation  # noqa: E402

from coditect_magics import costs  # noqa: E402
from coditect_magics.mcp.server import tool_name  # noqa: E402

HELPER = tool_name("agent__", "helper.v2")
DENIED = "not allowed in a headless run"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with its own agents (one with a dot in its name, one whose only tool writes files), a binding,
    and a skill that names no agent."""
    root = tmp_path / "project"
    agents = root / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.v2.md").write_text("---\nname: helper.v2\ndescription: Answers in one line.\ntools: []\n---\n"
                                         "You are the helper. Answer in one line.\n")
    (agents / "scribe.md").write_text("---\nname: scribe\ndescription: Writes notes to files.\ntools: Write\n---\n"
                                      "You write what you are told to files.\n")
    (root / ".claude" / "config").mkdir()
    (root / ".claude" / "config" / "agent-llm-bindings.yaml").write_text(
        "helper.v2:\n  provider: openai\n  model: gpt-4o-mini\n  max_tokens: 55\n")
    skill = root / ".claude" / "skills" / "release-notes"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: release-notes\ndescription: Turns changes into release notes.\n---\n"
                                    "Group the changes under Added, Fixed and Changed.\n")
    return root


@pytest.fixture
def env(thread_server, tmp_path: Path) -> dict[str, str]:
    """The server process's environment: the loopback server as OpenAI with a secret-looking key, the test's
    ledger, cache and memory."""
    return {**os.environ, "OPENAI_BASE_URL": f"{thread_server.url}/v1", "OPENAI_API_KEY": KEY,
            "CODITECT_LEDGER": str(tmp_path / "ledger.sqlite3"), "CODITECT_CACHE": str(tmp_path / "cache.sqlite3"),
            "CODITECT_MEMORY_DIR": str(tmp_path / "memory"), "PYTHONUNBUFFERED": "1"}


def ledger_agents(env: dict[str, str]) -> list[str]:
    return list(costs.costs(ledger=env["CODITECT_LEDGER"])["agent"])


@pytest.mark.timeout(300)
async def test_over_stdio_agents_skills_memory_and_costs(project, env, thread_server, tmp_path,
                                                         local_embedder) -> None:
    params = StdioServerParameters(command=sys.executable, env=env, cwd=str(project),
                                   args=["-m", "coditect_magics", "mcp", "--model", "openai:gpt-4.1-mini"])
    log = tmp_path / "server-stderr.log"
    with log.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog),
                          client_info=Implementation(name="pytest-stdio", version="1.0")) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert {HELPER, "agent__scribe", "skill__release-notes", "memory_search", "costs"} <= set(tools)
            assert HELPER.startswith("agent__helper_v2_") and tools[HELPER].title == "helper.v2"
            assert tools[HELPER].input_schema["required"] == ["task"]

            # an agent with its binding: the model, max_tokens and system prompt it names, attributed to the client
            thread_server.script(Script(text="Hi, in one line."))
            done = await client.call_tool(HELPER, {"task": "Say hello to the MCP client."})
            assert not done.is_error and done.content[0].text == "Hi, in one line."
            sent = thread_server.last.body
            assert sent["model"] == "gpt-4o-mini" and sent["max_completion_tokens"] == 55
            assert sent["messages"][0] == {"role": "system", "content": "You are the helper. Answer in one line."}
            assert ledger_agents(env) == ["mcp:pytest-stdio/helper.v2"]

            # a skill with no agent: the server's default model with the skill's instructions
            thread_server.script(Script(text="## Fixed\n- the parser"))
            done = await client.call_tool("skill__release-notes", {"task": "fixed the parser"})
            assert done.content[0].text == "## Fixed\n- the parser"
            sent = thread_server.last.body
            assert sent["model"] == "gpt-4.1-mini" and "Group the changes" in sent["messages"][0]["content"]
            assert ledger_agents(env)[-1] == "mcp:pytest-stdio"

            # headless: a tool that acts is denied (the binding allows nothing), and the model is told why
            thread_server.script(Script(text="", tool_calls=[{"id": "w1", "name": "Write", "arguments": {
                "file_path": "notes.txt", "content": "x"}}]), Script(text="I was not allowed to write."))
            done = await client.call_tool("agent__scribe", {"task": "Write x to notes.txt"})
            assert done.content[0].text == "I was not allowed to write."
            assert DENIED in json.dumps(thread_server.last.body) and not (project / "notes.txt").exists()
            assert ledger_agents(env)[-2:] == ["mcp:pytest-stdio/scribe"] * 2

            # memory holds the exchanges the server remembered
            found = await client.call_tool("memory_search", {"query": "hello MCP client", "k": 2, "kind": "message"})
            assert not found.is_error and "Say hello to the MCP client." in found.content[0].text
            none = await client.call_tool("memory_search", {"query": "hello", "kind": "note"})
            assert none.content[0].text.startswith("Nothing in memory matches")

            # the ledger as a table, per agent
            table = (await client.call_tool("costs", {"by": "agent", "since": "1h"})).content[0].text
            assert "| mcp:pytest-stdio/helper.v2 | 1 |" in table and "| mcp:pytest-stdio/scribe | 2 |" in table
            assert "| mcp:pytest-stdio | 1 |" in table and "total" in table
            bad = await client.call_tool("costs", {"since": "last tuesday"})
            assert bad.is_error and "cannot read 'last tuesday' as a time" in bad.content[0].text

            # resources: the agent files and skills
            listed = {str(r.uri) for r in (await client.list_resources()).resources}
            assert {"coditect://agents/helper.v2", "coditect://skills/release-notes"} <= listed
            read = await client.read_resource("coditect://agents/helper.v2")
            assert read.contents[0].text.startswith("---\nname: helper.v2")

            # a provider error that repeats the key: one line back, the key in neither the answer nor the log
            thread_server.script(Script(status=401, error_message="invalid api key", echo_key=True))
            failed = await client.call_tool(HELPER, {"task": "again"})
            assert failed.is_error and KEY not in failed.content[0].text and "401" in failed.content[0].text
    assert KEY not in log.read_text()
    assert thread_server.last.credential == KEY, "the key did reach the provider"


async def test_a_new_agent_file_shows_at_the_next_listing(project, env) -> None:
    params = StdioServerParameters(command=sys.executable, env=env, cwd=str(project),
                                   args=["-m", "coditect_magics", "mcp", "--no-remember"])
    async with Client(stdio_client(params, errlog=open(os.devnull, "w"))) as client:
        assert "agent__late" not in {t.name for t in (await client.list_tools()).tools}
        (project / ".claude" / "agents" / "late.md").write_text("---\nname: late\ndescription: Came late.\n---\nHi.\n")
        (project / ".claude" / "agents" / "scribe.md").unlink()
        names = {t.name for t in (await client.list_tools()).tools}
        assert "agent__late" in names and "agent__scribe" not in names


def start_http(project: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str, str]:
    """`coditect-magics mcp --http PORT` in a process of its own; its URL and the token it printed."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "coditect_magics", "mcp", "--http", str(port), "--no-remember",
                                "--model", "openai:gpt-4.1-mini"], cwd=project, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = [process.stdout.readline() for _ in range(2)]
    assert lines[0].startswith("coditect-magics MCP server on http://127.0.0.1:"), lines
    assert lines[1].startswith("Authorization: Bearer "), lines
    return process, f"http://127.0.0.1:{port}/mcp", lines[1].split()[-1]


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups."""
    inner = getattr(exc, "exceptions", None)
    return [leaf for e in inner for leaf in leaves(e)] if inner else [exc]


def post(url: str, headers: dict[str, str]) -> int:
    """The status of an MCP initialize request sent with `headers`."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}}})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json",
                                                          "Accept": "application/json, text/event-stream", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.timeout(180)
async def test_over_http_with_and_without_the_token(project, env, thread_server) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.exceptions import MCPError
    process, url, token = start_http(project, env)
    try:
        assert await asyncio.to_thread(post, url, {}) == 401
        assert await asyncio.to_thread(post, url, {"Authorization": "Bearer not-the-token"}) == 401
        assert await asyncio.to_thread(post, url, {"Authorization": f"Bearer {token}"}) == 200
        with pytest.raises(BaseException) as refused:
            async with Client(url) as client:  # the SDK's client with no token gets nowhere
                await client.list_tools()
        assert any(isinstance(leaf, MCPError) for leaf in leaves(refused.value)), refused.value

        thread_server.script(Script(text="Hello over HTTP."))
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http),
                              client_info=Implementation(name="pytest-http", version="1.0")) as client:
                assert HELPER in {t.name for t in (await client.list_tools()).tools}
                done = await client.call_tool(HELPER, {"task": "Say hello."})
                assert done.content[0].text == "Hello over HTTP."
                table = (await client.call_tool("costs", {})).content[0].text
        assert "mcp:pytest-http/helper.v2" in table and "gpt-4o-mini" in table
        assert ledger_agents(env) == ["mcp:pytest-http/helper.v2"]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert KEY not in stderr
