"""The ledger: one row per call attempt, in a SQLite file (the default) or a team's PostgreSQL database, shared
safely by every kernel and worker that writes to it.

One SQLAlchemy Core code path serves both (`schema`: the table and its migrations; `engine`: connections, WAL and
fork safety), imported on first use. One short transaction per insert lets several processes write at once
without losing rows. Every text field passes through `secrets.redact` before it is stored; the prompt is stored
only when prompt logging is on."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..when import epoch as _epoch
from .prices import price
from .process import log_prompts, session_id, set_log_prompts, set_session  # noqa: F401 - re-exported

STATUSES = ("ok", "error", "cancelled", "cached", "expired")  # expired: a batch request the provider never ran

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
    approvals: str | None = None         # JSON: the decisions on the tool calls that act which this call asked for
    batch_id: str | None = None          # the provider's batch this request went in
    key_name: str | None = None          # the name of the key the call spent (never the key)
    price_basis: str | None = None       # "batch" (the listed batch price) or "batch-discount" (the documented rate)
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


# --- the store ------------------------------------------------------------------------------------------------

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(target: str | os.PathLike[str]) -> bool:
    """True for a database URL (postgresql://…, sqlite:///…), False for a file path."""
    return bool(_URL.match(str(target)))


def default_target() -> str | Path:
    """env CODITECT_LEDGER (a path, or a URL such as postgresql://user@host/db), else `default_path()`."""
    env = os.environ.get("CODITECT_LEDGER", "").strip()
    return env if env and is_url(env) else default_path()


def default_path() -> Path:
    """The local SQLite ledger file: env CODITECT_LEDGER when it is a path, else the user data dir (platformdirs)
    / ledger.sqlite3. Other local stores (threads) live beside it even when the ledger itself is a URL."""
    env = os.environ.get("CODITECT_LEDGER", "").strip()
    if env and not is_url(env):
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_data_dir("coditect-magics", appauthor=False)) / "ledger.sqlite3"


def insert_once(dialect: str, table: Any) -> Any:
    """INSERT that skips a row whose id is already stored: a worker re-running a job after a crash writes the same
    row ids (see `workers.replay`), and a call must not be charged twice."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing(index_elements=["id"])


class LedgerError(OSError):
    """The ledger could not be reached or written (a database error, wrapped so callers need no SQLAlchemy)."""


class Ledger:
    """The ledger at `path`: a SQLite file path, or a database URL (postgresql://…) for a team's shared ledger
    (default: `default_target()`). Safe across threads and processes.

    `log_prompts=None` follows `set_log_prompts` / CODITECT_LOG_PROMPTS."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, log_prompts: bool | None = None,
                 timeout: float = 30.0) -> None:
        target = path if path is not None else default_target()
        self.url: str | None = str(target) if is_url(target) else None
        self.path: Path | None = None if self.url else Path(target).expanduser()  # the SQLite file, if one
        self.log_prompts = log_prompts
        self.timeout = timeout
        self._lock = threading.Lock()
        self._engine: Any = None
        self._writer: Any = None
        self._insert: tuple[str, Any] = ("", None)  # the compiled INSERT and its positional keys (None: named)
        self._pid = 0

    def __repr__(self) -> str:
        if self.url:
            from .engine import safe_url
            return f"Ledger({safe_url(self.url)!r})"
        return f"Ledger({str(self.path)!r})"

    def _engines(self) -> tuple[Any, Any]:
        """This process's (reader, writer) engines, the schema upgraded on first use; fresh pools after a fork."""
        with self._lock:
            if self._engine is not None and self._pid != os.getpid():
                from .engine import after_fork
                after_fork(self._engine)
                self._pid = os.getpid()
            if self._engine is None:
                from .engine import make_engine
                from .schema import calls, upgrade
                engine = make_engine(self.url or self.path, self.timeout)
                writer = engine.execution_options(ledger_write=True)
                try:
                    upgrade(writer)
                except BaseException:
                    engine.dispose()
                    raise
                compiled = insert_once(engine.dialect.name, calls).compile(dialect=engine.dialect,
                                                                           column_keys=list(COLUMNS))
                self._insert = (str(compiled), compiled.positiontup if compiled.positional else None)
                self._engine, self._writer, self._pid = engine, writer, os.getpid()
            return self._engine, self._writer

    def _clean(self, rec: CallRecord) -> dict[str, Any]:
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
        return values

    def _write(self, rows: list[dict[str, Any]]) -> None:
        """Insert rows in one short transaction; database errors become LedgerError."""
        from sqlalchemy.exc import SQLAlchemyError
        writer = None
        try:
            writer = self._engines()[1]
            sql, keys = self._insert
            args = [tuple(row[k] for k in keys) for row in rows] if keys else rows
            # the driver's cursor runs the compiled INSERT on a pooled connection and commits: a third of what a
            # one-row insert costs through a SQLAlchemy transaction
            conn = writer.raw_connection()
            try:
                cur = conn.cursor()
                cur.executemany(sql, args)
                cur.close()
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.close()  # back to the pool
        except Exception as exc:
            driver_error = writer.dialect.loaded_dbapi.Error if writer is not None else ()
            if isinstance(exc, (SQLAlchemyError, driver_error)):
                raise LedgerError(f"{self!r} could not be written: {exc}") from exc
            raise

    def record(self, rec: CallRecord) -> CallRecord:
        """Store one row in its own short transaction; returns the row as stored (redacted)."""
        row = self._clean(rec)
        self._write([row])
        return CallRecord(**row | {"price_known": bool(row["price_known"])})

    def record_many(self, recs: Iterable[CallRecord]) -> int:
        """Store many rows in one transaction (imports, benchmarks); returns how many."""
        rows = [self._clean(r) for r in recs]
        if rows:
            self._write(rows)
        return len(rows)

    def pick_best(self, call_id: str, *, provider: str, model: str, **fields_: Any) -> CallRecord:
        """Record that call `call_id` gave the best of the compared answers (a zero-cost row: `picks.pick_row`)."""
        from .picks import pick_row
        return self.record(pick_row(call_id, provider=provider, model=model, **fields_))

    def note_approvals(self, call_id: str, decisions: list[dict[str, Any]]) -> None:
        """Keep on call `call_id`'s row the decisions on the tool calls it asked for (`approvals.note`)."""
        from .approvals import note
        note(self, call_id, decisions)

    def fetch(self, statement: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a SQLAlchemy select (or `text()`) compiled for this database; (column names, plain tuples).
        The driver's cursor reads the rows: tuples straight from it are what a 100k-row DataFrame is built from."""
        engine = self._engines()[0]
        compiled = statement.compile(dialect=engine.dialect)
        params = compiled.construct_params()
        args = tuple(params[k] for k in compiled.positiontup) if compiled.positional else params
        with engine.connect() as conn:
            cur = conn.connection.cursor()
            try:
                cur.execute(str(compiled), args)
                rows = cur.fetchall()
                names = [d[0] for d in cur.description or ()]
            finally:
                cur.close()
        return names, rows

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a read-only SQL statement on the ledger; (column names, rows). Parameters are `?` marks with a
        sequence, or `:name` with a dict, whatever the database."""
        from sqlalchemy import text
        from .engine import named_params
        if not isinstance(params, dict):
            sql, params = named_params(sql, params)
        return self.fetch(text(sql).bindparams(**params) if params else text(sql))

    def _select(self, *columns: Any, where_: list[Any]) -> Any:
        from sqlalchemy import select
        from .schema import calls
        return select(*columns).select_from(calls).where(*where_)

    def rows(self, *, session: str | None = None, since: Any = None, until: Any = None,
             limit: int | None = None, **equals: str | None) -> list[CallRecord]:
        """Rows oldest first (ties by id, the same order in every database), filtered by session, time range
        [since, until) and exact column values (provider=, model=, agent=, status=, run_id=, call_id=…)."""
        from .schema import calls, where
        statement = self._select(*(calls.c[c] for c in COLUMNS), where_=where(session, since, until, **equals))
        statement = statement.order_by(calls.c.ts, calls.c.id).limit(limit)
        _, found = self.fetch(statement)
        known = COLUMNS.index("price_known")
        return [CallRecord(**dict(zip(COLUMNS, r[:known] + (bool(r[known]),) + r[known + 1:]))) for r in found]

    def _scalar(self, column: Any, conditions: list[Any]) -> Any:
        return self.fetch(self._select(column, where_=conditions))[1][0][0]

    def count(self, *, session: str | None = None, since: Any = None, until: Any = None, **equals: str | None) -> int:
        from sqlalchemy import func
        from .schema import where
        return int(self._scalar(func.count(), where(session, since, until, **equals)))

    def spend(self, *, session: str | None = None, since: Any = None, until: Any = None, **equals: str | None) -> float:
        """USD spent on the matching rows (known prices only; see `unknown_calls` for the rest). Budgets use it."""
        from sqlalchemy import func
        from .schema import calls, where
        return float(self._scalar(func.coalesce(func.sum(calls.c.cost_usd), 0.0), where(session, since, until,
                                                                                         **equals)))

    def unknown_calls(self, *, session: str | None = None, since: Any = None, until: Any = None,
                      **equals: str | None) -> int:
        """How many matching rows have no known price (their cost is not in `spend`)."""
        from sqlalchemy import func
        from .schema import calls, where
        return int(self._scalar(func.count(), where(session, since, until, **equals) + [calls.c.price_known == 0]))

    def close(self) -> None:
        with self._lock:
            if self._engine is not None and self._pid == os.getpid():
                self._engine.dispose()
            self._engine = self._writer = None


# --- the default ledger ---------------------------------------------------------------------------------------

_ledgers: dict[str | Path, Ledger] = {}
_chosen: Ledger | None = None
_ledgers_lock = threading.Lock()


def set_ledger(ledger: "Ledger | str | os.PathLike[str] | None") -> Ledger | None:
    """Make a ledger (or a path or URL) the default for `record_call` and `costs()`; None goes back to the env/user
    dir."""
    global _chosen
    _chosen = ledger if isinstance(ledger, Ledger) or ledger is None else Ledger(ledger)
    return _chosen


def default_ledger() -> Ledger:
    """The ledger chosen with `set_ledger`, else the one at `default_target()` (one object per path or URL)."""
    if _chosen is not None:
        return _chosen
    target = default_target()
    with _ledgers_lock:
        if target not in _ledgers:
            _ledgers[target] = Ledger(target)
        return _ledgers[target]


def as_ledger(ledger: "Ledger | str | os.PathLike[str] | None") -> Ledger:
    if ledger is None:
        return default_ledger()
    return ledger if isinstance(ledger, Ledger) else Ledger(ledger)


def record_call(provider: str, model: str, usage: Any = None, *, ledger: "Ledger | str | None" = None,
                **fields_: Any) -> CallRecord:
    """Price a call and write its row (to the default ledger unless `ledger` is given); returns the stored row.
    Keyword fields are those of `CallRecord` (status, latency_s, ttft_s, agent, call_id, attempt, …)."""
    return as_ledger(ledger).record(CallRecord.from_usage(provider, model, usage, **fields_))


__all__ = ["COLUMNS", "STATUSES", "CallRecord", "Ledger", "LedgerError", "as_ledger", "default_ledger", "default_path",
           "default_target", "is_url", "log_prompts", "record_call", "session_id", "set_ledger", "set_log_prompts",
           "set_session"]
