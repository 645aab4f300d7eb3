"""MCP servers as the session keeps them: configured as Claude Code writes them (`.mcp.json`, `~/.claude.json`, the
`mcp_config` setting; `${VAR}` and `${VAR:-default}`; a malformed file one line naming it and its line), keys in
headers never shown, `%mcp list|tools|call|add|restart`, completion of server and tool names, a server that exits
at start and one that hangs each one line while the others work, and the stdio processes ended at unload."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

from coditect_magics.errors import UsageError
from coditect_magics.mcp.config import load, parse_entry, portable
from tests.fakes import Script
from tests.queue_support import team, workers  # noqa: F401 - fixtures
from tests.mcp_support import DEMO, call, stdio_demo, write_config

KEY = "sk-live-SECRET-0123456789"


def session_of(shell):
    return shell.magics_manager.registry["CoditectMagics"].session


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# configuration

def test_scopes_and_precedence_as_claude_code_reads_them(here, tmp_path):
    home = Path(os.environ["HOME"])
    (home / ".claude.json").write_text(json.dumps({
        "mcpServers": {"docs": {"type": "http", "url": "https://user.example/mcp"}, "time": {"command": "user-time"}},
        "projects": {str(here.resolve()): {"mcpServers": {"time": {"command": "local-time"}}}}}))
    write_config(here, {"time": {"command": "project-time"}, "files": {"command": "npx", "args": ["-y", "fs"]}})
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"mcpServers": {"docs": {"type": "sse", "url": "https://mine.example/sse"}}}))
    loaded = load(str(extra))
    assert {n: (s.scope, s.transport, s.where) for n, s in loaded.servers.items()} == {
        "docs": ("config", "sse", "https://mine.example/sse"), "time": ("local", "stdio", "local-time"),
        "files": ("project", "stdio", "npx -y fs")}
    assert loaded.problems == ()


def test_variables_expand_from_the_environment_with_defaults(monkeypatch):
    monkeypatch.setenv("TOOLS_HOME", "/opt/tools")
    monkeypatch.delenv("REGION", raising=False)
    monkeypatch.setenv("EMPTY", "")
    server = parse_entry("x", {"command": "${TOOLS_HOME}/bin/server", "args": ["--region", "${REGION:-eu-west}",
                                                                             "${EMPTY:-fallback}"],
                               "env": {"HOME_DIR": "${TOOLS_HOME}"}}, "project", ".mcp.json").expanded()
    assert (server.command, server.args, dict(server.env)) == (
        "/opt/tools/bin/server", ("--region", "eu-west", "fallback"), {"HOME_DIR": "/opt/tools"})
    with pytest.raises(UsageError, match=r"MCP server y \(.mcp.json\) uses \$\{NOT_SET_ANYWHERE\}, which is not set"):
        parse_entry("y", {"command": "${NOT_SET_ANYWHERE}"}, "project", ".mcp.json").expanded()


def test_a_malformed_file_is_one_line_with_its_line_and_the_rest_still_counts(kernel_here):
    shell, here = kernel_here
    (here / ".mcp.json").write_text('{"mcpServers": {\n  "a": {"command": "x"}\n  "b": {}\n}}\n')
    (Path(os.environ["HOME"]) / ".claude.json").write_text(json.dumps({"mcpServers": {"user": {"command": "y"}}}))
    listed = shell.run_line_magic("mcp", "list")
    assert "`.mcp.json line 3: Expecting ',' delimiter (column 3); no MCP servers read from it`" in listed.data
    assert "| user | stdio | `y` | user | not started |" in listed.data


def test_bad_entries_say_what_is_wrong(here):
    write_config(here, {"a": {"args": []}, "b": {"type": "websocket", "url": "ws://x"}, "c d": {"command": "x"},
                        "ok": {"url": "https://example.org/mcp"}})
    loaded = load()
    assert list(loaded.servers) == ["ok"] and loaded.servers["ok"].transport == "http"
    assert loaded.problems == (
        "MCP server 'a' in .mcp.json has neither a \"command\" (stdio) nor a \"url\" (http)",
        "MCP server 'b' in .mcp.json: type 'websocket' is not one of stdio, http, sse",
        "MCP server 'c d' in .mcp.json: a server name takes letters, digits, _ and - only")


def test_header_keys_are_never_shown(kernel_here, monkeypatch):
    shell, here = kernel_here
    monkeypatch.setenv("DOCS_KEY", KEY)
    write_config(here, {"docs": {"type": "http", "url": "http://127.0.0.1:9/mcp?key=abc",
                                 "headers": {"Authorization": "Bearer ${DOCS_KEY}", "X-Api-Key": KEY},
                                 "env": {"API_TOKEN": KEY}},
                        "demo": stdio_demo(env={"DOCS_KEY": "${DOCS_KEY}"})})
    config = session_of(shell).mcp.config("docs")
    assert KEY not in repr(config) and "headers=['Authorization', 'X-Api-Key'] (values hidden)" in repr(config)
    with capture_output() as captured:
        listed = shell.run_line_magic("mcp", "list")
        shell.run_line_magic("mcp", "tools docs")     # nothing listens there: the failure is one line
    shown = listed.data + captured.stdout + captured.stderr
    assert KEY not in shown and "abc" not in listed.data and "coditect: MCP server docs did not start" in shown
    assert shell.run_line_magic("mcp", 'call demo environment {"variable": "DOCS_KEY"}').text == "***", \
        "a key-named env value is hidden in what a tool returns too"
    assert portable(load())[1] == ["MCP server docs: header X-Api-Key stays home (written out, not as ${VAR}): the "
                                   "worker's server goes without it", "MCP server docs: env API_TOKEN stays home "
                                   "(written out, not as ${VAR}): the worker's server goes without it"]
    assert portable(load())[0]["docs"]["headers"] == {"Authorization": "Bearer ${DOCS_KEY}"}


# the magics

@pytest.fixture
def kernel_here(shell, here):
    return shell, here


def test_mcp_add_list_tools_call_and_restart(kernel_here, monkeypatch):
    shell, here = kernel_here
    monkeypatch.delenv("GREETING", raising=False)
    with capture_output() as captured:
        shell.run_line_magic("mcp", f"add demo --env GREETING=${{GREETING:-hello}} -- {sys.executable} {DEMO}")
        shell.run_line_magic("mcp", "add docs --url https://example.org/mcp --header 'Authorization: Bearer ${T}'")
    assert "coditect: MCP server demo (stdio:" in captured.stdout
    written = json.loads((here / ".mcp.json").read_text())["mcpServers"]
    assert written["demo"] == {"command": sys.executable, "args": [DEMO], "env": {"GREETING": "${GREETING:-hello}"}}
    assert written["docs"] == {"type": "http", "url": "https://example.org/mcp",
                               "headers": {"Authorization": "Bearer ${T}"}}
    assert "| demo | stdio |" in shell.run_line_magic("mcp", "list").data
    tools = shell.run_line_magic("mcp", "tools demo").data
    assert "| `mcp__demo__shout` | shout | demo | The text in capitals. |" in tools
    assert "| demo | stdio |" in shell.run_line_magic("mcp", "list").data and "| ready | 5 |" in \
        shell.run_line_magic("mcp", "list").data
    result = shell.run_line_magic("mcp", 'call demo environment {"variable": "GREETING"}')
    assert result.text == "hello" and shell.user_ns["_mcp"] is result
    assert shell.run_line_magic("mcp", "call demo picture").images[0].media_type == "image/png"
    with capture_output() as captured:
        assert shell.run_line_magic("mcp", 'call demo fail {"reason": "x"}') is None
        shell.run_line_magic("mcp", "call demo shout {not json}")
        monkeypatch.setenv("GREETING", "bonjour")
        shell.run_line_magic("mcp", "restart demo")
    assert "coditect: demo fail answered with an error: Error executing tool fail" in captured.stderr
    assert "the arguments are not JSON" in captured.stderr and "restarted: 5 tools" in captured.stdout
    assert shell.run_line_magic("mcp", 'call demo environment {"variable": "GREETING"}').text == "bonjour"


def test_listing_adding_and_completing_import_nothing_of_the_sdk(here):
    import subprocess
    import textwrap
    code = textwrap.dedent("""
        import sys
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "coditect_magics")
        ip.run_line_magic("mcp", "add time -- python -m mcp_server_time")
        ip.run_line_magic("mcp", "list")
        from IPython.core.completer import provisionalcompleter
        with provisionalcompleter():
            print([c.text for c in ip.Completer.completions("%mcp tools t", 12)])
        print(sorted(m for m in ("mcp", "mcp_types", "httpx2", "anyio") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=here)
    assert done.stdout.strip().splitlines()[-2:] == ["['time']", "[]"], done.stderr


def test_completion_names_servers_and_running_servers_tools(kernel_here):
    from coditect_magics.magics.complete import candidates
    shell, here = kernel_here
    write_config(here, {"demo": stdio_demo(), "other": {"command": "not-started"}})
    session = session_of(shell)
    assert candidates(session, "mcp", [], "") == (["list", "tools", "call", "add", "restart"], "subcommand")
    assert candidates(session, "mcp", ["tools"], "d") == (["demo", "other"], "mcp-server")
    assert candidates(session, "mcp", ["call", "demo"], "") == ([], "tool"), "nothing is started to complete"
    shell.run_line_magic("mcp", "tools demo")
    assert candidates(session, "mcp", ["call", "demo"], "")[0] == ["shout", "picture", "readme", "fail",
                                                                  "environment"]
    options, kind = candidates(session, "llm", ["openai:gpt-4o", "--tools"], "mcp__")
    assert kind == "tool" and {"mcp__demo", "mcp__other", "mcp__demo__shout", "Read"} <= set(options)


# failures and the lifecycle

def test_a_server_that_exits_and_one_that_hangs_are_one_line_each_and_the_others_work(kernel_here, thread_server):
    shell, here = kernel_here
    write_config(here, {"demo": stdio_demo(), "broken": {"command": sys.executable, "args": [
        "-c", "import sys; print('config error: DEMO_TOKEN is missing', file=sys.stderr); sys.exit(3)"]},
        "stuck": {"command": sys.executable, "args": ["-c", "import time; time.sleep(600)"]}})
    shell.run_line_magic("mcp", "tools demo")                      # started at the usual timeout
    shell.run_line_magic("config", "CoditectMagics.mcp_connect_timeout = 2.0")
    thread_server.script(Script(tool_calls=[call("c1", "mcp__demo__shout", text="still here")]), Script(text="OK."))
    with capture_output() as captured:
        shell.run_cell_magic("llm", "openai:gpt-4o --tools mcp__broken,mcp__stuck,mcp__demo__shout --allow mcp",
                             "Shout.")
    lines = [line for line in captured.stderr.splitlines() if "MCP server" in line]
    assert lines == ["coditect: llm: MCP server broken did not start: Connection closed; stderr: config error: "
                     "DEMO_TOKEN is missing",
                     "coditect: llm: MCP server stuck did not start within 2 s (CoditectMagics.mcp_connect_timeout)"]
    assert [t["function"]["name"] for t in thread_server.requests[0].body["tools"]] == ["mcp__demo__shout"]
    assert "STILL HERE" in next(m["content"] for m in thread_server.last.body["messages"] if m["role"] == "tool")
    listed = shell.run_line_magic("mcp", "list").data
    assert "| broken | stdio |" in listed and "failed: MCP server broken did not start" in listed


def test_a_server_that_dies_mid_session_is_one_line_and_starts_again_when_used(kernel_here):
    shell, here = kernel_here
    write_config(here, {"demo": stdio_demo()})
    session = session_of(shell)
    first = session.mcp.rows()
    assert first[0].status == "not started"
    assert shell.run_line_magic("mcp", 'call demo shout {"text": "up"}').text == "UP"
    os.kill(_server_pid(session), 9)
    with capture_output() as captured:
        shell.run_line_magic("mcp", 'call demo shout {"text": "gone"}')
    assert "coditect: MCP server demo stopped: Connection closed" in captured.stderr
    assert session.mcp.rows()[0].status == "exited"
    assert shell.run_line_magic("mcp", 'call demo shout {"text": "back"}').text == "BACK"


def _server_pid(session) -> int:
    """The demo server's process id (a child of this process running tests/mcp_demo.py)."""
    import subprocess
    found = subprocess.run(["pgrep", "-P", str(os.getpid()), "-f", "mcp_demo.py"], capture_output=True, text=True)
    return int(found.stdout.split()[-1])


def test_unloading_the_extension_ends_the_stdio_servers(shell, here):
    import subprocess
    write_config(here, {"demo": stdio_demo()})
    shell.run_line_magic("mcp", "tools demo")
    pid = _server_pid(session_of(shell))
    shell.run_line_magic("unload_ext", "coditect_magics")
    assert subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip() \
        in ("", "Z"), "the server's process ended"
    shell.run_line_magic("load_ext", "coditect_magics")      # the fixture unloads it again


# queued runs

@pytest.mark.timeout(180)
def test_a_queued_run_carries_the_entries_as_text_without_a_key_and_the_worker_starts_its_own(
        team, workers, thread_server, tmp_path, monkeypatch, redis_url):
    monkeypatch.setenv("DOCS_KEY", KEY)
    monkeypatch.delenv("GREETING", raising=False)
    write_config(tmp_path, {"demo": stdio_demo(env={"GREETING": "${GREETING:-from the worker}"}),
                            "docs": {"type": "http", "url": "http://127.0.0.1:9/mcp",
                                     "headers": {"Authorization": "Bearer ${DOCS_KEY}", "X-Literal": KEY}}})
    thread_server.script(Script(tool_calls=[call("c1", "mcp__demo__environment", variable="GREETING")]),
                         Script(text="Greeted."))
    workers.start("w1")
    with capture_output() as captured:
        team.run_cell_magic("agent", "helper --queue --tools mcp__demo --allow mcp", "Greet.")
    run = team.user_ns["_run"]
    assert run.wait(90), (tmp_path / "w1.log").read_text()
    assert team.user_ns["_llm"].text == "Greeted."
    told = next(m["content"] for m in thread_server.last.body["messages"] if m["role"] == "tool")
    assert told == "from the worker", "the worker started the server, with its own environment"
    assert session_of(team).mcp.rows()[0].status == "not started", "the kernel started nothing"
    assert "header X-Literal stays home" in captured.stderr
    stored = stored_values(redis_url)
    assert any(b"Bearer ${DOCS_KEY}" in value for value in stored), "the entries travelled, unexpanded"
    assert not any(KEY.encode() in value for value in stored), "the key did not"


def stored_values(url: str) -> list[bytes]:
    """Every value in the Redis, job payloads decompressed (RQ keeps them as zlib-compressed pickles)."""
    import zlib

    import redis
    stored = redis.Redis.from_url(url)
    values: list[bytes] = []
    for key in stored.keys("*"):
        kind = stored.type(key).decode()
        values += {"string": lambda: [stored.get(key)], "hash": lambda: list(stored.hgetall(key).values()),
                   "list": lambda: stored.lrange(key, 0, -1), "zset": lambda: stored.zrange(key, 0, -1),
                   "set": lambda: list(stored.smembers(key))}.get(kind, lambda: [])()
    found = [v for v in values if v]
    for value in list(found):
        try:
            found.append(zlib.decompress(value))
        except zlib.error:
            pass
    return found


async def test_an_interrupted_start_leaves_nothing_running(here):
    import asyncio
    import subprocess
    import time

    from coditect_magics.mcp.manager import Manager, Timeouts
    write_config(here, {"stuck": {"command": sys.executable, "args": ["-c", "import time; time.sleep(600)"]}})
    servers = Manager(load, lambda: Timeouts(60, 5))
    starting = asyncio.ensure_future(servers.tools("stuck"))
    await asyncio.sleep(1.0)
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting

    def running() -> bool:
        return bool(subprocess.run(["pgrep", "-P", str(os.getpid()), "-f", "sleep.600"], capture_output=True,
                                   text=True).stdout.strip())

    deadline = time.monotonic() + 15
    while running() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert not running(), "the server's process was ended"
    assert servers.rows()[0].status == "not started", "an interrupted start is no failure: the next use tries again"
