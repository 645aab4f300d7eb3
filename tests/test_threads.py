"""Conversation threads: stored turns, trimming to a token budget, export, and the magics that continue them
(`%%llm -c`, `--thread`, `%%agent` threads, reset, history, export) against the loopback servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coditect_magics.providers.types import ImagePart, Message, TextPart, ToolCall, ToolResult
from coditect_magics.threads import ThreadStore, estimate_tokens, fit
from tests import parts
from tests.conftest import KEY
from tests.fakes import Script


@pytest.fixture
def store(tmp_path: Path) -> ThreadStore:
    return ThreadStore(tmp_path / "threads.sqlite3")


def test_turns_of_every_kind_survive_a_new_store(store: ThreadStore, tmp_path: Path) -> None:
    thread = store.thread("analysis.ipynb", "main")
    turns = [Message("system", "Be brief."), Message("user", (TextPart("What is this?"), ImagePart("image/png", b"\x89PNG"))),
             Message("assistant", (TextPart("Let me look."), ToolCall("call_1", "lookup", {"q": "png"}))),
             Message("tool", (ToolResult("call_1", "a tiny PNG", False, "lookup"),)),
             Message("assistant", "A tiny PNG image.")]
    thread.extend(turns, model="openai:gpt-4o")
    again = ThreadStore(tmp_path / "threads.sqlite3").thread("analysis.ipynb", "main")
    assert again.messages() == turns
    assert [t.model for t in again.turns()] == [None, None, "openai:gpt-4o", None, "openai:gpt-4o"]
    assert store.thread("other.ipynb", "main").messages() == [], "threads are per notebook"
    assert store.names("analysis.ipynb") == ["main"]
    assert thread.reset() == 5 and again.messages() == []


def test_a_key_in_a_prompt_is_not_kept(store: ThreadStore) -> None:
    from coditect_magics.providers import secrets
    secrets.remember(KEY)
    thread = store.thread("nb", "main")
    thread.add({"role": "user", "content": f"my key is {KEY}"})
    assert KEY not in store.path.read_bytes().decode("latin-1") and KEY not in thread.messages()[0].text


def test_fit_drops_oldest_turns_but_never_the_system_prompt() -> None:
    system = Message("system", "S" * 400)
    turns = [Message("user" if i % 2 == 0 else "assistant", f"turn {i} " + "x" * 396) for i in range(10)]
    kept, dropped = fit([system, *turns], budget_tokens=estimate_tokens(system) + 4 * estimate_tokens(turns[0]))
    assert kept[0] == system and kept[1:] == turns[6:] and dropped == 6
    assert kept[1].role == "user", "the kept part starts with a question, not an orphaned answer"
    kept, dropped = fit([system, *turns], budget_tokens=estimate_tokens(system) + 3 * estimate_tokens(turns[0]))
    assert kept[1:] == turns[8:] and dropped == 8, "three turns fit, but the first of them would be an answer"
    everything, none = fit([system, *turns], budget_tokens=10**6)
    assert everything == [system, *turns] and none == 0
    tiny, _ = fit([system, *turns], budget_tokens=10)
    assert tiny == [system, turns[8], turns[9]], "the last exchange goes whole even when it alone is over budget"


def test_export_markdown_and_jsonl_that_memory_indexes(store: ThreadStore, tmp_path: Path) -> None:
    thread = store.thread("nb.ipynb", "research")
    thread.add(Message("user", "Where do we deploy?"))
    thread.add(Message("assistant", "To the eu-west cluster."), model="anthropic:claude-sonnet-4-6")
    markdown = thread.export(tmp_path / "t.md").read_text()
    assert "## assistant (anthropic:claude-sonnet-4-6)" in markdown and "eu-west" in markdown
    lines = [json.loads(line) for line in thread.export(tmp_path / "t.jsonl").read_text().splitlines()]
    assert [(r["role"], r["content"], r["thread"]) for r in lines] == [
        ("user", "Where do we deploy?", "research"), ("assistant", "To the eu-west cluster.", "research")]
    with pytest.raises(ValueError, match=r"\.md or \.jsonl"):
        thread.export(tmp_path / "t.txt")
    parts.local_embedder()
    from coditect_magics.memory import Memory, index
    report = index(tmp_path / "t.jsonl", Memory(tmp_path / "mem"), progress=False)
    assert report.added == 2 and not report.bad_lines


# --- the magics ------------------------------------------------------------------------------------------------

def sent_turns(server) -> list[tuple[str, str]]:
    """(role, text) of the turns the OpenAI-protocol server received last."""
    return [(m["role"], m["content"] if isinstance(m["content"], str) else
             "".join(p.get("text", "") for p in m["content"])) for m in server.last.body["messages"]]


def test_continue_and_named_threads(shell, thread_server) -> None:
    thread_server.script(Script(text="Paris."), Script(text="About 2.1 million."), Script(text="Bonjour."),
                         Script(text="Berlin."), Script(text="Hallo."))
    shell.run_line_magic("llm", "openai:gpt-4o What is the capital of France?")
    shell.run_cell_magic("llm", "openai:gpt-4o -c", "How many people live there?")
    assert sent_turns(thread_server) == [("user", "What is the capital of France?"), ("assistant", "Paris."),
                                         ("user", "How many people live there?")]
    shell.run_line_magic("llm", "openai:gpt-4o Say hello in French.")
    assert sent_turns(thread_server) == [("user", "Say hello in French.")], "a plain %llm is a one-shot call"
    shell.run_cell_magic("llm", "openai:gpt-4o --thread germany", "What is the capital of Germany?")
    shell.run_cell_magic("llm", "openai:gpt-4o -c", "Say hello in its language.")
    assert sent_turns(thread_server)[0] == ("user", "What is the capital of Germany?"), \
        "-c continues the thread named last"
    assert len(sent_turns(thread_server)) == 3


def test_switching_models_mid_thread_records_who_said_what(shell, thread_server) -> None:
    thread_server.script(Script(text="From OpenAI."), Script(text="From Anthropic."))
    shell.run_cell_magic("llm", "openai:gpt-4o --thread mixed", "First question")
    shell.run_cell_magic("llm", "anthropic:claude-sonnet-4-6 --thread mixed", "Second question")
    body = thread_server.last.body
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert "From OpenAI." in json.dumps(body["messages"][1])
    history = shell.run_line_magic("llm", "history --thread mixed")
    assert list(history.model.dropna()) == ["openai:gpt-4o", "anthropic:claude-sonnet-4-6"]


def test_threads_survive_a_kernel_restart(shell, thread_server) -> None:
    thread_server.script(Script(text="Noted: the budget is 40k."), Script(text="It was 40k."))
    shell.run_cell_magic("llm", "openai:gpt-4o --thread budget", "Remember: the budget is 40k.")
    shell.run_line_magic("unload_ext", "coditect_magics")
    shell.run_line_magic("load_ext", "coditect_magics")
    shell.run_line_magic("config", f"CoditectMagics.base_urls = {{'openai': '{thread_server.url}/v1'}}")
    shell.run_cell_magic("llm", "openai:gpt-4o --thread budget", "What was the budget?")
    assert sent_turns(thread_server)[:2] == [("user", "Remember: the budget is 40k."),
                                             ("assistant", "Noted: the budget is 40k.")]


def test_history_is_trimmed_and_the_user_is_told(shell, thread_server) -> None:
    from IPython.utils.capture import capture_output
    shell.run_line_magic("config", "CoditectMagics.max_history_tokens = 300")
    for n in range(6):
        thread_server.script(Script(text=f"answer {n} " + "y" * 300))
        with capture_output() as captured:
            shell.run_cell_magic("llm", "openai:gpt-4o --thread long", f"question {n} " + "x" * 300)
    turns = sent_turns(thread_server)
    assert turns[-1][1].startswith("question 5") and len(turns) < 11 and turns[0][0] == "user"
    assert "earlier turns left out" in captured.stderr


def test_agent_threads_continue_unless_new(shell, thread_server, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.md").write_text("---\nname: helper\nmodel: openai:gpt-4o\n---\nYou help.\n")
    thread_server.script(Script(text="One."), Script(text="Two."), Script(text="Fresh."))
    shell.run_cell_magic("agent", "helper", "First task")
    shell.run_cell_magic("agent", "helper", "Second task")
    system, *turns = sent_turns(thread_server)
    assert system[0] == "system" and system[1].startswith("You help.")
    assert turns == [("user", "First task"), ("assistant", "One."), ("user", "Second task")]
    shell.run_cell_magic("agent", "helper --new", "Third task")
    assert sent_turns(thread_server)[1:] == [("user", "Third task")]


def test_reset_history_and_export(shell, thread_server, tmp_path) -> None:
    from IPython.utils.capture import capture_output
    thread_server.script(Script(text="Answer one."), Script(text="Answer two."))
    shell.run_cell_magic("llm", "openai:gpt-4o --thread notes", "Question one")
    shell.run_cell_magic("llm", "openai:gpt-4o -c", "Question two")
    history = shell.run_line_magic("llm", "history --thread notes")
    assert list(history.role) == ["user", "assistant", "user", "assistant"]
    out = tmp_path / "notes.jsonl"
    shell.run_line_magic("llm", f"export --thread notes --to {out}")
    assert [json.loads(line)["content"] for line in out.read_text().splitlines()] == [
        "Question one", "Answer one.", "Question two", "Answer two."]
    with capture_output() as captured:
        shell.run_line_magic("llm", "reset --thread notes")
    assert "4 turns" in captured.stdout
    assert shell.run_line_magic("llm", "history --thread notes").empty
    assert shell.run_line_magic("llm", f"import --thread notes --from {out}") == 4
    again = shell.run_line_magic("llm", "history --thread notes")
    assert list(again.text) == list(history.text) and list(again.model.fillna("")) == list(history.model.fillna(""))
    thread_server.script(Script(text="Answer three."))
    shell.run_cell_magic("llm", "openai:gpt-4o --thread notes", "Question three")
    assert [t for _, t in sent_turns(thread_server)] == ["Question one", "Answer one.", "Question two", "Answer two.",
                                                         "Question three"], "an imported thread continues"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"role": "user", "content": "fine"}\n{"role": "robot", "content": "no"}\n')
    with capture_output() as captured:
        assert shell.run_line_magic("llm", f"import --thread other --from {bad}") is None
    assert "bad.jsonl, line 2" in captured.stderr
    assert shell.run_line_magic("llm", "history --thread other").empty, "nothing half-imported"
    with capture_output() as captured:
        shell.run_line_magic("llm", "export --thread notes")
    assert captured.stderr.startswith("coditect: ") and "--to" in captured.stderr


def test_the_budget_follows_the_model_context_window_where_known(shell, monkeypatch) -> None:
    budget = shell.magics_manager.registry["CoditectMagics"].session.history_budget
    assert budget("openai:gpt-4o") == (8000, "CoditectMagics.max_history_tokens")
    shell.run_line_magic("config", "CoditectMagics.max_history_tokens = 1000000")
    assert budget("openai:gpt-4o", 2000) == (128000 - 2000, "the context window of openai:gpt-4o")
    assert budget("ollama:some-model-nobody-prices")[0] == 1000000, "unknown window: the setting"
    monkeypatch.setenv("CODITECT_LOCAL_N_CTX", "2048")
    assert budget("local:smollm2", 512) == (1536, "the context window of local:smollm2")
