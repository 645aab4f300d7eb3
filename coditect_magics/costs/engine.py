"""SQLAlchemy engines for the ledger: a SQLite file (the default) or a PostgreSQL URL, safe across threads,
processes and forks. Imported on first use of a ledger, so loading the kit never imports SQLAlchemy."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from .ledger import is_url

# pools a process held when it forked: kept referenced, never closed in the child, because closing an inherited
# SQLite handle may checkpoint and delete the parent's WAL and closing a psycopg one ends the parent's session
_inherited: list[Any] = []


def database_url(target: str | os.PathLike[str]) -> URL:
    """The SQLAlchemy URL for a path or URL; postgresql:// without a driver means psycopg 3."""
    if not is_url(target):  # built, not parsed: a path may hold '#', '?' or '%'
        return URL.create("sqlite", database=str(Path(target).expanduser()))
    url = make_url(str(target))
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_pragmas(timeout: float):
    """A connect hook: busy timeout, WAL, and writes that take the write lock when they begin."""
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # the driver then opens BEGIN IMMEDIATE before an INSERT (a deferred transaction that reads first can
        # deadlock another writer) and no transaction around reads
        dbapi_conn.isolation_level = "IMMEDIATE"
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            deadline = time.monotonic() + timeout
            while True:  # switching to WAL needs a moment alone with the file; the busy handler covers most of it
                try:
                    cur.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
            cur.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across crashes of the process
        finally:
            cur.close()
    return on_connect


def _sqlite_begin(conn: Any) -> None:
    # SQLAlchemy's own transactions (migrations) are writers: take the write lock up front
    if conn.get_execution_options().get("ledger_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(target: str | os.PathLike[str], timeout: float) -> Engine:
    """An engine for a ledger path or URL; for SQLite, the file's directory is created."""
    url = database_url(target)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeout, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas(timeout))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # pre-ping: a notebook's ledger connection may sit idle for hours and be dropped by the server
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, int(timeout))})


def after_fork(engine: Engine) -> None:
    """Give a forked child fresh connections, leaving the parent's inherited ones alone."""
    _inherited.append(engine.pool)
    engine.dispose(close=False)


def safe_url(target: str | os.PathLike[str]) -> str:
    """The URL or path with any password hidden (for repr and messages)."""
    return make_url(str(target)).render_as_string(hide_password=True) if is_url(target) else str(target)


def named_params(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """`?` marks outside quoted text become :p0, :p1… so one `text()` statement serves every database."""
    parts = re.split(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")", sql)
    count = 0
    for i in range(0, len(parts), 2):  # even parts are outside quotes
        pieces = parts[i].split("?")
        parts[i] = pieces[0] + "".join(f":p{count + j}{rest}" for j, rest in enumerate(pieces[1:]))
        count += len(pieces) - 1
    if count != len(params):
        raise ValueError(f"the statement has {count} ? marks but {len(params)} parameters were given")
    return "".join(parts), {f"p{i}": value for i, value in enumerate(params)}
