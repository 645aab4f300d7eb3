"""Batch APIs in the kit's terms: many requests sent as one job that the provider runs within a day at about half
price (OpenAI Batch, Anthropic Message Batches, Gemini batch mode). A provider that has one names its adapter on its
spec (`ProviderSpec.batch`); `batch_api(provider, settings)` makes it. Adapters only translate: the kit's services
keep the job, split it to fit `limits`, poll and price the results."""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Literal, Mapping, Sequence

from . import errors
from .base import Settings, map_transport_error
from .types import Reply, Request

# the job's state in the kit's words: each API's own vocabulary maps onto these
BatchState = Literal["validating", "in_progress", "finalizing", "ended", "cancelling", "cancelled", "expired",
                     "failed"]
OutcomeStatus = Literal["ok", "error", "expired", "cancelled"]
FINISHED: tuple[str, ...] = ("ended", "cancelled", "expired", "failed")


@dataclass(frozen=True)
class BatchItem:
    """One request of a batch; `custom_id` comes back with its result (the kit maps it to a row)."""

    custom_id: str
    request: Request


@dataclass(frozen=True)
class BatchLimits:
    """What one batch may hold, as the provider documents it: a larger job is split into several batches."""

    max_requests: int
    max_bytes: int
    one_model: bool = False  # every request of one batch names the same model (OpenAI's file, Gemini's URL)


@dataclass(frozen=True)
class BatchStatus:
    """A batch as the provider reports it. `counts` has those of total, succeeded, errored, expired, cancelled and
    processing that its API reports (Gemini's only once it has ended)."""

    id: str
    provider: str
    state: BatchState
    counts: Mapping[str, int] = field(default_factory=dict)
    created_at: float | None = None
    ended_at: float | None = None
    expires_at: float | None = None
    error: str = ""  # why a failed batch failed (the API's validation errors, one line)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


@dataclass(frozen=True)
class BatchOutcome:
    """One request's result: its reply (text, usage, model) when it succeeded, else why not."""

    custom_id: str
    status: OutcomeStatus
    reply: Reply | None = None
    error: str = ""


class BatchAPI:
    """Base of the batch adapters: submit, retrieve, results, cancel; `size` is an item's bytes on the wire (for
    splitting against `limits.max_bytes`)."""

    provider: str = ""
    limits: BatchLimits = BatchLimits(max_requests=50_000, max_bytes=200 * 1024 * 1024)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def size(self, item: BatchItem) -> int:
        raise NotImplementedError

    async def submit(self, items: Sequence[BatchItem]) -> BatchStatus:
        raise NotImplementedError

    async def retrieve(self, batch_id: str) -> BatchStatus:
        raise NotImplementedError

    async def results(self, batch_id: str, order: Sequence[str] = ()) -> list[BatchOutcome]:
        """The outcomes of an ended batch. `order`: the custom_ids as submitted, for an API that may answer without
        them (Gemini's inline responses are matched by position then, and the unanswered ones reported)."""
        raise NotImplementedError

    async def cancel(self, batch_id: str) -> BatchStatus:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release the SDK client."""

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        """The SDK's error in the kit's terms (each adapter uses its chat adapter's mapping); None: the common
        transport mapping decides."""
        return None

    @asynccontextmanager
    async def sdk_errors(self, batch_id: str = "") -> AsyncIterator[None]:
        """Raise the SDK's errors as the kit's, as the chat handle does; a 404 on a batch says the id is unknown."""
        try:
            yield
        except errors.ProviderError:
            raise
        except Exception as exc:
            failure = self.map_error(exc) or map_transport_error(exc, self.provider, "")
            if failure is None:
                raise
            if batch_id and isinstance(failure, errors.ModelNotFound):
                failure = errors.BatchNotFound(f"no batch {batch_id!r}: check the id (a batch of another key or "
                                               "account is not found either)")
            failure.provider, failure.detail = self.provider, errors.describe(exc)
            raise failure from None


def batch_api(provider: str, settings: Settings | None = None, **options: Any) -> BatchAPI:
    """The batch adapter of `provider`, or BadRequest naming the providers that have one."""
    from .registry import entry, names  # the registry imports this module's users, not this module

    spec = entry(provider).spec
    if not spec.batch:
        have = ", ".join(n for n in names() if entry(n).spec.batch)
        raise errors.BadRequest(f"{provider} has no batch API; batches run on {have}", provider=provider)
    module = importlib.import_module(f"{__package__}.{spec.batch}")
    return module.BATCH_API(settings or Settings(**options))
