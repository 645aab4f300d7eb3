"""The ledger: one SQLite row per call attempt, shared safely by every kernel and worker on the machine.

WAL mode, a busy timeout and one short autocommit transaction per insert let several processes write at once
without losing rows. Every text field passes through `secrets.redact` before it is stored; the prompt is stored
only when prompt logging is on."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..when import epoch as _epoch
from .prices import price

STATUSES = ("ok", "error", "cancelled", "cached")
TRUTHY = ("1", "true", "yes", "on")

# --- the session: one per process unless set ------------------------------------------------------------------

_session: str = uuid.uuid4().hex
_session_set = False


def session_id() -> str:
    """This process's session id (a uuid hex, new in each process unless `set_session` named one)."""
    return _session


def set_session(value: str | None = None) -> str:
    """Name the session the following calls belong to; None starts a fresh one. Returns the id."""
    global _session, _session_set
    _session, _session_set = (value, True) if value else (uuid.uuid4().hex, False)
    return _session


def _new_session_in_child() -> None:
    global _session
    if not _session_set:
        _session = uuid.uuid4().hex


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_session_in_child)

# --- prompt logging -------------------------------------------------------------------------------------------

_log_prompts: bool | None = None


def set_log_prompts(on: bool) -> None:
    """Store (redacted) prompt text in the ledger from now on, or stop. Default: env CODITECT_LOG_PROMPTS, else off."""
    global _log_prompts
    _log_prompts = bool(on)


def log_prompts() -> bool:
    if _log_prompts is not None:
        return _log_prompts
    return os.environ.get("CODITECT_LOG_PROMPTS", "").strip().lower() in TRUTHY

# --- one row --------------------------------------------------------------------------------------------------


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class CallRecord:
    """One ledger row: one attempt of one logical call (attempts of a retried call share `call_id`).

    `ts` is the start time as epoch seconds (UTC); `cost_usd` is None when the price is unknown
    (`price_known` False). Build one with `CallRecord.from_usage` to have it priced."""

    provider: str
    model: str
    status: str = "ok"
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    price_known: bool = False
    latency_s: float | None = None
    ttft_s: float | None = None
    error_class: str | None = None
    error_message: str | None = None
    agent: str | None = None
    call_id: str = field(default_factory=_new_id)
    attempt: int = 1
    parent_call_id: str | None = None
    run_id: str | None = None
    session_id: str = field(default_factory=session_id)
    ts: float = field(default_factory=time.time)
    prompt: str | None = None
    memory_items: int = 0                # memories added to the call's context
    id: str = field(default_factory=_new_id)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        if isinstance(self.ts, datetime):
            object.__setattr__(self, "ts", _epoch(self.ts))

    @classmethod
    def from_usage(cls, provider: str, model: str, usage: Any = None, *, status: str = "ok",
                   **fields_: Any) -> "CallRecord":
        """A priced record: tokens from `usage`, cost from `prices.price` at the call's time (a cached answer
        costs 0). Other keyword fields are stored as given."""
        from .prices import _tokens
        inp, out, cached = _tokens(usage)
        if status == "cached":
            cost, known = 0.0, True
        else:
            ts = fields_.get("ts")
            when = datetime.fromtimestamp(_epoch(ts), tz=timezone.utc) if ts is not None else None
            result = price(provider, model, usage, when=when)
            cost, known = result.usd, result.known
        return cls(provider=provider, model=model, status=status, input_tokens=inp, output_tokens=out,
                   cached_tokens=cached, cost_usd=cost, price_known=known, **fields_)

    @classmethod
    def from_reply(cls, reply: Any, **fields_: Any) -> "CallRecord":
        """A priced record from a kit `Reply` (provider, model, usage, latency, time to first token)."""
        fields_ = {"latency_s": reply.latency_s, "ttft_s": reply.ttft_s} | fields_
        return cls.from_usage(reply.provider, reply.model, reply.usage, **fields_)


COLUMNS = tuple(f.name for f in fields(CallRecord))
TEXT_FIELDS = tuple(f.name for f in fields(CallRecord) if "str" in str(f.type))

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    call_id TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    parent_call_id TEXT,
    run_id TEXT,
    ts REAL NOT NULL,
    session_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    agent TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    price_known INTEGER NOT NULL DEFAULT 0,
    latency_s REAL,
    ttft_s REAL,
    status TEXT NOT NULL,
    error_class TEXT,
    error_message TEXT,
    prompt TEXT,
    memory_items INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts);
CREATE INDEX IF NOT EXISTS calls_session ON calls (session_id, ts);
CREATE INDEX IF NOT EXISTS calls_call ON calls (call_id);
CREATE INDEX IF NOT EXISTS calls_agent ON calls (agent, ts);
PRAGMA user_version = 2;
"""
# columns added since version 1, for ledgers written by an older kit
ADDED_COLUMNS = {"memory_items": "INTEGER NOT NULL DEFAULT 0"}
_INSERT = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

# --- time filters ---------------------------------------------------------------------------------------------


def where(session: str | None = None, since: Any = None, until: Any = None,
          **equals: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause (possibly empty) and its parameters; `since` inclusive, `until` exclusive.
    `session="current"` means this process's session."""
    clauses, params = [], []
    if session is not None:
        clauses.append("session_id = ?")
        params.append(session_id() if session == "current" else session)
    if since is not None:
        clauses.append("ts >= ?")
        params.append(_epoch(since))
    if until is not None:
        clauses.append("ts < ?")
        params.append(_epoch(until))
    for column, value in equals.items():
        if value is not None:
            if column not in COLUMNS:
                raise TypeError(f"cannot filter the ledger by {column!r}")
            clauses.append(f"{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

# --- the store ------------------------------------------------------------------------------------------------


def default_path() -> Path:
    """env CODITECT_LEDGER, else the user data dir (platformdirs) / ledger.sqlite3."""
    env = os.environ.get("CODITECT_LEDGER", "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_data_dir("coditect-magics", appauthor=False)) / "ledger.sqlite3"


def _upgrade(conn: sqlite3.Connection) -> None:
    """Add the columns an older ledger file lacks, in one transaction (another process may be doing the same)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        have = {row[1] for row in conn.execute("PRAGMA table_info(calls)")}
        for name, kind in ADDED_COLUMNS.items():
            if name not in have:
                conn.execute(f"ALTER TABLE calls ADD COLUMN {name} {kind}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


_inherited: list[sqlite3.Connection] = []  # connections opened before a fork: never used or closed in the child


class Ledger:
    """The SQLite ledger at `path` (default: `default_path()`). Safe across threads and processes.

    `log_prompts=None` follows `set_log_prompts` / CODITECT_LOG_PROMPTS."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, log_prompts: bool | None = None,
                 timeout: float = 30.0) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.log_prompts = log_prompts
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        """This process's connection (reopened after a fork), with the schema in place. Call under the lock."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self._conn is not None:
            _inherited.append(self._conn)  # closing it in the child could disturb the parent's WAL
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            deadline = time.monotonic() + self.timeout
            while True:  # switching to WAL needs a moment alone with the file; the busy handler covers most of it
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
                    _upgrade(conn)
                    break
                except sqlite3.OperationalError as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across crashes of the process
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _clean(self, rec: CallRecord) -> tuple[Any, ...]:
        from ..providers.secrets import redact
        keep_prompt = self.log_prompts if self.log_prompts is not None else log_prompts()
        values = {name: getattr(rec, name) for name in COLUMNS}
        if not keep_prompt:
            values["prompt"] = None
        for name in TEXT_FIELDS:
            if isinstance(values[name], str):
                values[name] = redact(values[name])
        values["price_known"] = int(bool(values["price_known"]))
        if values["cost_usd"] is not None and values["cost_usd"] != values["cost_usd"]:  # NaN means unknown
            values["cost_usd"] = None
        return tuple(values[c] for c in COLUMNS)

    def record(self, rec: CallRecord) -> CallRecord:
        """Store one row in its own short transaction; returns the row as stored (redacted)."""
        row = self._clean(rec)
        with self._lock:
            self._connect().execute(_INSERT, row)
        return CallRecord(**dict(zip(COLUMNS, row)) | {"price_known": bool(row[COLUMNS.index("price_known")])})

    def record_many(self, recs: Iterable[CallRecord]) -> int:
        """Store many rows in one transaction (imports, benchmarks); returns how many."""
        rows = [self._clean(r) for r in recs]
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a read-only statement on the ledger; (column names, rows)."""
        with self._lock:
            cur = self._connect().execute(sql, params)
            rows = cur.fetchall()
        return [d[0] for d in cur.description or ()], rows

    def rows(self, *, session: str | None = None, since: Any = None, until: Any = None,
             limit: int | None = None, **equals: str | None) -> list[CallRecord]:
        """Rows oldest first, filtered by session, time range [since, until) and exact column values
        (provider=, model=, agent=, status=, run_id=, call_id=…)."""
        clause, params = where(session, since, until, **equals)
        sql = f"SELECT {', '.join(COLUMNS)} FROM calls{clause} ORDER BY ts, rowid"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        _, found = self.query(sql, params)
        known = COLUMNS.index("price_known")
        return [CallRecord(**dict(zip(COLUMNS, r[:known] + (bool(r[known]),) + r[known + 1:]))) for r in found]

    def count(self, *, session: str | None = None, since: Any = None, until: Any = None, **equals: str | None) -> int:
        clause, params = where(session, since, until, **equals)
        return self.query(f"SELECT count(*) FROM calls{clause}", params)[1][0][0]

    def spend(self, *, session: str | None = None, since: Any = None, until: Any = None,
              **equals: str | None) -> float:
        """USD spent on the matching rows (known prices only; see `unknown_calls` for the rest). Budgets use it."""
        clause, params = where(session, since, until, **equals)
        return float(self.query(f"SELECT coalesce(sum(cost_usd), 0.0) FROM calls{clause}", params)[1][0][0])

    def unknown_calls(self, *, session: str | None = None, since: Any = None, until: Any = None,
                      **equals: str | None) -> int:
        """How many matching rows have no known price (their cost is not in `spend`)."""
        clause, params = where(session, since, until, **equals)
        clause += (" AND " if clause else " WHERE ") + "price_known = 0"
        return self.query(f"SELECT count(*) FROM calls{clause}", params)[1][0][0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


# --- the default ledger ---------------------------------------------------------------------------------------

_ledgers: dict[Path, Ledger] = {}
_chosen: Ledger | None = None
_ledgers_lock = threading.Lock()


def set_ledger(ledger: "Ledger | str | os.PathLike[str] | None") -> Ledger | None:
    """Make a ledger (or a path) the default for `record_call` and `costs()`; None goes back to the env/user dir."""
    global _chosen
    _chosen = ledger if isinstance(ledger, Ledger) or ledger is None else Ledger(ledger)
    return _chosen


def default_ledger() -> Ledger:
    """The ledger chosen with `set_ledger`, else the one at `default_path()` (one object per path)."""
    if _chosen is not None:
        return _chosen
    path = default_path()
    with _ledgers_lock:
        if path not in _ledgers:
            _ledgers[path] = Ledger(path)
        return _ledgers[path]


def as_ledger(ledger: "Ledger | str | os.PathLike[str] | None") -> Ledger:
    if ledger is None:
        return default_ledger()
    return ledger if isinstance(ledger, Ledger) else Ledger(ledger)


def record_call(provider: str, model: str, usage: Any = None, *, ledger: "Ledger | str | None" = None,
                **fields_: Any) -> CallRecord:
    """Price a call and write its row (to the default ledger unless `ledger` is given); returns the stored row.
    Keyword fields are those of `CallRecord` (status, latency_s, ttft_s, agent, call_id, attempt, …)."""
    return as_ledger(ledger).record(CallRecord.from_usage(provider, model, usage, **fields_))


__all__ = ["COLUMNS", "STATUSES", "CallRecord", "Ledger", "as_ledger", "default_ledger", "default_path",
           "log_prompts", "record_call", "session_id", "set_ledger", "set_log_prompts", "set_session"]
