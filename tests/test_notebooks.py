"""The example notebooks, executed headless with nbclient in a real kernel against the loopback servers."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from coditect_magics.providers.registry import ALIASES

from tests import parts
from tests.fakes import Script
from tests.notebook_support import NOTEBOOKS, cell_with, execute, run_cells, text_of

def test_quickstart(everywhere, tmp_path):
    notebook = execute("quickstart.ipynb", tmp_path)
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert "| openai | yes |" in text_of(cell_with(notebook, "%llm list"))
    closure = text_of(cell_with(notebook, "%llm What is a closure"))
    assert "You asked: What is a closure in Python?" in closure and "40 in / 12 out" in closure
    followed = [r.body["messages"] for r in everywhere.requests
                if r.prompt == "Show one with a three-line code example."]
    assert len(followed) == 1 and "What is a closure in Python?" in str(followed[0]), "-c sends the earlier turns"
    remembered = text_of(cell_with(notebook, "%memory search"))
    assert "What is a closure in Python?" in remembered and "#cell" in remembered
    kept = text_of(cell_with(notebook, "answer.text"))
    assert "You asked: Explain Python generators" in kept
    assert "You asked: List 3 uses of Python decorators, one line each." in text_of(
        cell_with(notebook, "%llm List {count}"))
    assert 'You asked: Fill in and return only this JSON: {"language": "Python", "uses": 3}' in text_of(
        cell_with(notebook, "%llm Fill in"))
    table = [r for r in everywhere.requests if r.prompt.startswith("Which month had the best margin?")]
    assert len(table) == 1 and "4 rows × 3 columns" in table[0].prompt and "| Apr | 160 | 95 |" in table[0].prompt
    charts = [r for r in everywhere.requests if "What trend does this chart show?" in str(r.body)]
    images = [b for r in charts for m in r.body.get("messages", []) if isinstance(m.get("content"), list)
              for b in m["content"] if b.get("type") == "image"]
    assert len(images) == 1 and images[0]["source"]["media_type"] == "image/png"
    assert base64.b64decode(images[0]["source"]["data"]).startswith(b"\x89PNG")
    compared = text_of(cell_with(notebook, "%llm --compare all"))
    for provider in ("anthropic:", "openai:", "gemini:", "ollama:", "lmstudio:", "huggingface:"):
        assert provider in compared
    assert "gemini" in text_of(cell_with(notebook, "%llm costs --by model"))
    systems = [r.body.get("system") for r in everywhere.requests if r.path == "/v1/messages"]
    assert any(s and "terse teacher" in str(s) for s in systems)


@pytest.mark.timeout(600)
def test_main_job_runs_the_quickstart_on_the_embedded_model(tmp_path, local_model):
    """The README's first command, with no key and no server: the quickstart runs on local:smollm2."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL", "_TOKEN"))}
    env.update(OLLAMA_HOST="http://127.0.0.1:9", LMSTUDIO_BASE_URL="http://127.0.0.1:9/v1")
    done = subprocess.run([sys.executable, "-m", "coditect_magics", "quickstart", "--out", str(tmp_path / "out")],
                          cwd=NOTEBOOKS.parent, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 errors" in done.stdout and "from local:smollm2" in done.stdout
    assert "without encryption" not in done.stdout + done.stderr, "the kernel runs over IPC, not TCP"
    assert "WARNING" not in done.stderr, done.stderr
    html = (tmp_path / "out" / "quickstart.html").read_text()
    assert "local:smollm2" in html and "What is a closure" in html


def acting(recorded) -> Script:
    """The agents notebook's models on Anthropic's protocol: call its tools, delegate and plan; otherwise echo."""
    body = recorded.body if isinstance(recorded.body, dict) else {}
    if recorded.path != "/v1/messages":
        return Script(text=f"You asked: {recorded.prompt}", input_tokens=40, output_tokens=12)
    turns = body.get("messages", [])
    first = next((m["content"] for m in turns if isinstance(m["content"], str)), "")
    last = turns[-1]["content"] if turns else ""
    results = [b["content"] for b in last if b.get("type") == "tool_result"] if isinstance(last, list) else []
    system = str(body.get("system", ""))
    plan = {"goal": "Closures", "steps": [
        {"id": "t1", "agent": "explainer", "task": "Explain closures with one example.", "depends_on": []},
        {"id": "t2", "agent": "code-reviewer", "task": "Review the example.", "depends_on": ["t1"]}]}
    if "Answer with the plan as one JSON object" in system:
        return Script(text=json.dumps(plan))
    if "The plan has run." in system:
        return Script(text="Combined: closures explained and reviewed.")
    calls = {"How many words": [{"id": "toolu_wc", "name": "word_count", "arguments": {"text": "the quick brown fox"}}],
             "sales": [{"id": "toolu_pf", "name": "profile_frame", "arguments": {"name": "sales"}}],
             "Explain generators and decorators": [
                 {"id": f"toolu_{n}", "name": "Agent", "arguments": {"description": n, "prompt": f"Explain {n}.",
                                                                     "subagent_type": "explainer"}}
                 for n in ("generators", "decorators")]}
    wanted = next((v for k, v in calls.items() if first.startswith(k)), None)
    if wanted and not results:
        return Script(text="", tool_calls=wanted)
    if wanted:
        return Script(text="Tool results: " + " | ".join(results))
    return Script(text=f"You asked: {recorded.prompt}", input_tokens=40, output_tokens=12)


def test_agents_notebook(everywhere, tmp_path):
    everywhere.responder = acting
    notebook = execute("agents.ipynb", tmp_path)
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert "| code-reviewer |" in text_of(cell_with(notebook, "%agent list"))
    assert "You asked: Explain list comprehensions." in text_of(cell_with(notebook, "%%agent explainer"))
    assert "You asked: Review this function:" in text_of(cell_with(notebook, "%%agent code-reviewer"))
    assert "You asked: Give a one-sentence summary of Python's GIL." in text_of(cell_with(notebook, "%cmd tldr"))
    by_agent = text_of(cell_with(notebook, "%llm costs --by agent"))
    assert "explainer" in by_agent and "code-reviewer" in by_agent
    assert "lead" in by_agent and "orchestrator" in by_agent
    counted = text_of(cell_with(notebook, "%%llm anthropic:claude-sonnet-4-6 --tools word_count"))
    assert "Tool results: 4" in counted and "<code>word_count</code>" in counted
    profiled = text_of(cell_with(notebook, "%skill run data-profiling"))
    assert "<code>profile_frame</code>" in profiled and "shape: 3 rows x 2 columns" in profiled
    delegated = text_of(cell_with(notebook, "%%agent lead"))
    assert delegated.count("→ <b>explainer</b>") == 2
    assert "Tool results: You asked: Explain generators. | You asked: Explain decorators." in delegated
    tree = text_of(cell_with(notebook, "_trace.to_frame()"))
    assert "<td>lead</td>" in tree and tree.count("<td>explainer</td>") == 2
    assert "| t2 | code-reviewer | Review the example. | t1 |" in text_of(cell_with(notebook, "%%orchestrate"))
    ran = text_of(cell_with(notebook, "plan.steps[1].task"))
    assert "Combined: closures explained and reviewed." in ran and "← <b>code-reviewer</b> done" in ran
    reviewed = [r.prompt for r in everywhere.requests if r.prompt.startswith("Review the example.")]
    assert len(reviewed) == 1 and "Keep the review to three bullet points." in reviewed[0]
    assert "### t1 (explainer)\nYou asked: Explain closures with one example." in reviewed[0]
    explainer = [r.body for r in everywhere.requests if r.prompt == "Explain list comprehensions."]
    assert len(explainer) == 1, [r.prompt for r in everywhere.requests]
    assert "You explain Python ideas" in str(explainer[0]["system"]) and explainer[0]["max_tokens"] == 200
    reviewer = [r for r in everywhere.requests if r.prompt.startswith("Review this function")]
    assert reviewer[0].path == "/v1/messages" and "anthropic:" + reviewer[0].body["model"] == ALIASES["sonnet"]


def test_saved_outputs_carry_provenance_and_errors_their_details(everywhere, tmp_path):
    """A saved notebook says what produced each reply; a failed call is one line, with the SDK's story folded."""
    everywhere.script(Script(text="Fine.", input_tokens=1000, output_tokens=500),
                      Script(status=401, error_message="invalid api key", echo_key=True))
    notebook = run_cells(["%load_ext coditect_magics\n%config CoditectMagics.remember = False",
                          "%llm openai:gpt-4o How are you?", "%llm openai:gpt-4o Again?",
                          "%config CoditectMagics.footer = False\n%llm openai:gpt-4o Quietly?"], tmp_path)
    reply = [o for o in notebook.cells[1].outputs if "coditect" in o.get("metadata", {})]
    assert len(reply) == 1
    meta = reply[0].metadata["coditect"]
    assert (meta["provider"], meta["model"], meta["input_tokens"], meta["output_tokens"]) == ("openai", "gpt-4o", 1000, 500)
    assert meta["cost_usd"] > 0 and meta["latency_s"] > 0 and meta["status"] == "ok" and meta["time"].endswith("Z")
    assert "1000 in / 500 out" in text_of(notebook.cells[1])
    failed = notebook.cells[2].outputs
    assert not [o for o in failed if o.output_type == "error"], "no traceback"
    lines = [o.text for o in failed if o.output_type == "stream" and o.name == "stderr"]
    assert len(lines) == 1 and lines[0].startswith("coditect: openai:gpt-4o:") and lines[0].count("\n") == 1
    folded = [o.data["text/html"] for o in failed if "text/html" in o.get("data", {})]
    assert len(folded) == 1 and folded[0].startswith("<details>") and "AuthenticationError" in folded[0]
    assert "status_code=401" in folded[0] and "sk-nb-test-1" not in folded[0] and "sk-nb-test-1" not in lines[0]
    quiet = text_of(notebook.cells[3])
    assert "You asked: Quietly?" in quiet and " in / " not in quiet, "footer off"
    assert any("coditect" in o.get("metadata", {}) for o in notebook.cells[3].outputs), "provenance stays"


def test_panels_notebook_opens_every_panel(everywhere, tmp_path):
    parts.module("ipywidgets", "pip install -e '.[dev]' (the widgets extra)")
    notebook = execute("panels.ipynb", tmp_path)
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    for start in ("%llm panel", "%llm compare-panel", "%llm costs --panel", "%memory panel", "%agent panel",
                  "from coditect_magics import widgets"):
        outputs = cell_with(notebook, start).outputs
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), start
    assert "You asked: Review this line" in text_of(cell_with(notebook, "%agent code-reviewer"))


@pytest.mark.timeout(300)
def test_team(everywhere, redis_url, tmp_path, monkeypatch):
    from tests.queue_support import Workers
    monkeypatch.setenv("CODITECT_REDIS_URL", redis_url)
    workers = Workers(redis_url, tmp_path)
    workers.start("nb-worker")
    try:
        notebook = execute("team.ipynb", tmp_path)
    finally:
        workers.stop()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    queued = text_of(cell_with(notebook, "%%agent tagger --queue"))
    assert "You asked: My invoice was charged twice this month." in queued, "the worker's answer replaced the line"
    assert "openai:gpt-4o-mini" in queued and "queued run" not in queued
    assert "('done', 'You asked: My invoice was charged twice this month.')" in text_of(cell_with(notebook, "_run.wait"))
    runs = text_of(cell_with(notebook, "%agent runs"))
    assert "tagger" in runs and "done" in runs
    tagged = text_of(cell_with(notebook, "import pandas"))
    assert "You asked: Login fails with 2FA." in tagged and "topic_status" in tagged
