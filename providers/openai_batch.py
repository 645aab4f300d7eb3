"""OpenAI's Batch API through the official SDK: the requests as a JSONL file (purpose "batch") of Chat Completions
calls, each body what the chat adapter sends, one batch over it with the 24-hour window, and the output and error
files read back into outcomes."""

from __future__ import annotations

import json
from typing import Any, Sequence

from . import errors
from .base import Settings
from .batching import BatchAPI, BatchItem, BatchLimits, BatchOutcome, BatchStatus
from .chat_completions import openai_finish, openai_tool_calls, openai_usage
from .openai import OpenAIProvider
from .types import Reply

ENDPOINT = "/v1/chat/completions"
STATES = {"validating": "validating", "in_progress": "in_progress", "finalizing": "finalizing", "completed": "ended",
          "expired": "expired", "cancelling": "cancelling", "cancelled": "cancelled", "failed": "failed"}
# a request the batch did not run says why in its error line's code
NOT_RUN = {"batch_expired": "expired", "batch_cancelled": "cancelled"}


class OpenAIBatch(BatchAPI):
    provider = "openai"
    # documented: up to 50,000 requests and 200 MB in one input file, of one model
    limits = BatchLimits(max_requests=50_000, max_bytes=200 * 1024 * 1024, one_model=True)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.chat = OpenAIProvider(settings)  # its client and its arguments: a batch line's body is a chat call

    def line(self, item: BatchItem) -> bytes:
        body = self.chat.arguments(item.request)
        task = {"custom_id": item.custom_id, "method": "POST", "url": ENDPOINT, "body": body}
        return (json.dumps(task, separators=(",", ":")) + "\n").encode()

    def size(self, item: BatchItem) -> int:
        return len(self.line(item))

    async def submit(self, items: Sequence[BatchItem]) -> BatchStatus:
        data = b"".join(self.line(item) for item in items)
        async with self.sdk_errors():
            file = await self.chat.client.files.create(file=("batch.jsonl", data, "application/jsonl"),
                                                        purpose="batch")
            batch = await self.chat.client.batches.create(input_file_id=file.id, endpoint=ENDPOINT,
                                                          completion_window="24h")
        return self.status(batch)

    async def retrieve(self, batch_id: str) -> BatchStatus:
        async with self.sdk_errors(batch_id):
            return self.status(await self.chat.client.batches.retrieve(batch_id))

    async def results(self, batch_id: str, order: Sequence[str] = ()) -> list[BatchOutcome]:
        async with self.sdk_errors(batch_id):
            batch = await self.chat.client.batches.retrieve(batch_id)
            status = self.status(batch)
            if not status.finished:
                raise errors.BadRequest(f"batch {batch_id} is {status.state}: its results come when it has ended",
                                        provider=self.provider)
            lines: list[str] = []
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    lines += (await self.chat.client.files.content(file_id)).text.splitlines()
        return [outcome(json.loads(line)) for line in lines if line.strip()]

    async def cancel(self, batch_id: str) -> BatchStatus:
        async with self.sdk_errors(batch_id):
            return self.status(await self.chat.client.batches.cancel(batch_id))

    def status(self, batch: Any) -> BatchStatus:
        counts = batch.request_counts
        total, done, failed = (counts.total, counts.completed, counts.failed) if counts else (0, 0, 0)
        state = STATES.get(batch.status, batch.status)
        problems = (batch.errors.data or []) if batch.errors else []
        return BatchStatus(
            id=batch.id, provider=self.provider, state=state, created_at=batch.created_at,
            counts={"total": total, "succeeded": done, "errored": failed, "processing": total - done - failed},
            ended_at=batch.completed_at or batch.failed_at or batch.expired_at or batch.cancelled_at,
            expires_at=batch.expires_at,
            error="; ".join(f"line {e.line}: {e.message}" if e.line else str(e.message) for e in problems))

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        return self.chat.map_error(exc)

    async def aclose(self) -> None:
        await self.chat.aclose()


def outcome(line: dict[str, Any]) -> BatchOutcome:
    """One line of the output or error file: a reply, the endpoint's error, or why the request did not run."""
    custom_id = str(line.get("custom_id", ""))
    response, error = line.get("response") or {}, line.get("error") or {}
    if error:
        return BatchOutcome(custom_id, NOT_RUN.get(error.get("code"), "error"), error=str(error.get("message", "")))
    body = response.get("body") or {}
    if response.get("status_code") != 200:
        detail = (body.get("error") or {}).get("message", "") if isinstance(body.get("error"), dict) else ""
        return BatchOutcome(custom_id, "error",
                            error=errors.from_status(int(response.get("status_code") or 500), str(detail)).message)
    try:
        return BatchOutcome(custom_id, "ok", reply=reply(body))
    except (errors.ProviderError, LookupError, TypeError, ValueError) as exc:
        return BatchOutcome(custom_id, "error", error=f"the reply does not have the Chat Completions shape ({exc})")


def reply(body: dict[str, Any]) -> Reply:
    """A chat.completion body as the chat adapter reads one."""
    from openai.types.chat import ChatCompletion  # the SDK is loaded: its client read the file

    response = ChatCompletion.construct(**body)
    choice = response.choices[0]
    calls = openai_tool_calls(choice.message)
    return Reply(text=choice.message.content or "", provider="openai", model=response.model,
                 usage=openai_usage(response.usage), finish_reason=openai_finish(choice.finish_reason, bool(calls)),
                 tool_calls=calls)


BATCH_API = OpenAIBatch
