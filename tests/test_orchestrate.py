"""The orchestrator through the real SDKs on loopback: a plan asked for as JSON and validated (re-asked with the
problems), a diamond of dependencies run in order with each step given its dependencies' results, independent
steps at once, a failing step skipping only its dependents, edited plans checked again, and the final answer."""

from __future__ import annotations

import json

import pytest

from coditect_magics.agents import resolve_agent
from coditect_magics.agents.orchestrate import Orchestrator, PlanError, PlanReady
from coditect_magics.agents.plan import Plan, as_plan
from coditect_magics.agents.runner import Runner
from tests.fakes import Script
from tests.agent_support import executor, servers  # noqa: F401 - fixtures
from tests.agent_support import LEAD_MODEL, agent_file, stamped, write_agents

DIAMOND = {"goal": "Write a short report on tides.", "steps": [
    {"id": "t1", "agent": "researcher", "task": "Collect facts on tides.", "depends_on": []},
    {"id": "t2", "agent": "writer", "task": "Draft the introduction.", "depends_on": ["t1"]},
    {"id": "t3", "agent": "researcher", "task": "Find numbers on tidal ranges.", "depends_on": ["t1"]},
    {"id": "t4", "agent": "writer", "task": "Combine into the report.", "depends_on": ["t2", "t3"]}]}


@pytest.fixture
def team(tmp_path):
    return write_agents(tmp_path / "agents", {
        "orchestrator": agent_file("orchestrator", LEAD_MODEL, "Agent", "You coordinate specialist agents."),
        "researcher": agent_file("researcher", "ollama:llama3.2", "[]", "You research."),
        "writer": agent_file("writer", "ollama:llama3.2", "[]", "You write."),
    })


def first_line(prompt: str) -> str:
    return prompt.splitlines()[0]


async def test_a_diamond_plan_runs_in_order_with_its_inputs(servers, executor, team):
    lead, specialists, _ = servers
    await executor.run("ollama:llama3.2", "warm up")
    specialists.requests.clear()
    bad = {"steps": [{"id": "t1", "agent": "historian", "task": "Collect facts on tides.", "depends_on": ["t9"]}]}
    lead.script(Script(text=f"Here is the plan:\n```json\n{json.dumps(bad)}\n```"),
                Script(text=json.dumps(DIAMOND)), Script(text="Tides: a report."))
    seen = stamped(specialists, lambda r: Script(text=f"result of {first_line(r.prompt)}"))
    events = []
    orchestrator = Orchestrator(Runner(executor, agents=team), resolve_agent(team.get("orchestrator")))
    done = await orchestrator.run("Write a short report on tides.", on_event=events.append)

    asked, again, final = (r.body for r in lead.requests)
    assert '"depends_on"' in asked["system"] and "You coordinate specialist agents." in asked["system"]
    offered = asked["messages"][0]["content"]
    assert "- researcher: The researcher agent." in offered and "- orchestrator" not in offered
    problems = again["messages"][-1]["content"]
    assert problems.startswith("That plan is not valid:")
    assert "there is no agent 'historian'" in problems and "depends on t9, which is not a step" in problems
    ready = [e for e in events if isinstance(e, PlanReady)]
    assert len(ready) == 1 and ready[0].attempts == 2 and ready[0].plan == done.plan

    order = [first_line(prompt) for _, prompt in seen]
    assert order[0] == "Collect facts on tides." and order[-1] == "Combine into the report."
    assert set(order[1:3]) == {"Draft the introduction.", "Find numbers on tidal ranges."}
    assert abs(seen[1][0] - seen[2][0]) < 0.3, "t2 and t3 need only t1: they run together"
    prompts = {first_line(p): p for _, p in seen}
    assert "### t1 (researcher)\nresult of Collect facts on tides." in prompts["Draft the introduction."]
    combined = prompts["Combine into the report."]
    assert "### t2 (writer)\nresult of Draft the introduction." in combined
    assert "### t3 (researcher)\nresult of Find numbers on tidal ranges." in combined and "### t1" not in combined
    assert "### t4 (writer) — done\nresult of Combine into the report." in final["messages"][-1]["content"]
    assert (done.status, done.text) == ("done", "Tides: a report.")
    assert [(s.id, s.status) for s in done.steps] == [("t1", "done"), ("t2", "done"), ("t3", "done"), ("t4", "done")]

    tree = done.trace
    assert tree.agent == "orchestrator" and [c.agent for c in tree.children] == ["researcher", "writer", "researcher",
                                                                                 "writer"]
    assert tree.steps == 3 and len(tree.call_ids) == 3
    _, rows = executor.ledger.query("SELECT agent, parent_call_id FROM calls WHERE run_id = ?", (tree.run_id,))
    planning_call = tree.call_ids[1]  # the second try gave the plan the steps ran
    assert sorted(a for a, _ in rows) == ["orchestrator"] * 3 + ["researcher"] * 2 + ["writer"] * 2
    assert {p for a, p in rows if a != "orchestrator"} == {planning_call}


async def test_a_failing_step_skips_only_its_dependents(servers, executor, team):
    lead, specialists, _ = servers
    lead.script(Script(text=json.dumps(DIAMOND)), Script(text="Partial report."))
    stamped(specialists, lambda r: Script(status=400, error_message="no such model")
            if r.prompt.startswith("Draft") else Script(text=f"result of {first_line(r.prompt)}"))
    orchestrator = Orchestrator(Runner(executor, agents=team), resolve_agent(team.get("orchestrator")))
    done = await orchestrator.run("Write a short report on tides.")
    statuses = {s.id: s.status for s in done.steps}
    assert statuses == {"t1": "done", "t2": "failed", "t3": "done", "t4": "skipped"}
    skipped = next(s for s in done.steps if s.id == "t4")
    assert skipped.note == "skipped because t2 failed"
    assert "no such model" in next(s for s in done.steps if s.id == "t2").note
    final = lead.last.body["messages"][-1]["content"]
    assert "### t4 (writer) — skipped: skipped because t2 failed" in final and "### t3 (researcher) — done" in final
    assert done.status == "partial" and done.text == "Partial report." and "t4 skipped" in done.trace.note
    assert [c.status for c in done.trace.children] == ["done", "failed", "done", "skipped"]


async def test_no_valid_plan_after_the_retries_is_a_clear_error(servers, executor, team):
    lead = servers[0]
    lead.script(Script(text="I would rather chat."), Script(text="{\"steps\": []}"), Script(text="{"))
    orchestrator = Orchestrator(Runner(executor, agents=team), resolve_agent(team.get("orchestrator")), retries=2)
    with pytest.raises(PlanError, match="no valid plan in 3 tries; last problems: the reply is not JSON"):
        await orchestrator.plan("Anything.", agents=["researcher"])
    assert "steps: List should have at least 1 item" in lead.requests[2].body["messages"][-1]["content"]


def test_an_edited_plan_is_checked_again_and_tables_read_back():
    plan = Plan.model_validate(DIAMOND)
    assert plan.waves() == [["t1"], ["t2", "t3"], ["t4"]]
    table = plan.to_frame()
    table.loc[3, "depends_on"] = "t2"
    table.attrs["goal"] = plan.goal
    edited = as_plan(table)
    assert edited.step("t4").depends_on == ["t2"] and edited.goal == plan.goal
    plan.steps[0].depends_on.append("t4")
    with pytest.raises(ValueError, match="cycle among t1, t2, t3, t4"):
        as_plan(plan)
    with pytest.raises(ValueError, match="there is no agent 'writer'"):
        as_plan(DIAMOND, {"agents": {"researcher"}})
    legacy = as_plan({"tasks": [{"id": "a", "agent": "x", "prompt": "p"}]})  # the older shipped format
    assert legacy.steps[0].task == "p" and "| a | x | p | — |" in legacy._repr_markdown_()


async def test_independent_steps_start_together(servers, executor, team):
    lead, specialists, _ = servers
    await executor.run("ollama:llama3.2", "warm up")
    plan = as_plan({"goal": "g", "steps": [{"id": f"s{i}", "agent": "researcher", "task": f"Part {i}."}
                                           for i in range(3)]})
    lead.script(Script(text="All parts."))
    seen = stamped(specialists, lambda r: Script(text="ok"))
    done = await Orchestrator(Runner(executor, agents=team), resolve_agent(team.get("orchestrator"))).execute(plan)
    assert done.status == "done" and len(seen) == 3
    # each reply takes the server 0.3 s: all three arriving within it means no step waited for another
    assert max(t for t, _ in seen) - min(t for t, _ in seen) < 0.3



# -- the magic -------------------------------------------------------------------------------------------------------
def test_orchestrate_magic_plans_lets_the_plan_be_edited_and_runs_it(shell, thread_server, tmp_path, monkeypatch):
    from IPython.utils.capture import capture_output
    monkeypatch.chdir(tmp_path)
    write_agents(tmp_path / ".claude" / "agents", {
        "finder": agent_file("finder", "ollama:llama3.2", "[]", "You find facts."),
        "scribe": agent_file("scribe", "ollama:llama3.2", "[]", "You write.")})
    plan = {"goal": "Report on tides.", "steps": [
        {"id": "a", "agent": "finder", "task": "Find tide facts.", "depends_on": []},
        {"id": "b", "agent": "scribe", "task": "Write a paragraph.", "depends_on": ["a"]}]}

    def answer(recorded):
        if recorded.path == "/v1/messages":
            return Script(text="Report: tides." if "Step results" in recorded.prompt else json.dumps(plan))
        return Script(text=f"done: {first_line(recorded.prompt)}")

    thread_server.responder = answer
    shown = shell.run_cell_magic("orchestrate", "--plan-only -o my_plan --agents finder,scribe", "Report on tides.")
    assert shown is shell.user_ns["my_plan"] is shell.user_ns["_plan"]
    assert "| b | scribe | Write a paragraph. | a |" in shown._repr_markdown_()
    assert "- finder: The finder agent." in thread_server.last.body["messages"][0]["content"]
    assert len(thread_server.requests) == 1, "a plan only: nothing ran"

    shell.user_ns["my_plan"].steps[1].task = "Write one short paragraph."
    with capture_output() as captured:
        result = shell.run_line_magic("orchestrate", "run my_plan")
    assert result.text == "Report: tides." and result.status == "ok"
    scribe = [r for r in thread_server.requests if r.prompt.startswith("Write one short paragraph.")]
    assert len(scribe) == 1 and "### a (finder)\ndone: Find tide facts." in scribe[0].prompt
    log = [o.data["text/html"] for o in captured.outputs if "coditect-run" in o.data.get("text/html", "")][-1]
    assert "→ <b>finder</b>" in log and "← <b>scribe</b> done" in log
    trace = shell.user_ns["_trace"]
    assert trace.agent == "orchestrator" and [c.agent for c in trace.children] == ["finder", "scribe"]
    by_agent = shell.run_line_magic("llm", "costs --by agent")
    assert list(by_agent.index) == ["finder", "orchestrator", "scribe"]

    shell.user_ns["my_plan"].steps[0].agent = "nobody"
    with capture_output() as captured:
        shell.run_line_magic("orchestrate", "run my_plan")
    assert "my_plan is not a plan that can run" in captured.stderr and "no agent 'nobody'" in captured.stderr
