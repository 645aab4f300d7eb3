"""One session under the fronts: the panels opened from a kernel work on the magics' own session — its aliases, its
bindings, its memory, its ledger — and the session's settings are the traitlets' settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import parts

parts.module("ipywidgets", "pip install -e '.[dev]' (the widgets extra)")

from tests.fakes import Script  # noqa: E402
from tests.waiting import wait_for  # noqa: E402


def session_of(shell):
    return shell.magics_manager.registry["CoditectMagics"].session


def test_chat_and_compare_panels_answer_on_a_user_alias(shell, thread_server):
    from coditect_magics import widgets
    thread_server.script(Script(text="Chat on the alias."), Script(text="Compare on the alias."))
    shell.run_line_magic("llm", "alias house openai:gpt-4.1-nano")
    chat = widgets.chat()
    assert "house" in [value for _, value in chat.model.options], "the picker offers the user's alias"
    chat.model.value = "house"
    chat.send("hello")
    wait_for(lambda: chat.running is None)
    assert thread_server.last.body["model"] == "gpt-4.1-nano" and "cm-error" not in chat.status.value
    compare = widgets.compare(models=["house"])
    wait_for(lambda: compare.run("hi again") is not None)
    wait_for(lambda: compare.running is None)
    assert compare.results["house"].status == "ok" and compare.results["house"].text == "Compare on the alias."
    assert thread_server.last.body["model"] == "gpt-4.1-nano"


def _agent_with_binding(root: Path, binding: str) -> None:
    agents = root / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.md").write_text("---\nname: helper\nmodel: openai:gpt-4o\n---\nYou help.\n")
    config = root / ".claude" / "config"
    config.mkdir(parents=True)
    (config / "agent-llm-bindings.yaml").write_text(binding)


def test_a_broken_binding_is_refused_by_the_chat_panel_as_by_the_magic(shell, thread_server, tmp_path,
                                                                        monkeypatch):
    from IPython.utils.capture import capture_output

    from coditect_magics import widgets
    monkeypatch.chdir(tmp_path)
    _agent_with_binding(tmp_path, "helper:\n  model: openai:gpt-4o\n  budget_usd: lots\n")
    with capture_output() as captured:
        assert shell.run_cell_magic("agent", "helper", "Hi") is None
    assert "budget_usd" in captured.stderr and "agent-llm-bindings.yaml" in captured.stderr
    chat = widgets.chat()
    chat.agent.value = "helper"
    assert chat.send("Hi") is None, "nothing is sent"
    assert "cm-error" in chat.status.value and "budget_usd" in chat.status.value
    assert thread_server.requests == [], "neither front called the model"


def test_the_chat_panel_gives_an_agent_memory_as_the_magic_does(shell, thread_server, tmp_path, monkeypatch):
    from coditect_magics import widgets
    monkeypatch.chdir(tmp_path)
    _agent_with_binding(tmp_path, "helper:\n  memory_items: 1\n")
    shell.run_line_magic("config", f"CoditectMagics.memory_dir = '{tmp_path / 'store'}'")
    shell.run_line_magic("memory", "add The project codename is Bluebird; it ships in March.")
    shell.run_cell_magic("agent", "helper --new", "What is the project codename?")
    from_the_magic = thread_server.last.body["messages"][0]["content"]
    chat = widgets.chat()
    chat.agent.value = "helper"
    chat.send("What is the project codename?")
    wait_for(lambda: chat.running is None)
    from_the_panel = thread_server.last.body["messages"][0]["content"]
    assert "<<<MEMORY" in from_the_panel and "codename is Bluebird" in from_the_panel
    # the same system prompt and memory block (the magic's run then lists the skills its Skill tool may load)
    assert from_the_magic.startswith(from_the_panel)
    calls = session_of(shell).executor.ledger.rows(agent="helper")
    assert [r.memory_items for r in calls] == [1, 1]


def test_a_costs_panel_opened_from_python_shows_the_configured_ledger(shell, thread_server, tmp_path):
    from coditect_magics import widgets
    ledger = tmp_path / "team" / "ledger.sqlite3"
    shell.run_line_magic("config", f"CoditectMagics.ledger_path = '{ledger}'")
    thread_server.script(Script(text="Counted.", input_tokens=12, output_tokens=3))
    shell.run_line_magic("llm", "openai:gpt-4o Count me")
    panel = widgets.costs()
    assert Path(panel.ledger.path) == ledger, "the panel reads the ledger %config named"
    assert "<b>1 calls</b>" in panel.totals.value and "12 in / 3 out" in panel.totals.value


def test_config_reaches_the_session_and_its_executor(shell):
    session = session_of(shell)
    before = session.executor
    shell.run_line_magic("config", "CoditectMagics.attempts = 2")
    assert session.settings.attempts == 2 and session.executor.settings.attempts == 2
    assert session.executor is not before, "rebuilt from the new settings"
    shell.run_line_magic("config", "CoditectMagics.footer = False")
    assert session.executor is session.executor and session.settings.footer is False


def test_subcommands_are_declared_once_for_help_completion_and_dispatch(shell):
    from IPython.core.completer import provisionalcompleter
    from IPython.utils.capture import capture_output

    from coditect_magics.magics.subcommands import LLM, SKILL
    with capture_output() as captured:
        shell.run_line_magic("llm", "help")
    for entry in LLM.entries:
        assert f"%llm {entry.name}" in captured.stdout, entry.name
    assert "%skill show NAME" in shell.magics_manager.registry["CoditectMagics"].skill.__doc__
    with provisionalcompleter():
        offered = [c.text for c in shell.Completer.completions("%skill ", len("%skill "))]
    assert {entry.name for entry in SKILL.entries} <= set(offered), "completion offers the declared subcommands"


def test_a_worker_kit_is_built_from_the_session_without_the_magics():
    code = ("import sys; from coditect_magics.session import Session; from coditect_magics.workers.spec import kit_of; "
            "kit = kit_of(Session()); "
            "print(sorted(m for m in sys.modules if m.startswith(('coditect_magics.magics', 'coditect_magics.widgets',"
            " 'IPython'))), len(kit.agents) > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[] True", out.stdout + out.stderr
