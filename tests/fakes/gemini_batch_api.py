"""Gemini's batch mode on loopback (v1beta, as Google serves it): `models/{model}:batchGenerateContent` with inline
requests makes a batch (a long-running operation named `batches/...`), `batches/{id}` gets it, `:cancel` cancels
it, `batches` lists them. Each inline request is answered as `generateContent` would answer it (batches.py); when
the batch ends, its operation carries `output.inlinedResponses` in request order, each with the request's metadata
and a response or an error. Requests that expired or were cancelled get none.

Refused as Gemini refuses them: a body over 20 MiB (its payload limit: larger jobs belong in a file), a batch with
no requests, and (per request, as an error in its inlined response) what generateContent refuses (rules.gemini)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import rules
from .batches import FakeBatch, inner, make_batch, on_batch, rfc3339
from .core import FakeServer
from .gemini_api import STATUS, whole

MAX_BYTES = 20 * 1024 * 1024
STATE = {"running": "BATCH_STATE_RUNNING", "cancelling": "BATCH_STATE_RUNNING", "ended": "BATCH_STATE_SUCCEEDED",
         "cancelled": "BATCH_STATE_CANCELLED", "expired": "BATCH_STATE_EXPIRED", "failed": "BATCH_STATE_FAILED"}
BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch"


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message, "status": STATUS.get(status, "UNKNOWN")}},
                             status=status)


def inlined(batch: FakeBatch) -> list[dict[str, Any]]:
    """The inlined responses of an ended batch, in request order; unfinished requests have none."""
    out = []
    for entry, metadata in zip(batch.entries, batch.extra["metadata"]):
        outcome = batch.outcome(entry)
        if outcome == "ok":
            out.append({"response": whole(entry.script, entry.script.model or batch.model), "metadata": metadata})
        elif outcome == "error":
            out.append({"error": {"code": entry.status, "message": entry.message}, "metadata": metadata})
    return out


def operation(batch: FakeBatch) -> dict[str, Any]:
    """The batch as its long-running operation: the GenerateContentBatch in `metadata` (and `response` once done)."""
    counts = batch.counts()
    content = {"@type": BATCH_TYPE, "name": batch.id, "model": f"models/{batch.model}",
               "displayName": batch.extra.get("displayName", ""), "state": STATE[batch.state],
               "createTime": rfc3339(batch.created_at), "updateTime": rfc3339(batch.ended_at or batch.created_at),
               "batchStats": {"requestCount": str(len(batch.entries)), "successfulRequestCount": str(counts["ok"]),
                              "failedRequestCount": str(counts["error"]),
                              "pendingRequestCount": str(counts["processing"])}}
    if batch.finished:
        content["endTime"] = rfc3339(batch.ended_at)
        content["output"] = {"inlinedResponses": {"inlinedResponses": inlined(batch)}}
    done = {"done": True, "response": content} if batch.finished else {}
    return {"name": batch.id, "metadata": content, **done}


def routes(server: FakeServer) -> list[web.RouteDef]:
    async def create(request: web.Request) -> web.Response:
        recorded = await server.receive(request)
        model = request.match_info["model"]
        batch = (recorded.body or {}).get("batch") if isinstance(recorded.body, dict) else None
        requests = ((batch or {}).get("inputConfig") or {}).get("requests", {}).get("requests") or []
        size = request.content_length or 0
        refusal = ("Request payload size exceeds the limit: 20971520 bytes." if size > MAX_BYTES else
                   "* BatchGenerateContentRequest.batch.input_config: requests must not be empty.\n"
                   if not requests else None)
        if refusal and server.strict:
            server.refuse(recorded, 400, refusal)
            return error(400, refusal)
        metadata = [dict(r.get("metadata") or {}) for r in requests]
        entries = [(m.get("key", str(i)), inner(f"/v1beta/models/{model}:generateContent", r.get("request") or {}))
                   for i, (r, m) in enumerate(zip(requests, metadata))]
        made = make_batch(server, "batches/", model, entries, lambda body: rules.gemini(body, model))
        made.extra.update(displayName=batch.get("displayName", ""), metadata=metadata)
        return web.json_response(operation(made))

    def find(request: web.Request) -> FakeBatch | web.Response:
        batch = server.batches.get(f"batches/{request.match_info['batch_id']}")
        return batch or error(404, f"Batch batches/{request.match_info['batch_id']} not found.")

    batch_route = on_batch(server, find)

    @batch_route
    async def get(request: web.Request, batch: FakeBatch) -> web.Response:
        batch.advance(poll=True)
        return web.json_response(operation(batch))

    @batch_route
    async def cancel(request: web.Request, batch: FakeBatch) -> web.Response:
        batch.cancel()
        batch.advance()  # Gemini's batch states have no "cancelling": the next get sees it cancelled
        return web.json_response({})

    async def listing(request: web.Request) -> web.Response:
        await server.receive(request)
        mine = sorted((b for b in server.batches.values() if b.id.startswith("batches/")), key=lambda b: -b.created_at)
        return web.json_response({"operations": [operation(b) for b in mine]})

    return [web.post("/v1beta/models/{model}:batchGenerateContent", create), web.get("/v1beta/batches", listing),
            web.get("/v1beta/batches/{batch_id}", get), web.post("/v1beta/batches/{batch_id}:cancel", cancel)]
