"""Runs beyond the kernel: real `coditect-magics worker` processes (RQ) on a real redis-server, the real SDKs
calling the loopback provider server. A queued run returns at once and is fetched from a second process; a map
over 500 rows spreads over two workers; a worker killed with SIGKILL mid-job leaves its job to the other, and the
ledger still holds each call once; an orchestrated plan runs as dependent jobs; what cannot travel fails fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.agent_support import agent_file, write_agents
from tests.fakes import Script
from tests.queue_support import team, workers  # noqa: F401 - fixtures
from tests.queue_support import KEY, MODEL
from tests.waiting import wait_for

def ledger_rows(tmp_path: Path, **equals):
    from coditect_magics.costs import Ledger
    return Ledger(tmp_path / "ledger.sqlite3").rows(**equals)


@pytest.mark.timeout(180)
def test_a_queued_run_returns_at_once_and_a_second_process_fetches_its_result(team, workers, thread_server,
                                                                             redis_url, tmp_path):
    thread_server.script(Script(text="Queued answer.", delay=1.0, input_tokens=120, output_tokens=30))
    workers.start("w1")
    team.run_cell_magic("agent", "helper --queue", "Summarise the plan.")
    run = team.user_ns["_run"]
    assert run.state()["status"] in ("queued", "running") and not thread_server.requests, "it returned at once"
    assert run.wait(60), "the cell's watcher saw the run end"
    shown = team.user_ns["_llm"]
    assert shown.text == "Queued answer." and shown.usage.input_tokens == 120 and shown.cost > 0
    state = run.state()
    assert state["status"] == "done" and state["steps"] == 1 and state["output_tokens"] == 30
    sent = thread_server.last
    assert sent.body["messages"][0]["content"] == "You help."
    assert sent.body["messages"][-1]["content"] == "Summarise the plan."
    rows = ledger_rows(tmp_path, run_id=run.run_id)
    assert [(r.status, r.agent) for r in rows] == [("ok", "helper")]

    second = subprocess.run(
        [sys.executable, "-c", "from IPython.core.interactiveshell import InteractiveShell\n"
         "ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'coditect_magics')\n"
         f"print('ANSWER', ip.run_line_magic('agent', 'result {run.run_id[:10]}').text)\n"
         "print(ip.run_line_magic('agent', 'runs')[['kind', 'agent', 'status', 'steps']].to_string())"],
        env={**os.environ, "CODITECT_REDIS_URL": redis_url}, capture_output=True, text=True, timeout=60)
    assert "ANSWER Queued answer." in second.stdout, second.stderr
    assert "agent  helper   done      1" in second.stdout

    import redis
    stored = redis.Redis.from_url(redis_url)
    for key in stored.keys("*"):
        kind = stored.type(key).decode()
        values = {"string": lambda: [stored.get(key)], "hash": lambda: list(stored.hgetall(key).values()),
                  "list": lambda: stored.lrange(key, 0, -1), "zset": lambda: stored.zrange(key, 0, -1),
                  "set": lambda: list(stored.smembers(key))}.get(kind, lambda: [])()
        assert not any(KEY.encode() in (v or b"") for v in values), f"the key travelled in {key!r}"


@pytest.mark.timeout(180)
def test_a_worker_without_the_key_fails_the_run_naming_the_variable(team, workers, thread_server, redis_url):
    import redis
    from rq.job import Job
    news = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    news.psubscribe("coditect:run:*:events")
    workers.start("keyless", key=False)
    team.run_cell_magic("agent", "helper --queue", "Anything.")
    run = team.user_ns["_run"]
    assert run.wait(60)
    state = run.state()
    assert state["status"] == "failed" and "OPENAI_API_KEY" in state["error"]
    # a failure that would come back the same is not tried again: RQ's retry would show the run running again
    job = Job.fetch(state["result_job"], connection=redis.Redis.from_url(redis_url))
    wait_for(lambda: job.get_status(refresh=True) == "failed", timeout=30)
    messages = [news.get_message(timeout=0.1) for _ in range(30)]  # what was announced is buffered: read it all
    said = [json.loads(m["data"])["what"] for m in messages if m]
    assert said.count("running") == 1 and said[-1] == "failed", said
    from IPython.utils.capture import capture_output
    with capture_output() as captured:
        team.run_line_magic("agent", f"result {run.run_id}")
    assert "OPENAI_API_KEY" in captured.stderr and "Traceback" not in captured.stderr
    assert not thread_server.requests


def test_a_notebook_function_cannot_travel_and_nothing_is_queued(team, redis_url):
    from IPython.utils.capture import capture_output
    team.run_cell("def lookup(word: str) -> str:\n    'Look a word up.'\n    return word")
    with capture_output() as captured:
        team.run_cell_magic("agent", "helper --queue --tools lookup", "Look up tides.")
    assert "_run" not in team.user_ns
    assert "lookup is defined in the notebook" in captured.stderr and "from mytools import lookup" in captured.stderr
    import redis
    assert redis.Redis.from_url(redis_url).zcard("coditect:runs") == 0


def rows_answered(recorded) -> Script:
    text = recorded.prompt.rsplit("\n", 1)[-1]
    return Script(text=f"tag:{text.upper()}", input_tokens=20, output_tokens=4)


@pytest.mark.timeout(300)
def test_map_over_500_rows_on_two_workers(team, workers, thread_server, tmp_path):
    import pandas as pd
    from rq import Worker
    thread_server.responder = rows_answered
    workers.start("w1")
    workers.start("w2")
    team.user_ns["df"] = pd.DataFrame({"text": [f"row {n}" for n in range(500)], "n": range(500)},
                                      index=[f"r{n}" for n in range(500)])
    out = team.run_line_magic("agent", "map tagger df --column text --out tag --queue --chunk 50")
    assert list(out.columns) == ["text", "n", "tag", "tag_status"] and list(out.index) == list(
        team.user_ns["df"].index)
    assert (out["tag"] == "tag:" + out["text"].str.upper()).all() and (out["tag_status"] == "ok").all()
    done = {w.name: w.successful_job_count for w in Worker.all(connection=team.user_ns["_run"].client.redis)}
    assert done["w1"] > 0 and done["w2"] > 0 and done["w1"] + done["w2"] == 10
    rows = ledger_rows(tmp_path, run_id=team.user_ns["_run"].run_id)
    assert len(rows) == 500 and len({r.call_id for r in rows}) == 500 and {r.status for r in rows} == {"ok"}
    state = team.user_ns["_run"].state()
    assert state["status"] == "done" and state["rows_done"] == 500 and state["input_tokens"] == 500 * 20


def test_map_in_the_kernel_keeps_going_past_a_failed_row(team, thread_server):
    import pandas as pd

    def answer(recorded):
        if recorded.prompt.endswith("row 3"):
            return Script(status=400, error_message="row three is refused")
        return rows_answered(recorded)

    thread_server.responder = answer
    team.user_ns["df"] = pd.DataFrame({"text": [f"row {n}" for n in range(12)]})
    out = team.run_line_magic("agent", "map tagger df --column text --concurrency 4")
    assert out.loc[0, "tagger_answer"] == "tag:ROW 0" and out.loc[11, "tagger_answer"] == "tag:ROW 11"
    assert out.loc[3, "tagger_answer"] is None and "row three is refused" in out.loc[3, "tagger_answer_status"]
    assert (out.drop(index=3)["tagger_answer_status"] == "ok").all()


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_job_leaves_it_to_another_and_no_call_is_charged_twice(team, workers, thread_server,
                                                                                   tmp_path):
    import pandas as pd
    from rq import Worker

    def slow(recorded):
        return Script(text=rows_answered(recorded).text, delay=0.25, input_tokens=20, output_tokens=4)

    thread_server.responder = slow
    workers.start("doomed")
    team.user_ns["df"] = pd.DataFrame({"text": [f"row {n}" for n in range(40)]})
    # one chunk, two rows at a time: about 5 s of work for the doomed worker alone
    line = "map tagger df --column text --out tag --queue --chunk 40 --concurrency 2"
    import threading
    result: dict = {}
    mapping = threading.Thread(target=lambda: result.setdefault("out", team.run_line_magic("agent", line)))
    mapping.start()
    deadline = time.monotonic() + 60
    while len(thread_server.requests) < 12:
        assert time.monotonic() < deadline, "the doomed worker never got going"
        time.sleep(0.05)
    workers.kill("doomed")
    killed_at = time.monotonic()
    workers.start("rescuer")
    mapping.join(120)
    assert not mapping.is_alive(), "the run finished after the kill"
    took = time.monotonic() - killed_at
    out = result["out"]
    assert (out["tag"] == "tag:" + out["text"].str.upper()).all() and (out["tag_status"] == "ok").all()
    rows = [r for r in ledger_rows(tmp_path) if r.status == "ok"]
    assert len(rows) == 40 and len({r.call_id for r in rows}) == 40, "each call charged once"
    # the rows the first worker finished were not asked again: at most the two in flight at the kill were
    assert len(thread_server.requests) <= 40 + 2
    state = team.user_ns["_run"].state()
    assert state["rows_done"] == 40 and state["steps"] == 40 and state["input_tokens"] == 40 * 20, \
        "replayed rows are not counted twice in the run either"
    assert took < 6 + 30, f"the abandoned job was taken over within a bounded time ({took:.1f} s)"
    print(f"killed worker's job finished by the rescuer {took:.1f} s after the kill; the server saw "
          f"{len(thread_server.requests)} requests for 40 rows; the ledger holds {len(rows)} ok rows")
    rescuer = {w.name: w for w in Worker.all(connection=team.user_ns["_run"].client.redis)}["rescuer"]
    assert rescuer.successful_job_count == 1


@pytest.mark.timeout(240)
def test_an_orchestrated_plan_runs_as_dependent_jobs(team, workers, thread_server, redis_url):
    plan = {"goal": "Report on tides.", "steps": [
        {"id": "a", "agent": "finder", "task": "Find tide facts.", "depends_on": []},
        {"id": "b", "agent": "finder", "task": "Find tide numbers.", "depends_on": []},
        {"id": "c", "agent": "scribe", "task": "Write a paragraph.", "depends_on": ["a", "b"]}]}

    def answer(recorded):
        if "Agents you may use" in recorded.prompt:
            return Script(text=json.dumps(plan))
        if "Step results" in recorded.prompt:
            return Script(text="Report: tides rise twice a day.")
        return Script(text=f"done: {recorded.prompt.splitlines()[0]}")

    thread_server.responder = answer
    workers.start("w1")
    workers.start("w2")
    team.run_cell_magic("orchestrate", "--queue --agents finder,scribe", "Report on tides.")
    run = team.user_ns["_run"]
    assert run.wait(120)
    assert team.user_ns["_llm"].text == "Report: tides rise twice a day."
    from rq.job import Job
    import redis
    connection = redis.Redis.from_url(redis_url)
    step_c = Job.fetch(f"{run.run_id}-c", connection=connection)
    assert set(step_c.dependency_ids) == {f"{run.run_id}-a", f"{run.run_id}-b"}
    scribe = [r for r in thread_server.requests if r.prompt.startswith("Write a paragraph.")]
    assert len(scribe) == 1 and "### a (finder)\ndone: Find tide facts." in scribe[0].prompt
    assert "### b (finder)\ndone: Find tide numbers." in scribe[0].prompt
    state = run.state()
    assert state["status"] == "done" and state["steps"] == 5  # plan, a, b, c, answer
    shown = team.user_ns["_llm"]
    assert (shown.usage.input_tokens, shown.usage.output_tokens) == (state["input_tokens"], state["output_tokens"])
    assert shown.usage.input_tokens == sum(r.body and 11 for r in thread_server.requests)  # the script's 11 each


@pytest.mark.timeout(180)
def test_a_tool_from_an_importable_module_runs_on_the_worker(team, workers, thread_server, tmp_path, monkeypatch):
    (tmp_path / "mytools.py").write_text('def shout(word: str) -> str:\n    """Shout a word."""\n'
                                         "    return word.upper() + '!'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert team.run_cell("from mytools import shout").success
    thread_server.script(Script(text="", tool_calls=[{"id": "call_1", "name": "shout", "arguments": {"word": "tide"}}]),
                         Script(text="It said TIDE!"))
    workers.start("w1")  # its working directory is the project, so it imports mytools as the notebook did
    team.run_cell_magic("agent", "helper --queue --tools shout", "Shout tide.")
    run = team.user_ns["_run"]
    assert run.wait(60)
    assert team.user_ns["_llm"].text == "It said TIDE!"
    offered, answered = (r.body for r in thread_server.requests)
    assert [t["function"]["name"] for t in offered["tools"]] == ["shout"]
    assert answered["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "TIDE!"}
    assert run.state()["steps"] == 2 and [c.tool for c in team.user_ns["_trace"].tool_calls] == ["shout"]


def test_without_a_redis_queued_runs_say_which_variable_turns_them_on(shell, tmp_path, monkeypatch):
    from IPython.utils.capture import capture_output
    monkeypatch.delenv("CODITECT_REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    write_agents(tmp_path / ".claude" / "agents", {"helper": agent_file("helper", MODEL, "[]", "You help.")})
    with capture_output() as captured:
        shell.run_cell_magic("agent", "helper --queue", "Anything.")
        shell.run_line_magic("agent", "runs")
    lines = [line for line in captured.stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and all("CODITECT_REDIS_URL" in line for line in lines), captured.stderr
    assert "Traceback" not in captured.stderr


@pytest.mark.timeout(180)
def test_a_cancelled_run_stops_at_its_next_step_and_a_waiting_one_never_starts(team, workers, thread_server,
                                                                              tmp_path):
    from IPython.utils.capture import capture_output
    (tmp_path / "notes.md").write_text("tides\n")
    thread_server.responder = lambda recorded: Script(
        text="", delay=0.4, tool_calls=[{"id": f"call_{len(thread_server.requests)}", "name": "Glob",
                                         "arguments": {"pattern": "*.md"}}])
    team.run_cell_magic("agent", "helper --queue", "Wait for me.")  # no worker yet: it waits in Redis
    waiting = team.user_ns["_run"]
    with capture_output() as captured:
        team.run_line_magic("agent", f"cancel {waiting.run_id[:8]}")
    assert "cancelled" in captured.stdout and waiting.state()["status"] == "cancelled"
    assert waiting.wait(30)

    workers.start("w1")
    team.run_cell_magic("agent", "helper --queue --tools Glob", "Look around, forever.")
    looping = team.user_ns["_run"]
    deadline = time.monotonic() + 60
    while looping.state()["steps"] < 2:
        assert time.monotonic() < deadline, "the looping run never got going"
        time.sleep(0.05)
    team.run_line_magic("agent", f"cancel {looping.run_id}")
    assert looping.wait(30)
    asked_at_cancel = len(thread_server.requests)
    time.sleep(1.5)
    state = looping.state()
    assert state["status"] == "cancelled" and state["steps"] <= 4
    assert len(thread_server.requests) == asked_at_cancel <= 4, "no call after the one in flight at the cancel"
    prompts = [r.prompt for r in thread_server.requests]
    assert "Wait for me." not in prompts, "the waiting run never started"
    from coditect_magics.workers.runs import RunFailed
    with pytest.raises(RunFailed, match="was cancelled"):
        looping.result()


@pytest.mark.timeout(240)
def test_an_agent_delegated_on_a_worker_gets_memory_from_the_team_store(team, workers, thread_server, chroma_server,
                                                                        local_embedder, monkeypatch, tmp_path):
    from coditect_magics.memory import Memory
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CODITECT_CHROMA_URL", f"http://{chroma_server}")  # the worker started below has it too
    Memory().add("The tide report is due on Friday the 14th.", source="team-notes")
    write_agents(tmp_path / ".claude" / "agents", {"lead": agent_file("lead", MODEL, "Task", "You lead.")})

    def answer(recorded):
        turns = recorded.body["messages"]
        if turns[0]["content"].startswith("You write."):
            return Script(text="Friday the 14th.")
        if any(turn["role"] == "tool" for turn in turns):
            return Script(text="Due on Friday the 14th.")
        return Script(text="", tool_calls=[{"id": "call_1", "name": "Task", "arguments": {
            "description": "ask the scribe", "prompt": "When is the tide report due?", "subagent_type": "scribe"}}])

    thread_server.responder = answer
    workers.start("w1")
    team.run_cell_magic("agent", "lead --queue --tools Task", "Ask the scribe when the tide report is due.")
    run = team.user_ns["_run"]
    assert run.wait(120) and team.user_ns["_llm"].text == "Due on Friday the 14th."
    scribe = [r.body["messages"][0]["content"] for r in thread_server.requests
              if r.body["messages"][0]["content"].startswith("You write.")]
    assert len(scribe) == 1 and "<<<MEMORY" in scribe[0]
    assert "The tide report is due on Friday the 14th. (source: team-notes)" in scribe[0]
