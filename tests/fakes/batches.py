"""What the three batch APIs' fakes share: a batch is a list of requests answered at creation, as the normal
endpoint would answer each (the server's queued scripts in request order, its responder or its default; a request
the API's rules refuse gets their 400), and its outcomes shown once the batch ends.

A test shapes the batches it creates next with `server.batch_plan = BatchPlan(...)`: end only after some
retrieves (`polls`) or seconds (`delay`), leave some requests unfinished (`expire`: the batch ends expired, those
requests expired). A script with a status other than 200 makes that request an errored one. Cancelling a running
batch cancels every request in it (the next retrieve sees it cancelled). Batches live on the server object
(`server.batches`), so a new client (as after a kernel restart) finds them."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Collection

from aiohttp import web

from .core import FakeServer, Recorded, Script
from .rules import Refusal

Outcome = str  # "processing", "ok", "error", "expired" or "cancelled"


@dataclass
class BatchPlan:
    """How the fake runs the batches created from now on."""

    polls: int = 0                      # retrieves that still find the batch running before it ends
    delay: float = 0.0                  # seconds after creation before it may end
    expire: Collection[str] = ()        # custom_ids still unfinished when it ends: it ends expired
    failing_polls: int = 0              # the first retrieves answer 503 (the OpenAI batch fake): a passing fault


@dataclass
class Entry:
    """One request of a batch, with the script (or the refusal) that answers it."""

    custom_id: str
    request: Recorded
    script: Script | None = None
    refusal: Refusal | None = None
    expires: bool = False

    @property
    def failed(self) -> bool:
        return self.refusal is not None or (self.script is not None and self.script.status != 200)

    @property
    def status(self) -> int:
        return 400 if self.refusal is not None else self.script.status if self.script else 200

    @property
    def message(self) -> str:
        return self.refusal.message if self.refusal is not None else self.script.error_message if self.script else ""


@dataclass
class FakeBatch:
    """A batch on the fake server; `state` is running, cancelling, ended, cancelled, expired or failed."""

    id: str
    model: str
    entries: list[Entry]
    plan: BatchPlan
    extra: dict[str, Any] = field(default_factory=dict)   # each API's own fields (endpoint, file ids...)
    created_at: float = field(default_factory=time.time)
    state: str = "running"
    ended_at: float | None = None
    cancelled_at: float | None = None
    retrieves: int = 0
    faults: int = 0                     # retrieves answered with a passing fault (plan.failing_polls)
    failure: list[dict[str, Any]] = field(default_factory=list)  # validation errors of a failed batch

    def advance(self, poll: bool = False) -> None:
        """Move on as time and polls say: a retrieve counts as a poll."""
        self.retrieves += 1 if poll else 0
        now = time.time()
        if self.state == "cancelling":
            self.state, self.ended_at = "cancelled", now
        elif self.state == "running" and self.retrieves > self.plan.polls and now >= self.created_at + self.plan.delay:
            self.state = "expired" if any(e.expires for e in self.entries) else "ended"
            self.ended_at = now

    def cancel(self) -> None:
        if self.state == "running":
            self.state, self.cancelled_at = "cancelling", time.time()

    @property
    def finished(self) -> bool:
        return self.state in ("ended", "cancelled", "expired", "failed")

    def outcome(self, entry: Entry) -> Outcome:
        if self.state == "cancelled":
            return "cancelled"
        if not self.finished:
            return "processing"
        if entry.expires:
            return "expired"
        return "error" if entry.failed else "ok"

    def counts(self) -> dict[str, int]:
        """How many requests are in each outcome."""
        counts = dict.fromkeys(("processing", "ok", "error", "expired", "cancelled"), 0)
        for entry in self.entries:
            counts[self.outcome(entry)] += 1
        return counts


def make_batch(server: FakeServer, prefix: str, model: str, requests: list[tuple[str, Recorded]],
               rule: Callable[[Any], Refusal | None]) -> FakeBatch:
    """A new batch on `server` whose requests are answered now, in order, by the server's scripts; `rule` is the
    endpoint's refusal check (used when the server is strict)."""
    plan = server.batch_plan or BatchPlan()
    entries = []
    for custom_id, recorded in requests:
        entry = Entry(custom_id, recorded, expires=custom_id in plan.expire)
        entry.refusal = rule(recorded.body) if server.strict else None
        if entry.refusal is not None:
            server.refuse(recorded, 400, entry.refusal.message)
        elif not entry.expires:
            entry.script = server.next_script(recorded)
        entries.append(entry)
    batch = FakeBatch(f"{prefix}{uuid.uuid4().hex[:24]}", model, entries, plan)
    server.batches[batch.id] = batch
    return batch


def inner(path: str, body: Any) -> Recorded:
    """A request inside a batch as the responder sees it (no headers: it came in the batch)."""
    return Recorded("POST", path, {}, {}, body)


def rfc3339(moment: float | None) -> str | None:
    """A Unix time as Anthropic and Google write it."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, timezone.utc).isoformat().replace("+00:00", "Z")


def on_batch(server: FakeServer, find: Callable[[web.Request], "FakeBatch | web.Response"]) -> Callable[..., Any]:
    """A decorator for the routes of one batch: the request is recorded and its batch found first (else `find`'s
    answer, the API's own 404 is sent), then the handler is called as `handler(request, batch)`."""
    def route(handler: Callable[[web.Request, FakeBatch], Awaitable[web.Response]]) -> Callable[..., Any]:
        async def handle(request: web.Request) -> web.Response:
            await server.receive(request)
            batch = find(request)
            return batch if isinstance(batch, web.Response) else await handler(request, batch)
        return handle
    return route
