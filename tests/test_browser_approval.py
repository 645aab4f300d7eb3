"""Consent in a real JupyterLab in a real browser: a `%%llm --tools RunPython` cell whose model asks to run code
shows the approval card in the cell; a person approves (the code runs, the answer streams in), denies with a reason
(the model reads it), or edits the code first (the model reads the edited code's output); `NewCell` puts a cell
below that nobody ran. The model is the loopback OpenAI server; screenshots go to tests/artifacts/."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests import lab, parts
from tests.lab import card_of, requests_for, run_cell, tool_result
from tests.fakes import FakeServer, Script

pytestmark = pytest.mark.timeout(400)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ANSWER = "The total of the first ten numbers is " + " ".join(f"45{'!' * i}" for i in range(1, 25))
ASK = "%%llm openai:gpt-4o --tools RunPython"
CELLS = ["%load_ext coditect_magics\n%config CoditectMagics.remember = False",
         f"{ASK}\nPlease sum the first ten numbers (approve-test).",
         f"{ASK}\nPlease delete the temporary files (deny-test).",
         f"{ASK}\nPlease greet the reader (edit-test).",
         f"{ASK}\nPlease wait for me (interrupt-test).",
         "%%llm openai:gpt-4o --tools NewCell\nPropose a chart cell (newcell-test).",
         "after = 'the cell after'"]
CODE = {"approve-test": "total_a = sum(range(10))\nprint('total is', total_a)",
        "deny-test": "deny_ran = True\nprint('removing files')",
        "edit-test": "print('original greeting')",
        "interrupt-test": "interrupted_ran = True"}
PROPOSED = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])"




def answer(recorded) -> Script:
    """The model: first a call (RunPython with the test's code, or NewCell), then an answer once it has a result."""
    marker = next((m for m in (*CODE, "newcell-test") if m in recorded.prompt), None)
    result = tool_result(recorded)
    if marker is None:
        return Script(text="Nothing to do.")
    if result is None:
        call = {"id": f"call-{marker}", "name": "NewCell", "arguments": {"code": PROPOSED}} \
            if marker == "newcell-test" else {"id": f"call-{marker}", "name": "RunPython",
                                              "arguments": {"code": CODE[marker]}}
        return Script(text=f"I will use a tool for {marker}.", tool_calls=[call])
    if marker == "approve-test":
        return Script(text=ANSWER, chunk_delay=0.04)
    return Script(text=f"Noted: {result[:200]}")


def cells(page) -> list[dict[str, str]]:
    """Every cell's source and input prompt (`[ ]:` for a cell never run), top to bottom."""
    return page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(c => ({
        source: (c.querySelector('.jp-InputArea-editor .cm-content') || {}).innerText || '',
        prompt: ((c.querySelector('.jp-InputPrompt') || {}).innerText || '').trim()}))""")








@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """JupyterLab with the test notebook open, the extension loaded, and the model at the loopback server."""
    # chromium, Playwright and JupyterLab are a required part: missing, each test skips (locally) or fails (in CI)
    parts.chromium()
    server = FakeServer()
    server.start_in_thread()
    server.responder = answer
    base = tmp_path_factory.mktemp("lab")
    root, data = base / "root", base / "data"
    root.mkdir()
    data.mkdir()
    lab.write_notebook(root / "approval_test.ipynb", CELLS)
    with lab.notebook_page(root, data, "approval_test.ipynb", server.url) as browser_page:
        browser_page.server = server
        yield browser_page
    server.stop_thread()


def test_the_card_shows_the_code_and_approve_runs_it_then_the_answer_streams(page):
    cell = run_cell(page, "approve-test")
    card = card_of(cell)
    assert "sum(range(10))" in card.locator(".cm-code").inner_text()
    assert "I will use a tool for approve-test." in card.locator(".cm-why").inner_text()
    lab.shoot(card, ARTIFACTS / "approval-card.png")
    card.locator("button.cm-approve").click()
    cell.locator(".cm-decided", has_text="RunPython approved").wait_for(timeout=30_000)
    output = cell.locator(".jp-OutputArea")
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not seen or ANSWER not in seen[-1]):
        text = output.inner_text()
        if "The total of" in text and (not seen or text != seen[-1]):
            seen.append(text)
        time.sleep(0.02)
    assert ANSWER in seen[-1]
    assert len(seen) >= 3, f"the answer appeared in {len(seen)} steps, not as a stream"
    result = tool_result(requests_for(page, "approve-test")[-1])
    assert "total is 45" in result, "the code ran in the kernel and its output reached the model"
    lab.wait_idle(page)
    lab.shoot(cell, ARTIFACTS / "approval-approved.png")


def test_deny_with_a_reason_sends_the_reason_to_the_model(page):
    cell = run_cell(page, "deny-test")
    card = card_of(cell)
    card.locator(".cm-reason input").fill("deleting files is not allowed here")
    card.locator("button.cm-deny").click()
    cell.locator(".cm-decided", has_text="RunPython denied").wait_for(timeout=30_000)
    cell.locator(".jp-OutputArea", has_text="Noted: denied").wait_for(timeout=30_000)
    result = tool_result(requests_for(page, "deny-test")[-1])
    assert result == "denied: deleting files is not allowed here (RunPython did not run)"
    lab.wait_idle(page)
    lab.shoot(cell, ARTIFACTS / "approval-denied.png")


def test_edit_changes_the_code_before_it_runs(page):
    cell = run_cell(page, "edit-test")
    card = card_of(cell)
    card.locator("button.cm-edit").click()
    editor = card.locator(".cm-edit-code textarea")
    editor.wait_for()
    assert editor.input_value() == CODE["edit-test"]
    editor.fill("print('edited greeting')")
    lab.shoot(card, ARTIFACTS / "approval-edit.png")
    card.locator("button.cm-run-edited").click()
    cell.locator(".cm-decided", has_text="RunPython edited").wait_for(timeout=30_000)
    cell.locator(".jp-OutputArea", has_text="Noted:").wait_for(timeout=30_000)
    result = tool_result(requests_for(page, "edit-test")[-1])
    assert "edited greeting" in result and "original greeting" not in result
    call = json.loads(requests_for(page, "edit-test")[-1].body["messages"][-2]["tool_calls"][0]["function"]
                      ["arguments"])
    assert call == {"code": CODE["edit-test"]}, "the model's own call is kept as it asked it"
    lab.wait_idle(page)


def test_interrupting_the_kernel_denies_the_pending_call_and_ends_the_run(page):
    cell = run_cell(page, "interrupt-test")
    card_of(cell)
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator('li.lm-Menu-item[data-command="kernelmenu:interrupt"]').click()
    cell.locator(".cm-decided", has_text="RunPython denied: interrupted").wait_for(timeout=30_000)
    lab.wait_idle(page)
    assert len(requests_for(page, "interrupt-test")) == 1, "the run ended: the model was not asked again"
    assert cell.locator(".jp-InputPrompt").inner_text().strip() not in ("[*]:", "[ ]:")
    lab.shoot(cell, ARTIFACTS / "approval-interrupted.png")


def test_new_cell_goes_below_and_is_not_run(page):
    before = cells(page)
    cell = run_cell(page, "newcell-test")
    cell.locator(".jp-OutputArea", has_text="Noted: Proposed a new cell").wait_for(timeout=60_000)
    lab.wait_idle(page)
    page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n",
                           arg=len(before) + 1, timeout=30_000)
    after = cells(page)
    at = next(i for i, c in enumerate(after) if "newcell-test" in c["source"])
    proposed = after[at + 1]
    assert proposed["source"].strip() == PROPOSED
    assert proposed["prompt"] == "[ ]:", f"the proposed cell was run: {proposed['prompt']}"
    assert "the cell after" in after[at + 2]["source"]
    assert not page.locator(".jp-OutputArea-output .cm-approval:not(.cm-decided)").count(), "NewCell asks nobody"
    lab.shoot(page.locator(".jp-Notebook .jp-Cell").nth(at + 1), ARTIFACTS / "approval-newcell.png")
