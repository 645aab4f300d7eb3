"""The durable record of batch jobs: which provider batches a job went out in, which row each request answers, where
the answers go (a DataFrame's column, a list variable) and, once fetched, the answers. A SQLite file beside the
ledger, so `%agent result ID` works from a new kernel; with a Redis, each job (without its answers) is mirrored
there too, so another machine's kernel finds it."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from coditect_magics.providers.batching import FINISHED
from coditect_magics.sqlite_file import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    agent TEXT,
    target TEXT NOT NULL,
    parts TEXT NOT NULL,
    fetched INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    key_name TEXT
);
CREATE TABLE IF NOT EXISTS items (
    job_id TEXT NOT NULL,
    custom_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    batch_id TEXT,
    row_key TEXT NOT NULL,
    input TEXT NOT NULL,
    status TEXT,
    answer TEXT,
    error TEXT,
    PRIMARY KEY (job_id, custom_id)
);
"""
MIRROR = "coditect:batches"  # a Redis hash: job id -> the job as JSON; its rows under MIRROR:items:ID


@dataclass(frozen=True)
class Part:
    """One provider batch of a job: its id, the state and counts last seen."""

    id: str
    state: str = "validating"
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str = ""   # why the provider failed the whole batch (its validation errors)

    @property
    def finished(self) -> bool:
        """The provider will not change it any more (ended, cancelled, expired or failed)."""
        return self.state in FINISHED


@dataclass(frozen=True)
class Item:
    """One request of a job: `key` is the row it answers (JSON of the DataFrame index label or list position);
    `status`/`answer`/`error` are filled when the job is fetched."""

    custom_id: str
    position: int
    key: str
    input: str
    batch_id: str | None = None
    status: str | None = None
    answer: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Job:
    """A batch job as the user sees it: one id over one or more provider batches."""

    id: str
    provider: str
    model: str
    target: Mapping[str, Any]
    parts: tuple[Part, ...] = ()
    agent: str | None = None
    fetched: bool = False
    created: float = field(default_factory=time.time)
    key_name: str | None = None   # the name of the key its batches were made with (a batch is its account's)

    @property
    def finished(self) -> bool:
        """Every batch of the job has finished: its answers can be fetched."""
        return bool(self.parts) and all(p.finished for p in self.parts)

    @property
    def counts(self) -> dict[str, int]:
        """The parts' counts added up."""
        total: dict[str, int] = {}
        for part in self.parts:
            for name, value in part.counts.items():
                total[name] = total.get(name, 0) + int(value or 0)
        return total

    @property
    def status(self) -> str:
        """One word: the least advanced state among the parts while any runs, else how they ended."""
        states = {p.state for p in self.parts}
        running = [s for s in ("validating", "in_progress", "finalizing", "cancelling") if s in states]
        if running or not states:
            return running[0] if running else "submitting"
        return states.pop() if len(states) == 1 else "ended"


def default_path(ledger_path: str = "") -> Path:
    """batches.sqlite3 beside the ledger file (beside the default one when the ledger is a database URL)."""
    from coditect_magics.costs.ledger import default_path as ledger_default, is_url
    beside = Path(ledger_path).expanduser() if ledger_path and not is_url(ledger_path) else ledger_default()
    return beside.with_name("batches.sqlite3")


class JobStore:
    """Jobs in SQLite at `path`, mirrored in the Redis at `redis_url` when one is given."""

    def __init__(self, path: str | os.PathLike[str], redis_url: str | None = None) -> None:
        self.path = Path(path).expanduser()
        self.redis_url = redis_url
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._redis: Any = None

    def __repr__(self) -> str:
        return f"JobStore({str(self.path)!r})"

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path, SCHEMA)
        return self._conn

    def _mirror(self) -> Any:
        if self.redis_url and self._redis is None:
            import redis  # the team extra's; only with a Redis configured
            self._redis = redis.Redis.from_url(self.redis_url)
        return self._redis

    # writing
    def save(self, job: Job, items: Iterable[Item] | None = None) -> None:
        """Write the job (and its items, when given) here and to the mirror."""
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _job_row(job))
                if items is not None:
                    db.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                   [_item_row(job.id, i) for i in items])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        mirror = self._mirror()
        if mirror is not None:  # the job and its row mapping, not the answers: a kernel that adopts it fetches them
            mirror.hset(MIRROR, job.id, json.dumps(_job_row(replace(job, fetched=False))))
            if items is not None:
                kept = [_item_row(job.id, replace(i, status=None, answer=None, error=None))
                        for i in self.items(job.id)]
                mirror.set(f"{MIRROR}:items:{job.id}", json.dumps(kept))

    # reading
    def get(self, job_id: str) -> Job | None:
        """The job with this id or unique id prefix (or a provider batch id in it), here or in the mirror."""
        found = self._local(job_id)
        if found is None and self._adopt(job_id):
            found = self._local(job_id)
        return found

    def _local(self, job_id: str) -> Job | None:
        with self._lock:
            rows = self._db().execute(
                "SELECT * FROM jobs WHERE id = ? OR id LIKE ? ESCAPE '\\' OR parts LIKE ? ESCAPE '\\'",
                (job_id, f"{_like(job_id)}%", f'%"id": "{_like(job_id)}"%')).fetchall()
        exact = [r for r in rows if r[0] == job_id]
        return _job((exact or rows)[0]) if len(exact or rows) == 1 else None

    def _adopt(self, job_id: str) -> bool:
        """Copy a job only the mirror knows into this store; True when it did."""
        mirror = self._mirror()
        if mirror is None:
            return False
        matches = [k for k in mirror.hkeys(MIRROR) if k.decode().startswith(job_id)]
        if len(matches) != 1:
            return False
        job = _job(tuple(json.loads(mirror.hget(MIRROR, matches[0]))))
        kept = json.loads(mirror.get(f"{MIRROR}:items:{job.id}") or "[]")
        items = [Item(r[1], r[2], r[4], r[5], r[3]) for r in kept]
        with self._lock:
            db = self._db()
            db.execute("INSERT OR IGNORE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _job_row(job))
            db.executemany("INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [_item_row(job.id, i) for i in items])
        return True

    def items(self, job_id: str) -> list[Item]:
        """A job's items in row order."""
        with self._lock:
            rows = self._db().execute("SELECT custom_id, position, row_key, input, batch_id, status, answer, error "
                                      "FROM items WHERE job_id = ? ORDER BY position", (job_id,)).fetchall()
        return [Item(*r) for r in rows]

    def jobs(self, limit: int = 100) -> list[Job]:
        """The newest jobs first, the mirror's too."""
        with self._lock:
            rows = self._db().execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        found = {j.id: j for j in map(_job, rows)}
        mirror = self._mirror()
        if mirror is not None:
            for value in mirror.hvals(MIRROR):
                job = _job(tuple(json.loads(value)))
                found.setdefault(job.id, job)
        return sorted(found.values(), key=lambda j: j.created, reverse=True)[:limit]

    def close(self) -> None:
        """Close this process's connection to the file."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _like(text: str) -> str:
    """Text for a LIKE pattern (ESCAPE '\\') with its wildcards taken literally: ids hold `_`."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _job_row(job: Job) -> tuple[Any, ...]:
    parts = [{"id": p.id, "state": p.state, "counts": dict(p.counts), "error": p.error} for p in job.parts]
    return (job.id, job.provider, job.model, job.agent, json.dumps(dict(job.target)), json.dumps(parts),
            int(job.fetched), job.created, job.key_name)


def _job(row: Sequence[Any]) -> Job:
    id_, provider, model, agent, target, parts, fetched, created, key_name = row
    return Job(id_, provider, model, json.loads(target), tuple(Part(**p) for p in json.loads(parts)), agent,
               bool(fetched), created, key_name)


def _item_row(job_id: str, item: Item) -> tuple[Any, ...]:
    return (job_id, item.custom_id, item.position, item.batch_id, item.key, item.input, item.status, item.answer,
            item.error)
