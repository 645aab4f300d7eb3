"""What the agent-run tests share (tests/test_agent_runs.py, test_orchestrate.py, test_queue.py): agent files
written to a folder, scripted tool calls, server-side arrival stamps, and three loopback servers with an executor
pointed at them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from coditect_magics.agents import AgentLibrary
from coditect_magics.cache import ResponseCache
from coditect_magics.costs import Ledger
from coditect_magics.executor import Executor, ExecutorSettings
from tests.fakes import FakeServer, Recorded, Script

LEAD_MODEL = "anthropic:claude-sonnet-4-6"


def call(id_: str, name: str, **arguments) -> dict:
    """A scripted tool call (for Script.tool_calls)."""
    return {"id": id_, "name": name, "arguments": arguments}


def stamped(server: FakeServer, answer: Callable[[Recorded], Script]) -> list[tuple[float, str]]:
    """Answer unscripted requests with `answer(recorded)`, noting when (server side) each arrived."""
    seen: list[tuple[float, str]] = []

    def respond(recorded):
        seen.append((time.perf_counter(), recorded.prompt))
        return answer(recorded)

    server.responder = respond
    return seen


def write_agents(folder: Path, files: dict[str, str]) -> AgentLibrary:
    """Write `files` (name: text) as NAME.md agent files in `folder`; the library of just those."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.md").write_text(text)
    return AgentLibrary([folder], standard=False)


def agent_file(name: str, model: str, tools: str | None, prompt: str = "You help.") -> str:
    """An agent file's text: front matter (no `tools:` key when tools is None) and the prompt."""
    listed = "" if tools is None else f"tools: {tools}\n"
    return f"---\nname: {name}\ndescription: The {name} agent.\n{listed}model: {model}\n---\n{prompt}\n"


@pytest.fixture
async def servers():
    """Three loopback servers: the lead's (Anthropic), a researcher's (Ollama) and a writer's (OpenAI)."""
    made = [FakeServer(), FakeServer(latency=0.3), FakeServer(latency=0.3)]
    for server in made:
        await server.start()
    yield made
    for server in made:
        await server.stop()


@pytest.fixture
async def executor(servers, tmp_path):
    """An executor whose anthropic, ollama and openai providers are the three servers (one attempt, 10 s timeout)."""
    lead, research, write = servers
    options = {"anthropic": {"api_key": "sk-ant-runs", "base_url": lead.url},
               "ollama": {"base_url": research.url},
               "openai": {"api_key": "sk-runs", "base_url": f"{write.url}/v1"}}
    made = Executor(ExecutorSettings(provider_options=options, attempts=1, timeout_s=10),
                    ledger=Ledger(tmp_path / "ledger.db"), cache=ResponseCache(tmp_path / "cache.db"))
    yield made
    await made.aclose()
