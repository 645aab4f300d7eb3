"""An MCP tool's call approved in the cell's card, in a real JupyterLab in a real browser: the notebook's folder has
a `.mcp.json` naming tests/mcp_demo.py; a `%%llm --tools mcp__demo__shout` cell's model asks to call it; the card
shows the tool and its arguments; Approve runs it on the server and its result reaches the model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests import lab, parts
from tests.fakes import FakeServer, Script
from tests.lab import card_of, requests_for, run_cell, tool_result
from tests.mcp_support import DEMO

pytestmark = pytest.mark.timeout(400)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CELLS = ["%load_ext coditect_magics\n%config CoditectMagics.remember = False",
         "%%llm openai:gpt-4o --tools mcp__demo__shout\nPlease shout the news (mcp-test)."]


def answer(recorded) -> Script:
    """The model: call the MCP tool, then say what it returned."""
    if "mcp-test" not in recorded.prompt:
        return Script(text="Nothing to do.")
    result = tool_result(recorded)
    if result is None:
        return Script(text="I will shout it.", tool_calls=[{"id": "call-mcp", "name": "mcp__demo__shout",
                                                            "arguments": {"text": "the news", "times": 2}}])
    return Script(text=f"It said: {result}")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """JupyterLab on a folder with `.mcp.json`, the notebook open, the extension loaded."""
    parts.chromium()
    parts.module("mcp", "pip install -e '.[dev]' (the mcp extra)")
    server = FakeServer()
    server.start_in_thread()
    server.responder = answer
    base = tmp_path_factory.mktemp("lab-mcp")
    root, data = base / "root", base / "data"
    root.mkdir()
    data.mkdir()
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {"demo": {"command": sys.executable,
                                                                        "args": [DEMO]}}}))
    lab.write_notebook(root / "mcp_test.ipynb", CELLS)
    with lab.notebook_page(root, data, "mcp_test.ipynb", server.url) as browser_page:
        browser_page.server = server
        yield browser_page
    server.stop_thread()


def test_an_mcp_call_is_approved_in_the_card_and_its_result_reaches_the_model(page):
    cell = run_cell(page, "mcp-test")
    card = card_of(cell)
    shown = card.inner_text()
    assert "mcp__demo__shout" in shown and "the news" in shown
    lab.shoot(card, ARTIFACTS / "approval-mcp-card.png")
    card.locator("button.cm-approve").click()
    cell.locator(".cm-decided", has_text="mcp__demo__shout approved").wait_for(timeout=60_000)
    cell.locator(".jp-OutputArea", has_text="It said: THE NEWS THE NEWS").wait_for(timeout=60_000)
    assert tool_result(requests_for(page, "mcp-test")[-1]) == "THE NEWS THE NEWS"
    lab.wait_idle(page)
