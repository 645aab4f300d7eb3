"""Response cache: identical requests answer from SQLite, so re-running a notebook costs nothing and gives the same
text. The key covers provider, model, messages (images by hash), parameters and tools."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from coditect_magics.providers.types import ImagePart, Reply, Request, ToolCall, Usage

SCHEMA = """CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY, created REAL NOT NULL, model TEXT NOT NULL, reply TEXT NOT NULL)"""


def default_path() -> Path:
    """`CODITECT_CACHE` or the user data dir."""
    if os.environ.get("CODITECT_CACHE"):
        return Path(os.environ["CODITECT_CACHE"])
    import platformdirs
    return Path(platformdirs.user_data_dir("coditect-magics")) / "cache.sqlite3"


def _part(part: Any) -> Any:
    if isinstance(part, ImagePart):
        return {"image": part.media_type, "sha256": hashlib.sha256(part.data).hexdigest()}
    return {type(part).__name__: asdict(part)}


def request_key(request: Request) -> str:
    """A stable hash of everything that decides the reply."""
    body = {
        "model": request.model,
        "messages": [[m.role, m.content if isinstance(m.content, str) else [_part(p) for p in m.content]]
                     for m in request.messages],
        "temperature": request.temperature, "max_tokens": request.max_tokens, "stop": list(request.stop),
        "tools": [asdict(t) for t in request.tools],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class ResponseCache:
    """A thread-safe SQLite table of replies keyed by `request_key`."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)
        return db

    def get(self, request: Request) -> Reply | None:
        row = self._db().execute("SELECT reply FROM replies WHERE key = ?", (request_key(request),)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return Reply(text=data["text"], provider=data["provider"], model=data["model"], usage=Usage(**data["usage"]),
                     finish_reason=data["finish_reason"], cached=True,
                     tool_calls=tuple(ToolCall(**c) for c in data["tool_calls"]))

    def put(self, request: Request, reply: Reply) -> None:
        data = {"text": reply.text, "provider": reply.provider, "model": reply.model, "usage": asdict(reply.usage),
                "finish_reason": reply.finish_reason, "tool_calls": [asdict(c) for c in reply.tool_calls]}
        self._db().execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?)",
                           (request_key(request), time.time(), request.model, json.dumps(data)))

    def clear(self) -> int:
        return self._db().execute("DELETE FROM replies").rowcount
