"""Every panel in a real JupyterLab in a real browser, used the way a person uses it: type, click, watch the reply
stream in, press Stop mid-stream, filter the costs table, search memory, expand a run. Screenshots of each panel go
to tests/artifacts/."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests import lab, parts
from tests.fakes import FakeServer, Script

pytestmark = pytest.mark.timeout(400)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
STREAMED = "Streaming " + " ".join(f"token{i}" for i in range(30))
LONG = "Counting " + " ".join(f"n{i}" for i in range(400))
CELLS = ["%load_ext coditect_magics\n%config CoditectMagics.remember = False",
         "%llm panel",
         "%llm compare-panel",
         "%agent code-reviewer Review this line: total = sum(range(10))",
         "%agent panel",
         "%llm costs --panel",
         "%memory add Reverse a string in Python with s[::-1]\n%memory add The revenue table is orders_2025",
         "%memory panel"]


def answer(recorded) -> Script:
    """Replies by prompt: slow enough to watch the stream, slower still for the Stop test."""
    if "count" in recorded.prompt.lower():
        return Script(text=LONG, chunk_delay=0.05)
    if "compare" in recorded.prompt.lower():
        return Script(text=f"{recorded.path} answers the comparison.", chunk_delay=0.02, input_tokens=120,
                      output_tokens=30)
    return Script(text=STREAMED, chunk_delay=0.04, input_tokens=50, output_tokens=31)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """JupyterLab with the test notebook open and every cell run, in headless chromium."""
    # chromium, Playwright and JupyterLab are a required part: missing, each test skips (locally) or fails (in CI)
    parts.chromium()
    parts.local_embedder()  # the memory panel searches for real
    server = FakeServer()
    server.start_in_thread()
    server.responder = answer
    base = tmp_path_factory.mktemp("lab")
    root, data = base / "root", base / "data"
    root.mkdir()
    data.mkdir()
    lab.write_notebook(root / "panels_test.ipynb", CELLS)
    with lab.jupyterlab(root, lab.provider_env(server.url, data)) as url, lab.browser() as browser_page:
        lab.open_and_run_all(browser_page, url, "panels_test.ipynb")
        browser_page.locator(".jp-OutputArea-output .cm-memory").wait_for(timeout=180_000)
        lab.wait_idle(browser_page)
        browser_page.server, browser_page.data = server, data
        yield browser_page
    server.stop_thread()


def panel(page, name: str):
    box = page.locator(f".jp-OutputArea-output .cm-{name}")
    box.wait_for(timeout=120_000)
    return box


def ledger_rows(page):
    from coditect_magics.costs import Ledger
    return Ledger(page.data / "ledger.sqlite3").rows()


def test_chat_streams_token_by_token_and_stop_keeps_the_partial_reply(page):
    chat = panel(page, "chat")
    chat.locator("select").first.select_option(label="openai:gpt-4.1-mini")
    chat.locator(".cm-input input").fill("Say something")
    chat.locator(".cm-input input").press("Enter")
    reply = chat.locator(".cm-msg-assistant").last
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = reply.inner_text().strip()
        if text and (not seen or text != seen[-1]):
            seen.append(text)
        if text == STREAMED:
            break
        time.sleep(0.02)
    assert seen[-1] == STREAMED
    assert len(seen) >= 4, f"the reply appeared in {len(seen)} steps, not token by token: {seen}"
    assert all(STREAMED.startswith(s) for s in seen)
    page.locator(".cm-chat .cm-status", has_text="1 calls").wait_for()
    lab.shoot(chat, ARTIFACTS / "chat.png")

    chat.locator(".cm-input input").fill("Please count to 400")
    chat.locator("button.cm-send").click()
    # the second reply's own element: `.last` taken at once could still be the first reply (a busy machine), and
    # waiting on that would press Stop before the stream began
    counting = chat.locator(".cm-msg-assistant").nth(1)
    deadline = time.monotonic() + 30
    while len(counting.inner_text().split()) <= 5:
        assert time.monotonic() < deadline, "the second reply never streamed"
        time.sleep(0.02)
    chat.locator("button.cm-stop").click()
    chat.locator(".cm-status", has_text="stopped").wait_for(timeout=15_000)
    kept = counting.inner_text().strip()
    assert kept.startswith("Counting n0") and len(kept) < len(LONG)
    assert [r.status for r in ledger_rows(page) if r.provider == "openai"][-1] == "cancelled"


def test_compare_streams_three_columns_at_once(page):
    compare = panel(page, "compare")
    for box in compare.locator(".cm-models .widget-checkbox").all():
        wanted = any(m in box.inner_text() for m in ("openai:gpt-4.1-mini", "anthropic:claude", "ollama:llama3.2"))
        box.locator("input").set_checked(wanted and "unusable" not in box.inner_text())
    compare.locator(".cm-prompt textarea").fill("Please compare these")
    compare.locator("button.cm-run").click()
    columns = compare.locator(".cm-column")
    compare.locator(".cm-status", has_text="3 of 3 answered").wait_for(timeout=30_000)
    assert columns.count() == 3
    for i in range(3):
        assert "answers the comparison." in columns.nth(i).locator(".cm-reply").inner_text()
        assert "first token" in columns.nth(i).locator(".cm-figures").inner_text()
    compare.locator("button.cm-pick").click()
    compare.locator(".cm-status", has_text="picked").wait_for()
    assert any(r.agent == "compare:pick" for r in ledger_rows(page))
    lab.shoot(compare, ARTIFACTS / "compare.png")


def test_runs_expand_into_their_calls(page):
    runs = panel(page, "runs")
    runs.locator(".cm-status", has_text="1 run").wait_for(timeout=30_000)
    title = runs.locator(".cm-runs-list .lm-AccordionPanel-title, .cm-runs-list .jupyter-widget-Collapse-header").first
    assert "code-reviewer" in title.inner_text()
    title.click()
    runs.locator(".cm-steps", has_text="anthropic:").wait_for(timeout=10_000)
    lab.shoot(runs, ARTIFACTS / "runs.png")


def test_costs_table_filters_by_provider(page):
    costs = panel(page, "costs")
    provider = costs.locator(".cm-filter-provider select")
    page.wait_for_function("el => [...el.options].some(o => o.text === 'ollama')", arg=provider.element_handle(),
                           timeout=30_000)
    provider.select_option(label="anthropic")
    # the filtered table arrives by itself (a ledger refresh may change the totals first, under load)
    page.wait_for_function("el => el.innerText.includes('anthropic') && !el.innerText.includes('openai')",
                           arg=costs.locator(".cm-table").element_handle(), timeout=15_000)
    table = costs.locator(".cm-table").inner_text()
    assert "anthropic" in table and "openai" not in table and "ollama" not in table
    assert costs.locator(".cm-chart img").count() == 1 or costs.locator("img.cm-chart").count() == 1
    lab.shoot(costs, ARTIFACTS / "costs.png")


def test_memory_search_finds_by_meaning(page):
    memory = panel(page, "memory")
    memory.locator(".cm-query input").fill("how do I reverse text")
    memory.locator(".cm-hit", has_text="s[::-1]").first.wait_for(timeout=90_000)
    assert "notebook" in memory.locator(".cm-hit").first.inner_text()
    lab.shoot(memory, ARTIFACTS / "memory.png")
