"""`%llm eval` in a real InteractiveShell against the loopback server: two models with known, different accuracy
(scores, passes, intervals), costs equal to the ledger rows of the run and to genai-prices' figure, the chart
shown as a PNG, an LLM judge with its rubric on the wire and its calls under agent `eval:judge`, `--repeat` as
real calls even with the cache on, an agent with its tools as a contestant, and bad input as one line."""

from __future__ import annotations

import base64
import io
import json

import pandas as pd
import pytest
from IPython.utils.capture import capture_output

from coditect_magics.costs import Ledger, price
from coditect_magics.providers import Usage
from tests import parts
from tests.agent_support import agent_file, call
from tests.fakes import Script

parts.module("pydantic_evals", "pip install -e '.[eval]'")

QUESTIONS = pd.DataFrame({"question": ["Capital of France?", "Capital of Japan?", "Capital of Peru?",
                                       "Capital of Chad?"],
                          "answer": ["Paris", "Tokyo", "Lima", "N'Djamena"]},
                         index=["fr", "jp", "pe", "td"])
RIGHT = dict(zip(QUESTIONS["question"], QUESTIONS["answer"]))
OPENAI, ANTHROPIC = "openai:gpt-4o", "anthropic:claude-sonnet-4-6"


def two_models(recorded) -> Script:
    """OpenAI knows every capital; Anthropic only France and Japan (and says "Lyon" otherwise)."""
    answer = RIGHT.get(recorded.prompt, "?")
    if recorded.path == "/v1/messages" and recorded.prompt not in ("Capital of France?", "Capital of Japan?"):
        answer = "Lyon"
    return Script(text=answer, input_tokens=20, output_tokens=3, chunk_delay=0.005)


def ledger_of(tmp_path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite3")   # the conftest's CODITECT_LEDGER


def png_outputs(captured) -> list[bytes]:
    """The PNG images the cell displayed (a display carries them base64-encoded)."""
    return [base64.b64decode(o.data["image/png"]) for o in captured.outputs if "image/png" in o.data]


def test_two_models_scored_exactly_with_costs_from_the_ledger(shell, thread_server, tmp_path):
    thread_server.responder = two_models
    shell.user_ns["qa"] = QUESTIONS
    with capture_output() as captured:
        shell.run_line_magic("llm", f"eval qa --models {OPENAI},{ANTHROPIC} --input question --expected answer "
                                    "-o board")
    result = shell.user_ns["_eval"]
    assert shell.user_ns["board"] is result and captured.stderr == ""
    summary = result.summary
    assert list(summary.index) == [OPENAI, ANTHROPIC]
    assert list(summary["score"]) == [1.0, 0.5] and list(summary["passes"]) == [4, 2]
    assert list(summary["errors"]) == [0, 0] and list(summary["answers"]) == [4, 4]
    # Wilson's 95% intervals for 4 of 4 and 2 of 4 (the textbook figures)
    assert (summary.loc[OPENAI, "score_low"], summary.loc[OPENAI, "score_high"]) == pytest.approx((0.5101, 1.0),
                                                                                                  abs=1e-4)
    assert (summary.loc[ANTHROPIC, "score_low"], summary.loc[ANTHROPIC, "score_high"]) == pytest.approx(
        (0.1500, 0.8500), abs=1e-4)
    assert list(summary["input_tokens"]) == [80, 80] and list(summary["output_tokens"]) == [12, 12]

    ledger = ledger_of(tmp_path)
    for k, (model, provider) in enumerate([(OPENAI, "openai"), (ANTHROPIC, "anthropic")]):
        _, [(total, calls)] = ledger.query("SELECT SUM(cost_usd), COUNT(*) FROM calls WHERE run_id LIKE ?",
                                           [f"{result.run_id}/{k}/%"])
        one = price(provider, model.split(":", 1)[1], Usage(20, 3)).usd
        assert calls == 4 and summary.loc[model, "cost_usd"] == pytest.approx(total) == pytest.approx(4 * one)
        assert summary.loc[model, "cost_per_correct_usd"] == pytest.approx(total / summary.loc[model, "passes"])
    assert summary["latency_p50_s"].gt(0).all() and summary["ttft_p50_s"].gt(0).all()

    rows = result.rows
    assert len(rows) == 8 and list(rows["row"][:4]) == ["fr", "jp", "pe", "td"]
    wrong = rows[(rows.contestant == ANTHROPIC) & ~rows.passed]
    assert list(wrong["row"]) == ["pe", "td"] and list(wrong["output"]) == ["Lyon", "Lyon"]
    by_run = dict(ledger.query("SELECT run_id, cost_usd FROM calls WHERE run_id LIKE ?", [f"{result.run_id}/%"])[1])
    assert all(by_run[r.run_id] == pytest.approx(r.cost_usd) for r in rows.itertuples())

    [png] = png_outputs(captured)
    from PIL import Image
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).size[0] > 300
    assert png == result.chart_png
    assert "openai:gpt-4o" in repr(result) and "<table" in result._repr_html_()


def test_judge_sees_the_rubric_and_is_in_the_ledger(shell, thread_server, tmp_path):
    rubric = "Grade strictly: PASS only for the capital city itself."

    def respond(recorded):
        if recorded.path == "/api/chat":   # the contestant (Ollama): right on France only
            return Script(text="Paris" if recorded.prompt == "Capital of France?" else "Berlin")
        return Script(text="PASS: it is the capital." if "Answer to grade:\nParis" in recorded.prompt
                      else "FAIL: wrong city.", input_tokens=60, output_tokens=6)

    thread_server.responder = respond
    shell.user_ns["qa"] = QUESTIONS
    shell.user_ns["strict"] = rubric
    with capture_output() as captured:
        result = shell.run_line_magic("llm", "eval qa --models ollama:llama3.2 --input question --expected answer "
                                             "--scorer judge:openai:gpt-4o-mini --rubric strict")
    assert list(result.summary["passes"]) == [1] and list(result.summary["score"]) == [0.25]
    judged = [r for r in thread_server.requests if r.path == "/v1/chat/completions"]
    assert len(judged) == 4 and all(r.body["messages"][0] == {"role": "system", "content": rubric} for r in judged)
    assert "Reference answer:\nTokyo" in "".join(r.prompt for r in judged)
    rows = ledger_of(tmp_path).rows(agent="eval:judge")
    assert len(rows) == 4 and {r.run_id for r in rows} == {f"{result.run_id}/judge"}
    assert result.judge_calls == 4 and result.judge_cost_usd > 0
    assert result.judge_cost_usd == pytest.approx(sum(r.cost_usd for r in rows))
    assert result.summary["cost_usd"].iloc[0] == 0, "the judge's cost is not the contestant's"
    shown = "".join(o.data.get("text/markdown", "") for o in captured.outputs)
    assert rubric in shown and "eval:judge" in shown
    assert result.rows["reason"].iloc[1] == "FAIL: wrong city."


def test_failed_answers_count_as_errors_and_are_not_judged(shell, thread_server, tmp_path):
    def respond(recorded):
        if recorded.path == "/v1/messages":
            return Script(status=400, error_message="model not allowed here")
        if recorded.path == "/api/chat":   # the judge
            return Script(text="PASS")
        return Script(text=RIGHT[recorded.prompt])

    thread_server.responder = respond
    shell.user_ns["qa"] = QUESTIONS
    with capture_output() as captured:
        result = shell.run_line_magic("llm", f"eval qa --models {OPENAI},{ANTHROPIC} --input question "
                                             "--expected answer --scorer judge:ollama:llama3.2")
    summary = result.summary
    assert list(summary["errors"]) == [0, 4] and list(summary["passes"]) == [4, 0]
    assert summary.loc[ANTHROPIC, "score"] == 0 and summary.loc[ANTHROPIC, "cost_usd"] == 0
    assert pd.isna(summary.loc[ANTHROPIC, "cost_per_correct_usd"]) and pd.isna(summary.loc[ANTHROPIC, "latency_p50_s"])
    failed = result.rows[result.rows.contestant == ANTHROPIC]
    assert failed["error"].str.contains("model not allowed here").all()
    assert failed["reason"].str.startswith("no answer: ").all()
    assert result.judge_calls == 4 == len([r for r in thread_server.requests if r.path == "/api/chat"])
    assert captured.stderr.count("\n") == 1 and "4 of 8 answers failed" in captured.stderr


def test_repeat_makes_real_calls_even_with_the_cache_on(shell, thread_server):
    thread_server.responder = two_models
    shell.run_line_magic("config", "CoditectMagics.cache = 'on'")
    shell.user_ns["qa"] = [{"input": "Capital of France?", "expected": "Paris"},
                           {"input": "Capital of Peru?", "expected": "Lima"}]
    result = shell.run_line_magic("llm", f"eval qa --models {ANTHROPIC} --repeat 3")
    assert len(thread_server.requests) == 6
    rows = result.rows
    assert list(rows["row"]) == [0, 0, 0, 1, 1, 1] and list(rows["repeat"]) == [1, 2, 3] * 2
    assert result.summary.loc[ANTHROPIC, "answers"] == 6 and result.summary.loc[ANTHROPIC, "passes"] == 3


def test_an_agent_with_its_tools_beside_a_bare_model(shell, thread_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "capitals.txt").write_text("\n".join(f"{q} {a}" for q, a in RIGHT.items()))
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "geo.md").write_text(agent_file("geo", "ollama:llama3.2", "Read", "Look answers up in capitals.txt."))
    shell.run_line_magic("config", f"CoditectMagics.agent_dirs = [{str(agents)!r}]")

    def respond(recorded):
        if recorded.path != "/api/chat":
            return Script(text="no idea")   # the bare model knows nothing
        messages = recorded.body["messages"]
        if messages[-1]["role"] != "tool":
            return Script(text="", tool_calls=[call("", "Read", file_path="capitals.txt")])
        return Script(text=RIGHT[recorded.prompt])

    thread_server.responder = respond
    shell.user_ns["qa"] = QUESTIONS
    result = shell.run_line_magic("llm", f"eval qa --models {OPENAI} --agents geo --input question "
                                         "--expected answer --scorer contains")
    summary = result.summary
    assert list(summary.index) == [OPENAI, "geo"] and list(summary["kind"]) == ["model", "agent"]
    assert list(summary["passes"]) == [0, 4] and summary.loc["geo", "model"] == "ollama:llama3.2"
    agent_calls = [r for r in thread_server.requests if r.path == "/api/chat"]
    assert len(agent_calls) == 8 and agent_calls[0].body["messages"][0]["content"].startswith("Look answers up")
    assert any("Paris" in json.dumps(r.body["messages"][-1]) for r in agent_calls if r.body["messages"][-1]["role"]
               == "tool"), "the Read tool ran and its result went back"
    _, found = ledger_of(tmp_path).query("SELECT agent, COUNT(*) FROM calls WHERE run_id LIKE ? GROUP BY agent",
                                         [f"{result.run_id}/1/%"])
    assert found == [("geo", 8)]


@pytest.mark.parametrize("line, says", [
    ("eval nothing --models openai:gpt-4o", "no variable 'nothing' in the notebook"),
    ("eval qa --models openai:gpt-4o", "qa has no column 'input' (columns: question, answer); name the prompts'"),
    ("eval qa --models openai:gpt-4o --input question", "qa has no column 'expected'"),
    ("eval qa --models openai:gpt-4o --input question --expected answer --scorer fuzzy", "unknown scorer 'fuzzy'"),
    ("eval qa --models antropic:claude --input question --expected answer", "unknown model 'antropic:claude'"),
    ("eval qa --models openai:gpt-4o --agents nobody --input question --expected answer", "no agent named 'nobody'"),
    ("eval text --models openai:gpt-4o", "text is a str: give a DataFrame or a list of dicts"),
    ("eval qa --models openai:gpt-4o --repeat 0 --input question --expected answer", "--repeat and --concurrency"),
    ("eval qa --models openai:gpt-4o --scorer regex:( --input question", "is not a valid pattern"),
])
def test_bad_input_is_one_line(shell, thread_server, line, says):
    shell.user_ns["qa"] = QUESTIONS
    shell.user_ns["text"] = "not data"
    with capture_output() as captured:
        assert shell.run_line_magic("llm", line) is None
    assert captured.stderr.startswith(f"coditect: ") and says in captured.stderr
    assert captured.stderr.count("\n") == 1 and "Traceback" not in captured.stdout
    assert not thread_server.requests and "_eval" not in shell.user_ns


def test_schema_and_json_scorers(shell, thread_server):
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int

    answers = {"Paris?": '```json\n{"name": "Paris", "population": 2100000}\n```',
               "Lima?": '{"name": "Lima", "population": "many"}', "Oslo?": "Oslo, about 700,000 people."}
    thread_server.responder = lambda r: Script(text=answers[r.prompt])
    shell.user_ns.update(City=City, qa=[{"input": q} for q in answers])
    fits = shell.run_line_magic("llm", "eval qa --models openai:gpt-4o --scorer schema:City")
    assert list(fits.rows["passed"]) == [True, False, False]
    assert "population" in fits.rows["reason"][1] and fits.scorer == "schema:City"
    parses = shell.run_line_magic("llm", "eval qa --models openai:gpt-4o --scorer json")
    assert list(parses.rows["passed"]) == [True, True, False]
    matched = shell.run_line_magic("llm", r"eval qa --models openai:gpt-4o --scorer regex:\d{3},\d{3}")
    assert list(matched.rows["passed"]) == [False, False, True]


def test_a_prompt_about_eval_is_still_a_prompt(shell, thread_server):
    thread_server.script(Script(text="It runs code."))
    result = shell.run_line_magic("llm", "openai:gpt-4o eval is what in Python?")
    assert result.text == "It runs code."
    result = shell.run_line_magic("llm", "eval is what in Python?")
    assert thread_server.last.prompt == "eval is what in Python?"
