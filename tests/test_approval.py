"""Nothing acts without consent: a tool that acts (RunPython, Write, Edit, Bash) runs when allowed, is asked about
where someone can answer, and is denied in a headless run, the model told why; every decision is kept in the trace
and on the ledger row of the model call that asked."""

from __future__ import annotations

import json

import pytest

from coditect_magics.tools.approval import ApprovalRequest, Decision, Policy, permissions
from tests.fakes import Script

MODEL = "openai:gpt-4o"


def call(id_: str, name: str, **arguments) -> dict:
    return {"id": id_, "name": name, "arguments": arguments}


def session_of(shell):
    return shell.magics_manager.registry["CoditectMagics"].session


def tool_message(body: dict) -> str:
    """The tool result the model received (OpenAI's wire form: a role `tool` message)."""
    return next(m["content"] for m in body["messages"] if m["role"] == "tool")


def test_headless_run_python_is_denied_and_the_model_told_why(shell, thread_server):
    from IPython.utils.capture import capture_output
    thread_server.script(Script(text="Let me compute.", tool_calls=[call("c1", "RunPython", code="ran = 41 + 1")]),
                         Script(text="I could not run it."))
    with capture_output() as captured:
        result = shell.run_cell_magic("llm", f"{MODEL} --tools RunPython", "What is 41 + 1?")
    assert "ran" not in shell.user_ns, "the code did not run"
    told = tool_message(thread_server.last.body)
    assert told.startswith("denied: not allowed in a headless run; allow it with --allow run")
    assert "coditect: RunPython denied by policy" in captured.stderr
    [run] = shell.user_ns["_trace"].tool_calls
    assert run.decision == {"verdict": "denied", "by": "policy", "always": False,
                            "reason": "not allowed in a headless run; allow it with --allow run"}
    rows = session_of(shell).executor.ledger.rows()
    asked = json.loads(rows[0].approvals)
    assert [(a["tool"], a["call"], a["verdict"], a["by"]) for a in asked] == [("RunPython", "c1", "denied", "policy")]
    assert rows[1].approvals is None and result.text == "I could not run it."


def test_allowed_run_python_runs_in_the_notebook_and_its_output_reaches_the_model(shell, thread_server):
    shell.user_ns["prices"] = [3, 4, 5]
    thread_server.script(Script(tool_calls=[call("c1", "RunPython", code="print('summing')\ntotal = sum(prices)\n"
                                                                          "total * 2")]),
                         Script(text="The doubled total is 24."))
    shell.run_cell_magic("llm", f"{MODEL} --tools RunPython --allow run", "Double the total of prices.")
    assert shell.user_ns["total"] == 12, "it ran in the notebook's namespace"
    told = tool_message(thread_server.last.body)
    assert "[stdout]\nsumming" in told and "[result]\n24" in told
    [run] = shell.user_ns["_trace"].tool_calls
    assert run.decision["verdict"] == "approved" and run.decision["by"] == "allow"
    assert json.loads(session_of(shell).executor.ledger.rows()[0].approvals)[0]["by"] == "allow"


def test_auto_approve_and_a_failing_cell_reach_the_model(shell, thread_server):
    shell.run_line_magic("config", "CoditectMagics.auto_approve = 'all'")
    thread_server.script(Script(tool_calls=[call("c1", "RunPython", code="1 / 0")]), Script(text="Division by zero."))
    shell.run_cell_magic("llm", f"{MODEL} --tools RunPython", "Divide.")
    told = tool_message(thread_server.last.body)
    assert "[error]" in told and "ZeroDivisionError: division by zero" in told


def test_a_write_named_by_an_agent_is_offered_and_denied_headless(shell, thread_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "scribe.md").write_text(f"---\nname: scribe\nmodel: {MODEL}\ntools: Read, Write\n---\nYou write.\n")
    thread_server.script(Script(tool_calls=[call("c1", "Write", file_path="out.txt", content="hello")]),
                         Script(text="Denied, so nothing was written."))
    shell.run_cell_magic("agent", "scribe", "Write hello to out.txt")
    first = thread_server.requests[0].body
    assert [t["function"]["name"] for t in first["tools"]] == ["Read", "Write"], "offered, to be asked about"
    assert not (tmp_path / "out.txt").exists()
    assert "allow it with --allow write" in tool_message(thread_server.last.body)


async def test_the_policy_asks_once_per_tool_when_always_is_chosen():
    asked: list[str] = []

    async def ask(request: ApprovalRequest) -> Decision:
        asked.append(request.tool)
        return Decision("approved", "user", request.arguments, always=True)

    policy = Policy(permissions("write"), ask)
    run = ApprovalRequest("RunPython", {"code": "1"}, "run")
    assert (await policy.decide(run)).by == "user"
    assert (await policy.decide(run)).always and asked == ["RunPython"], "asked once for the run"
    assert (await policy.decide(ApprovalRequest("Write", {}, "write"))).by == "allow"
    edited = Decision("edited", "user", {"code": "2"})
    assert edited.approved and not Decision("denied", "user").approved
    with pytest.raises(ValueError, match="run, write, bash, mcp or all"):
        permissions("run,delete")
    assert permissions("all") == {"run", "write", "bash", "mcp"}
