"""The cost ledger: genai-prices figures, unknown and local prices, overrides, a multi-process SQLite ledger that
never holds a key, and the DataFrame views. Real SQLite in tmp_path, real (offline) genai-prices."""

from __future__ import annotations

import math
import multiprocessing
import secrets as _random
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from coditect_magics import costs
from coditect_magics.costs import ledger as ledger_module
from coditect_magics.costs import process as process_module
from coditect_magics.costs import prices as prices_module
from coditect_magics.providers import secrets
from coditect_magics.providers.types import Usage

DAY1 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc).timestamp()
DAY2 = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc).timestamp()


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test has its own default ledger and no overrides or prompt-logging setting left by another."""
    path = tmp_path / "ledger.sqlite3"
    monkeypatch.setenv("CODITECT_LEDGER", str(path))
    monkeypatch.delenv("CODITECT_LOG_PROMPTS", raising=False)
    monkeypatch.setattr(process_module, "_log_prompts", None)
    monkeypatch.setattr(ledger_module, "_chosen", None)
    monkeypatch.setattr(prices_module, "_overrides", {})
    return path


@pytest.fixture
def ledger(tmp_path: Path) -> costs.Ledger:
    led = costs.Ledger(tmp_path / "own.sqlite3")
    yield led
    led.close()


def genai_figure(provider_id: str, model: str, inp: int, out: int, cached: int = 0) -> float:
    import genai_prices
    usage = genai_prices.Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cached or None)
    return float(genai_prices.calc_price(usage, model, provider_id=provider_id).total_price)


# --- prices ---------------------------------------------------------------------------------------------------

def test_claude_sonnet_figure_matches_genai_prices() -> None:
    result = costs.price("anthropic", "claude-sonnet-4-5", Usage(1000, 500))
    assert result.known and result.source == "genai-prices"
    assert result.usd == pytest.approx(0.0105, abs=1e-12)
    assert result.usd == genai_figure("anthropic", "claude-sonnet-4-5", 1000, 500)


@pytest.mark.parametrize("provider, model, genai_provider", [
    ("anthropic", "claude-sonnet-4-5", "anthropic"),
    ("anthropic", "claude-haiku-4-5", "anthropic"),
    ("openai", "gpt-4o", "openai"),
    ("openai", "gpt-4.1-mini", "openai"),
    ("gemini", "gemini-2.5-flash", "google"),
    ("gemini", "gemini-2.5-pro", "google"),
])
def test_known_models_match_genai_prices_with_cached_tokens(provider: str, model: str, genai_provider: str) -> None:
    plain = costs.price(provider, model, Usage(12_345, 678))
    assert plain.known and plain.usd == genai_figure(genai_provider, model, 12_345, 678)
    cached = costs.price(provider, model, Usage(12_345, 678, cached_tokens=10_000))
    assert cached.usd == genai_figure(genai_provider, model, 12_345, 678, cached=10_000)
    assert cached.usd < plain.usd  # cache reads are cheaper than fresh input


def test_huggingface_is_priced_through_the_named_inference_provider() -> None:
    routed = costs.price("huggingface", "meta-llama/Llama-3.3-70B-Instruct:groq", Usage(1000, 500))
    assert routed.known
    assert routed.usd == genai_figure("huggingface_groq", "meta-llama/Llama-3.3-70B-Instruct", 1000, 500)
    # without ":provider" the router chooses one we cannot know: unknown, not a guess
    assert costs.price("huggingface", "meta-llama/Llama-3.3-70B-Instruct", Usage(1000, 500)) == (
        costs.PriceResult(None, False, "unknown"))


@pytest.mark.parametrize("provider, model", [("openai", "no-such-model-xyz"), ("anthropic", "claude-from-2099"),
                                             ("gemini", ""), ("my-plugin", "whatever"), ("search", "ddg")])
def test_unknown_model_is_unknown_not_a_crash(provider: str, model: str) -> None:
    result = costs.price(provider, model, Usage(1000, 500))
    assert result.usd is None and result.known is False


@pytest.mark.parametrize("provider", ["ollama", "lmstudio", "local"])
def test_local_providers_cost_nothing(provider: str) -> None:
    assert costs.price(provider, "llama3.2", Usage(100_000, 50_000)) == costs.PriceResult(0.0, True, "local")


def test_price_override_wins_and_prices_cached_tokens() -> None:
    costs.set_price("anthropic", "claude-sonnet-4-5", 1.0, 2.0, cached_per_mtok=0.5)
    result = costs.price("anthropic", "claude-sonnet-4-5", Usage(1_000_000, 1_000_000, cached_tokens=400_000))
    assert result == costs.PriceResult(pytest.approx(0.6 + 0.2 + 2.0), True, "override")
    # without a cached price, cached tokens cost the input price
    costs.set_price(None, "my-finetune", 3.0, 6.0)
    assert costs.price("openai", "MY-FINETUNE", Usage(500_000, 100_000, 200_000)).usd == pytest.approx(1.5 + 0.6)
    # an override prices an otherwise unknown model, and even a local one
    costs.set_price("ollama", "*", 0.1, 0.1)
    assert costs.price("ollama", "llama3.2", Usage(1_000_000, 0)).usd == pytest.approx(0.1)
    costs.clear_prices("ollama")
    assert costs.price("ollama", "llama3.2", Usage(1_000_000, 0)).usd == 0.0
    costs.clear_prices()
    assert costs.price("anthropic", "claude-sonnet-4-5", Usage(1000, 500)).usd == pytest.approx(0.0105)
    with pytest.raises(ValueError):
        costs.set_price("openai", "gpt-4o", -1, 1)


# --- the ledger -----------------------------------------------------------------------------------------------

def test_record_call_prices_and_stores_a_row(ledger: costs.Ledger) -> None:
    stored = costs.record_call("anthropic", "claude-sonnet-4-5", Usage(1000, 500), ledger=ledger, latency_s=1.25,
                               ttft_s=0.3, agent="researcher", run_id="r1")
    [row] = ledger.rows()
    assert row == stored
    assert row.cost_usd == pytest.approx(0.0105) and row.price_known is True
    assert (row.input_tokens, row.output_tokens, row.status, row.agent) == (1000, 500, "ok", "researcher")
    assert row.session_id == costs.session_id() and len(row.id) == 32 and row.prompt is None


def test_record_from_a_reply_is_priced_at_its_time(ledger: costs.Ledger) -> None:
    from coditect_magics.providers.types import Reply
    reply = Reply("hi", "openai", "gpt-4o", Usage(2000, 100, 1000), latency_s=0.4, ttft_s=0.1)
    rec = ledger.record(costs.CallRecord.from_reply(reply, agent="a", ts=DAY1))
    assert (rec.latency_s, rec.ttft_s, rec.agent, rec.ts, rec.cached_tokens) == (0.4, 0.1, "a", DAY1, 1000)
    assert rec.cost_usd == genai_figure("openai", "gpt-4o", 2000, 100, cached=1000)


def test_cached_answers_cost_nothing_and_attempts_share_a_call_id(ledger: costs.Ledger) -> None:
    costs.record_call("openai", "gpt-4o", Usage(1000, 500), ledger=ledger, status="cached")
    call = uuid.uuid4().hex
    costs.record_call("openai", "gpt-4o", None, ledger=ledger, status="error", error_class="RateLimited",
                      call_id=call, attempt=1)
    costs.record_call("openai", "gpt-4o", Usage(10, 5), ledger=ledger, call_id=call, attempt=2)
    cached = ledger.rows(status="cached")[0]
    assert (cached.cost_usd, cached.price_known) == (0.0, True)
    attempts = ledger.rows(call_id=call)
    assert [(r.attempt, r.status, r.error_class) for r in attempts] == [(1, "error", "RateLimited"), (2, "ok", None)]
    with pytest.raises(ValueError, match="status"):
        costs.CallRecord("openai", "gpt-4o", status="maybe")


def test_pick_best_is_a_free_row_pointing_at_the_chosen_call(ledger: costs.Ledger) -> None:
    chosen = costs.record_call("openai", "gpt-4o", Usage(100, 20), ledger=ledger)
    costs.record_call("ollama", "llama3.2", Usage(100, 20), ledger=ledger)
    picked = ledger.pick_best(chosen.call_id, provider="openai", model="gpt-4o", session_id="s9", latency_s=0.5)
    [stored] = ledger.rows(agent="compare:pick")
    assert stored == picked and stored.parent_call_id == chosen.call_id and stored.call_id != chosen.call_id
    assert (stored.provider, stored.model, stored.session_id, stored.latency_s) == ("openai", "gpt-4o", "s9", 0.5)
    assert (stored.cost_usd, stored.price_known, stored.input_tokens, stored.status) == (0.0, True, 0, "ok")
    assert ledger.spend() == pytest.approx(chosen.cost_usd), "a pick costs nothing"


def test_default_ledger_path(monkeypatch: pytest.MonkeyPatch, isolated: Path, tmp_path: Path) -> None:
    assert costs.default_path() == isolated
    costs.record_call("ollama", "llama3.2", Usage(1, 1))
    assert isolated.exists() and costs.default_ledger().count() == 1
    explicit = costs.Ledger(tmp_path / "explicit.sqlite3")
    assert explicit.path == tmp_path / "explicit.sqlite3"
    monkeypatch.delenv("CODITECT_LEDGER")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    path = costs.default_path()
    assert path.name == "ledger.sqlite3" and path.parent.name == "coditect-magics"
    assert str(path).startswith(str(tmp_path / "home"))  # HOME is tmp in tests: platformdirs' user data dir
    costs.set_ledger(explicit)
    assert costs.default_ledger() is explicit


def test_wal_mode(ledger: costs.Ledger) -> None:
    assert ledger.query("PRAGMA journal_mode")[1][0][0] == "wal"


def _write_rows(path: str, worker: int, n: int, start) -> None:
    led = costs.Ledger(path)
    start.wait(60)  # all four write at the same moment
    for i in range(n):
        led.record(costs.CallRecord("openai", "gpt-4o", input_tokens=i, output_tokens=1, agent=f"w{worker}",
                                    cost_usd=0.001, price_known=True))
    led.close()


def test_four_processes_lose_no_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_write_rows, args=(path, w, 1000, start)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    led = costs.Ledger(path)
    assert led.count() == 4000
    assert led.query("SELECT count(DISTINCT id) FROM calls")[1][0][0] == 4000
    frame = costs.costs(by="agent", ledger=led)
    assert frame["calls"].to_dict() == {"w0": 1000, "w1": 1000, "w2": 1000, "w3": 1000}
    assert len({r.session_id for r in led.rows(limit=4000)}) == 4  # one session per process


def test_threads_share_one_ledger(ledger: costs.Ledger) -> None:
    import threading
    threads = [threading.Thread(target=lambda: [ledger.record(costs.CallRecord("ollama", "x")) for _ in range(250)])
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.count() == 2000


def test_no_key_in_the_ledger_file(ledger: costs.Ledger) -> None:
    key = "sk-test-" + _random.token_hex(16)
    secrets.remember(key)
    costs.set_log_prompts(True)
    costs.record_call("openai", "gpt-4o", Usage(5, 5), ledger=ledger, status="error", error_class="Unauthorized",
                      error_message=f"401: invalid api key {key} (Bearer {key})",
                      prompt=f"please echo my key {key}", agent=f"agent-{key}")
    [row] = ledger.rows()
    assert key not in repr(row) and "***" in row.error_message and "***" in row.prompt
    ledger.close()
    blob = b"".join(p.read_bytes() for p in ledger.path.parent.glob(ledger.path.name + "*"))
    assert key.encode() not in blob and b"please echo my key ***" in blob


def test_prompt_is_kept_only_when_logging_is_on(ledger: costs.Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    costs.record_call("ollama", "llama3.2", Usage(1, 1), ledger=ledger, prompt="secret plans")
    monkeypatch.setenv("CODITECT_LOG_PROMPTS", "1")
    costs.record_call("ollama", "llama3.2", Usage(1, 1), ledger=ledger, prompt="logged by env")
    costs.set_log_prompts(False)
    costs.record_call("ollama", "llama3.2", Usage(1, 1), ledger=ledger, prompt="off again")
    assert [r.prompt for r in ledger.rows()] == [None, "logged by env", None]
    assert costs.Ledger(ledger.path, log_prompts=True).record(
        costs.CallRecord("ollama", "x", prompt="per ledger")).prompt == "per ledger"


def test_session_is_per_process_unless_set() -> None:
    first = costs.session_id()
    assert costs.session_id() == first and len(first) == 32
    try:
        assert costs.set_session("notebook-a") == "notebook-a"
        assert costs.CallRecord("ollama", "x").session_id == "notebook-a"
        fresh = costs.set_session()
        assert fresh not in (first, "notebook-a")
    finally:
        ledger_module._session, ledger_module._session_set = first, False


# --- the frames -----------------------------------------------------------------------------------------------

def _fill(led: costs.Ledger) -> None:
    rows = [
        # provider, model, agent, ts, in, out, cost, known, latency, session
        ("anthropic", "claude-sonnet-4-5", "writer", DAY1, 1000, 500, 0.0105, True, 1.0, "s1"),
        ("anthropic", "claude-sonnet-4-5", None, DAY1 + 60, 2000, 100, 0.0075, True, 3.0, "s1"),
        ("openai", "gpt-4o", "writer", DAY1 + 120, 100, 10, 0.00035, True, 0.5, "s2"),
        ("openai", "mystery", None, DAY2, 50, 50, None, False, None, "s2"),
        ("ollama", "llama3.2", "coder", DAY2 + 60, 700, 300, 0.0, True, 2.0, "s1"),
    ]
    for p, m, a, ts, i, o, c, k, lat, s in rows:
        led.record(costs.CallRecord(p, m, agent=a, ts=ts, input_tokens=i, output_tokens=o, cost_usd=c,
                                    price_known=k, latency_s=lat, session_id=s))


def test_raw_frame(ledger: costs.Ledger) -> None:
    _fill(ledger)
    frame = costs.costs(ledger=ledger)
    assert len(frame) == 5 and list(frame.columns[:5]) == ["ts", "provider", "model", "agent", "status"]
    assert "session_id" not in frame.columns and "prompt" not in frame.columns  # columns="all" has them
    full = costs.costs(ledger=ledger, columns="all")
    assert {"session_id", "call_id", "run_id", "parent_call_id", "id", "prompt", "error_message"} <= set(full.columns)
    assert full["session_id"].tolist() == ["s1", "s1", "s2", "s2", "s1"]
    assert list(costs.costs(ledger=ledger, columns=["model", "cost_usd"]).columns) == ["model", "cost_usd"]
    with pytest.raises(ValueError):
        costs.costs(ledger=ledger, columns=["colour"])
    assert str(frame["ts"].dt.tz) == "UTC" and frame["ts"].iloc[0].timestamp() == DAY1
    assert math.isnan(frame["cost_usd"].iloc[3]) and not frame["price_known"].iloc[3]
    assert frame["cost_usd"].sum() == pytest.approx(0.01835)
    assert frame["input_tokens"].dtype == "int64" and frame["cost_usd"].dtype == "float64"


@pytest.mark.parametrize("by, expected", [
    ("provider", {"anthropic": (2, 3000, 600, 0.018, 0, 2.0), "ollama": (1, 700, 300, 0.0, 0, 2.0),
                  "openai": (2, 150, 60, 0.00035, 1, 0.5)}),
    ("model", {"anthropic:claude-sonnet-4-5": (2, 3000, 600, 0.018, 0, 2.0),
               "ollama:llama3.2": (1, 700, 300, 0.0, 0, 2.0), "openai:gpt-4o": (1, 100, 10, 0.00035, 0, 0.5),
               "openai:mystery": (1, 50, 50, math.nan, 1, math.nan)}),
    ("agent", {"(none)": (2, 2050, 150, 0.0075, 1, 3.0), "coder": (1, 700, 300, 0.0, 0, 2.0),
               "writer": (2, 1100, 510, 0.01085, 0, 0.75)}),
])
def test_aggregates(ledger: costs.Ledger, by: str, expected: dict) -> None:
    _fill(ledger)
    frame = costs.costs(by=by, ledger=ledger)
    assert frame.index.name == by
    got = {key: (r.calls, r.input_tokens, r.output_tokens, r.cost_usd, r.unknown_price, r.mean_latency_s)
           for key, r in frame.iterrows()}
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        assert got[key] == pytest.approx(want, nan_ok=True), key


def test_aggregate_by_day_and_by_several_keys(ledger: costs.Ledger) -> None:
    _fill(ledger)
    days = costs.costs(by="day", ledger=ledger)
    assert [d.strftime("%Y-%m-%d") for d in days.index] == ["2026-03-01", "2026-03-02"]
    assert days["calls"].tolist() == [3, 2] and days["unknown_price"].tolist() == [0, 1]
    assert days["cost_usd"].tolist() == pytest.approx([0.01835, 0.0])
    both = costs.costs(by=["provider", "day"], ledger=ledger)
    assert both.loc[("openai", days.index[1]), "unknown_price"] == 1
    with pytest.raises(ValueError, match="provider"):
        costs.costs(by="colour", ledger=ledger)


def test_filters_by_session_and_time(ledger: costs.Ledger) -> None:
    _fill(ledger)
    assert len(costs.costs(session="s1", ledger=ledger)) == 3
    assert costs.costs(by="provider", session="s2", ledger=ledger)["calls"].to_dict() == {"openai": 2}
    day2 = datetime(2026, 3, 2, tzinfo=timezone.utc)
    assert len(costs.costs(since=day2, ledger=ledger)) == 2
    assert len(costs.costs(until=day2, ledger=ledger)) == 3
    assert len(costs.costs(since=DAY1 + 60, until=DAY2, ledger=ledger)) == 2  # since inclusive, until exclusive
    assert len(costs.costs(since="2026-03-01T10:01:00+00:00", until="2026-03-02T00:00:00Z", ledger=ledger)) == 2
    assert len(costs.costs(session="s1", since=day2, ledger=ledger)) == 1
    assert len(ledger.rows(provider="anthropic", since=DAY1 + 1)) == 1
    costs.record_call("ollama", "now", Usage(1, 1), ledger=ledger)  # this process's session, timestamped now
    assert len(costs.costs(since=timedelta(minutes=5), ledger=ledger)) == 1
    assert costs.costs(session="current", ledger=ledger)["model"].tolist() == ["now"]


def test_inline_display_formats_usd_and_adds_totals(ledger: costs.Ledger) -> None:
    _fill(ledger)
    raw = costs.costs(ledger=ledger)
    html = raw._repr_html_()
    assert "$0.0105" in html and "unknown" in html and "total (5 calls)" in html
    assert "$0.01835 + 1 unknown" in html
    by_model = costs.costs(by="model", ledger=ledger)
    import pandas as pd
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        text = repr(by_model)
    assert "total" in text and "$0.018" in text and "unknown" in text
    assert by_model.display_frame().loc["total", "calls"] == 5
    # the data stays numeric and without the totals row; derived frames are plain DataFrames
    assert len(by_model) == 4 and by_model["cost_usd"].dtype == "float64"
    assert type(by_model[by_model["calls"] > 1]).__name__ == "DataFrame"
    assert "total" in repr(costs.costs(ledger=costs.Ledger(ledger.path.with_name("empty.sqlite3"))))


def test_spend_sums_known_costs_for_budgets(ledger: costs.Ledger) -> None:
    assert ledger.spend() == 0.0
    _fill(ledger)
    assert ledger.spend() == pytest.approx(0.01835)
    assert ledger.spend(session="s1") == pytest.approx(0.018)
    assert ledger.spend(agent="writer") == pytest.approx(0.01085)
    assert ledger.spend(since=DAY2) == 0.0 and ledger.unknown_calls(since=DAY2) == 1
    assert ledger.unknown_calls(session="s1") == 0


def test_raw_rows_come_back_in_time_order(ledger: costs.Ledger) -> None:
    for ts in (DAY2, DAY1, DAY1 + 5):  # written out of order (clock skew between kernels, imports)
        ledger.record(costs.CallRecord("ollama", f"m{ts}", ts=ts))
    assert costs.costs(ledger=ledger)["ts"].tolist() == sorted(costs.costs(ledger=ledger)["ts"].tolist())
    assert [r.ts for r in ledger.rows()] == [DAY1, DAY1 + 5, DAY2]


def test_long_frames_display_head_and_tail_only(ledger: costs.Ledger) -> None:
    import pandas as pd
    ledger.record_many(costs.CallRecord("openai", "gpt-4o", ts=DAY1 + i, cost_usd=0.01, price_known=True,
                                        input_tokens=i) for i in range(100))
    frame = costs.costs(ledger=ledger)
    with pd.option_context("display.max_rows", 20, "display.min_rows", 6):
        shown = frame.display_frame()
    assert list(shown.index) == [0, 1, 2, "…", 97, 98, 99, "total (100 calls)"]
    assert shown.loc["total (100 calls)", "cost_usd"] == "$1.00"
    assert shown.loc["total (100 calls)", "input_tokens"] == sum(range(100))


def test_importing_costs_is_cheap() -> None:
    code = ("import sys; from coditect_magics import costs; "
            "print(sorted(m for m in ('pandas', 'genai_prices', 'platformdirs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_ledger_written_before_memory_items_gains_the_column(tmp_path: Path) -> None:
    """A ledger file from the first schema opens, keeps its rows and takes rows with the new column."""
    import sqlite3
    path = tmp_path / "old.sqlite3"
    # the schema as the raw-sqlite3 ledger of the first release wrote it (before migrations were tracked)
    old_schema = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY, call_id TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 1, parent_call_id TEXT,
    run_id TEXT, ts REAL NOT NULL, session_id TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
    agent TEXT, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL, price_known INTEGER NOT NULL DEFAULT 0,
    latency_s REAL, ttft_s REAL, status TEXT NOT NULL, error_class TEXT, error_message TEXT, prompt TEXT);
CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts);
PRAGMA user_version = 1;
"""
    with sqlite3.connect(path) as conn:
        conn.executescript(old_schema)
        conn.execute("INSERT INTO calls (id, call_id, ts, session_id, provider, model, status) "
                     "VALUES ('a', 'c', 1.0, 's', 'openai', 'gpt-4o', 'ok')")
    ledger = costs.Ledger(path)
    ledger.record(costs.CallRecord(provider="openai", model="gpt-4o", memory_items=3))
    assert [r.memory_items for r in ledger.rows()] == [0, 3]
    assert "memory_items" in costs.costs(ledger=ledger, columns="all").columns
    ledger.close()
    assert [r.memory_items for r in costs.Ledger(path).rows()] == [0, 3], "a second open changes nothing"


@pytest.mark.parametrize("text, seconds_ago", [("30m", 1800), ("12h", 43200), ("7d", 604800), ("2w", 1209600),
                                               ("1.5h", 5400)])
def test_spans_back_from_now(text: str, seconds_ago: int) -> None:
    import time
    from coditect_magics.when import epoch
    assert abs(epoch(text) - (time.time() - seconds_ago)) < 5


def test_times_that_cannot_be_read_say_how_to_write_them() -> None:
    from coditect_magics.when import epoch
    assert epoch("2026-11-25T00:00:00+00:00") == datetime(2026, 11, 25, tzinfo=timezone.utc).timestamp()
    with pytest.raises(ValueError, match="span back from now"):
        epoch("last tuesday")
    with pytest.raises(TypeError, match="span such as"):
        epoch([1])
