"""%llm and %%llm in a real IPython InteractiveShell against the loopback server: what the user sees (display
outputs and stderr), what the server received, and what the ledger kept."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
from IPython.utils.capture import capture_output

from tests.fakes import Script
from tests.waiting import interrupt_when, wait_for


def final_markdown(captured) -> str:
    """The last text/markdown the cell showed (a streamed reply updates one display in place)."""
    shown = [o.data["text/markdown"] for o in captured.outputs if "text/markdown" in o.data]
    return shown[-1] if shown else ""


def test_line_magic_streams_markdown_with_tokens_and_cost(shell, thread_server):
    thread_server.script(Script(text="**Hello** from the model.", input_tokens=1000, output_tokens=500))
    with capture_output() as captured:
        result = shell.run_line_magic("llm", "openai:gpt-4o Say hello")
    shown = final_markdown(captured)
    assert shown.startswith("**Hello** from the model.")
    assert "openai:gpt-4o · 1000 in / 500 out · $0.0075" in shown
    assert result.text == "**Hello** from the model." and result.usage.output_tokens == 500
    assert shell.user_ns["_llm"] is result
    sent = thread_server.last.body
    assert sent["model"] == "gpt-4o" and sent["messages"] == [{"role": "user", "content": "Say hello"}]
    assert sent["stream"] is True
    assert captured.stderr == ""


def test_stream_updates_one_display_in_place(shell, thread_server):
    thread_server.script(Script(text="one two three four five six", chunk_delay=0.02))
    with capture_output() as captured:
        shell.run_line_magic("llm", "openai:gpt-4o count")
    updates = [o for o in captured.outputs if o.update]
    assert len(updates) >= 3, "the reply must appear piece by piece"
    partial = [o.data.get("text/markdown", "") for o in updates]
    assert any(p.startswith("one two") and "six" not in p for p in partial)
    assert final_markdown(captured).startswith("one two three four five six")


def test_cell_magic_options_reach_the_server(shell, thread_server):
    thread_server.script(Script(text="42"))
    shell.run_cell_magic("llm", '-s "Answer with a number." -t 0.2 --max-tokens 50 -o answer openai:gpt-4o',
                         "What is six times seven?")
    sent = thread_server.last.body
    assert sent["messages"] == [{"role": "system", "content": "Answer with a number."},
                                {"role": "user", "content": "What is six times seven?"}]
    assert (sent["temperature"], sent["max_completion_tokens"]) == (0.2, 50)
    assert shell.user_ns["answer"].text == "42"


def test_interpolation_leaves_json_and_unknown_names_alone(shell, thread_server):
    shell.run_cell("rows = 3\nname = 'sales'", store_history=True)
    shell.run_cell("%llm openai:gpt-4o Count {rows} rows of {name} as {\"rows\": n}, not {{rows}}, {missing} "
                   "or {In[1]}", store_history=True)
    prompt = thread_server.last.body["messages"][-1]["content"]
    assert prompt == ("Count 3 rows of sales as {\"rows\": n}, not {rows}, {missing} or "
                      "rows = 3\nname = 'sales'")


def test_no_stream_shows_the_whole_reply_once(shell, thread_server):
    thread_server.script(Script(text="all at once"))
    with capture_output() as captured:
        shell.run_line_magic("llm", "--no-stream openai:gpt-4o hi")
    assert "stream" not in thread_server.last.body
    assert len([o for o in captured.outputs if "text/markdown" in o.data]) == 1
    assert final_markdown(captured).startswith("all at once")


@pytest.mark.parametrize("fmt, text, key, expected", [
    ("code", "```python\nprint(1)\n```", "text/markdown", "```\nprint(1)\n```"),
    ("json", '{"a": 1}', "application/json", {"a": 1}),
    ("html", "<b>bold</b>", "text/html", "<b>bold</b>"),
    ("text", "plain words", "text/plain", "plain words"),
])
def test_formats(shell, thread_server, fmt, text, key, expected):
    thread_server.script(Script(text=text))
    with capture_output() as captured:
        shell.run_line_magic("llm", f"-f {fmt} openai:gpt-4o go")
    data = captured.outputs[-1].data
    assert data[key] == expected or str(data[key]).startswith(str(expected))


def test_errors_are_one_line_without_traceback(shell, thread_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with capture_output() as captured:
        assert shell.run_line_magic("llm", "openai:gpt-4o hi") is None
    assert captured.stderr.strip() == "coditect: openai:gpt-4o: OPENAI_API_KEY not set (or pass api_key=)"
    with capture_output() as captured:
        shell.run_line_magic("llm", "--temprature 2 openai:gpt-4o hi")
    assert captured.stderr.count("\n") == 1 and "unknown option --temprature" in captured.stderr
    with capture_output() as captured:
        shell.run_cell("%llm antropic:claude hi")
    assert "unknown provider 'antropic'" in captured.stderr and "Traceback" not in captured.stdout + captured.stderr
    assert not thread_server.requests


def test_fallback_option(shell, thread_server):
    thread_server.script(*[Script(status=503)] * 4, Script(text="from anthropic"))
    result = shell.run_line_magic("llm", "--fallback anthropic:claude-sonnet-4-6 openai:gpt-4o hi")
    assert result.text == "from anthropic" and result.model.startswith("anthropic:")


def test_compare_table(shell, thread_server):
    thread_server.default = Script(text="same")
    table = shell.run_line_magic("llm", "--compare openai:gpt-4o,anthropic:claude-sonnet-4-6,ollama:llama3.2 hi")
    assert list(table["model"]) == ["openai:gpt-4o", "anthropic:claude-sonnet-4-6", "ollama:llama3.2"]
    assert list(table["text"]) == ["same"] * 3
    assert table["cost_usd"].iloc[2] == 0


def test_alias_default_and_costs(shell, thread_server):
    shell.run_line_magic("llm", "alias fast openai:gpt-4o-mini")
    shell.run_line_magic("llm", "fast hello")
    assert thread_server.last.body["model"] == "gpt-4o-mini"
    shell.run_line_magic("llm", "default ollama:llama3.2")
    shell.run_line_magic("llm", "hello again")
    assert thread_server.last.path == "/api/chat"
    frame = shell.run_line_magic("llm", "costs")
    assert list(frame["provider"]) == ["openai", "ollama"]
    by = shell.run_line_magic("llm", "costs --by provider")
    assert set(by.index) == {"openai", "ollama"} and list(by["calls"]) == [1, 1]


def test_list_names_every_provider_and_why(shell):
    listing = shell.run_line_magic("llm", "list").data
    for name in ("anthropic", "openai", "gemini", "huggingface", "ollama", "lmstudio", "search"):
        assert f"| {name} |" in listing
    assert "GEMINI_API_KEY or GOOGLE_API_KEY not set" in listing


def test_llm_error_sends_the_last_traceback(shell, thread_server):
    shell.run_cell("def f():\n    return 1 / 0\nf()")
    thread_server.script(Script(text="Division by zero: guard the denominator."))
    shell.run_line_magic("llm", "error openai:gpt-4o")
    asked = thread_server.last.body["messages"][-1]["content"]
    assert "ZeroDivisionError" in asked and "return 1 / 0" in asked


def test_interrupt_cancels_and_keeps_the_partial_reply(shell, thread_server, monkeypatch):
    words = 200  # 10 s of stream at 0.05 s a word: far longer than the interrupt needs
    thread_server.script(Script(text=" ".join(["word"] * words), chunk_delay=0.05))
    shown: list[str] = []
    three_shown = threading.Event()
    publish = shell.display_pub.publish

    def watch(data, *args, **kwargs):
        """The display the user watches: the interrupt comes once three updates carrying words were shown."""
        publish(data, *args, **kwargs)
        if kwargs.get("update") and "word" in data.get("text/plain", ""):
            shown.append(data["text/plain"])
            if len(shown) == 3:
                three_shown.set()

    monkeypatch.setattr(shell.display_pub, "publish", watch)
    interrupter = interrupt_when(three_shown)
    result = shell.run_line_magic("llm", "openai:gpt-4o go on")
    interrupter.join(10)
    assert result.status == "cancelled" and len(shown) >= 3
    assert 0 < len(result.text.split()) < words and result.text.startswith(shown[2].split("\n")[0].strip())
    frame = shell.run_line_magic("llm", "costs")
    assert list(frame["status"]) == ["cancelled"]


def test_load_ext_imports_no_sdk_pandas_or_chromadb():
    code = textwrap.dedent("""
        import sys
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "coditect_magics")
        heavy = ("anthropic", "openai", "google.genai", "huggingface_hub", "aiohttp", "pandas", "chromadb",
                 "genai_prices", "ddgs", "mcp", "mcp_types", "httpx2")
        print([m for m in heavy if m in sys.modules])
        print("llm" in ip.magics_manager.magics["line"], "llm" in ip.magics_manager.magics["cell"])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True True"


@pytest.mark.parametrize("run", ["magic", "cell"])
def test_a_magic_or_cell_right_after_load_waits_for_the_warm_up(shell, monkeypatch, run):
    """The warm-up imports the kit off the main thread after `%load_ext`; a package initialised by two threads at
    once fails in both ("partially initialized module"), so what comes next waits for the warm-up to end."""
    from coditect_magics.magics import complete
    order: list[str] = []
    release = threading.Event()

    def slow_warm_up() -> None:
        order.append("warm-up began")
        release.wait(10)
        order.append("warm-up ended")

    shell.run_line_magic("unload_ext", "coditect_magics")
    monkeypatch.setattr(complete, "_warm_up", slow_warm_up)
    shell.run_line_magic("load_ext", "coditect_magics")
    wait_for(lambda: order == ["warm-up began"])
    threading.Timer(2.0, release.set).start()  # far longer than `%llm help` takes: it must wait to end after
    if run == "magic":
        shell.run_line_magic("llm", "help")
    else:
        shell.run_cell("x = 1")
    order.append(f"{run} returned")
    assert order == ["warm-up began", "warm-up ended", f"{run} returned"]


@pytest.mark.parametrize("line, prompt", [("%llm openai:gpt-4o What is a closure?", "What is a closure?"),
                                          ("  %llm openai:gpt-4o Really??", "Really??")])
def test_a_question_mark_at_the_end_is_part_of_the_prompt(shell, thread_server, line, prompt):
    """IPython would read `... closure?` as a help request; the question reaches the model instead."""
    shell.run_cell(line)
    assert thread_server.last.body["messages"][-1]["content"] == prompt


def test_help_on_the_magic_itself_still_works(shell, thread_server):
    from IPython.utils.capture import capture_output
    with capture_output() as captured:
        shell.run_cell("%llm?")
    assert "Prompt any model" in captured.stdout and not thread_server.requests
    with capture_output():
        shell.run_cell("%%llm openai:gpt-4o\n%llm is this kept as text?")
    assert thread_server.last.body["messages"][-1]["content"] == "%llm is this kept as text?"


def test_llm_help_lists_every_magic_with_examples(shell):
    from IPython.utils.capture import capture_output
    with capture_output() as captured:
        shell.run_line_magic("llm", "help")
    for usage in ("%llm [-f", "%agent [-m", "%memory [-k", "Run a command template", "%config CoditectMagics"):
        assert usage in captured.stdout
    assert captured.stdout.count("Examples:") >= 3 and "--thread" in captured.stdout and "--memory" in captured.stdout


def test_llm_list_shows_each_endpoint_and_honours_config(shell, thread_server, monkeypatch):
    """The base URL set by %config is the one `%llm list` probes and shows, as the calls use it."""
    from tests.conftest import closed_port
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gateway.internal/v1")
    table = shell.run_line_magic("llm", "list").data
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert f"{thread_server.url}/v1 (%config CoditectMagics.base_urls)" in rows["lmstudio"]
    assert "| yes |" in rows["lmstudio"] and "| yes |" in rows["ollama"], "probed where the config points"
    assert "SDK default (GOOGLE_GEMINI_BASE_URL)" in rows["gemini"]
    shell.run_line_magic("config", f"CoditectMagics.base_urls = {{'ollama': 'http://127.0.0.1:{closed_port()}'}}")
    rows = {line.split("|")[1].strip(): line for line in shell.run_line_magic("llm", "list").data.splitlines()
            if line.startswith("| ")}
    assert "| no |" in rows["ollama"] and "not reachable" in rows["ollama"]
    assert "http://gateway.internal/v1 (OPENAI_BASE_URL)" in rows["openai"]
