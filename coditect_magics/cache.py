"""Response cache: identical requests answer from SQLite (or, for a team, Redis), so re-running a notebook costs
nothing and gives the same text. The key covers provider, model, messages (images by hash), parameters, tools and the
output schema (an answer as JSON of a schema is never a plain answer's text)."""

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
from coditect_magics.sqlite_file import connect

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
    if request.output is not None:  # only then, so that the keys of plain requests stay as they were
        body["output"] = [request.output.name, dict(request.output.schema), request.output.strict]
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class ResponseCache:
    """A thread-safe SQLite table of replies keyed by `request_key`."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.path, SCHEMA, shared=False)  # one connection per thread
        return db

    def get(self, request: Request) -> Reply | None:
        row = self._db().execute("SELECT reply FROM replies WHERE key = ?", (request_key(request),)).fetchone()
        return None if row is None else decode(row[0])

    def put(self, request: Request, reply: Reply) -> None:
        self._db().execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?)",
                           (request_key(request), time.time(), request.model, encode(reply)))

    def clear(self) -> int:
        return self._db().execute("DELETE FROM replies").rowcount


class RedisResponseCache:
    """The same cache in Redis, shared by every kernel and worker of a team (`redis://host:port/db`). Entries expire
    after `ttl_s` seconds (None: never)."""

    PREFIX = "coditect:reply:"

    def __init__(self, url: str, ttl_s: float | None = None) -> None:
        try:
            import redis
        except ImportError:
            raise ImportError("a Redis cache needs redis-py: pip install 'coditect-magics[team]'") from None
        self.url, self.ttl_s = url, ttl_s
        self._client = redis.Redis.from_url(url)

    def __repr__(self) -> str:
        return f"RedisResponseCache({self.url!r})"

    def get(self, request: Request) -> Reply | None:
        value = self._client.get(self.PREFIX + request_key(request))
        return None if value is None else decode(value)

    def put(self, request: Request, reply: Reply) -> None:
        ttl = int(self.ttl_s) if self.ttl_s else None
        self._client.set(self.PREFIX + request_key(request), encode(reply), ex=ttl)

    def clear(self) -> int:
        keys = list(self._client.scan_iter(self.PREFIX + "*"))
        return self._client.delete(*keys) if keys else 0


def encode(reply: Reply) -> str:
    """A reply as the JSON a cache keeps (text, model, usage, finish reason, tool calls)."""
    return json.dumps({"text": reply.text, "provider": reply.provider, "model": reply.model,
                       "usage": asdict(reply.usage), "finish_reason": reply.finish_reason,
                       "tool_calls": [asdict(c) for c in reply.tool_calls]})


def decode(value: str | bytes) -> Reply:
    data = json.loads(value)
    return Reply(text=data["text"], provider=data["provider"], model=data["model"], usage=Usage(**data["usage"]),
                 finish_reason=data["finish_reason"], cached=True,
                 tool_calls=tuple(ToolCall(**c) for c in data["tool_calls"]))
