"""The ledger's table and its tracked migrations, one definition for SQLite and PostgreSQL.

`ledger_version` holds how many of `MIGRATIONS` a database has had; `upgrade` runs the rest in order with
Alembic's `Operations` inside one locked transaction, so two processes opening a new ledger do not race. Files
written before migrations were tracked (raw sqlite3, `PRAGMA user_version` 1 or 2) start at version 0: each
migration looks before it acts, so they are adopted with their rows."""

from __future__ import annotations

import time
from typing import Any, Callable

from typing import TYPE_CHECKING

from sqlalchemy import (Column, Connection, Double, Engine, Index, Integer, MetaData, Table, Text, inspect, select,
                        update)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from ..when import epoch as _epoch
from .ledger import COLUMNS, session_id

if TYPE_CHECKING:
    from alembic.operations import Operations

metadata = MetaData()

calls = Table(
    "calls", metadata,
    Column("id", Text, primary_key=True),
    Column("call_id", Text, nullable=False),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("parent_call_id", Text),
    Column("run_id", Text),
    Column("ts", Double, nullable=False),
    Column("session_id", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("agent", Text),
    Column("input_tokens", Integer, nullable=False, server_default="0"),
    Column("output_tokens", Integer, nullable=False, server_default="0"),
    Column("cached_tokens", Integer, nullable=False, server_default="0"),
    Column("cost_usd", Double),
    Column("price_known", Integer, nullable=False, server_default="0"),
    Column("latency_s", Double),
    Column("ttft_s", Double),
    Column("status", Text, nullable=False),
    Column("error_class", Text),
    Column("error_message", Text),
    Column("prompt", Text),
    Column("memory_items", Integer, nullable=False, server_default="0"),  # migration 2
    Column("approvals", Text),  # migration 3
    Column("batch_id", Text),     # migration 4: the provider's batch the call went in
    Column("key_name", Text),     # migration 4: which of the provider's keys the call spent (its name, never its value)
    Column("price_basis", Text),  # migration 4: how the cost was priced when not at the standard rate ("batch", ...)
)
INDEXES = {"calls_ts": ["ts"], "calls_session": ["session_id", "ts"], "calls_call": ["call_id"],
           "calls_agent": ["agent", "ts"]}
for _name, _cols in INDEXES.items():
    Index(_name, *(calls.c[c] for c in _cols))

version = Table("ledger_version", metadata,
                Column("id", Integer, primary_key=True, autoincrement=False),
                Column("version", Integer, nullable=False))

# --- migrations: append only; each checks the database first, for files made before tracking ------------------

LATER_COLUMNS = ("memory_items", "approvals", "batch_id", "key_name", "price_basis")  # columns a later migration adds (migration 1 makes the first shape)


def _create_calls(ops: Operations, conn: Connection) -> None:
    """1: the calls table and its indexes as the first release had them."""
    if inspect(conn).has_table("calls"):
        return
    ops.create_table("calls", *(c._copy() for c in calls.columns if c.name not in LATER_COLUMNS))
    for name, cols in INDEXES.items():
        ops.create_index(name, "calls", cols)


def _add_memory_items(ops: Operations, conn: Connection) -> None:
    """2: memory_items, the memories added to a call's context."""
    if "memory_items" not in {c["name"] for c in inspect(conn).get_columns("calls")}:
        ops.add_column("calls", calls.c.memory_items._copy())


def _add_approvals(ops: Operations, conn: Connection) -> None:
    """3: approvals, the decisions on the tool calls that act which a call asked for."""
    if "approvals" not in {c["name"] for c in inspect(conn).get_columns("calls")}:
        ops.add_column("calls", calls.c.approvals._copy())


def _add_batch_and_key(ops: Operations, conn: Connection) -> None:
    """4: batch_id, key_name and price_basis: batch requests priced at their own rate, and the key each call spent."""
    have = {c["name"] for c in inspect(conn).get_columns("calls")}
    for name in ("batch_id", "key_name", "price_basis"):
        if name not in have:
            ops.add_column("calls", calls.c[name]._copy())


MIGRATIONS: tuple[Callable[["Operations", Connection], None], ...] = (_create_calls, _add_memory_items,
                                                                      _add_approvals, _add_batch_and_key)


def upgrade(writer: Engine, attempts: int = 5) -> int:
    """Bring the database to the latest version; returns the version it was at."""
    for attempt in range(attempts):
        try:
            with writer.begin() as conn:
                return _upgrade(conn)
        except DBAPIError:
            # two processes creating the version table or its row at once on PostgreSQL: one loses, then retries
            # and finds them; on SQLite BEGIN IMMEDIATE already serialises openers
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _upgrade(conn: Connection) -> int:
    version.create(conn, checkfirst=True)
    # FOR UPDATE holds other openers until this transaction ends (SQLite ignores it: its write lock does that)
    found = conn.execute(select(version.c.version).where(version.c.id == 1).with_for_update()).scalar()
    if found is None:
        conn.execute(version.insert().values(id=1, version=0))
        found = 0
    if found < len(MIGRATIONS):
        # Alembic takes ~0.3 s to import: only a database that needs a migration pays for it
        from alembic.migration import MigrationContext
        from alembic.operations import Operations
        ops = Operations(MigrationContext.configure(conn))
        for step in MIGRATIONS[found:]:
            step(ops, conn)
        conn.execute(update(version).where(version.c.id == 1).values(version=len(MIGRATIONS)))
    return found

# --- filters and dialect-neutral expressions ------------------------------------------------------------------------------


class utc_day(FunctionElement):
    """Days since the epoch (UTC) of an epoch-seconds column, as a whole number; pandas turns it into dates."""
    type = Integer()
    inherit_cache = True


@compiles(utc_day)
def _utc_day(element: utc_day, compiler, **kw) -> str:
    return f"floor(({compiler.process(element.clauses, **kw)}) / 86400)"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler, **kw) -> str:
    # SQLite's floor() exists only when built with its math functions; ts is positive, so truncating is floor
    return f"CAST(({compiler.process(element.clauses, **kw)}) / 86400 AS INTEGER)"



def where(session: str | None = None, since: Any = None, until: Any = None, **equals: str | None) -> list[Any]:
    """SQLAlchemy conditions on the calls table (possibly none); `since` inclusive, `until` exclusive.
    `session="current"` means this process's session."""
    conditions = []
    if session is not None:
        conditions.append(calls.c.session_id == (session_id() if session == "current" else session))
    if since is not None:
        conditions.append(calls.c.ts >= _epoch(since))
    if until is not None:
        conditions.append(calls.c.ts < _epoch(until))
    for column, value in equals.items():
        if value is not None:
            if column not in COLUMNS:
                raise TypeError(f"cannot filter the ledger by {column!r}")
            conditions.append(calls.c[column] == value)
    return conditions
