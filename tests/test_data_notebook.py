"""notebooks/data.ipynb, executed headless with nbclient in a real kernel against the loopback servers: structured
output, batch runs and evaluations as a notebook user meets them."""

from __future__ import annotations

import json
import os
import re

import pytest
from genai_prices import Usage as PriceUsage, calc_price

from coditect_magics.costs import Ledger

from tests.fakes import Script
from tests.notebook_support import cell_with, execute, images_of, text_of

CAPITALS = {"Capital of France?": "Paris", "Capital of Japan?": "Tokyo", "Capital of Peru?": "Lima"}
PARIS = '{"name": "Paris", "country": "France", "population": 2102650}'


def answer(recorded) -> Script:
    """A City as JSON when the request carries the City schema (a legend gets prose), the capital for an eval
    question (one model wrong on Peru), the judge's verdict, else the prompt repeated."""
    body = json.dumps(recorded.body)
    if '"City"' in body:
        return Script(text="Atlantis is a legend." if "Atlantis" in body else PARIS, input_tokens=40, output_tokens=12)
    if "Answer to grade:" in recorded.prompt:
        graded = recorded.prompt.split("Answer to grade:")[1]
        verdict = "PASS: same city." if any(c in graded for c in CAPITALS.values()) else "FAIL: another city."
        return Script(text=verdict, input_tokens=40, output_tokens=12)
    if recorded.path == "/v1/messages" and recorded.prompt == "Capital of Peru?":
        return Script(text="Cusco", input_tokens=40, output_tokens=3)
    if recorded.prompt in CAPITALS:
        return Script(text=CAPITALS[recorded.prompt], input_tokens=40, output_tokens=3)
    return Script(text=f"You asked: {recorded.prompt}", input_tokens=40, output_tokens=12)


@pytest.fixture
def executed(everywhere, tmp_path):
    """The notebook after a headless run, and the loopback server that answered it."""
    everywhere.responder = answer
    return execute("data.ipynb", tmp_path, timeout=180), everywhere


def outputs(notebook, source_start: str) -> str:
    """Every text and data output of the first code cell starting with `source_start`."""
    return text_of(cell_with(notebook, source_start))


def pngs(notebook, source_start: str) -> list[bytes]:
    return images_of(cell_with(notebook, source_start))


def batch_price(model: str, provider: str, input_tokens: int, output_tokens: int) -> float:
    usage = PriceUsage(input_tokens=input_tokens, output_tokens=output_tokens)
    return float(calc_price(usage, model, provider_id=provider, price_context={"processing": "batch"}).total_price)


def test_data_notebook(executed):
    notebook, server = executed
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[0].get("evalue") if errors else ""

    # structured output: the native schema on the wire, the parsed object in the cell and in `city`
    assert "City(name='Paris', country='France', population=2102650)" in outputs(notebook, "%%llm openai")
    schema_calls = [r.body for r in server.requests if r.path == "/v1/chat/completions" and '"City"' in json.dumps(r.body)]
    assert schema_calls and schema_calls[0]["response_format"]["json_schema"]["name"] == "City"
    assert schema_calls[0]["response_format"]["json_schema"]["strict"] is True
    assert outputs(notebook, "city.population").strip() == f"(2102650, {PARIS!r})"
    compared = outputs(notebook, "%%llm --compare")
    assert "population" in compared and "anthropic:claude-sonnet-4-6" in compared
    claude = [r.body for r in server.requests if r.path == "/v1/messages" and '"City"' in json.dumps(r.body)]
    assert claude and claude[0]["output_config"]["format"]["type"] == "json_schema"
    mapped = outputs(notebook, "%agent map extractor")
    assert "<td>Paris</td>" in mapped and "InvalidAnswer: the answer does not match City" in mapped, mapped
    assert "City(name='Paris'" in outputs(notebook, "from coditect_magics.session import current")

    # batch runs: the answers back in the notebook; in the ledger one row per request at the listed batch price
    assert all(f"You asked: Name a {w}." in outputs(notebook, "answers") for w in ("colour", "fruit", "tree"))
    assert "openai" in outputs(notebook, "%agent batches")
    assert any(r.path == "/v1/messages/batches" for r in server.requests)
    rows = [r for r in Ledger(os.environ["CODITECT_LEDGER"]).rows() if r.batch_id]
    assert sorted((r.provider, r.model) for r in rows) == [("anthropic", "claude-haiku-4-5")] * 2 + [
        ("openai", "gpt-4.1-mini")] * 3
    for row in rows:
        assert row.status == "ok" and row.price_basis == "batch"
        assert row.cost_usd == pytest.approx(batch_price(row.model, row.provider, 40, 12))
    assert "msgbatch_" in outputs(notebook, "from coditect_magics import costs")

    # evaluations: scores from known answers, costs equal to the ledger's, the chart as a PNG
    board = outputs(notebook, "%llm eval qa --models openai:gpt-4.1-mini,anthropic")
    assert re.search(r"openai:gpt-4.1-mini +model +openai:gpt-4.1-mini +3 +1\.000000 .* 3 +0 ", board), board
    assert re.search(r"anthropic:claude-sonnet-4-6 +model +anthropic:claude-sonnet-4-6 +3 +0\.666667 .* 2 +0 ", board)
    assert pngs(notebook, "%llm eval qa --models openai:gpt-4.1-mini,anthropic")[0].startswith(b"\x89PNG")
    assert "Cusco" in outputs(notebook, "board.rows")
    ledger, summary = re.search(r"ledger \$([\d.]+) = summary \$([\d.]+)", outputs(notebook, "from coditect_magics."
                                                                                  "costs import default_ledger")).groups()
    assert ledger == summary and float(ledger) > 0
    judged = outputs(notebook, "rubric =")
    assert "PASS only when the answer names the same city" in judged and "eval:judge" in judged
    assert pngs(notebook, "rubric =")
    by_agent = outputs(notebook, "%llm costs --by agent")
    assert "eval:judge" in by_agent and "researcher" in by_agent
