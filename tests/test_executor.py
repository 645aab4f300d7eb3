"""The executor through real SDKs against the loopback server: retries, Retry-After, fallbacks, the wait bound,
streams (cut and cancelled), the cache, budgets, rate limits, compare, and the ledger rows each leaves."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from coditect_magics import bridge
from coditect_magics.budgets import BudgetExceeded, Budgets
from coditect_magics.cache import ResponseCache
from coditect_magics.costs import Ledger, price
from coditect_magics.executor import CallContext, Executor, ExecutorSettings
from coditect_magics.providers import Usage, errors
from tests.fakes import FakeServer, Script
from tests.waiting import interrupt_when

KEY = "sk-test-executor-SECRET-42"


def build(tmp_path, url: str, **settings) -> Executor:
    options = {"openai": {"api_key": KEY, "base_url": f"{url}/v1"},
               "anthropic": {"api_key": KEY, "base_url": url},
               "ollama": {"base_url": url}}
    settings = {"attempts": 3, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_wait_s": 5,
                "timeout_s": 5, **settings}
    return Executor(ExecutorSettings(provider_options=options, **settings), ledger=Ledger(tmp_path / "ledger.db"),
                    cache=ResponseCache(tmp_path / "cache.db"))


@pytest.fixture
async def make_executor():
    """Executors on a test's loopback server; each is closed on the test's loop, so no SDK client outlives it."""
    made: list[Executor] = []

    def make(tmp_path, url: str, **settings) -> Executor:
        made.append(build(tmp_path, url, **settings))
        return made[-1]

    yield make
    for ex in made:
        await ex.aclose()


def rows(ex: Executor) -> list[dict]:
    columns, values = ex.ledger.query("SELECT * FROM calls ORDER BY ts, attempt")
    return [dict(zip(columns, v)) for v in values]


async def test_retry_then_succeed(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url)
    server.script(Script(status=500), Script(status=503), Script(text="third time lucky", input_tokens=10,
                                                                  output_tokens=3))
    reply = await ex.run("openai:gpt-4o", "Hi")
    assert reply.text == "third time lucky"
    assert len(server.requests) == 3
    recorded = rows(ex)
    assert [r["status"] for r in recorded] == ["error", "error", "ok"]
    assert [r["attempt"] for r in recorded] == [1, 2, 3]
    assert len({r["call_id"] for r in recorded}) == 1
    assert recorded[0]["error_class"] == "ServerError"
    assert recorded[2]["cost_usd"] == pytest.approx(price("openai", "gpt-4o", Usage(10, 3)).usd)


async def test_retry_after_is_honoured(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url)
    answers = iter([Script(status=429, retry_after="0.4"), Script(text="after the wait")])
    arrived: list[float] = []
    server.responder = lambda recorded: (arrived.append(time.monotonic()), next(answers))[1]
    reply = await ex.run("openai:gpt-4o", "Hi")
    assert reply.text == "after the wait" and len(arrived) == 2
    # timed between the two requests the server saw, past the first call's SDK import: the server's 0.4 s, not the
    # 0.01 s backoff, and not some longer wait (max_wait_s is 5)
    waited = arrived[1] - arrived[0]
    assert 0.4 <= waited < 2.4, waited


async def test_gives_up_after_the_attempt_bound(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url, attempts=3)
    server.script(*[Script(status=500)] * 5)
    with pytest.raises(errors.ServerError):
        await ex.run("openai:gpt-4o", "Hi")
    assert len(server.requests) == 3
    assert [r["status"] for r in rows(ex)] == ["error"] * 3


async def test_rate_limit_past_the_wait_budget_falls_back_at_once(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url, max_wait_s=1)
    server.script(Script(status=429, retry_after="120"), Script(text="from anthropic"))
    start = time.perf_counter()
    reply = await ex.run(["openai:gpt-4o", "anthropic:claude-sonnet-4-6"], "Hi")
    assert time.perf_counter() - start < 10, "a 120 s Retry-After past a 1 s wait budget must not be waited"
    assert (reply.provider, reply.text) == ("anthropic", "from anthropic")
    assert [r.path for r in server.requests] == ["/v1/chat/completions", "/v1/messages"]


async def test_fallback_after_server_errors(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url, attempts=2)
    server.script(Script(status=503), Script(status=503), Script(text="ollama answers"))
    reply = await ex.run("openai:gpt-4o", "Hi", fallbacks=["ollama:llama3.2"])
    assert (reply.provider, reply.text) == ("ollama", "ollama answers")
    assert [(r["provider"], r["status"]) for r in rows(ex)] == [("openai", "error"), ("openai", "error"),
                                                                ("ollama", "ok")]


async def test_missing_credentials_fall_back(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url)
    reply = await ex.run(["gemini:gemini-2.5-flash", "ollama:llama3.2"], "Hi")
    assert reply.provider == "ollama"
    assert rows(ex)[0]["error_class"] == "MissingCredentials"


async def test_bad_request_does_not_fall_back(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url)
    server.script(Script(status=400, error_message="messages: invalid"))
    with pytest.raises(errors.BadRequest):
        await ex.run(["openai:gpt-4o", "ollama:llama3.2"], "Hi")
    assert len(server.requests) == 1


async def test_stream_retries_only_before_the_first_chunk(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url)
    server.script(Script(status=500), Script(text="one two three four", cut_after=2))
    execution = ex.stream("openai:gpt-4o", "Hi")
    received = []
    with pytest.raises(errors.StreamCut):
        async for chunk in execution:
            received.append(chunk.text)
    assert "".join(received) == execution.text == "one two "
    assert len(server.requests) == 2, "a stream is not retried once text has arrived"
    last = rows(ex)[-1]
    assert (last["status"], last["error_class"]) == ("error", "StreamCut")
    assert last["cost_usd"] is None and last["price_known"] == 0, "text was produced but usage is unknown"


async def test_cancelled_stream_keeps_partial_text_and_row(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url)
    server.script(Script(text="a b c d e f g h i j", chunk_delay=0.1))
    execution = ex.stream("openai:gpt-4o", "Hi")
    got_two = asyncio.Event()

    async def consume():
        n = 0
        async for chunk in execution:
            n += bool(chunk.text)
            if n == 2:
                got_two.set()

    task = asyncio.create_task(consume())
    await got_two.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert execution.text == "a b "
    assert rows(ex)[-1]["status"] == "cancelled"


def test_interrupt_through_the_bridge(tmp_path):
    """The kernel's interrupt cancels the call on the kit's loop, mid-stream: the chunks seen stay, the rest never
    comes, the ledger says cancelled."""
    fake = FakeServer()
    url = fake.start_in_thread()
    try:
        ex = build(tmp_path, url)
        words = 200  # 10 s of stream at 0.05 s a word: far longer than the interrupt needs
        fake.script(Script(text=" ".join("word" for _ in range(words)), chunk_delay=0.05))
        execution = ex.stream("openai:gpt-4o", "Hi")
        received: list[str] = []
        three_in = threading.Event()
        interrupter = interrupt_when(three_in)
        with pytest.raises(KeyboardInterrupt):
            for chunk in bridge.iterate(lambda: execution.__aiter__()):
                received.append(chunk.text)
                if len([t for t in received if t]) == 3:
                    three_in.set()
        interrupter.join(10)
        assert 3 <= len([t for t in received if t]) < words, "stopped mid-stream, after what it was shown"
        assert execution.text.startswith("".join(received))  # a chunk may arrive after the last one shown
        assert len(execution.text.split()) < words
        assert rows(ex)[-1]["status"] == "cancelled"
        bridge.run(ex.aclose())
    finally:
        fake.stop_thread()


async def test_cache_answers_identical_temperature_zero_requests(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url)
    server.script(Script(text="deterministic", input_tokens=50, output_tokens=5), Script(text="different"))
    first = await ex.run("openai:gpt-4o", "Hi", temperature=0)
    second = await ex.run("openai:gpt-4o", "Hi", temperature=0)
    assert first.text == second.text == "deterministic" and second.cached
    assert len(server.requests) == 1
    recorded = rows(ex)
    assert [r["status"] for r in recorded] == ["ok", "cached"]
    assert recorded[1]["cost_usd"] == 0 and recorded[1]["input_tokens"] == 50
    streamed = ex.stream("openai:gpt-4o", "Hi", temperature=0)
    assert "".join([c.text async for c in streamed]) == "deterministic"
    assert len(server.requests) == 1


async def test_cache_is_off_for_sampling_and_when_asked(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url)
    server.script(Script(text="one"), Script(text="two"), Script(text="three"), Script(text="four"))
    assert (await ex.run("openai:gpt-4o", "Hi", temperature=0.7)).text == "one"
    assert (await ex.run("openai:gpt-4o", "Hi", temperature=0.7)).text == "two"
    assert (await ex.run("openai:gpt-4o", "Hi", temperature=0, cache=False)).text == "three"
    assert (await ex.run("openai:gpt-4o", "Hi", temperature=0.7, cache=True)).text == "four"
    assert (await ex.run("openai:gpt-4o", "Hi", temperature=0.7, cache=True)).text == "four"


async def test_budget_refuses_a_call_past_the_limit(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url, budgets=Budgets(session_usd=0.001, agent_usd=1.0))
    server.script(Script(input_tokens=100_000, output_tokens=1000))
    await ex.run("openai:gpt-4o", "Hi", context=CallContext(agent="writer"))
    spent = ex.ledger.spend(session=ex.session_id)
    assert spent > 0.001
    with pytest.raises(BudgetExceeded) as caught:
        await ex.run("openai:gpt-4o", "Hi again")
    assert "session budget of $0.0010" in str(caught.value) and f"${spent:.4f} spent" in str(caught.value)
    assert len(server.requests) == 1, "a refused call sends nothing"


async def test_rate_limit_spaces_calls(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url, rate_limits={"openai": "2/second"})
    start = time.perf_counter()
    await asyncio.gather(*[ex.run("openai:gpt-4o", f"call {i}") for i in range(4)])
    assert time.perf_counter() - start >= 0.9
    assert len(server.requests) == 4


async def test_compare_runs_at_once_and_keeps_errors_in_their_row(tmp_path, make_executor):
    fake = FakeServer(latency=1.0)
    await fake.start()
    try:
        ex = make_executor(tmp_path, fake.url, attempts=1)
        ids = ["openai:gpt-4o", "anthropic:claude-sonnet-4-6", "ollama:llama3.2", "gemini:gemini-2.5-flash"]
        for model in ids[:3]:  # an SDK's first import blocks the loop (~0.5-1.2 s): not part of the overlap
            await ex.run(model, "warm up", cache=False)
        arrived: list[float] = []
        fake.responder = lambda recorded: (arrived.append(time.monotonic()), Script(text="same answer"))[1]
        table = await ex.compare_table("Hi", ids)
        # each reply takes 1 s on the server: all three arriving within that time means none waited for another
        assert len(arrived) == 3 and max(arrived) - min(arrived) < 1.0, "the calls must overlap"
        assert list(table["model"]) == ids and list(table.columns)[:3] == ["model", "text", "status"]
        gemini = table.iloc[3]
        assert gemini["status"] == "error" and "MissingCredentials" in gemini["error"]
        assert list(table["text"][:3]) == ["same answer"] * 3 and table["ttft_s"][:3].notna().all()
        assert table["cost_usd"].iloc[0] > 0 and table["cost_usd"].iloc[2] == 0
    finally:
        await fake.stop()


async def test_echoed_key_never_reaches_the_ledger(server, tmp_path, make_executor):
    ex = make_executor(tmp_path, server.url, log_prompts=True)
    server.script(Script(status=401, echo_key=True), Script(status=400, echo_key=True))
    with pytest.raises(errors.ProviderError):
        await ex.run(["openai:gpt-4o", "anthropic:claude-sonnet-4-6"], f"my key is {KEY}")
    assert server.requests[0].credential == KEY
    assert any(KEY[:12] in (r["error_message"] or "") or "***" in (r["error_message"] or "") for r in rows(ex))
    data = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db*"))
    assert KEY.encode() not in data
