"""notebooks/notebook-agent.ipynb executed headless with nbclient in a real kernel: the agent inspects a DataFrame,
runs an allowed computation in the kernel and proposes a chart cell, against the loopback OpenAI server."""

from __future__ import annotations

from tests.fakes import Script
from tests.notebook_support import execute

STEPS = [("Inspect", {"name": "sales"}),
         ("RunPython", {"code": "sales.groupby('region')['revenue'].sum().idxmax()"}),
         ("NewCell", {"code": "sales.groupby('region')['revenue'].sum().plot.bar()"})]


def test_the_notebook_agent_inspects_runs_and_proposes(thread_server, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-nb-agent-test")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{thread_server.url}/v1")

    def respond(recorded) -> Script:
        done = [m for m in recorded.body.get("messages", []) if m["role"] == "tool"]
        if len(done) < len(STEPS):
            name, arguments = STEPS[len(done)]
            return Script(tool_calls=[{"id": f"call_{len(done)}", "name": name, "arguments": arguments}])
        return Script(text="North had the most revenue (260). A chart cell is proposed below.")

    thread_server.responder = respond
    notebook = execute("notebook-agent.ipynb", tmp_path, timeout=180)
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    results = [m["content"] for m in thread_server.last.body["messages"] if m["role"] == "tool"]
    inspected, ran, proposed = results
    assert "6 rows × 3 columns" in inspected and "region" in inspected and "revenue" in inspected
    assert "[result]\n'north'" in ran, "the computation ran in the kernel and its value reached the model"
    assert proposed.startswith("this notebook runs headless"), "nbclient shows no proposed cell: the model is told"
    decisions = next(c for c in notebook.cells if c.source.startswith("[(call.tool"))
    shown = decisions.outputs[0]["data"]["text/plain"]
    assert "('RunPython', 'approved')" in shown and "('Inspect', None)" in shown
