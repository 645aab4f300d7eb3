"""Gemini's batch mode through google-genai (`client.aio.batches`, Gemini Developer API, v1beta where Google
serves it): the requests inline, each what the chat adapter sends to generate_content, its custom_id in the
request's metadata `key`; the inlined responses read back as the chat adapter reads a response."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from . import errors
from .base import Settings, require_sdk
from .batching import BatchAPI, BatchItem, BatchLimits, BatchOutcome, BatchStatus
from .gemini import GeminiProvider, gemini_usage, read, with_calls
from .gemini_messages import Signatures, tool_calls
from .types import Reply

STATES = {"JOB_STATE_PENDING": "in_progress", "JOB_STATE_QUEUED": "in_progress", "JOB_STATE_RUNNING": "in_progress",
          "JOB_STATE_SUCCEEDED": "ended", "JOB_STATE_PARTIALLY_SUCCEEDED": "ended", "JOB_STATE_FAILED": "failed",
          "JOB_STATE_CANCELLING": "cancelling", "JOB_STATE_CANCELLED": "cancelled", "JOB_STATE_EXPIRED": "expired"}
EXPIRES_AFTER = 48 * 3600  # documented: a batch still pending or running after 48 hours expires
# the 20 MiB payload limit of an inline batch (a larger job goes in several batches), less room for the envelope
INLINE_BYTES = 20 * 1024 * 1024 - 64 * 1024


class GeminiBatch(BatchAPI):
    provider = "gemini"
    # no documented count limit for inline requests: the size bounds them; the model is in the URL, one per batch
    limits = BatchLimits(max_requests=100_000, max_bytes=INLINE_BYTES, one_model=True)

    def __init__(self, settings: Settings) -> None:
        # batch mode is served on v1beta (the chat adapter's default is the SDK's v1)
        super().__init__(replace(settings, options={"api_version": "v1beta", **settings.options}))
        self.chat = GeminiProvider(self.settings)  # its client and its arguments: a batch request is a chat call

    def client(self, model: str = "") -> Any:
        return self.chat.client(model)

    def inline(self, item: BatchItem) -> Any:
        """The inline request: contents and config as the chat adapter makes them, the custom_id as metadata."""
        self.client(item.request.model_name)  # the SDK loaded, the chat adapter's types with it
        args = self.chat.arguments(item.request, whole=False)  # not whole: no per-call timeout in the config
        types = require_sdk(self.chat.spec, "google.genai").types
        return types.InlinedRequest(contents=args["contents"], config=args["config"], metadata={"key": item.custom_id})

    def size(self, item: BatchItem) -> int:
        return len(self.inline(item).model_dump_json(exclude_none=True).encode())

    async def submit(self, items: Sequence[BatchItem]) -> BatchStatus:
        models = {item.request.model_name for item in items}
        if len(models) != 1:
            raise errors.BadRequest(f"a Gemini batch runs one model, not {len(models)}: split the requests by model",
                                    provider=self.provider)
        model = models.pop()
        requests = [self.inline(item) for item in items]
        async with self.sdk_errors():
            job = await self.client(model).aio.batches.create(
                model=model, src=requests, config={"display_name": f"coditect-magics: {len(items)} requests"})
        # the SDK leaves Gemini's batchStats out of a job: the count is known here, at submission
        return replace(self.status(job), counts={"total": len(items), "processing": len(items)})

    async def retrieve(self, batch_id: str) -> BatchStatus:
        return self.status(await self.job(batch_id))

    async def job(self, batch_id: str) -> Any:
        if not batch_id.startswith("batches/"):  # the SDK refuses other names with a ValueError
            raise errors.BatchNotFound(f"no batch {batch_id!r}: Gemini's batch ids are batches/...",
                                       provider=self.provider)
        async with self.sdk_errors(batch_id):
            return await self.client().aio.batches.get(name=batch_id)

    async def results(self, batch_id: str, order: Sequence[str] = ()) -> list[BatchOutcome]:
        job = await self.job(batch_id)
        status = self.status(job)
        if not status.finished:
            raise errors.BadRequest(f"batch {batch_id} is {status.state}: its results come when it has ended",
                                    provider=self.provider)
        responses = (job.dest.inlined_responses if job.dest else None) or []
        outcomes = [self.outcome(r, order[i] if i < len(order) else "") for i, r in enumerate(responses)]
        if any(not o.custom_id for o in outcomes):
            raise errors.BadResponse("Gemini's responses carry no request keys: pass the custom_ids as order",
                                     provider=self.provider)
        answered = {o.custom_id for o in outcomes}
        # a request the batch never ran has no response: it ended as the batch did
        why = {"cancelled": "cancelled", "expired": "expired"}.get(status.state)
        return outcomes + [BatchOutcome(c, why or "error", error="" if why else "the batch ended without answering it")
                           for c in order if c not in answered]

    def outcome(self, inlined: Any, position_id: str) -> BatchOutcome:
        """One inlined response; its custom_id from its metadata, else from its position."""
        custom_id = (inlined.metadata or {}).get("key") or position_id
        if inlined.error is not None:
            code = inlined.error.code if isinstance(inlined.error.code, int) else 500
            return BatchOutcome(custom_id, "error", error=errors.from_status(code, inlined.error.message or "").message)
        try:
            return BatchOutcome(custom_id, "ok", reply=self.reply(inlined.response))
        except errors.ProviderError as exc:
            return BatchOutcome(custom_id, "error", error=exc.message)

    def reply(self, response: Any) -> Reply:
        """A response as the chat adapter reads a whole one."""
        text, finish = read(response)
        calls = tuple(tool_calls(response, 0, Signatures()))  # a batch reply continues no conversation
        return Reply(text=text, provider=self.provider, model=response.model_version or "",
                     usage=gemini_usage(response.usage_metadata), finish_reason=with_calls(finish, bool(calls)),
                     tool_calls=calls)

    async def cancel(self, batch_id: str) -> BatchStatus:
        await self.job(batch_id)
        async with self.sdk_errors(batch_id):
            await self.client().aio.batches.cancel(name=batch_id)
        return await self.retrieve(batch_id)

    def status(self, job: Any) -> BatchStatus:
        state = str(getattr(job.state, "value", job.state))
        responses = (job.dest.inlined_responses if job.dest else None) or []
        errored = sum(1 for r in responses if r.error is not None)
        counts = {"succeeded": len(responses) - errored, "errored": errored} if responses else {}
        created = job.create_time.timestamp() if job.create_time else None
        return BatchStatus(id=job.name, provider=self.provider, state=STATES.get(state, "in_progress"), counts=counts,
                           created_at=created, ended_at=job.end_time.timestamp() if job.end_time else None,
                           expires_at=created + EXPIRES_AFTER if created else None)

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        return self.chat.map_error(exc)

    async def aclose(self) -> None:
        await self.chat.aclose()


BATCH_API = GeminiBatch
