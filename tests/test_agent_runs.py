"""Agents that act, through the real SDKs against loopback servers: delegation with Task/Agent (concurrent siblings
seen in the servers' own receive times, per-agent ledger rows, the trace tree), the depth and budget limits on a
runaway delegation, skills loaded on demand with their tools, the permission rules, and a collection of public-style
Claude Code agent files whose `tools:` all resolve or are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from coditect_magics.agents import AgentLibrary, SkillLibrary, resolve_agent
from coditect_magics.agents.runner import AgentEvent, Limits, Runner, RunFinished, RunStarted
from coditect_magics.costs import costs
from tests.agent_support import executor, servers  # noqa: F401 - fixtures
from tests.agent_support import LEAD_MODEL, agent_file, call, stamped, write_agents
from tests.fakes import Script

COLLECTION = Path(__file__).parent / "data" / "agents" / "collection"


@pytest.fixture
def team(tmp_path) -> AgentLibrary:
    return write_agents(tmp_path / "agents", {
        "lead": agent_file("lead", LEAD_MODEL, "Agent", "You lead a team."),
        "researcher": agent_file("researcher", "ollama:llama3.2", "Read, WebSearch"),
        "writer": agent_file("writer", "openai:gpt-4o-mini", "[]"),
        "looper": agent_file("looper", LEAD_MODEL, "Task"),
    })


async def test_two_delegations_overlap_and_every_call_is_attributed(servers, executor, team):
    lead, research, write = servers
    for model in (LEAD_MODEL, "ollama:llama3.2", "openai:gpt-4o-mini"):  # SDK imports block the loop: not timed
        await executor.run(model, "warm up")
    for server in servers:
        server.requests.clear()
    lead.script(Script(text="Splitting.", tool_calls=[
        call("toolu_r", "Agent", description="find facts", prompt="Find facts on tides.", subagent_type="researcher"),
        call("toolu_w", "Agent", description="draft", prompt="Draft a line on tides.", subagent_type="writer")]),
        Script(text="Tides follow the moon."))
    researched = stamped(research, lambda r: Script(text="The moon pulls the sea."))
    written = stamped(write, lambda r: Script(text="Tides rise and fall."))
    events = []
    runner = Runner(executor, agents=team)
    done = await runner.run(resolve_agent(team.get("lead")), "Explain tides.", tools=["Agent"],
                            on_event=events.append)

    assert (done.status, done.text) == ("done", "Tides follow the moon.")
    (r_at, r_prompt), (w_at, w_prompt) = researched[0], written[0]
    assert (r_prompt, w_prompt) == ("Find facts on tides.", "Draft a line on tides.")
    assert abs(r_at - w_at) < 0.3, "the second delegation reached its server before the first one's reply"
    results = [b for b in lead.last.body["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert [(b["tool_use_id"], b["content"]) for b in results] == [("toolu_r", "The moon pulls the sea."),
                                                                   ("toolu_w", "Tides rise and fall.")]
    assert [t["name"] for t in lead.requests[0].body["tools"]] == ["Agent"]
    assert "writer: The writer agent." in lead.requests[0].body["tools"][0]["description"]
    assert [t["function"]["name"] for t in research.requests[0].body["tools"]] == ["Read", "WebSearch"]
    assert "tools" not in write.requests[0].body, "tools: [] sends none"

    _, rows = executor.ledger.query("SELECT agent, run_id, parent_call_id, call_id FROM calls ORDER BY ts")
    by_agent = {}
    for agent, run_id, parent, call_id in rows:
        by_agent.setdefault(agent, []).append((run_id, parent, call_id))
    by_agent.pop(None)  # the warm-up calls
    assert sorted(by_agent) == ["lead", "researcher", "writer"] and len(by_agent["lead"]) == 2
    assert {run_id for rows_ in by_agent.values() for run_id, _, _ in rows_} == {done.trace.run_id}
    first_lead_call = by_agent["lead"][0][2]
    assert [p for _, p, _ in by_agent["lead"]] == [None, None]
    assert by_agent["researcher"][0][1] == by_agent["writer"][0][1] == first_lead_call
    frame = costs(by="agent", ledger=executor.ledger, run_id=done.trace.run_id)
    assert list(frame.index) == ["lead", "researcher", "writer"] and list(frame["calls"]) == [2, 1, 1]

    tree = done.trace
    assert (tree.agent, tree.model, tree.status, tree.steps, tree.messages) == ("lead", LEAD_MODEL, "done", 2, 5)
    assert [c.agent for c in tree.children] == ["researcher", "writer"]
    assert [(c.status, c.model, c.parent_call_id, c.task) for c in tree.children] == [
        ("done", "ollama:llama3.2", first_lead_call, "Find facts on tides."),
        ("done", "openai:gpt-4o-mini", first_lead_call, "Draft a line on tides.")]
    assert [t.tool for t in tree.tool_calls] == ["Agent", "Agent"] and not any(t.is_error for t in tree.tool_calls)
    assert tree.total_tokens == (22 + 11 + 11, 14 + 7 + 7)
    assert tree.total_cost_usd == pytest.approx(float(frame["cost_usd"].sum()))
    assert tree.cost_usd < tree.total_cost_usd, "children's cost rolls up, not into the node's own"
    table = tree.to_frame()
    assert list(table["depth"]) == [0, 1, 1] and list(table["agent"]) == ["lead", "researcher", "writer"]
    shown = tree._repr_html_()
    assert shown.count("<details") == 5 and "Find facts on tides." in shown  # 3 runs + 2 tool calls
    assert [(type(e).__name__, e.agent) for e in events if isinstance(e, RunStarted)] == [
        ("RunStarted", "lead"), ("RunStarted", "researcher"), ("RunStarted", "writer")]
    assert isinstance(events[-1], RunFinished) and events[-1].trace is tree
    assert any(isinstance(e, AgentEvent) and e.agent == "researcher" and e.depth == 1 for e in events)


def looping(recorded) -> Script:
    """A model that delegates to itself until a delegation comes back refused."""
    last = recorded.body["messages"][-1]["content"]
    if isinstance(last, list) and any(b.get("type") == "tool_result" for b in last):
        return Script(text="I stop here.")
    return Script(text="", tool_calls=[call("", "Task", description="again", prompt="Do it again.",
                                            subagent_type="looper")])


async def test_the_depth_limit_stops_a_runaway_delegation(servers, executor, team):
    lead = servers[0]
    lead.responder = looping
    done = await Runner(executor, agents=team).run(resolve_agent(team.get("looper")), "Go.")
    depths = [(depth, node.agent) for depth, node in done.trace.walk()]
    assert depths == [(0, "looper"), (1, "looper"), (2, "looper"), (3, "looper")]
    deepest = [node for _, node in done.trace.walk()][-1]
    (refused,) = deepest.tool_calls
    assert refused.is_error and "beyond the limit of 3" in refused.summary
    assert done.status == "done" and len(lead.requests) == 8


async def test_the_run_budget_stops_a_runaway_delegation(servers, executor, team):
    lead = servers[0]
    lead.responder = lambda r: Script(text="", tool_calls=[call("", "Task", description="again", prompt="Again.",
                                                                subagent_type="looper")])
    runner = Runner(executor, agents=team, limits=Limits(budget_usd=0.0002))
    done = await runner.run(resolve_agent(team.get("looper")), "Go.")
    assert len(lead.requests) == 3, "root, child, then the root's last call: nothing after the budget is spent"
    assert done.status == "budget" and "of its $0.0002 budget" in done.trace.note
    (child,) = done.trace.children
    assert child.status == "budget" and not child.children
    told = [b for b in lead.requests[2].body["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert told[0]["is_error"] and told[0]["content"].startswith("looper stopped (budget): the run has spent")


async def test_total_steps_and_unknown_agents_end_the_branch_with_a_message(servers, executor, team):
    lead = servers[0]
    lead.script(Script(text="", tool_calls=[call("toolu_1", "Task", description="x", prompt="x",
                                                 subagent_type="nobody")]), Script(text="Alone then."))
    done = await Runner(executor, agents=team, limits=Limits(total_steps=5)).run(
        resolve_agent(team.get("looper")), "Go.")
    told = lead.last.body["messages"][-1]["content"][0]
    assert told["is_error"] and told["content"].startswith("no agent named 'nobody'")
    assert done.text == "Alone then."
    researcher_server = servers[1]
    researcher_server.script(Script(status=400, error_message="model llama3.2 not found"))
    lead.script(Script(text="", tool_calls=[call("toolu_2", "Task", description="x", prompt="Look.",
                                                 subagent_type="researcher")]), Script(text="Without it."))
    failed = await Runner(executor, agents=team).run(resolve_agent(team.get("looper")), "Go.")
    (branch,) = failed.trace.children
    assert (branch.agent, branch.status) == ("researcher", "error") and "model llama3.2 not found" in branch.note
    told = lead.last.body["messages"][-1]["content"][0]
    assert told["is_error"] and told["content"].startswith("researcher failed: ")
    lead.responder = looping
    stopped = await Runner(executor, agents=team, limits=Limits(total_steps=2)).run(
        resolve_agent(team.get("looper")), "Go.")
    assert [n.status for _, n in stopped.trace.walk()] == ["done", "max_steps"]
    assert "2 model calls, its limit" in stopped.trace.children[0].note


async def test_a_skill_is_listed_then_loaded_with_its_tools_on_demand(servers, executor, team, tmp_path):
    lead = servers[0]
    folder = tmp_path / "skills" / "loud"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: Loud\ndescription: Make text loud.\nallowed-tools: shout, Grep\n"
                                     "---\nAlways shout with the shout tool.\n")
    (folder / "shouting.py").write_text(
        "import os\n\n\ndef shout(text: str) -> str:\n    \"\"\"Shout a text.\n\n    Args:\n        text: What to "
        "shout.\n    \"\"\"\n    return text.upper() + '!'\n\n\ndef _helper():\n    pass\n")
    skills = SkillLibrary([tmp_path / "skills"], standard=False)
    lead.script(Script(text="", tool_calls=[call("toolu_s", "Skill", skill="loud")]),
                Script(text="", tool_calls=[call("toolu_x", "shout", text="hi")]), Script(text="HI!"))
    runner = Runner(executor, agents=team, skills=skills, toolbox={"root": tmp_path})
    done = await runner.run(resolve_agent(team.get("lead")), "Say hi loudly.", tools=None)
    first, second, third = (r.body for r in lead.requests)
    assert "## Skills" in first["system"] and "- loud: Make text loud." in first["system"]
    offered = [t["name"] for t in first["tools"]]
    assert "Skill" in offered and "Task" in offered and "shout" not in offered and "Write" not in offered
    loaded = second["messages"][-1]["content"][0]["content"]
    assert loaded.startswith("# Skill: loud\n\nAlways shout") and loaded.endswith("Tools it adds: shout.")
    assert {"shout", "Grep"} <= {t["name"] for t in second["tools"]}
    assert third["messages"][-1]["content"][0]["content"] == "HI!"
    assert done.text == "HI!" and [t.tool for t in done.trace.tool_calls] == ["Skill", "shout"]


async def test_write_and_bash_need_allow_and_read_stays_inside(servers, executor, team, tmp_path):
    lead = servers[0]
    root, outside = tmp_path / "work", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("hunter2")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    lead.script(Script(text="", tool_calls=[
        call("t1", "Write", file_path="x.txt", content="x"), call("t2", "Bash", command="echo hi"),
        call("t3", "Read", file_path="../outside/secret.txt"),
        call("t4", "Read", file_path=str(outside / "secret.txt")),
        call("t5", "Read", file_path="link.txt")]), Script(text="Refused."))
    runner = Runner(executor, agents=team, toolbox={"root": root})
    done = await runner.run(resolve_agent(team.get("lead")), "Try everything.", tools="Read, Write, Bash")
    assert [t["name"] for t in lead.requests[0].body["tools"]] == ["Read", "Write", "Bash"], "offered, then asked"
    results = [b["content"] for b in lead.last.body["messages"][-1]["content"]]
    assert results[0] == "denied: not allowed in a headless run; allow it with --allow write (Write did not run)"
    assert results[1] == "denied: not allowed in a headless run; allow it with --allow bash (Bash did not run)"
    assert [t.decision["verdict"] for t in done.trace.tool_calls[:2]] == ["denied", "denied"]
    assert all("outside the working directory" in r for r in results[2:]) and "hunter2" not in str(results)
    assert not (root / "x.txt").exists() and done.status == "done"

    lead.script(Script(text="", tool_calls=[call("t1", "Write", file_path="x.txt", content="written"),
                                            call("t2", "Bash", command="cat x.txt")]), Script(text="Done."))
    allowed = Runner(executor, agents=team, toolbox={"root": root, "allow": "write,bash"})
    await allowed.run(resolve_agent(team.get("lead")), "Write it.", tools="Write, Bash")
    assert (root / "x.txt").read_text() == "written"
    assert lead.last.body["messages"][-1]["content"][1]["content"] == "written"


# the collection: tools each file lists, and which of them the kit offers (the rest must be reported); the tools
# that act are offered too, each call then approved or denied
OFFERED = {"Read", "Grep", "Glob", "WebSearch", "WebFetch", "MemorySearch", "Task", "Agent", "Skill", "Write",
           "Edit", "Bash", "RunPython", "Variables", "Inspect", "NotebookRead"}


async def test_a_collection_of_public_agent_files_loads_and_its_tools_resolve(servers, executor, tmp_path):
    lead = servers[0]
    library = AgentLibrary([COLLECTION], standard=False)
    assert library.errors == [] and len(library.items) >= 10
    assert {"python-pro", "powershell-7.2-expert", "docs-researcher"} <= set(library.items)
    lead.default = Script(text="Ready.")
    skills = SkillLibrary([], standard=False)
    for name, definition in sorted(library.items.items()):
        runner = Runner(executor, agents=library, skills=skills, toolbox={"root": tmp_path})
        agent = resolve_agent(definition, None, {"model": LEAD_MODEL})
        before = len(lead.requests)
        done = await runner.run(agent, "Hello.", tools=definition.tools if definition.declares_tools else None)
        assert done.status == "done", name
        sent = {t["name"] for t in lead.requests[before].body.get("tools", [])}
        if not definition.declares_tools:
            assert {"Read", "Grep", "Glob", "Task"} <= sent and "Write" not in sent, name
            continue
        listed = {n.split("(")[0] for n in definition.tools}
        assert sent == listed & OFFERED, name
        for missing in listed - OFFERED:
            assert any(w.startswith(f"{name}: {missing}") for w in runner.warnings), (name, missing, runner.warnings)


# -- the magics ------------------------------------------------------------------------------------------------------
@pytest.fixture
def project(shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_agents(tmp_path / ".claude" / "agents", {
        "reader": agent_file("reader", LEAD_MODEL, "Read, Write", "You read files."),
        "talker": agent_file("talker", LEAD_MODEL, "[]", "You talk.")})
    (tmp_path / "notes.md").write_text("the launch is on Friday\n")
    return shell


def test_agent_magic_shows_each_tool_call_then_the_answer(project, thread_server):
    from IPython.utils.capture import capture_output
    thread_server.script(Script(text="Reading.", tool_calls=[call("toolu_1", "Read", file_path="notes.md"),
                                                             call("toolu_2", "Write", file_path="x", content="x")]),
                         Script(text="The launch is on Friday."))
    with capture_output() as captured:
        result = project.run_cell_magic("agent", "reader", "When is the launch?")
    assert result.text == "The launch is on Friday." and result.status == "ok" and result.cost > 0
    first, second = (r.body for r in thread_server.requests)
    assert [t["name"] for t in first["tools"]] == ["Read", "Write"] and "You read files." in first["system"]
    sent = second["messages"][-1]["content"]
    assert "the launch is on Friday" in sent[0]["content"] and sent[1]["is_error"]
    assert sent[1]["content"].startswith("denied: not allowed in a headless run; allow it with --allow write")
    assert "coditect: Write denied by policy" in captured.stderr
    log = [o.data["text/html"] for o in captured.outputs if "coditect-run" in o.data.get("text/html", "")]
    assert "<code>Read</code>" in log[-1] and "notes.md" in log[-1] and "✗ <code>Write</code>" in log[-1]
    assert "<em>Reading.</em>" in log[-1], "text before the tool calls shows as a step, not as the answer"
    answer = [o for o in captured.outputs if "text/markdown" in o.data]
    assert answer[-1].data["text/markdown"].startswith("The launch is on Friday.")
    assert any("coditect-trace" in o.data.get("text/html", "") for o in captured.outputs)
    trace = project.user_ns["_trace"]
    assert trace.agent == "reader" and [t.tool for t in trace.tool_calls] == ["Read", "Write"]
    assert list(project.run_line_magic("llm", "costs")["agent"]) == ["reader", "reader"]

    thread_server.script(Script(text="Still Friday."))
    project.run_cell_magic("agent", "reader --tools Read --allow write", "And again?")
    again = thread_server.last.body
    assert "When is the launch?" in str(again["messages"]), "the agent's thread goes on through the runner"
    assert [t["name"] for t in again["tools"]] == ["Read"]


def test_runs_panel_shows_what_an_agent_did(project, thread_server):
    """`%agent panel` shows the kernel's traced runs: the agent, its tool calls (a refused one as an error)."""
    from IPython.utils.capture import capture_output
    thread_server.script(Script(text="", tool_calls=[call("toolu_1", "Read", file_path="notes.md"),
                                                     call("toolu_2", "Write", file_path="x", content="x")]),
                         Script(text="Friday."))
    with capture_output():
        project.run_cell_magic("agent", "reader", "When is the launch?")
        panel = project.run_line_magic("agent", "panel")
    run = panel.runs[0]
    assert run.run_id == project.user_ns["_trace"].run_id and run.agent == "reader"
    (agent,) = run.steps
    assert agent.kind == "agent" and agent.label == f"reader on {LEAD_MODEL}" and agent.input_tokens > 0
    assert [(s.kind, s.label.split("(")[0], s.status) for s in agent.children] == [
        ("tool", "Read", "ok"), ("tool", "Write", "error")]
    assert "<b>tool</b> Read(" in panel.list.children[0].value
    assert len(panel.runs) == 1, "the ledger's rows of the same run are not shown twice"
    panel.widget.close()


def test_agent_without_tools_stays_one_plain_call(project, thread_server):
    thread_server.script(Script(text="Hi."))
    project.run_cell_magic("agent", "talker", "Hello.")
    assert "tools" not in thread_server.last.body and "_trace" not in project.user_ns


def test_llm_magic_with_notebook_functions_and_refused_builtins(project, thread_server):
    from IPython.utils.capture import capture_output
    project.run_cell("def double(x: int) -> int:\n    '''Double a number.'''\n    return 2 * x")
    thread_server.script(Script(text="", tool_calls=[call("toolu_1", "double", x=21)]), Script(text="42."))
    with capture_output() as captured:
        result = project.run_cell_magic("llm", f"{LEAD_MODEL} --tools double,Bash", "Double 21.")
    assert result.text == "42." and thread_server.last.body["messages"][-1]["content"][0]["content"] == "42"
    assert [t["name"] for t in thread_server.requests[0].body["tools"]] == ["double", "Bash"]
    assert "Bash" not in captured.stderr, "offered, and never called: nothing to deny"
    with capture_output() as captured:
        project.run_cell_magic("llm", f"{LEAD_MODEL} --tools Bash --allow delete", "x")
    assert "unknown permission 'delete'" in captured.stderr


def test_agent_find_and_skill_run_with_its_tools(project, thread_server, monkeypatch):
    monkeypatch.setenv("CODITECT_EMBEDDER", "no-such-embedder")  # the lexical ranking: no model to load
    found = project.run_line_magic("agent", "find the reader agent")
    assert found.names[0] == "reader" and found.ranking == "bm25"
    import pandas as pd
    project.user_ns["df"] = pd.DataFrame({"a": [1, None], "b": ["x", "y"]})
    project.run_line_magic("config", f"CoditectMagics.default_model = '{LEAD_MODEL}'")
    profile = {"id": "toolu_1", "name": "profile_frame", "arguments": {"name": "df"}}
    thread_server.script(Script(text="", tool_calls=[profile]),
                         Script(text="Column a has a gap."))
    result = project.run_line_magic("skill", "run data-profiling df")
    first = thread_server.requests[0].body
    assert {t["name"] for t in first["tools"]} == {"profile_frame", "Read"}
    assert "profile_frame" in first["system"] and result.text == "Column a has a gap."
    assert "shape: 2 rows x 2 columns" in thread_server.last.body["messages"][-1]["content"][0]["content"]


def test_agent_limits_come_from_the_configuration(project, thread_server):
    from IPython.utils.capture import capture_output
    write_agents(Path(".claude/agents"), {"looper": agent_file("looper", LEAD_MODEL, "Task")})
    project.run_line_magic("config", "CoditectMagics.agent_limits = {'depth': 1}")
    thread_server.responder = looping
    result = project.run_cell_magic("agent", "looper", "Go.")
    assert result.status == "ok" and [d for d, _ in project.user_ns["_trace"].walk()] == [0, 1]
    assert "beyond the limit of 1" in project.user_ns["_trace"].children[0].tool_calls[0].summary
    project.run_line_magic("config", "CoditectMagics.agent_limits = {'depht': 1}")
    with capture_output() as captured:
        project.run_cell_magic("agent", "looper", "Go.")
    assert "agent_limits takes depth, steps, total_steps, time_s and budget_usd, got ['depht']" in captured.stderr


def test_a_binding_allows_writes_the_way_allow_does(project, thread_server, tmp_path):
    from IPython.utils.capture import capture_output
    (tmp_path / ".claude" / "config").mkdir(parents=True)
    bindings = tmp_path / ".claude" / "config" / "agent-llm-bindings.yaml"
    bindings.write_text("reader:\n  allow: write\ntalker:\n  allow: sudo\n")
    thread_server.script(Script(text="", tool_calls=[call("toolu_1", "Write", file_path="out.md", content="done\n")]),
                         Script(text="Written."))
    with capture_output() as captured:
        result = project.run_cell_magic("agent", "reader", "Write it down.")
    assert result.text == "Written." and (tmp_path / "out.md").read_text() == "done\n"
    assert [t["name"] for t in thread_server.requests[0].body["tools"]] == ["Read", "Write"]
    assert "agent 'talker': `allow` must be a list of run, write, bash, mcp or all, not 'sudo'" in captured.stderr
    assert ".claude/config/agent-llm-bindings.yaml:4: agent" in captured.stderr, "named by file and line"
