"""The journal that makes a queued job safe to run twice. RQ re-runs a job whose worker died mid-way; the calls the
first run finished must not be made (and charged) again. Each call of a job gets a key from the job's id, the
request and how many identical requests came before it in the job, so a re-run asks for the same keys in the same
order; a finished call's reply is kept under its key in Redis, and its ledger rows carry ids made from the key (the
ledger skips ids it holds)."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import replace
from typing import Any

from coditect_magics.providers import Reply, Request

TTL_S = 7 * 24 * 3600  # as long as a job may wait for its retry


class Replay:
    """The replies of one job's calls, by call key, in the Redis of the queue (`redis` is a redis-py client)."""

    PREFIX = "coditect:replay:"

    def __init__(self, redis: Any, job_id: str) -> None:
        self.redis, self.job_id = redis, job_id
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.PREFIX + self.job_id

    def key(self, request: Request) -> str:
        """The call key for the next call of `request` in this job."""
        from coditect_magics.cache import request_key
        asked = request_key(request)
        with self._lock:
            self._seen[asked] += 1
            nth = self._seen[asked]
        return hashlib.sha256(f"{self.job_id}\n{asked}\n{nth}".encode()).hexdigest()[:32]

    def get(self, key: str) -> Reply | None:
        from coditect_magics.cache import decode
        kept = self.redis.hget(self.name, key)
        return None if kept is None else replace(decode(kept), cached=False)

    def put(self, key: str, reply: Reply) -> None:
        from coditect_magics.cache import encode
        with self.redis.pipeline() as pipe:
            pipe.hset(self.name, key, encode(reply))
            pipe.expire(self.name, TTL_S)
            pipe.execute()
