"""MCP servers' tools for the models: a stdio server written here with the SDK's MCPServer (tests/mcp_demo.py) and
the same server over Streamable HTTP, through `%%llm --tools mcp__... --allow mcp` on every provider's wire format
(loopback), streamed and whole: the schemas reach each API (cleaned for Gemini), text and resources come back as
text, images as images, a raising tool as a tool error; the trace names the server; a headless run without
`--allow mcp` is denied. And the real `mcp-server-time` from PyPI."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import parts
from tests.fakes import Script
from tests.mcp_support import DEMO, call, stdio_demo, write_config

parts.module("mcp", "pip install -e '.[dev]' (the mcp extra)")

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()[:10]   # how every base64 PNG starts
MODELS = {"anthropic": "anthropic:claude-sonnet-4-6", "openai": "openai:gpt-4o", "gemini": "gemini:gemini-2.5-flash",
          "ollama": "ollama:llava"}


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """The notebook's working directory: where `.mcp.json` is read."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def kernel(shell, thread_server, monkeypatch):
    """The shell with Gemini pointed at the loopback server too."""
    monkeypatch.setenv("GEMINI_API_KEY", "test-gemini-key")
    url = thread_server.url
    shell.run_line_magic("config", f"CoditectMagics.base_urls = {{'openai': '{url}/v1', 'anthropic': '{url}', "
                                   f"'ollama': '{url}', 'gemini': '{url}'}}")
    return shell


@pytest.fixture(scope="module")
def http_demo(tmp_path_factory):
    """tests/mcp_demo.py over Streamable HTTP on 127.0.0.1, behind a bearer token; (url, token). Its log goes to a
    file (a pipe nobody reads would fill and stall it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = "demo-SECRET-token-4242"
    log = (tmp_path_factory.mktemp("mcp-http") / "server.log").open("w")
    process = subprocess.Popen([sys.executable, DEMO, "http", str(port)], env={**os.environ, "DEMO_TOKEN": token},
                               stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            assert process.poll() is None, "the demo HTTP server exited"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp", token
    process.kill()
    process.wait(10)
    log.close()


def run_tools(shell, server, model: str, *, stream: bool) -> dict:
    """One %%llm turn in which the model calls four of the demo's tools; the request that carried the results."""
    server.script(Script(text="Let me see.", tool_calls=[
        call("c1", "mcp__demo__shout", text="hi", times=2), call("c2", "mcp__demo__picture"),
        call("c3", "mcp__demo__readme"), call("c4", "mcp__demo__fail", reason="no luck")]), Script(text="Done."))
    shell.run_cell_magic("llm", f"{model} --tools mcp__demo --allow mcp{'' if stream else ' --no-stream'}",
                         "Use the demo tools.")
    return server.last.body


def results_of(provider: str, body: dict) -> dict[str, tuple[str, bool | None, list[str]]]:
    """The tool results the model received, by tool: (text, error flag where the protocol has one, images)."""
    if provider == "anthropic":
        names = {b["id"]: b["name"] for m in body["messages"] if m["role"] == "assistant"
                 for b in m["content"] if isinstance(b, dict) and b["type"] == "tool_use"}
        found = {}
        for block in body["messages"][-1]["content"]:
            content = block["content"]
            content = content if isinstance(content, list) else [{"type": "text", "text": content}]
            found[names[block["tool_use_id"]]] = (
                "".join(c.get("text", "") for c in content if c["type"] == "text"), block.get("is_error", False),
                [c["source"]["data"] for c in content if c["type"] == "image"])
        return found
    if provider == "openai":
        names = {c["id"]: c["function"]["name"] for m in body["messages"] for c in m.get("tool_calls") or ()}
        found = {names[m["tool_call_id"]]: (m["content"], None, []) for m in body["messages"] if m["role"] == "tool"}
        after = body["messages"][-1]
        images = [p["image_url"]["url"] for p in after["content"] if p.get("type") == "image_url"] \
            if after["role"] == "user" and isinstance(after["content"], list) else []
        text, flag, _ = found["mcp__demo__picture"]
        found["mcp__demo__picture"] = (text, flag, images)
        return found
    if provider == "gemini":
        parts_ = body["contents"][-1]["parts"]
        found, last = {}, None
        for part in parts_:
            if "functionResponse" in part:
                response = part["functionResponse"]
                last = response["name"]
                payload = response["response"]
                found[last] = (payload.get("output", payload.get("error", "")), "error" in payload, [])
            elif "inlineData" in part:
                found[last][2].append(part["inlineData"]["data"])
        return found
    return {m["tool_name"]: (m["content"], None, m.get("images", [])) for m in body["messages"]
            if m["role"] == "tool"}


def offered(provider: str, body: dict) -> dict[str, dict]:
    """The tools' parameter schemas as the request offered them, by name."""
    if provider == "anthropic":
        return {t["name"]: t["input_schema"] for t in body["tools"]}
    if provider == "gemini":
        return {d["name"]: d.get("parametersJsonSchema", d.get("parameters_json_schema"))
                for t in body["tools"] for d in t["functionDeclarations"]}
    return {t["function"]["name"]: t["function"]["parameters"] for t in body["tools"]}


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_a_stdio_servers_tools_on_every_wire_streamed_and_whole(kernel, thread_server, here, provider):
    write_config(here, {"demo": stdio_demo()})
    for stream in (True, False):
        body = run_tools(kernel, thread_server, MODELS[provider], stream=stream)
        got = results_of(provider, body)
        assert got["mcp__demo__shout"][0] == "HI HI"
        assert got["mcp__demo__readme"][0] == "[resource file:///project/README.md (text/markdown)]\n# Demo\nIt shouts."
        [image] = got["mcp__demo__picture"][2]
        assert image.removeprefix("data:image/png;base64,").startswith(PNG)
        failed, flag, _ = got["mcp__demo__fail"]
        assert "Error executing tool fail" in failed and flag in (True, None)   # flagged where the protocol can
        assert kernel.user_ns["_llm"].text == "Done."
    schema = offered(provider, thread_server.requests[0].body)["mcp__demo__shout"]
    assert schema["required"] == ["text"] and schema["properties"]["times"]["description"] == "How many times"
    # Gemini's parametersJsonSchema refuses keywords it does not know: exclusiveMinimum goes, elsewhere it stays
    assert ("exclusiveMinimum" in schema["properties"]["times"]) == (provider != "gemini")
    runs = {run.tool: run for run in kernel.user_ns["_trace"].tool_calls}
    assert runs["mcp__demo__shout"].server == "demo" and not runs["mcp__demo__shout"].is_error
    assert runs["mcp__demo__fail"].is_error and runs["mcp__demo__fail"].seconds > 0
    assert runs["mcp__demo__shout"].decision["verdict"] == "approved"


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "openai"])
def test_the_same_over_streamable_http(kernel, thread_server, here, http_demo, provider, monkeypatch):
    url, token = http_demo
    monkeypatch.setenv("DEMO_TOKEN", token)
    write_config(here, {"demo": {"type": "http", "url": url, "headers": {"Authorization": "Bearer ${DEMO_TOKEN}"}}})
    for stream in (True, False):
        got = results_of(provider, run_tools(kernel, thread_server, MODELS[provider], stream=stream))
        assert got["mcp__demo__shout"][0] == "HI HI" and got["mcp__demo__picture"][2]
        assert "Error executing tool fail" in got["mcp__demo__fail"][0]
    assert not any(token in json.dumps(r.body) for r in thread_server.requests), "the key never reaches a model"


def test_one_tool_by_its_full_name_and_denied_headless_without_allow(kernel, thread_server, here):
    from IPython.utils.capture import capture_output
    write_config(here, {"demo": stdio_demo()})
    thread_server.script(Script(tool_calls=[call("c1", "mcp__demo__shout", text="hi")]), Script(text="Denied."))
    with capture_output() as captured:
        kernel.run_cell_magic("llm", "openai:gpt-4o --tools mcp__demo__shout", "Shout hi.")
    assert [t["function"]["name"] for t in thread_server.requests[0].body["tools"]] == ["mcp__demo__shout"]
    told = next(m["content"] for m in thread_server.last.body["messages"] if m["role"] == "tool")
    assert told.startswith("denied: not allowed in a headless run; allow it with --allow mcp")
    assert "coditect: mcp__demo__shout denied by policy" in captured.stderr
    [run] = kernel.user_ns["_trace"].tool_calls
    assert run.decision["verdict"] == "denied" and run.server == "demo"


def test_an_agent_file_and_a_skill_name_mcp_tools(kernel, thread_server, here):
    write_config(here, {"demo": stdio_demo()})
    agents, skill = here / ".claude" / "agents", here / ".claude" / "skills" / "shouting"
    agents.mkdir(parents=True)
    skill.mkdir(parents=True)
    (agents / "herald.md").write_text("---\nname: herald\ndescription: Announces.\ntools: mcp__demo__shout, "
                                      "mcp__demo__picture\nmodel: openai:gpt-4o\n---\nYou announce.\n")
    (skill / "SKILL.md").write_text("---\nname: shouting\ndescription: Shouts.\nallowed-tools: mcp__demo\n---\n"
                                    "Shout what you are given.\n")
    thread_server.script(Script(tool_calls=[call("c1", "mcp__demo__shout", text="hear ye")]), Script(text="Done."))
    kernel.run_cell_magic("agent", "herald --allow mcp", "Announce the fair.")
    first = thread_server.requests[0].body
    assert [t["function"]["name"] for t in first["tools"]] == ["mcp__demo__shout", "mcp__demo__picture"]
    assert "HEAR YE" in next(m["content"] for m in thread_server.last.body["messages"] if m["role"] == "tool")
    thread_server.script(Script(text="OK."))
    kernel.run_line_magic("llm", "default openai:gpt-4o")
    kernel.run_line_magic("skill", "run shouting the news")
    names = [t["function"]["name"] for t in thread_server.last.body["tools"]]
    assert {"mcp__demo__shout", "mcp__demo__picture", "mcp__demo__readme", "mcp__demo__fail"} <= set(names)


def test_the_real_mcp_server_time(kernel, thread_server, here):
    parts.module("mcp_server_time", "pip install -e '.[dev]' (mcp-server-time)")
    write_config(here, {"time": {"command": sys.executable,
                                 "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}})
    listed = kernel.run_line_magic("mcp", "tools time")
    assert "`mcp__time__get_current_time`" in listed.data and "`mcp__time__convert_time`" in listed.data
    thread_server.script(Script(tool_calls=[call("c1", "mcp__time__get_current_time", timezone="Europe/Paris")]),
                         Script(text="It is evening in Paris."))
    kernel.run_cell_magic("llm", "openai:gpt-4o --tools mcp__time --allow mcp", "What time is it in Paris?")
    told = json.loads(next(m["content"] for m in thread_server.last.body["messages"] if m["role"] == "tool"))
    assert told["timezone"] == "Europe/Paris" and told["datetime"][:2] == "20"
    assert {t["function"]["name"] for t in thread_server.requests[-2].body["tools"]} == {
        "mcp__time__get_current_time", "mcp__time__convert_time"}
