"""One way the kit opens its own SQLite files (threads, the response cache, batch jobs): the folder made, WAL so
that kernels and workers read while one writes, autocommit, a 30 s wait on a locked file, the schema applied."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def connect(path: str | os.PathLike[str], schema: str, *, shared: bool = True) -> sqlite3.Connection:
    """A connection to `path` with `schema` (CREATE ... IF NOT EXISTS statements) applied; `shared`: usable from any
    thread (the caller serialises its use with a lock), else only from the thread that opened it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=not shared)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(schema)
    return conn
