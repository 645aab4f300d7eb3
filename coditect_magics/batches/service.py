"""Batch jobs end to end: submit rows through a provider's batch API (split to fit its limits, checked before any
upload), follow the job with backoff, fetch the answers into the store and the ledger (one row per request, at the
batch price, under a row id made from the batch and request ids so a second fetch, here or in another kernel,
charges nothing twice), and cancel. Used from the kit's loop (`bridge.run`), where the SDK clients live."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import replace
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

from coditect_magics.errors import UsageError
from coditect_magics.providers import errors, registry
from coditect_magics.providers.base import Settings as ProviderSettings
from coditect_magics.providers.batching import BatchAPI, BatchItem, BatchOutcome, batch_api
from coditect_magics.providers.types import Request

from .store import Item, Job, JobStore, Part

POLL_FAULTS = 5  # passing faults in a row a wait rides out before it gives up (the job is kept: fetch again later)
ROW_IDS = uuid.UUID("6f1d2c8e-3b7a-4c55-9e0f-b47c1a9d2e61")  # the namespace of batch requests' ledger row ids
# what a request the batch never answered became, by how its batch ended
UNANSWERED = {"cancelled": "cancelled", "expired": "expired"}


def row_id(batch_id: str, custom_id: str) -> str:
    """The ledger row id of one batch request: the same in every kernel that fetches it."""
    return uuid.uuid5(ROW_IDS, f"{batch_id}/{custom_id}").hex


def encode_key(label: Any) -> str:
    """A row's DataFrame index label (or list position) as stored text; equal labels give equal text."""
    value = label.item() if hasattr(label, "item") else label  # numpy scalars
    try:
        return json.dumps(value)
    except TypeError:
        return json.dumps({"label": str(label)})


def split(items: Sequence[BatchItem], api: BatchAPI) -> list[list[BatchItem]]:
    """Items in batches within the provider's count and byte limits; a UsageError, before anything is sent, for a
    request larger than a whole batch may be."""
    limits = api.limits
    chunks: list[list[BatchItem]] = []
    current: list[BatchItem] = []
    size = 0
    for item in items:
        n = api.size(item)
        if n > limits.max_bytes:
            raise UsageError(f"request {item.custom_id} is {n:,} bytes but a {api.provider} batch holds at most "
                             f"{limits.max_bytes:,}: shorten that row")
        if current and (len(current) >= limits.max_requests or size + n > limits.max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += n
    return chunks + [current] if current else chunks


class BatchService:
    """The session's batch jobs: `await submit(...)`, `follow(id)`, `await fetch(id)`, `await cancel(id)`,
    `jobs()`. Provider endpoints and keys come from `provider_options` as the executor's do."""

    def __init__(self, store: JobStore, ledger: Any, *, provider_options: Mapping[str, Mapping[str, Any]] | None = None,
                 aliases: Mapping[str, str] | None = None, timeout: float = 60.0, poll_s: float = 5.0,
                 poll_max_s: float = 300.0, keys: Any = None,
                 check_budget: Callable[[str | None], None] | None = None) -> None:
        self.store, self.ledger, self.keys = store, ledger, keys  # keys: the session's keys.KeyPool
        # refuses a new job once a spend limit is reached (the session's budgets, for the job's agent)
        self.check_budget = check_budget
        self.provider_options = dict(provider_options or {})
        self.aliases = dict(aliases or {})
        self.timeout, self.poll_s, self.poll_max_s = timeout, poll_s, poll_max_s
        self._apis: dict[str, BatchAPI] = {}

    def api(self, provider: str, key: Any = None) -> BatchAPI:
        """The provider's batch adapter spending `key` (a keys.Key; None: the provider's own lookup), made once (a
        BadRequest naming the providers that have one)."""
        slot = f"{provider}/{key.name if key is not None else ''}"
        if slot not in self._apis:
            options = self.provider_options.get(provider, {})
            self._apis[slot] = batch_api(provider, ProviderSettings(
                api_key=key.value if key is not None else options.get("api_key"), base_url=options.get("base_url"),
                timeout=self.timeout))
        return self._apis[slot]

    def key(self, provider: str, name: str | None = None) -> Any:
        """The key a job spends: the first usable one for a new job, the one named `name` for a job made with it
        (its batches belong to that key's account); None without a key pool or a key."""
        if self.keys is None:
            return None
        found = self.keys.usable(provider, self.provider_options.get(provider, {}).get("api_key"))
        if name is None:
            return found[0] if found else None
        chosen = next((k for k in found if k.name == name), None)
        if chosen is None:
            raise UsageError(f"the {provider} key {name} that made this batch job is not set here: set that "
                             f"variable or store it (%llm keys set {provider} --name {name})")
        return chosen

    def _api_of(self, job: Job) -> BatchAPI:
        return self.api(job.provider, self.key(job.provider, job.key_name) if job.key_name else None)

    async def aclose(self) -> None:
        """Close the adapters' SDK clients (on the loop they were used on)."""
        for api in self._apis.values():
            await api.aclose()
        self._apis.clear()

    # submitting
    async def submit(self, model_id: str, rows: Sequence[tuple[Any, str]], *, system: str = "",
                     params: Mapping[str, Any] | None = None, agent: str | None = None,
                     target: Mapping[str, Any] | None = None) -> Job:
        """Send (row key, prompt) rows as one job of as many batches as the limits need; the job is kept once its
        first batch is accepted, and each further batch as it goes."""
        if not rows:
            raise UsageError("no rows to send: the batch would be empty")
        if self.check_budget is not None:
            self.check_budget(agent)
        provider, model = registry.resolve(registry.qualify(model_id, self.aliases))
        key = self.key(provider)
        api = self.api(provider, key)
        items = [Item(f"r{pos}", pos, encode_key(label), str(text)) for pos, (label, text) in enumerate(rows)]
        head = [{"role": "system", "content": system}] if system else []
        requests = [BatchItem(i.custom_id, Request.build(f"{provider}:{model}",
                                                         [*head, {"role": "user", "content": i.input}],
                                                         **dict(params or {}))) for i in items]
        chunks = split(requests, api)
        job = Job(f"batch-{uuid.uuid4().hex[:12]}", provider, model, dict(target or {}), agent=agent,
                  key_name=key.name if key is not None else None)
        by_id = {i.custom_id: i for i in items}
        for number, chunk in enumerate(chunks):
            try:
                status = await api.submit(chunk)
            except Exception as exc:
                if number == 0:
                    raise
                raise UsageError(f"{exc}; job {job.id}: {number} of {len(chunks)} batches went out (`%agent result "
                                 f"{job.id}` fetches them, the other rows show as errors)") from exc
            job = replace(job, parts=(*job.parts, _part(status)))
            sent = [replace(by_id[b.custom_id], batch_id=status.id) for b in chunk]
            # the first save keeps every row's mapping (split keeps the rows' order: the first chunk leads)
            self.store.save(job, sent + (items[len(chunk):] if number == 0 else []))
        return job

    # following
    def find(self, job_id: str) -> Job:
        """The job with this id (or a unique prefix, or one of its provider batch ids); a UsageError if none."""
        job = self.store.get(job_id.strip())
        if job is None:
            raise UsageError(f"no batch job {job_id!r} (`%agent batches` lists them)")
        return job

    def knows(self, job_id: str) -> bool:
        """Whether this id is a batch job's (the fronts send other ids to queued runs)."""
        return self.store.get(job_id.strip()) is not None

    def jobs(self, limit: int = 100) -> list[Job]:
        """The newest jobs first (the Redis mirror's too)."""
        return self.store.jobs(limit)

    async def refresh(self, job: Job) -> Job:
        """The job with each unfinished batch's state and counts asked afresh (and kept)."""
        if job.finished or job.fetched:
            return job
        api = self._api_of(job)
        parts = []
        for part in job.parts:
            if not part.finished:
                part = _part(await api.retrieve(part.id))
            parts.append(part)
        job = replace(job, parts=tuple(parts))
        self.store.save(job)
        return job

    async def follow(self, job_id: str, timeout: float | None = None) -> AsyncIterator[Job]:
        """The job after each poll until it has finished (or `timeout` seconds passed); the wait between polls
        doubles from `poll_s` up to `poll_max_s` (a batch takes minutes to hours)."""
        job = self.find(job_id)
        delay, faults = self.poll_s, 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                job = await self.refresh(job)
                faults = 0
            except errors.ProviderError as exc:  # a passing fault (5xx, 429, a cut) over hours of waiting: poll on
                faults += 1
                if not exc.retryable or faults >= POLL_FAULTS:
                    raise
            yield job
            left = None if deadline is None else deadline - time.monotonic()
            if job.finished or job.fetched or (left is not None and left <= 0):
                return
            await asyncio.sleep(delay if left is None else min(delay, left))
            delay = min(delay * 2, self.poll_max_s)

    # fetching
    async def fetch(self, job_id: str) -> tuple[Job, list[Item]]:
        """The job and its items with answers once every batch has finished (each request's ledger row written
        once); before that, the job and items without answers."""
        job = self.find(job_id)
        if not job.fetched:
            job = await self.refresh(job)
        items = self.store.items(job.id)
        if job.fetched or not job.finished:
            return job, items
        outcomes: dict[str, tuple[str, BatchOutcome]] = {}
        for part in job.parts:
            order = [i.custom_id for i in items if i.batch_id == part.id]
            for outcome in await self._api_of(job).results(part.id, order):
                outcomes[outcome.custom_id] = (part.id, outcome)
        parts = {p.id: p for p in job.parts}
        answered, rows = [], []
        for item in items:
            found = outcomes.get(item.custom_id)
            done = _answer(item, found, parts.get(item.batch_id or ""))
            answered.append(done)
            if done.batch_id:
                rows.append(_ledger_row(job, done, found[1].reply if found else None))
        self.ledger.record_many(rows)
        job = replace(job, fetched=True)
        self.store.save(job, answered)
        return job, answered

    async def cancel(self, job_id: str) -> Job:
        """Ask the provider to cancel each batch of the job still running; the job as it then stands."""
        job = self.find(job_id)
        api = self._api_of(job)
        parts = [_part(await api.cancel(p.id)) if not p.finished else p
                 for p in job.parts]
        job = replace(job, parts=tuple(parts))
        self.store.save(job)
        return job


def _part(status: Any) -> Part:
    """A provider's BatchStatus as the job keeps it."""
    return Part(status.id, status.state, dict(status.counts), status.error)


def _answer(item: Item, found: tuple[str, BatchOutcome] | None, part: Part | None) -> Item:
    """The item with its outcome: the answer, or why there is none (never a silent gap)."""
    if item.batch_id is None or part is None:
        return replace(item, status="error", error="not submitted: its batch failed to upload")
    if found is None:
        why = f"its batch {part.state}" + (f": {part.error}" if part.error else "")
        return replace(item, status=UNANSWERED.get(part.state, "error"), error=f"no result ({why})")
    outcome = found[1]
    if outcome.status == "ok" and outcome.reply is not None:
        return replace(item, status="ok", answer=outcome.reply.text, error=None)
    return replace(item, status=outcome.status if outcome.status != "ok" else "error",
                   error=outcome.error or outcome.status)


def _ledger_row(job: Job, item: Item, reply: Any) -> Any:
    """One request's ledger row, priced at the batch rate; a request that did not run cost nothing."""
    from coditect_magics.costs import CallRecord, price
    rid = row_id(item.batch_id or "", item.custom_id)
    common = dict(provider=job.provider, agent=job.agent, run_id=job.id, batch_id=item.batch_id, call_id=rid,
                  id=rid, key_name=job.key_name)
    if item.status != "ok" or reply is None:
        return CallRecord(model=job.model, status=item.status or "error", cost_usd=0.0, price_known=True,
                          error_class="BatchRequest", error_message=item.error, **common)
    model = reply.model or job.model
    priced = price(job.provider, model, reply.usage, batch=True)
    usage = reply.usage
    return CallRecord(model=model, status="ok", input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                      cached_tokens=usage.cached_tokens, cost_usd=priced.usd, price_known=priced.known,
                      price_basis=priced.basis, **common)
