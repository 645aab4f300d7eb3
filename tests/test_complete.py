"""Tab completion from IPython's own completer, for every position the magics complete."""

from __future__ import annotations

import pytest
from IPython.core.completer import provisionalcompleter

from tests.fakes import Script


def complete(shell, text: str) -> list[str]:
    """What IPython would put in place of the text before the cursor: the line with each completion applied."""
    with provisionalcompleter():
        found = list(shell.Completer.completions(text, len(text)))
    return [text[:c.start] + c.text for c in found
            if c.type in ("model", "agent", "command", "thread", "skill", "key-action", "provider", "batch-job")]


def test_models_after_llm(shell) -> None:
    done = complete(shell, "%llm openai:gpt-4")
    assert "%llm openai:gpt-4o" in done and "%llm openai:gpt-4.1-mini" in done
    assert all(d.startswith("%llm openai:gpt-4") for d in done)
    assert "%%llm anthropic:claude-sonnet-4-6" in complete(shell, "%%llm anthropic:cl")
    first = complete(shell, "%llm ")
    assert {"%llm list", "%llm history", "%llm claude", "%llm ollama"} <= set(first), "subcommands, aliases, providers"


def test_my_aliases_complete_too(shell) -> None:
    shell.run_line_magic("llm", "alias fast openai:gpt-4.1-mini")
    assert complete(shell, "%llm fas") == ["%llm fast"]


def test_models_after_model_options(shell) -> None:
    assert "%llm --compare openai:gpt-4o" in complete(shell, "%llm --compare openai:gpt-4")
    assert "%llm --compare gemini,openai:gpt-4o" in complete(shell, "%llm --compare gemini,openai:gpt-4")
    assert "%%agent helper --model ollama:llama3.2" in complete(shell, "%%agent helper --model ollama:ll")


def test_agents_and_commands(shell, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".claude" / "agents").mkdir(parents=True)
    (tmp_path / ".claude" / "agents" / "data-wrangler.md").write_text("---\nname: data-wrangler\n---\nYou wrangle.\n")
    (tmp_path / ".claude" / "commands").mkdir(parents=True)
    (tmp_path / ".claude" / "commands" / "summarize.md").write_text("Summarize: $ARGUMENTS\n")
    assert complete(shell, "%%agent data-") == ["%%agent data-wrangler"]
    assert complete(shell, "%agent show data") == ["%agent show data-wrangler"]
    assert complete(shell, "%agent map data") == ["%agent map data-wrangler"]
    assert complete(shell, "%agent resu") == ["%agent result"] and complete(shell, "%agent ru") == ["%agent runs"]
    assert "%%agent code-reviewer" in complete(shell, "%%agent code"), "the kit's examples complete as well"
    assert complete(shell, "%cmd summ") == ["%cmd summarize"]
    (tmp_path / ".claude" / "skills" / "release-notes").mkdir(parents=True)
    (tmp_path / ".claude" / "skills" / "release-notes" / "SKILL.md").write_text("---\nname: x\ndescription: y\n---\nz\n")
    assert complete(shell, "%skill run rel") == ["%skill run release-notes"]
    assert complete(shell, "%skill s") == ["%skill show"]


def test_threads_after_thread_option(shell, thread_server) -> None:
    thread_server.script(Script(text="ok"), Script(text="ok"))
    shell.run_cell_magic("llm", "openai:gpt-4o --thread budget-2026", "Hello")
    shell.run_cell_magic("llm", "openai:gpt-4o --thread bugs", "Hello")
    assert complete(shell, "%%llm openai:gpt-4o --thread bu") == [
        "%%llm openai:gpt-4o --thread budget-2026", "%%llm openai:gpt-4o --thread bugs"]
    assert complete(shell, "%llm history --thread bud") == ["%llm history --thread budget-2026"]


def test_keys_complete_their_action_then_the_provider(shell) -> None:
    assert complete(shell, "%llm keys re") == ["%llm keys remove"]
    assert complete(shell, "%llm keys set open") == ["%llm keys set openai"]
    assert "%llm keys remove anthropic" in complete(shell, "%llm keys remove ")


def test_batch_jobs_complete_after_result_and_cancel(shell, thread_server) -> None:
    shell.user_ns["prompts"] = ["Name a colour."]
    shell.run_line_magic("llm", "batch openai:gpt-4.1-mini prompts")
    job = shell.user_ns["_batch"].id
    assert complete(shell, f"%agent result {job[:8]}") == [f"%agent result {job}"]
    assert complete(shell, "%agent cancel batch-") == [f"%agent cancel {job}"]


@pytest.mark.parametrize("text", ["%llm openai:gpt-4o What is", "%%llm -t", "print(1)", "x = %llm"])
def test_no_completion_where_none_belongs(shell, text: str) -> None:
    assert complete(shell, text) == []


def test_a_cell_magic_completes_only_on_its_first_line(shell) -> None:
    with provisionalcompleter():
        text = "%%llm\n%%llm openai:gpt-4"
        found = [c for c in shell.Completer.completions(text, len(text)) if c.type == "model"]
    assert found == []


def test_unload_removes_the_completer(shell) -> None:
    shell.run_line_magic("unload_ext", "coditect_magics")
    assert complete(shell, "%llm openai:gpt-4") == []
    shell.run_line_magic("load_ext", "coditect_magics")
    assert complete(shell, "%llm openai:gpt-4")
