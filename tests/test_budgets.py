"""Every budget stops a call with its one-line message through the magics in a real shell, and nothing reaches the
server once it is spent: the overall budget (`budget_total_usd`), the general per-agent one (`budget_agent_usd`),
and an agent's own from its binding (`budget_usd`), which wins over the general one."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

from tests.fakes import Script

# gpt-4o-mini at 1,000 in / 500 out costs about $0.00045: one call spends any budget below that
SPENDING = Script(text="Done.", input_tokens=1000, output_tokens=500)
AGENT = "---\nname: {name}\ndescription: {name} helps\ntools: []\n---\nYou help briefly.\n"


@pytest.fixture
def project(shell, tmp_path: Path, monkeypatch):
    """A project with two plain agents, `helper` and `other`, bound to openai:gpt-4o-mini (bindings written by the
    test through `bind`)."""
    monkeypatch.chdir(tmp_path)
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    for name in ("helper", "other"):
        (agents / f"{name}.md").write_text(AGENT.format(name=name))
    (tmp_path / ".claude" / "config").mkdir()
    bind(tmp_path, "")
    return shell


def bind(root: Path, helper_extra: str) -> None:
    """Bind both agents to openai:gpt-4o-mini, `helper` with `helper_extra` lines too (a budget, say)."""
    (root / ".claude" / "config" / "agent-llm-bindings.yaml").write_text(
        "helper:\n  model: openai:gpt-4o-mini\n" + helper_extra + "other:\n  model: openai:gpt-4o-mini\n")


def run(shell, magic: str, line: str, cell: str | None = None) -> list[str]:
    """Run a magic; its stderr lines."""
    with capture_output() as captured:
        if cell is None:
            shell.run_line_magic(magic, line)
        else:
            shell.run_cell_magic(magic, line, cell)
    return captured.stderr.strip().splitlines()


def refused(lines: list[str], scope: str, limit: str) -> bool:
    """The one-line refusal for `scope` at `limit`, and nothing else on stderr."""
    return (len(lines) == 1 and lines[0].startswith(f"coditect: {scope} budget of {limit} reached: $")
            and lines[0].endswith("spent so far; raise the limit or start a new session"))


def test_total_budget_stops_llm(project, thread_server):
    project.run_line_magic("config", "CoditectMagics.budget_total_usd = 0.0001")
    thread_server.script(SPENDING)
    assert run(project, "llm", "openai:gpt-4o-mini First question") == []
    lines = run(project, "llm", "openai:gpt-4o-mini Second question")
    assert refused(lines, "overall", "$0.0001"), lines
    assert len(thread_server.requests) == 1, "a refused call sends nothing"


def test_total_budget_stops_an_agent_too(project, thread_server):
    project.run_line_magic("config", "CoditectMagics.budget_total_usd = 0.0001")
    thread_server.script(SPENDING)
    run(project, "llm", "openai:gpt-4o-mini First question")
    assert refused(run(project, "agent", "helper", "Help me."), "overall", "$0.0001")
    assert len(thread_server.requests) == 1


def test_agent_budget_stops_that_agent_only(project, thread_server):
    project.run_line_magic("config", "CoditectMagics.budget_agent_usd = 0.0001")
    thread_server.script(SPENDING)
    assert run(project, "agent", "helper", "Help me.") == []
    lines = run(project, "agent", "helper", "Help me again.")
    assert refused(lines, "agent 'helper'", "$0.0001"), lines
    assert len(thread_server.requests) == 1
    assert run(project, "agent", "other", "Help me.") == [], "another agent has spent nothing yet"
    assert run(project, "llm", "openai:gpt-4o-mini A plain question") == [], "a call for no agent is not an agent's"
    assert len(thread_server.requests) == 3


def test_binding_budget_stops_its_agent(project, thread_server, tmp_path):
    bind(tmp_path, "  budget_usd: 0.0001\n")
    thread_server.script(SPENDING)
    assert run(project, "agent", "helper", "Help me.") == []
    assert refused(run(project, "agent", "helper", "Help me again."), "agent 'helper'", "$0.0001")
    assert len(thread_server.requests) == 1
    assert run(project, "agent", "other", "Help me.") == [] and len(thread_server.requests) == 2


def test_binding_budget_wins_over_the_general_agent_budget(project, thread_server, tmp_path):
    project.run_line_magic("config", "CoditectMagics.budget_agent_usd = 5.0")
    bind(tmp_path, "  budget_usd: 0.0001\n")
    thread_server.script(SPENDING)
    run(project, "agent", "helper", "Help me.")
    assert refused(run(project, "agent", "helper", "Help me again."), "agent 'helper'", "$0.0001")
    run(project, "agent", "other", "Help me.")
    assert run(project, "agent", "other", "Help me again.") == [], "other stays under the general $5"
    assert len(thread_server.requests) == 3


def test_binding_budget_stops_a_run_with_tools(project, thread_server, tmp_path):
    """%%agent with tools goes through the tool loop: the run stops on the same budget before calling the model,
    its status `budget` and the one-line reason under the (empty) reply."""
    bind(tmp_path, "  budget_usd: 0.0001\n")
    thread_server.script(SPENDING)
    run(project, "agent", "helper", "Help me.")
    with capture_output() as captured:
        result = project.run_cell_magic("agent", "helper --tools Read", "Read README.md")
    assert (result.status, result.text) == ("budget", "")
    assert result.note.startswith("agent 'helper' budget of $0.0001 reached: $")
    assert any(result.note in o.data.get("text/plain", "") for o in captured.outputs)
    assert len(thread_server.requests) == 1
