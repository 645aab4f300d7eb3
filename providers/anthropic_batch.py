"""Anthropic's Message Batches through the official SDK: each request's params are what the chat adapter sends to
`messages.create`; the results (succeeded, errored, canceled, expired) come back as outcomes."""

from __future__ import annotations

import json
from typing import Any, Sequence

from . import errors
from .anthropic import ERROR_STATUS, AnthropicProvider, anthropic_usage, usage_figures
from .base import Settings, normalize_finish
from .batching import BatchAPI, BatchItem, BatchLimits, BatchOutcome, BatchStatus
from .types import Reply, ToolCall

STATES = {"in_progress": "in_progress", "canceling": "cancelling", "ended": "ended"}
OUTCOMES = {"succeeded": "ok", "errored": "error", "canceled": "cancelled", "expired": "expired"}


class AnthropicBatch(BatchAPI):
    provider = "anthropic"
    # documented: up to 100,000 requests and 256 MB in one batch; its requests may name different models
    limits = BatchLimits(max_requests=100_000, max_bytes=256 * 1024 * 1024)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.chat = AnthropicProvider(settings)  # its client and its arguments: a batch request is a messages call

    @property
    def batches(self) -> Any:
        return self.chat.client("").messages.batches

    def request(self, item: BatchItem) -> dict[str, Any]:
        return {"custom_id": item.custom_id, "params": self.chat.arguments(item.request)}

    def size(self, item: BatchItem) -> int:
        return len(json.dumps(self.request(item), separators=(",", ":")).encode())

    async def submit(self, items: Sequence[BatchItem]) -> BatchStatus:
        requests = [self.request(item) for item in items]
        async with self.sdk_errors():
            return self.status(await self.batches.create(requests=requests))

    async def retrieve(self, batch_id: str) -> BatchStatus:
        async with self.sdk_errors(batch_id):
            return self.status(await self.batches.retrieve(batch_id))

    async def results(self, batch_id: str, order: Sequence[str] = ()) -> list[BatchOutcome]:
        async with self.sdk_errors(batch_id):
            status = await self.retrieve(batch_id)
            if not status.finished:
                raise errors.BadRequest(f"batch {batch_id} is {status.state}: its results come when it has ended",
                                        provider=self.provider)
            lines = await self.batches.results(batch_id)
            return [outcome(line) async for line in lines]

    async def cancel(self, batch_id: str) -> BatchStatus:
        async with self.sdk_errors(batch_id):
            return self.status(await self.batches.cancel(batch_id))

    def status(self, batch: Any) -> BatchStatus:
        """Anthropic says `ended` whatever the end: a cancelled batch is cancelled, one with expired requests
        expired, in the kit's words (as OpenAI says them)."""
        counts = batch.request_counts
        figures = {"succeeded": counts.succeeded, "errored": counts.errored, "expired": counts.expired,
                   "cancelled": counts.canceled, "processing": counts.processing}
        state = STATES.get(batch.processing_status, batch.processing_status)
        if state == "ended" and batch.cancel_initiated_at is not None:
            state = "cancelled"
        elif state == "ended" and counts.expired:
            state = "expired"
        return BatchStatus(id=batch.id, provider=self.provider, state=state,
                           counts={"total": sum(figures.values()), **figures}, created_at=_time(batch.created_at),
                           ended_at=_time(batch.ended_at), expires_at=_time(batch.expires_at))

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        return self.chat.map_error(exc)

    async def aclose(self) -> None:
        await self.chat.aclose()


def _time(moment: Any) -> float | None:
    return moment.timestamp() if moment is not None else None


def outcome(line: Any) -> BatchOutcome:
    """One result: the message read as the chat adapter reads one, the API's error, or why it did not run."""
    result = line.result
    status = OUTCOMES.get(result.type, "error")
    if status == "ok":
        return BatchOutcome(line.custom_id, "ok", reply=reply(result.message))
    if status != "error":
        return BatchOutcome(line.custom_id, status)
    error = result.error.error
    code = ERROR_STATUS.get(getattr(error, "type", "") or "", 500)
    return BatchOutcome(line.custom_id, "error", error=errors.from_status(code, error.message or "").message)


def reply(message: Any) -> Reply:
    """A batch runs no tool loop: a reply that wrote no text and stopped on one tool call (an older model's structured
    output, answered through a forced tool) has that call's input as its text too."""
    text = "".join(block.text for block in message.content if block.type == "text")
    calls = tuple(ToolCall(block.id, block.name, block.input or {})
                  for block in message.content if block.type == "tool_use")
    if not text and len(calls) == 1 and message.stop_reason == "tool_use":
        text = json.dumps(calls[0].arguments)
    return Reply(text=text, provider="anthropic", model=message.model, tool_calls=calls,
                 usage=anthropic_usage(usage_figures(message.usage)),
                 finish_reason=normalize_finish(message.stop_reason))


BATCH_API = AnthropicBatch
