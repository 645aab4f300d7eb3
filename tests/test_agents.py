"""Agents, bindings and commands as files in the wild, and %%agent / %agent / %cmd in a real shell."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

from coditect_magics.agents import (AgentFileError, Binding, BindingFileError, Library, UnknownName, load_agent,
                                    load_bindings, load_command, resolve_agent)
from tests.fakes import Script

DATA = Path(__file__).parent / "data"


def test_wild_agent_file_with_examples_and_rules():
    agent = load_agent(DATA / "agents" / "plugin-dev-reviewer.md")
    assert agent.name == "plugin-dev-reviewer"
    assert "<example>" in agent.description and "Context: The user just finished a plugin." in agent.description
    assert agent.tools == ("Read", "Grep", "Glob") and agent.model == "inherit"
    assert agent.extra == {"color": "magenta", "permissionMode": "plan", "maxTurns": "3000"}
    assert agent.system_prompt.startswith("You review plugins.") and "Second section" in agent.system_prompt
    assert "\n---\n" in agent.system_prompt


def test_values_stay_text_and_tools_take_every_form():
    dotted = load_agent(DATA / "agents" / "powershell.md")
    assert dotted.name == "powershell-5.1-expert" and dotted.tools == ("Bash", "Read")
    assert dotted.extra["background"] == "on" and dotted.model == "claude-opus-4-8"
    assert load_agent(DATA / "agents" / "no-tools.md").tools == ()


def test_a_broken_file_names_file_and_line_and_the_rest_load():
    with pytest.raises(AgentFileError) as caught:
        load_agent(DATA / "agents" / "broken.md")
    assert str(caught.value).startswith(f"{DATA / 'agents' / 'broken.md'}:1: ")
    library = Library("agent", [DATA / "agents"], load_agent, lambda a: a.name)
    assert set(library.items) == {"plugin-dev-reviewer", "powershell-5.1-expert", "quiet"}
    assert [e.path.name for e in library.errors] == ["broken.md"]
    with pytest.raises(UnknownName, match="known: plugin-dev-reviewer, powershell-5.1-expert, quiet"):
        library.get("nobody")


def test_library_rereads_changed_files(tmp_path):
    shutil.copy(DATA / "agents" / "no-tools.md", tmp_path / "quiet.md")
    library = Library("agent", [tmp_path], load_agent, lambda a: a.name)
    assert list(library.items) == ["quiet"]
    (tmp_path / "second.md").write_text("---\nname: second\n---\nSecond prompt.\n")
    assert set(library.items) == {"quiet", "second"}


def test_bindings_and_precedence(tmp_path):
    path = tmp_path / "bindings.yaml"
    path.write_text("writer:\n  provider: openai\n  model: gpt-4o\n  temperature: 0.3\n  fallbacks: [ollama:llama3.2]\n"
                    "  budget_usd: 0.5\n  team: docs\nbad:\n  temperature: hot\n")
    bindings, errors = load_bindings(path)
    assert bindings["writer"] == Binding(model="openai:gpt-4o", temperature=0.3, fallbacks=("ollama:llama3.2",),
                                         budget_usd=0.5, extra={"team": "docs"})
    assert len(errors) == 1 and str(errors[0]) == f"{path}:9: bad.temperature must be a number, not 'hot'"
    agent = load_agent(DATA / "agents" / "powershell.md")
    assert resolve_agent(agent, None, {}, "ollama:llama3.2").model_id == "anthropic:claude-opus-4-8"
    bound = resolve_agent(agent, bindings["writer"], {}, "ollama:llama3.2")
    assert (bound.model_id, bound.temperature, bound.budget_usd) == ("openai:gpt-4o", 0.3, 0.5)
    chosen = resolve_agent(agent, bindings["writer"], {"model": "haiku", "temperature": 0.9, "search": True}, "x")
    assert (chosen.model_id, chosen.temperature) == ("search:anthropic:claude-haiku-4-5", 0.9)
    inherit = resolve_agent(load_agent(DATA / "agents" / "plugin-dev-reviewer.md"), None, {}, "ollama:llama3.2")
    assert inherit.model_id == "ollama:llama3.2"


def test_malformed_bindings_yaml_names_the_line(tmp_path):
    path = tmp_path / "bindings.yaml"
    path.write_text("writer:\n  model: gpt-4o\n  temperature: [0.3\n")
    with pytest.raises(BindingFileError) as caught:
        load_bindings(path)
    assert str(caught.value).startswith(f"{path}:4: ")


def test_command_templates():
    summarize = load_command(DATA / "commands" / "summarize.md")
    assert summarize.argument_hint == "[count] [topic]" and summarize.agent == "quiet"
    assert summarize.render('3 "the Python release notes"') == (
        'Summarize the Python release notes in 3 bullet points. Whole request: 3 "the Python release notes". '
        "First argument, 0-based: 3.")
    plain = load_command(DATA / "commands" / "plain.md")
    assert plain.description == "Explain like I am five"
    assert plain.render("monads") == plain.body + "\n\nARGUMENTS: monads"


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
    assert captured.stderr.startswith("coditect: no agent named 'nobody'; known: code-reviewer,")
    assert not thread_server.requests


def test_cmd_fills_the_template_and_runs_its_agent(project, thread_server):
    project.run_line_magic("cmd", "summarize 2 generators")
    sent = thread_server.last.body
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"][-1]["content"].startswith("Summarize generators in 2 bullet points.")
    assert "| summarize | Summarize a text in N bullet points | quiet |" in project.run_line_magic("cmd", "list").data
