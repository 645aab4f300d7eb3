"""The team ledger: the same code path on SQLite and on a real PostgreSQL 15 server (started here on loopback).

The same calls give the same rows, frames and budgets in both stores; two processes writing at once lose and
duplicate nothing; files from before tracked migrations upgrade with their rows; no key reaches either store."""

from __future__ import annotations

import math
import multiprocessing
import secrets as _random
import sqlite3
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest

from coditect_magics import costs
from coditect_magics.costs import ledger as ledger_module
from coditect_magics.costs import process as process_module
from coditect_magics.costs.frame import GROUP_KEYS
from coditect_magics.costs.schema import MIGRATIONS
from coditect_magics.providers import secrets
from tests.fakes import Script
from tests.servers import free_port, start_postgres
from tests.queue_support import team, workers  # noqa: F401 - fixtures

DAY = 86400.0
T0 = 1_790_000_000.0  # 2026-09-21 14:13 UTC, a fixed clock so both stores see the same days


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    url, stop = start_postgres()
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def pg_url(postgres: str) -> str:
    """A fresh, empty database on the module's server for each test."""
    import psycopg
    name = "t_" + _random.token_hex(6)
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(autouse=True)
def _quiet_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process_module, "_log_prompts", None)
    monkeypatch.setattr(ledger_module, "_chosen", None)


def _calls() -> list[costs.CallRecord]:
    """A varied day of calls: several providers, agents, runs, statuses, unknown and NaN prices, 3 UTC days."""
    out = []
    models = [("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-4o"), ("ollama", "llama3.2"), ("openai", "mystery")]
    for i in range(60):
        provider, model = models[i % len(models)]
        known = model != "mystery"
        cost = (i * 0.00037 if i % 11 else math.nan) if known else None
        out.append(costs.CallRecord(
            provider, model, status=("ok", "ok", "error", "cached", "cancelled")[i % 5], input_tokens=10 * i,
            output_tokens=i, cached_tokens=i % 3, cost_usd=cost, price_known=known,
            latency_s=None if i % 7 == 0 else 0.1 * i, ttft_s=None if i % 4 == 0 else 0.01 * i,
            error_class="Boom" if i % 5 == 2 else None, agent=(None, "coder", "researcher")[i % 3],
            run_id=None if i % 2 else f"run{i % 4}", session_id=f"s{i % 3}", memory_items=i % 2,
            ts=T0 + i * 3600.0 + (i % 2) * 0.25, id=f"id{i:03d}", call_id=f"c{i // 2}", attempt=1 + i % 2))
    out.append(costs.CallRecord("openai", "gpt-4o", ts=T0 + 4 * 3600.0, id="id-tie", call_id="tie"))  # ties id004
    return out


def _fill(ledger: costs.Ledger) -> costs.Ledger:
    calls = _calls()
    for rec in calls[:30]:
        ledger.record(rec)
    ledger.record_many(calls[30:])
    return ledger


def test_the_same_calls_give_the_same_rows_frames_and_budgets(tmp_path: Path, pg_url: str) -> None:
    lite, team = _fill(costs.Ledger(tmp_path / "ledger.sqlite3")), _fill(costs.Ledger(pg_url))
    assert team.url and team.path is None and "postgresql" in repr(team)
    assert lite.rows() == team.rows() and len(team.rows()) == 61
    assert [r.id for r in team.rows()][3:6] == ["id003", "id-tie", "id004"]  # a tie in time goes by id
    assert lite.rows(limit=5, provider="openai") == team.rows(limit=5, provider="openai")
    pd.testing.assert_frame_equal(costs.costs(ledger=lite), costs.costs(ledger=team))
    pd.testing.assert_frame_equal(costs.costs(ledger=lite, columns="all"), costs.costs(ledger=team, columns="all"))
    for by in [*GROUP_KEYS, ["provider", "day"], ["agent", "status"]]:
        here, there = costs.costs(by=by, ledger=lite), costs.costs(by=by, ledger=team)
        pd.testing.assert_frame_equal(here, there, obj=f"costs(by={by!r})")
        assert here.attrs == there.attrs and repr(here) == repr(there)
    days = costs.costs(by="day", ledger=team)
    assert list(days.index) == list(pd.date_range("2026-09-21", "2026-09-24"))  # T0 is 14:13 UTC, + 60 hours
    for filters in [{}, {"session": "s1"}, {"agent": "coder"}, {"since": T0 + DAY, "until": T0 + 2 * DAY},
                    {"provider": "openai", "status": "error"}, {"run_id": "run2"}]:
        assert lite.spend(**filters) == pytest.approx(team.spend(**filters), abs=1e-12), filters
        assert lite.unknown_calls(**filters) == team.unknown_calls(**filters)
        assert lite.count(**filters) == team.count(**filters)
    assert team.spend() > 0
    sql = "SELECT count(*), sum(input_tokens) FROM calls WHERE provider = ? AND ts >= ?"
    assert lite.query(sql, ("openai", T0))[1] == team.query(sql, ("openai", T0))[1]
    assert team.query("SELECT count(*) AS n FROM calls WHERE agent = :a", {"a": "coder"}) == (["n"], [(20,)])
    lite.close()
    team.close()


def test_budgets_agree_between_the_stores(tmp_path: Path, pg_url: str) -> None:
    from coditect_magics.budgets import BudgetExceeded, Budgets
    lite, team = _fill(costs.Ledger(tmp_path / "ledger.sqlite3")), _fill(costs.Ledger(pg_url))
    spent = lite.spend(session="s1")
    for limit in (spent * 0.99, spent * 1.01):
        outcomes = []
        for ledger in (lite, team):
            try:
                Budgets(session_usd=limit, agent_usd=limit * 10).check(ledger.spend, "s1", "coder")
                outcomes.append(None)
            except BudgetExceeded as exc:
                outcomes.append((exc.scope, exc.spent))
        assert outcomes[0] == outcomes[1] and (outcomes[0] is None) == (limit > spent)
    lite.close()
    team.close()


def test_the_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODITECT_LEDGER", "postgresql://me:hunter2@db.example:5432/ledger")
    assert costs.default_ledger().url == "postgresql://me:hunter2@db.example:5432/ledger"
    assert "hunter2" not in repr(costs.default_ledger())
    assert costs.default_path().name == "ledger.sqlite3"  # local stores (threads) stay on disk
    monkeypatch.setenv("CODITECT_LEDGER", str(tmp_path / "odd #1?%" / "mine.sqlite3"))
    assert costs.default_ledger().path == tmp_path / "odd #1?%" / "mine.sqlite3"
    costs.record_call("ollama", "llama3.2", None)  # a path is never parsed as a URL
    assert (tmp_path / "odd #1?%" / "mine.sqlite3").exists() and costs.default_ledger().count() == 1


def _write(target: str, worker: int, n: int, start) -> None:
    ledger = costs.Ledger(target)
    start.wait(60)  # both open (and migrate) the new store at the same moment
    for i in range(n):
        ledger.record(costs.CallRecord("openai", "gpt-4o", input_tokens=i, agent=f"w{worker}", cost_usd=0.001,
                                       price_known=True))
    ledger.record_many(costs.CallRecord("ollama", "llama3.2", agent=f"w{worker}") for _ in range(n))
    ledger.close()


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_two_processes_write_at_once(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    target = str(tmp_path / "shared.sqlite3") if store == "sqlite" else request.getfixturevalue("pg_url")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_write, args=(target, w, 300, start)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    ledger = costs.Ledger(target)
    assert ledger.count() == 1200
    assert ledger.query("SELECT count(DISTINCT id) FROM calls")[1][0][0] == 1200
    assert costs.costs(by="agent", ledger=ledger)["calls"].to_dict() == {"w0": 600, "w1": 600}
    assert sorted(r.input_tokens for r in ledger.rows(agent="w1", provider="openai")) == list(range(300))
    assert ledger.spend() == pytest.approx(0.6)
    assert ledger.query("SELECT version FROM ledger_version")[1] == [(len(MIGRATIONS),)]  # the latest
    ledger.close()


def test_a_forked_child_writes_through_fresh_connections(tmp_path: Path, pg_url: str) -> None:
    for target in (str(tmp_path / "fork.sqlite3"), pg_url):
        ledger = costs.Ledger(target)
        ledger.record(costs.CallRecord("ollama", "parent"))
        child = multiprocessing.get_context("fork").Process(
            target=lambda: ledger.record(costs.CallRecord("ollama", "child")))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        ledger.record(costs.CallRecord("ollama", "parent again"))  # the parent's connections still work
        assert [r.model for r in ledger.rows()] == ["parent", "child", "parent again"]
        ledger.close()


# the schema the raw-sqlite3 ledger wrote before migrations were tracked (user_version 1; 2 added memory_items)
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY, call_id TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 1, parent_call_id TEXT,
    run_id TEXT, ts REAL NOT NULL, session_id TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
    agent TEXT, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL, price_known INTEGER NOT NULL DEFAULT 0,
    latency_s REAL, ttft_s REAL, status TEXT NOT NULL, error_class TEXT, error_message TEXT, prompt TEXT{extra}
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts);
CREATE INDEX IF NOT EXISTS calls_session ON calls (session_id, ts);
CREATE INDEX IF NOT EXISTS calls_call ON calls (call_id);
CREATE INDEX IF NOT EXISTS calls_agent ON calls (agent, ts);
PRAGMA user_version = {version};
"""


@pytest.mark.parametrize("version", [1, 2])
def test_an_untracked_sqlite_file_upgrades_with_its_rows(version: int, tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    extra = ",\n    memory_items INTEGER NOT NULL DEFAULT 0" if version == 2 else ""
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA.format(extra=extra, version=version))
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executemany("INSERT INTO calls (id, call_id, ts, session_id, provider, model, status, cost_usd, "
                         "price_known) VALUES (?, ?, ?, 's', 'openai', 'gpt-4o', 'ok', 0.5, 1)",
                         [("a", "c1", T0), ("b", "c2", T0 + 1)])
    conn.close()
    ledger = costs.Ledger(path)
    ledger.record(costs.CallRecord("openai", "gpt-4o", memory_items=3, ts=T0 + 2))
    assert [(r.id, r.memory_items) for r in ledger.rows()][:2] == [("a", 0), ("b", 0)]
    assert [r.memory_items for r in ledger.rows()] == [0, 0, 3] and ledger.spend() == 1.0
    assert ledger.query("SELECT version FROM ledger_version")[1] == [(len(MIGRATIONS),)]  # the latest
    ledger.close()
    again = costs.Ledger(path)
    assert again.count() == 3 and again.query("SELECT count(*) FROM ledger_version")[1] == [(1,)]
    again.close()


def test_no_key_in_an_error_reaches_either_store(tmp_path: Path, pg_url: str) -> None:
    key = "sk-test-" + _random.token_hex(16)
    secrets.remember(key)
    for target in (tmp_path / "keys.sqlite3", pg_url):
        ledger = costs.Ledger(target, log_prompts=True)
        costs.record_call("openai", "gpt-4o", None, ledger=ledger, status="error", error_class="Unauthorized",
                          error_message=f"401: invalid api key {key} (Bearer {key})", prompt=f"echo {key}",
                          agent=f"agent-{key}")
        [row] = ledger.rows()
        assert key not in repr(row) and "***" in row.error_message
        names, values = ledger.query("SELECT * FROM calls")
        assert key not in repr(values) and "***" in repr(values)
        ledger.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("keys.sqlite3*"))
    assert blob and key.encode() not in blob



def test_the_executor_writes_to_a_ledger_url_and_survives_one_that_is_down(pg_url: str) -> None:
    from coditect_magics.executor import Executor, ExecutorSettings
    assert Executor(ExecutorSettings(ledger_path=pg_url)).ledger.url == pg_url
    down = costs.Ledger(f"postgresql://test@127.0.0.1:{free_port()}/nowhere", timeout=2)
    with pytest.raises(costs.LedgerError, match="could not be written") as caught:
        down.record(costs.CallRecord("ollama", "x"))
    assert isinstance(caught.value, OSError)  # what the executor catches to warn once and go on unrecorded


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_a_row_written_again_under_its_id_is_kept_once(store, tmp_path, request):
    """A job re-run after its worker died writes its calls' rows under the same ids: the ledger keeps the first."""
    target = str(tmp_path / "once.sqlite3") if store == "sqlite" else request.getfixturevalue("pg_url")
    ledger = costs.Ledger(target)
    first = costs.CallRecord("openai", "gpt-4o", input_tokens=10, cost_usd=0.01, price_known=True, id="job1:ok")
    ledger.record(first)
    ledger.record(costs.CallRecord("openai", "gpt-4o", input_tokens=99, cost_usd=0.5, price_known=True, id="job1:ok"))
    assert [(r.id, r.input_tokens) for r in ledger.rows()] == [("job1:ok", 10)] and ledger.spend() == 0.01
    ledger.close()


@pytest.mark.timeout(180)
def test_workers_write_to_the_notebooks_postgresql_ledger(team, workers, thread_server, pg_url):
    """The kit carries a database URL (never a SQLite path): a worker's calls land in the notebook's ledger."""
    thread_server.script(Script(text="Filed."))
    team.run_line_magic("config", f"CoditectMagics.ledger_path = '{pg_url}'")
    workers.start("pg-worker")
    team.run_cell_magic("agent", "helper --queue", "File this.")
    run = team.user_ns["_run"]
    assert run.wait(60) and team.user_ns["_llm"].text == "Filed."
    rows = costs.Ledger(pg_url).rows(run_id=run.run_id)
    assert [(r.provider, r.agent, r.status) for r in rows] == [("openai", "helper", "ok")]
    assert costs.Ledger(pg_url).spend(run_id=run.run_id) == pytest.approx(run.state()["cost_usd"])
