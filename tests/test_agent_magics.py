"""%%agent / %agent / %cmd in a real shell (the service layer is tested in test_agents.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

from tests.fakes import Script

DATA = Path(__file__).parent / "data"


@pytest.fixture
def project(shell, tmp_path, monkeypatch):
    """A project directory with its own agents, commands and bindings."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(DATA / "agents", tmp_path / ".claude" / "agents")
    shutil.copytree(DATA / "commands", tmp_path / ".claude" / "commands")
    (tmp_path / ".claude" / "config").mkdir()
    (tmp_path / ".claude" / "config" / "agent-llm-bindings.yaml").write_text(
        "quiet:\n  provider: openai\n  model: gpt-4o-mini\n  max_tokens: 77\n")
    return shell


def test_agent_cell_magic_runs_with_binding_and_ledger(project, thread_server):
    project.user_ns["topic"] = "closures"
    thread_server.script(Script(text="Closures keep their scope."))
    with capture_output() as captured:
        result = project.run_cell_magic("agent", "quiet -t 0.1", "Explain {topic}.")
    sent = thread_server.last.body
    assert sent["model"] == "gpt-4o-mini" and sent["max_completion_tokens"] == 77 and sent["temperature"] == 0.1
    assert sent["messages"] == [{"role": "system", "content": "You only talk."},
                                {"role": "user", "content": "Explain closures."}]
    assert result.text == "Closures keep their scope." and "gpt-4o-mini" in captured.outputs[-1].data["text/markdown"]
    frame = project.run_line_magic("llm", "costs")
    assert list(frame["agent"]) == ["quiet"]


def test_agent_list_show_and_errors(project, thread_server):
    listing = project.run_line_magic("agent", "list").data
    assert "| quiet | Talks only | openai:gpt-4o-mini |" in listing and "| code-reviewer |" in listing
    assert "broken.md:1:" in listing
    assert "You review plugins." in project.run_line_magic("agent", "show plugin-dev-reviewer").data
    with capture_output() as captured:
        project.run_cell_magic("agent", "nobody", "hi")
    assert captured.stderr.startswith("coditect: no agent named 'nobody'; known agents: code-reviewer,")
    assert not thread_server.requests


def test_cmd_fills_the_template_and_runs_its_agent(project, thread_server):
    project.run_line_magic("cmd", "summarize 2 generators")
    sent = thread_server.last.body
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"][-1]["content"].startswith("Summarize generators in 2 bullet points.")
    assert "| summarize | Summarize a text in N bullet points | quiet |" in project.run_line_magic("cmd", "list").data
