"""The one compare path (`coditect_magics.compare`) through real SDKs against the loopback server: several models
streaming at once as one stream of events, a final record per model with its tokens, cost and ledger call id, one
model's failure kept in its own record, and a cancel that keeps each model's partial text."""

from __future__ import annotations

import asyncio

import pytest

from coditect_magics.compare import Comparing, Comparison, Progress, table
from coditect_magics.costs import Ledger
from coditect_magics.executor import Executor, ExecutorSettings
from tests.fakes import FakeServer, Script

LONG = " ".join(f"word{i}" for i in range(60))
IDS = ["openai:gpt-4o", "ollama:llama3.2"]


@pytest.fixture
async def fake():
    server = FakeServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def executor(fake, tmp_path):
    options = {"openai": {"api_key": "sk-test-compare", "base_url": f"{fake.url}/v1"},
               "anthropic": {"api_key": "sk-test-compare", "base_url": fake.url},
               "ollama": {"base_url": fake.url}}
    ex = Executor(ExecutorSettings(provider_options=options, attempts=1, cache="off", timeout_s=5),
                  ledger=Ledger(tmp_path / "ledger.db"))
    yield ex
    await ex.aclose()


async def test_models_stream_at_once_and_each_ends_with_its_record(fake, executor):
    fake.default = Script(text=LONG, input_tokens=40, output_tokens=60, chunk_delay=0.01)
    comparing = Comparing(executor, "Count.", IDS, temperature=0.2)
    events = [event async for event in comparing]
    progress = [e for e in events if isinstance(e, Progress)]
    first_done = next(i for i, e in enumerate(events) if isinstance(e, Comparison))
    assert {e.model for e in events[:first_done]} == set(IDS), "both stream before either ends"
    for model in IDS:
        texts = [e.text for e in progress if e.model == model]
        assert len(texts) > 3 and texts[-1] == LONG and all(LONG.startswith(t) for t in texts)
    records = await Comparing(executor, "Count.", IDS).records()   # a second run, read to its end in id order
    assert [r.model for r in records] == IDS
    rows = {r.call_id: r for r in executor.ledger.rows()}
    for record in [*records, *comparing.results.values()]:
        assert (record.status, record.text, record.error) == ("ok", LONG, None)
        assert (record.input_tokens, record.output_tokens) == (40, 60)
        assert 0 < record.ttft_s < record.latency_s
        assert rows[record.call_id].cost_usd == record.cost_usd
    assert comparing.results["openai:gpt-4o"].cost_usd > 0 and comparing.results["ollama:llama3.2"].cost_usd == 0
    assert all(r.body.get("temperature", r.body.get("options", {}).get("temperature")) == 0.2
               for r in fake.requests[:2]), "parameters reach every model"
    frame = table(records)
    # without a schema the table has no `parsed` column (with one, a column per field: test_structured.py)
    assert list(frame["model"]) == IDS and list(frame.columns) == [f for f in Comparison.__dataclass_fields__
                                                                   if f != "parsed"]


async def test_one_failing_model_does_not_stop_the_others(fake, executor):
    fake.responder = lambda r: (Script(status=400, error_message="anthropic says no") if r.path == "/v1/messages"
                                else Script(text="fine", chunk_delay=0.01))
    ids = ["anthropic:claude-sonnet-4-6", *IDS, "gemini:gemini-2.5-flash"]   # gemini: no key at all
    records = {r.model: r for r in await Comparing(executor, "Hi", ids).records()}
    failed = records["anthropic:claude-sonnet-4-6"]
    assert failed.status == "error" and "anthropic says no" in failed.error and failed.text == ""
    assert failed.call_id in {r.call_id for r in executor.ledger.rows(status="error")}
    assert records["gemini:gemini-2.5-flash"].status == "error"
    assert "MissingCredentials" in records["gemini:gemini-2.5-flash"].error
    assert [(records[m].status, records[m].text) for m in IDS] == [("ok", "fine"), ("ok", "fine")]


async def test_cancel_keeps_each_models_partial_text(fake, executor):
    fake.default = Script(text=LONG, chunk_delay=0.03)
    comparing = Comparing(executor, "Count.", IDS)
    seen: set[str] = set()
    both_streaming = asyncio.Event()

    async def consume() -> None:
        async for event in comparing:
            seen.add(event.model)
            if seen == set(IDS):
                both_streaming.set()

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(both_streaming.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert set(comparing.results) == set(IDS)
    for record in comparing.results.values():
        assert record.status == "cancelled" and record.error is None
        assert 0 < len(record.text) < len(LONG) and LONG.startswith(record.text)
    assert sorted(r.status for r in executor.ledger.rows()) == ["cancelled", "cancelled"]
    assert {r.call_id for r in executor.ledger.rows()} == {r.call_id for r in comparing.results.values()}
