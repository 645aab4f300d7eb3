"""The panels' logic without a browser: set values, click, and check what the widgets show, what the ledger holds and
what the loopback provider server received."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests import parts

parts.module("ipywidgets", "pip install -e '.[dev]' (the widgets extra)")

from coditect_magics.session import Session  # noqa: E402
from coditect_magics.settings import Settings  # noqa: E402
from coditect_magics.widgets.shared import Coalescer, shown_markdown  # noqa: E402
from tests.fakes import Script  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

LONG = " ".join(f"word{i}" for i in range(80))


@pytest.fixture
def session(thread_server, tmp_path: Path, monkeypatch) -> Session:
    """The panels' session: endpoints on the loopback server, a temp ledger and a temp thread store."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-widgets-openai")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-widgets-anthropic")
    url = thread_server.url
    settings = Settings(base_urls={"openai": f"{url}/v1", "anthropic": url, "ollama": url},
                        ledger_path=str(tmp_path / "ledger.sqlite3"), threads_path=str(tmp_path / "threads.sqlite3"),
                        cache="off", attempts=1, default_model="openai:gpt-4.1-mini", remember=False,
                        memory_dir=str(tmp_path / "no-memory"))
    return Session(settings, namespace={"__session__": "test.ipynb"})


def rows(session: Session) -> list[Any]:
    return session.executor.ledger.rows()


# the shared pieces
def test_coalescer_caps_updates_and_keeps_the_last_value():
    shown: list[int] = []
    view = Coalescer(shown.append, interval=0.05)
    start = time.monotonic()
    for i in range(200):
        view.push(i)
        time.sleep(0.002)
    view.flush()
    elapsed = time.monotonic() - start
    assert shown[-1] == 199, "the last value is always shown"
    assert len(shown) <= elapsed / 0.05 + 2, f"{len(shown)} updates in {elapsed:.2f} s"


def test_panels_do_not_load_with_the_extension():
    import subprocess
    import sys
    code = ("import sys; from IPython.core.interactiveshell import InteractiveShell; "
            "InteractiveShell.instance().run_line_magic('load_ext', 'coditect_magics'); "
            "import coditect_magics.widgets; print('ipywidgets' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


# chat
def test_chat_streams_a_reply_into_the_thread_and_the_ledger(session, thread_server):
    from coditect_magics.widgets.chat_panel import ChatPanel
    thread_server.script(Script(text="**Paris** is the capital.", input_tokens=30, output_tokens=6))
    chat = ChatPanel(session)
    chat.model.value = "openai:gpt-4.1-mini"
    chat.system.value = "Be brief."
    chat.max_tokens.value = 64
    chat.input.value = "Capital of France?"
    chat.send_button.click()
    assert chat.stop_button.disabled is False and chat.send_button.disabled is True
    wait_for(lambda: chat.running is None)
    assert shown_markdown(chat.last_reply) == "**Paris** is the capital."
    body = thread_server.last.body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert thread_server.last.prompt == "Capital of France?" and body["max_completion_tokens"] == 64
    [row] = rows(session)
    assert (row.status, row.input_tokens, row.output_tokens) == ("ok", 30, 6)
    turns = session.threads.thread("test.ipynb", "main").messages()
    assert [(m.role, m.text) for m in turns] == [("user", "Capital of France?"),
                                                 ("assistant", "**Paris** is the capital.")]
    assert "1 calls · 30 in / 6 out" in chat.status.value and chat.input.value == ""


def test_chat_enter_sends_and_the_next_turn_carries_the_history(session, thread_server):
    from coditect_magics.widgets.chat_panel import ChatPanel
    thread_server.script(Script(text="First answer."), Script(text="Second answer."))
    chat = ChatPanel(session)
    chat.input.value = "first question"
    chat.input._handle_custom_msg({"event": "submit"}, [])   # what Enter sends from the browser
    wait_for(lambda: chat.running is None)
    chat.send("second question")
    wait_for(lambda: chat.running is None)
    sent = [m["content"] for m in thread_server.last.body["messages"]]
    assert sent == ["first question", "First answer.", "second question"]
    assert len(chat.messages.children) == 4


def test_chat_stop_keeps_the_partial_text_and_the_row_says_cancelled(session, thread_server):
    from coditect_magics.widgets.chat_panel import ChatPanel
    thread_server.script(Script(text=LONG, chunk_delay=0.03))
    chat = ChatPanel(session)
    chat.send("count")
    wait_for(lambda: len(shown_markdown(chat.last_reply).split()) >= 3)
    chat.stop_button.click()
    wait_for(lambda: chat.running is None)
    shown = shown_markdown(chat.last_reply)
    assert shown and LONG.startswith(shown) and len(shown) < len(LONG)
    wait_for(lambda: rows(session))
    assert [r.status for r in rows(session)] == ["cancelled"]
    assert "stopped" in chat.status.value and chat.send_button.disabled is False
    assert session.threads.thread("test.ipynb", "main").messages()[-1].text == shown


def test_chat_error_is_said_in_the_panel(session, thread_server):
    from coditect_magics.widgets.chat_panel import ChatPanel
    thread_server.script(Script(status=400, error_message="bad request here"))
    chat = ChatPanel(session)
    chat.send("hello")
    wait_for(lambda: chat.running is None)
    assert "cm-error" in chat.status.value and "bad request here" in chat.status.value
    assert rows(session)[0].status == "error"


def test_chat_with_an_agent_uses_its_prompt_and_thread(session, thread_server):
    from coditect_magics.widgets.chat_panel import ChatPanel
    thread_server.script(Script(text="Explained."))
    chat = ChatPanel(session)
    chat.agent.value = "code-reviewer"
    assert chat.thread.value == "agent:code-reviewer"
    chat.send("Review: x = 1")
    wait_for(lambda: chat.running is None)
    assert thread_server.last.path == "/v1/messages", "the agent's model (sonnet) wins over the picker"
    assert "doing a code review" in str(thread_server.last.body["system"])
    [row] = rows(session)
    assert row.agent == "code-reviewer" and row.run_id and row.provider == "anthropic"
    assert len(session.threads.thread("test.ipynb", "agent:code-reviewer").messages()) == 2


def test_model_picker_shows_unusable_providers_with_their_reason(session):
    from coditect_magics.widgets.chat_panel import ChatPanel
    labels = [label for label, _ in ChatPanel(session).model.options]
    assert labels[0] == "openai:gpt-4.1-mini"
    assert any(label.startswith("gemini:") and "unusable:" in label and "not set" in label for label in labels)


def test_a_chat_continues_from_a_cell_and_back(shell, thread_server):
    """The panel opened by %llm panel and %%llm --thread share one thread."""
    thread_server.script(Script(text="Panel answer."), Script(text="Cell answer."), Script(text="Panel again."))
    chat = shell.run_line_magic("llm", "panel")
    chat.model.value = "openai:gpt-4.1-mini"
    chat.send("from the panel")
    wait_for(lambda: chat.running is None)
    shell.run_cell_magic("llm", "openai:gpt-4.1-mini --thread main", "from a cell")
    assert [m["content"] for m in thread_server.last.body["messages"]] == ["from the panel", "Panel answer.",
                                                                           "from a cell"]
    again = shell.run_line_magic("llm", "panel")
    assert [shown_markdown(o) for o in again.messages.children] == ["from the panel", "Panel answer.", "from a cell",
                                                                    "Cell answer."]
    again.model.value = "openai:gpt-4.1-mini"
    again.send("and back")
    wait_for(lambda: again.running is None)
    assert len(thread_server.last.body["messages"]) == 5


# compare
def test_compare_streams_every_column_and_one_failure_stays_in_its_column(session, thread_server):
    from coditect_magics.widgets.compare_panel import ComparePanel
    thread_server.responder = lambda r: (Script(status=400, error_message="anthropic says no")
                                         if r.path == "/v1/messages" else Script(text=f"answer from {r.path}",
                                                                                 input_tokens=100, output_tokens=20))
    panel = ComparePanel(session, models=["openai:gpt-4.1-mini", "anthropic:claude-sonnet-4-6", "ollama:llama3.2"])
    for model, box in panel.boxes.items():
        box.value = model in ("openai:gpt-4.1-mini", "anthropic:claude-sonnet-4-6", "ollama:llama3.2")
    panel.prompt.value = "Name a prime."
    panel.run_button.click()
    wait_for(lambda: panel.running is None)
    columns = panel.columns
    assert shown_markdown(columns["openai:gpt-4.1-mini"].reply) == "answer from /v1/chat/completions"
    assert shown_markdown(columns["ollama:llama3.2"].reply) == "answer from /api/chat"
    assert "anthropic says no" in columns["anthropic:claude-sonnet-4-6"].figures.value
    assert "first token" in columns["openai:gpt-4.1-mini"].figures.value
    assert "100 in / 20 out" in columns["openai:gpt-4.1-mini"].figures.value
    assert sorted(r.prompt for r in thread_server.requests) == ["Name a prime."] * 3
    assert list(panel.best.options) == ["openai:gpt-4.1-mini", "ollama:llama3.2"]
    assert "2 of 3 answered" in panel.status.value


def test_compare_pick_best_is_recorded_and_results_become_a_dataframe(session, thread_server):
    from coditect_magics.costs.picks import PICK_AGENT
    from coditect_magics.widgets.compare_panel import ComparePanel
    panel = ComparePanel(session, models=["openai:gpt-4.1-mini", "ollama:llama3.2"])
    for model, box in panel.boxes.items():
        box.value = model in ("openai:gpt-4.1-mini", "ollama:llama3.2")
    panel.run("Hello?")
    wait_for(lambda: panel.running is None)
    panel.best.value = "ollama:llama3.2"
    panel.pick_button.click()
    picked = [r for r in rows(session) if r.agent == PICK_AGENT]
    chosen = panel.results["ollama:llama3.2"].call_id
    assert len(picked) == 1 and picked[0].parent_call_id == chosen and picked[0].cost_usd == 0
    assert picked[0].provider == "ollama" and picked[0].model == "llama3.2"
    panel.variable.value = "cmp"
    panel.frame_button.click()
    frame = session.namespace["cmp"]
    assert list(frame["model"]) == ["openai:gpt-4.1-mini", "ollama:llama3.2"]
    assert {"text", "ttft_s", "latency_s", "input_tokens", "output_tokens", "cost_usd", "error"} <= set(frame.columns)


def test_compare_stop_cancels_every_column(session, thread_server):
    from coditect_magics.widgets.compare_panel import ComparePanel
    thread_server.default = Script(text=LONG, chunk_delay=0.03)
    panel = ComparePanel(session, models=["openai:gpt-4.1-mini", "ollama:llama3.2"])
    for model, box in panel.boxes.items():
        box.value = model in ("openai:gpt-4.1-mini", "ollama:llama3.2")
    panel.run("Count.")
    wait_for(lambda: all(shown_markdown(c.reply) for c in panel.columns.values()))
    panel.stop_button.click()
    wait_for(lambda: panel.running is None)
    assert {r.status for r in panel.results.values()} == {"cancelled"}
    assert sorted(r.status for r in rows(session)) == ["cancelled", "cancelled"]
    assert all(0 < len(r.text) < len(LONG) for r in panel.results.values())


# costs
def fill_ledger(session: Session) -> None:
    from coditect_magics.costs import CallRecord
    from coditect_magics.providers.types import Usage
    ledger = session.executor.ledger
    ledger.record(CallRecord.from_usage("openai", "gpt-4o", Usage(1000, 500), session_id=session.executor.session_id))
    ledger.record(CallRecord.from_usage("anthropic", "claude-sonnet-4-5", Usage(1000, 500), agent="reviewer",
                                        session_id=session.executor.session_id))
    ledger.record(CallRecord.from_usage("openai", "gpt-4o", Usage(10, 0), status="error", error_class="Boom"))


def test_costs_filters_totals_chart_and_gauges(session):
    from coditect_magics.widgets.costs_panel import CostsPanel
    fill_ledger(session)
    session.configure(budget_session_usd=0.015, budget_total_usd=1.0)
    costs = CostsPanel(session)
    assert "<b>3 calls</b>" in costs.totals.value and "2010 in / 1000 out" in costs.totals.value
    assert list(costs.filters["provider"].options) == ["(all)", "anthropic", "openai"]
    assert bytes(costs.chart.value).startswith(b"\x89PNG")
    costs.filters["provider"].value = "anthropic"
    wait_for(lambda: "<b>1 calls</b>" in costs.totals.value)
    assert "claude-sonnet-4-5" in costs.table.value and "gpt-4o" not in costs.table.value
    assert "$0.0105" in costs.totals.value
    costs.filters["provider"].value = "(all)"
    costs.filters["status"].value = "error"
    wait_for(lambda: "Boom" in costs.table.value)
    assert "<b>1 calls</b>" in costs.totals.value and "claude" not in costs.table.value
    scopes = [g.children[0].value for g in costs.gauges.children]
    assert scopes == ["session: $0.018025 of $0.015", "overall: $0.018025 of $1.00"]
    assert costs.gauges.children[0].children[1].bar_style == "danger"
    costs.widget.close()


def test_costs_refresh_when_calls_land(session, thread_server):
    from coditect_magics.widgets.costs_panel import CostsPanel
    costs = CostsPanel(session, watch_every_s=0.05)
    assert "no calls match" in costs.table.value
    from coditect_magics import bridge
    bridge.run(session.executor.run("openai:gpt-4o", "hello"))
    wait_for(lambda: "<b>1 calls</b>" in costs.totals.value)
    costs.by.value = "model"
    wait_for(lambda: bytes(costs.chart.value).startswith(b"\x89PNG"))
    costs.widget.close()
    costs.watching.result(timeout=5)  # a closed panel stops watching


def test_costs_date_range_filters(session):
    import datetime as dt

    from coditect_magics.widgets.costs_panel import CostsPanel
    fill_ledger(session)
    costs = CostsPanel(session)
    costs.since.value = dt.date.today() + dt.timedelta(days=1)
    wait_for(lambda: "no calls match" in costs.table.value)
    costs.since.value = dt.date.today()
    costs.until.value = dt.date.today()
    wait_for(lambda: "<b>3 calls</b>" in costs.totals.value)
    costs.widget.close()


# memory
def words_embedder() -> Any:
    """A tiny bag-of-words embedder: enough meaning for a test, no model to load."""
    from coditect_magics.memory.embedders import Embedder

    class Words(Embedder):
        name = "test-words"
        VOCAB = ("string", "reverse", "python", "schema", "table", "revenue", "cat", "dog")

        def _embed(self, texts):
            return [[float(t.lower().count(word)) + 0.01 for word in self.VOCAB] for t in texts]

    return Words()


@pytest.fixture
def memory_services(session, tmp_path):
    from coditect_magics.memory import Memory
    store = Memory(tmp_path / "memory", embedder=words_embedder())
    store.add("Reverse a string in Python with s[::-1]", source="tips.md", kind="note")
    store.add("The revenue table is orders_2025", source="schema.md", kind="file")
    return Session(session.settings, namespace=session.namespace, memory=store), store


def test_memory_search_filters_add_and_forget(memory_services):
    from coditect_magics.widgets.memory_panel import MemoryPanel
    session, store = memory_services
    panel = MemoryPanel(session)
    panel.query.value = "how to reverse a string"
    wait_for(lambda: panel.results.children)
    first = panel.results.children[0].children[0].value
    assert "Reverse a string" in first and "tips.md" in first and "note" in first
    panel.kind.value = "file"
    wait_for(lambda: panel.results.children and "orders_2025" in panel.results.children[0].children[0].value)
    assert len(panel.results.children) == 1
    panel.kind.value = None
    panel.source.value = "tips.md"
    wait_for(lambda: len(panel.results.children) == 1 and "tips.md" in panel.results.children[0].children[0].value)
    panel.source.value = ""
    panel.note.value = "Cats and dogs: the pet table"
    panel.add(panel.note.value).result(timeout=10)
    assert store.count() == 3 and panel.note.value == ""
    panel.query.value = "cat dog"
    wait_for(lambda: panel.results.children and "Cats and dogs" in panel.results.children[0].children[0].value)
    panel.results.children[0].children[1].click()   # Forget
    wait_for(lambda: store.count() == 2)
    wait_for(lambda: "forgot 1 item" in panel.status.value)


# runs
def test_runs_group_agent_calls_into_expandable_trees(session):
    from coditect_magics.costs import CallRecord
    from coditect_magics.widgets.runs_panel import RunsPanel
    ledger = session.executor.ledger
    ledger.record(CallRecord("anthropic", "claude-sonnet-4-6", agent="orchestrator", run_id="r1", call_id="c1",
                             input_tokens=100, output_tokens=40, cost_usd=0.001, price_known=True, ts=1000))
    ledger.record(CallRecord("openai", "gpt-4o", agent="researcher", run_id="r1", call_id="c2", parent_call_id="c1",
                             status="error", attempt=1, input_tokens=5, cost_usd=0.0, price_known=True, ts=1001))
    ledger.record(CallRecord("openai", "gpt-4o", agent="researcher", run_id="r1", call_id="c2", parent_call_id="c1",
                             attempt=2, input_tokens=50, output_tokens=10, cost_usd=0.0005, price_known=True, ts=1002))
    ledger.record(CallRecord("openai", "gpt-4o", agent="explainer", run_id="r2", call_id="c3", status="cancelled",
                             ts=2000))
    ledger.record(CallRecord("openai", "gpt-4o", ts=3000))   # a plain %llm call: not a run
    panel = RunsPanel(session)
    assert [r.run_id for r in panel.runs] == ["r2", "r1"]
    r1 = panel.runs[1]
    assert (r1.agent, r1.status, r1.input_tokens, r1.output_tokens) == ("orchestrator", "ok", 155, 50)
    assert r1.cost_usd == pytest.approx(0.0015)
    [root] = r1.steps
    assert root.label == "anthropic:claude-sonnet-4-6" and root.children[0].label == "openai:gpt-4o (2 tries)"
    assert panel.list.titles[1].startswith("orchestrator · ok · 155 in / 50 out · $0.0015")
    assert panel.list.titles[0].startswith("explainer · cancelled")
    assert "<ul" in panel.list.children[1].value and "(2 tries)" in panel.list.children[1].value
    panel.list.selected_index = 1   # expand
    panel.widget.close()


def test_runs_take_any_source_of_records(session):
    from coditect_magics.costs.runs import Run, Step
    from coditect_magics.widgets.runs_panel import RunsPanel
    tree = Run("x", "planner", 0.0, (Step("plan", "plan", children=(Step("search('x')", "tool"),
                                                                     Step("writer", "delegation", "error")),),))
    panel = RunsPanel(session, source=lambda: [tree])
    assert panel.list.titles[0].startswith("planner · error")
    assert "<b>tool</b> search(&#x27;x&#x27;)" in panel.list.children[0].value
    panel.widget.close()


def test_runs_panel_shows_traced_and_ledger_runs_from_costs_runs(session):
    from coditect_magics.agents.trace import ToolRun, Trace
    from coditect_magics.costs import CallRecord
    from coditect_magics.costs.runs import from_ledger, from_traces, merged
    from coditect_magics.widgets.runs_panel import RunsPanel
    ledger = session.executor.ledger
    for run_id, ts in (("traced", 1000), ("plain", 2000)):
        ledger.record(CallRecord("openai", "gpt-4o", agent="writer", run_id=run_id, ts=ts, cost_usd=0.0,
                                 price_known=True))
    read = ToolRun("Read", {"file_path": "notes.md"}, "12 lines", 0.01, False)
    trace = Trace("writer", "openai:gpt-4o", "done", tool_calls=(read,), input_tokens=9, output_tokens=3,
                  cost_usd=0.001, seconds=0.5, run_id="traced")
    panel = RunsPanel(session, source=lambda: merged(from_traces([(1000.0, trace)]), from_ledger(ledger)))
    assert [(r.run_id, r.steps[0].kind) for r in panel.runs] == [("plain", "call"), ("traced", "agent")]
    assert "<b>tool</b> Read(" in panel.list.children[1].value and "12 lines" in panel.list.children[1].value
    panel.widget.close()


def test_magic_hooks_open_every_panel(shell):
    from coditect_magics.widgets.chat_panel import ChatPanel
    from coditect_magics.widgets.compare_panel import ComparePanel
    from coditect_magics.widgets.costs_panel import CostsPanel
    from coditect_magics.widgets.memory_panel import MemoryPanel
    from coditect_magics.widgets.runs_panel import RunsPanel
    assert isinstance(shell.run_line_magic("llm", "panel"), ChatPanel)
    assert isinstance(shell.run_line_magic("llm", "compare-panel"), ComparePanel)
    costs = shell.run_line_magic("llm", "costs --panel")
    assert isinstance(costs, CostsPanel) and costs.ledger is shell.magics_manager.registry["CoditectMagics"].session.executor.ledger
    assert isinstance(shell.run_line_magic("memory", "panel"), MemoryPanel)
    assert isinstance(shell.run_line_magic("agent", "panel"), RunsPanel)
