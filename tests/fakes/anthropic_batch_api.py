"""Anthropic's Message Batches API on loopback: `/v1/messages/batches` create, retrieve, list, cancel and the
results (JSONL at the batch's `results_url`). Each request's params are answered as `POST /v1/messages` would
answer them (batches.py): a `succeeded` result with the message, `errored` with the API's error (a script's status,
or the Messages rules' refusal: the API checks a request's content when it runs it), `canceled` or `expired`.
Counts other than `processing` stay zero until the batch has ended, as the API documents.

Refused at creation with the API's 400, as the real API refuses them: no requests, more than 100,000, a custom_id
that does not match ^[a-zA-Z0-9_-]{1,64}$, the same custom_id twice, and params without a field the Messages API
requires (model, max_tokens, messages)."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from . import rules
from .anthropic_api import blocks, error_body, forced, stop_reason, usage
from .batches import FakeBatch, inner, make_batch, on_batch, rfc3339
from .core import FakeServer

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_REQUESTS = 100_000
REQUIRED = ("model", "max_tokens", "messages")
STATUS = {"running": "in_progress", "cancelling": "canceling"}
RESULT = {"ok": "succeeded", "error": "errored", "cancelled": "canceled", "expired": "expired"}


def refused(body: Any) -> str | None:
    """Why the API refuses this batch at creation, in its words, or None."""
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list):
        return "requests: Field required"
    if not requests or len(requests) > MAX_REQUESTS:
        return (f"requests: List should have at {'least 1' if not requests else f'most {MAX_REQUESTS}'} "
                f"item{'' if not requests else 's'} after validation, not {len(requests)}")
    seen: set[str] = set()
    for index, request in enumerate(requests):
        custom_id, params = request.get("custom_id"), request.get("params")
        where = f"requests.{index}"
        if not isinstance(custom_id, str):
            return f"{where}.custom_id: Field required"
        if len(custom_id) > 64:
            return f"{where}.custom_id: String should have at most 64 characters"
        if not CUSTOM_ID.match(custom_id):
            return f"{where}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
        if custom_id in seen:
            return f"{where}.custom_id: custom_id '{custom_id}' is used by another request in this batch"
        seen.add(custom_id)
        if not isinstance(params, dict):
            return f"{where}.params: Field required"
        missing = next((f for f in REQUIRED if f not in params), None)
        if missing:
            return f"{where}.params.{missing}: Field required"
    return None


def batch_json(batch: FakeBatch, origin: str) -> dict[str, Any]:
    counts = batch.counts()
    ended = batch.finished
    return {"id": batch.id, "type": "message_batch", "processing_status": STATUS.get(batch.state, "ended"),
            "request_counts": {"processing": counts["processing"] if not ended else 0,
                               **{RESULT[k]: (counts[k] if ended else 0) for k in RESULT}},
            "created_at": rfc3339(batch.created_at), "expires_at": rfc3339(batch.created_at + 86_400),
            "ended_at": rfc3339(batch.ended_at), "archived_at": None,
            "cancel_initiated_at": rfc3339(batch.cancelled_at),
            "results_url": f"{origin}/v1/messages/batches/{batch.id}/results" if ended else None}


def result_line(batch: FakeBatch, index: int) -> str:
    entry = batch.entries[index]
    outcome = batch.outcome(entry)
    result: dict[str, Any] = {"type": RESULT[outcome]}
    if outcome == "ok":
        script = forced(entry.script, entry.request.body)   # as the endpoint answers a forced tool_choice
        result["message"] = {"id": f"msg_batch_{index:06d}", "type": "message", "role": "assistant",
                             "model": script.model or entry.request.body.get("model", ""), "content": blocks(script),
                             "stop_reason": stop_reason(script), "stop_sequence": None, "usage": usage(script)}
    elif outcome == "error":
        result["error"] = error_body(entry.status, entry.message)
    return json.dumps({"custom_id": entry.custom_id, "result": result})


def routes(server: FakeServer) -> list[web.RouteDef]:
    def origin(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    def find(request: web.Request) -> FakeBatch | web.Response:
        batch = server.batches.get(request.match_info["batch_id"])
        if batch is None or not batch.id.startswith("msgbatch_"):
            return web.json_response(error_body(404, "Not found"), status=404)
        return batch

    batch_route = on_batch(server, find)

    async def create(request: web.Request) -> web.Response:
        recorded = await server.receive(request)
        refusal = refused(recorded.body) if server.strict else None
        if refusal:
            server.refuse(recorded, 400, refusal)
            return web.json_response(error_body(400, refusal), status=400)
        requests = [(r["custom_id"], inner("/v1/messages", r["params"])) for r in recorded.body["requests"]]
        batch = make_batch(server, "msgbatch_", "", requests, rules.anthropic)
        return web.json_response(batch_json(batch, origin(request)))

    @batch_route
    async def retrieve(request: web.Request, batch: FakeBatch) -> web.Response:
        batch.advance(poll=True)
        return web.json_response(batch_json(batch, origin(request)))

    @batch_route
    async def cancel(request: web.Request, batch: FakeBatch) -> web.Response:
        batch.advance()
        batch.cancel()
        return web.json_response(batch_json(batch, origin(request)))

    @batch_route
    async def results(request: web.Request, batch: FakeBatch) -> web.Response:
        batch.advance()
        if not batch.finished:
            message = f"Batch {batch.id} has not ended yet: its results are available once it has."
            return web.json_response(error_body(400, message), status=400)
        lines = [result_line(batch, index) for index in range(len(batch.entries))]
        return web.Response(text="\n".join(lines) + "\n", content_type="application/binary")

    async def listing(request: web.Request) -> web.Response:
        await server.receive(request)
        mine = sorted((b for b in server.batches.values() if b.id.startswith("msgbatch_")), key=lambda b: -b.created_at)
        data = [batch_json(b, origin(request)) for b in mine]
        return web.json_response({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None})

    return [web.post("/v1/messages/batches", create), web.get("/v1/messages/batches", listing),
            web.get("/v1/messages/batches/{batch_id}", retrieve),
            web.post("/v1/messages/batches/{batch_id}/cancel", cancel),
            web.get("/v1/messages/batches/{batch_id}/results", results)]
