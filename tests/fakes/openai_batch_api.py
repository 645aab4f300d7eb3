"""OpenAI's Batch API on loopback: `POST /v1/files` (multipart, purpose "batch", a .jsonl file), file retrieve and
content download, and `/v1/batches` create, retrieve, list and cancel. Each line of the input file is answered as
`POST /v1/chat/completions` would answer it (batches.py); the output file holds the successes, the error file the
requests that failed (the endpoint's error as the line's response), expired (`batch_expired`) or were cancelled
(`batch_cancelled`).

Refused as the real API refuses them: an upload whose purpose is unknown or a batch file that is not .jsonl, and a
batch over a file of another purpose, with another completion window or endpoint (400); a file whose lines break
the Batch API's rules makes a batch that fails its validation (status "failed", `errors.data` with the documented
codes: empty_file, invalid_json_line, duplicate_custom_id, url_mismatch, model_mismatch, too_many_tasks)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import rules
from .batches import FakeBatch, inner, make_batch, on_batch
from .core import FakeServer, Recorded, Script
from .openai_api import completion, error_body

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
ENDPOINTS = ("/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations",
             "/v1/images/generations", "/v1/images/edits")
MAX_REQUESTS = 50_000
STATUS = {"running": "in_progress", "cancelling": "cancelling", "ended": "completed", "cancelled": "cancelled",
          "expired": "expired", "failed": "failed"}
NOT_RUN = {"expired": ("batch_expired", "This request could not be executed before the completion window expired."),
           "cancelled": ("batch_cancelled", "This request was not executed because the batch was cancelled.")}


@dataclass
class FakeFile:
    """An uploaded (or a batch's output) file."""

    id: str
    purpose: str
    filename: str
    content: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.content), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed", "expires_at": None,
                "status_details": None}


def invalid(message: str, status: int = 400, param: str | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error", "param": param,
                                        "code": None}}, status=status)


def validate(content: bytes, endpoint: str) -> tuple[list[tuple[str, Recorded]], list[dict[str, Any]]]:
    """The file's requests, or the Batch API's validation errors (code, line, message, param)."""
    requests: list[tuple[str, Recorded]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    model = None
    lines = [line for line in content.decode(errors="replace").splitlines() if line.strip()]
    if not lines:
        return [], [{"code": "empty_file", "line": None, "message": "The batch input file is empty.", "param": None}]
    if len(lines) > MAX_REQUESTS:
        return [], [{"code": "too_many_tasks", "line": None, "param": None,
                     "message": f"The batch input file has more than the maximum of {MAX_REQUESTS:,} requests."}]
    for number, line in enumerate(lines, 1):
        def error(code: str, message: str, param: str | None = None) -> None:
            errors.append({"code": code, "line": number, "message": message, "param": param})
        try:
            task = json.loads(line)
        except json.JSONDecodeError:
            error("invalid_json_line", "This line is not parseable as valid JSON.")
            continue
        body = task.get("body") if isinstance(task, dict) else None
        if not isinstance(body, dict):
            error("invalid_json_line", "This line is not parseable as valid JSON.")
            continue
        custom_id = task.get("custom_id")
        if custom_id in seen:
            error("duplicate_custom_id", "The custom_id for this request is a duplicate of another request. The "
                                         "custom_id parameter must be unique for each request in a batch.", "custom_id")
        if task.get("url") != endpoint:
            error("url_mismatch", "The provided URL for this request does not match the batch endpoint.", "url")
        model = model or body.get("model")
        if body.get("model") != model:
            error("model_mismatch", "The provided model does not match the model of other requests in the batch: "
                                    "a batch takes requests for one model only.", "body.model")
        seen.add(custom_id)
        requests.append((custom_id, inner(endpoint, body)))
    return requests, errors


def refused(body: dict[str, Any], file: FakeFile | None) -> tuple[int, str] | None:
    """Why batches.create refuses these arguments (status, message), or None."""
    if body.get("completion_window") != "24h":
        return 400, f"Invalid value: '{body.get('completion_window')}'. Supported values are: '24h'."
    if body.get("endpoint") not in ENDPOINTS:
        return 400, f"Invalid value: '{body.get('endpoint')}'. Supported values are: {', '.join(ENDPOINTS)}."
    if file is None:
        return 404, f"No such File object: {body.get('input_file_id')}"
    if file.purpose != "batch":
        return 400, (f"The input file {file.id} was uploaded with purpose '{file.purpose}': a batch's input file "
                     "must have purpose 'batch'.")
    return None


def output_line(batch: FakeBatch, index: int) -> tuple[str, dict[str, Any]]:
    """Which file ("output" or "error") entry `index` goes to, and its line."""
    entry = batch.entries[index]
    outcome = batch.outcome(entry)
    line: dict[str, Any] = {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": entry.custom_id,
                            "response": None, "error": None}
    if outcome in NOT_RUN:
        code, message = NOT_RUN[outcome]
        line["error"] = {"code": code, "message": message}
        return "error", line
    request_id = f"req_{uuid.uuid4().hex[:24]}"
    if outcome == "error":
        line["response"] = {"status_code": entry.status, "request_id": request_id,
                            "body": error_body(entry.script or Script(), entry.status, entry.message)}
        return "error", line
    model = entry.script.model or entry.request.body.get("model", "")
    line["response"] = {"status_code": 200, "request_id": request_id, "body": completion(entry.script, model)}
    return "output", line


def write_results(server: FakeServer, batch: FakeBatch) -> None:
    """The output and error files of a batch that has finished (written once)."""
    if "output_file_id" in batch.extra or not batch.finished:
        return
    files: dict[str, list[str]] = {"output": [], "error": []}
    if batch.state != "failed":
        for index in range(len(batch.entries)):
            kind, line = output_line(batch, index)
            files[kind].append(json.dumps(line))
    for kind, lines in files.items():
        file_id = None
        if lines:
            file = FakeFile(f"file-{uuid.uuid4().hex[:22]}", "batch_output", f"batch_{batch.id}_{kind}.jsonl",
                            ("\n".join(lines) + "\n").encode())
            server.files[file.id] = file
            file_id = file.id
        batch.extra[f"{kind}_file_id"] = file_id


def batch_json(server: FakeServer, batch: FakeBatch, status: str | None = None) -> dict[str, Any]:
    """The batch object; `status` overrides the state's (a new batch is "validating")."""
    write_results(server, batch)
    counts = batch.counts()
    created, ended = int(batch.created_at), int(batch.ended_at) if batch.ended_at else None
    state = batch.state
    at = {f"{name}_at": (ended if state == name else None) for name in ("failed", "expired", "cancelled")}
    return {"id": batch.id, "object": "batch", "endpoint": batch.extra["endpoint"], "model": batch.model,
            "errors": {"object": "list", "data": batch.failure} if batch.failure else None,
            "input_file_id": batch.extra["input_file_id"], "completion_window": "24h",
            "status": status or STATUS[state], "output_file_id": batch.extra.get("output_file_id"),
            "error_file_id": batch.extra.get("error_file_id"), "created_at": created,
            "in_progress_at": None if state == "failed" else created, "expires_at": created + 86_400,
            "finalizing_at": ended if state == "ended" else None, "completed_at": ended if state == "ended" else None,
            "cancelling_at": int(batch.cancelled_at) if batch.cancelled_at else None, **at,
            "request_counts": {"total": len(batch.entries), "completed": counts["ok"],
                               "failed": counts["error"] + counts["expired"] + counts["cancelled"]},
            "metadata": None}


def routes(server: FakeServer) -> list[web.RouteDef]:
    return file_routes(server) + batch_routes(server)


def file_routes(server: FakeServer) -> list[web.RouteDef]:
    """Upload, retrieve and download files."""
    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        upload, purpose = form.get("file"), str(form.get("purpose", ""))
        content = upload.file.read() if hasattr(upload, "file") else str(upload or "").encode()
        filename = getattr(upload, "filename", "") or "upload"
        recorded = Recorded(request.method, request.path, dict(request.query), dict(request.headers),
                            {"purpose": purpose, "filename": filename, "content": content.decode(errors="replace")})
        server.requests.append(recorded)
        refusal = None
        if purpose not in PURPOSES:
            refusal = f"Invalid value: '{purpose}'. Supported values are: {', '.join(map(repr, PURPOSES))}."
        elif purpose == "batch" and not filename.endswith(".jsonl"):
            refusal = "Invalid file format for Batch API. Must be .jsonl"
        if refusal:
            server.refuse(recorded, 400, refusal)
            return invalid(refusal, param="purpose")
        file = FakeFile(f"file-{uuid.uuid4().hex[:22]}", purpose, filename, content)
        server.files[file.id] = file
        return web.json_response(file.json())

    def find_file(file_id: str) -> FakeFile | web.Response:
        return server.files.get(file_id) or invalid(f"No such File object: {file_id}", 404, "id")

    async def file_info(request: web.Request) -> web.Response:
        await server.receive(request)
        file = find_file(request.match_info["file_id"])
        return file if isinstance(file, web.Response) else web.json_response(file.json())

    async def file_content(request: web.Request) -> web.Response:
        await server.receive(request)
        file = find_file(request.match_info["file_id"])
        if isinstance(file, web.Response):
            return file
        return web.Response(body=file.content, content_type="application/octet-stream")

    return [web.post("/v1/files", upload), web.get("/v1/files/{file_id}", file_info),
            web.get("/v1/files/{file_id}/content", file_content)]


def batch_routes(server: FakeServer) -> list[web.RouteDef]:
    """Create, retrieve, cancel and list batches."""
    async def create(request: web.Request) -> web.Response:
        recorded = await server.receive(request)
        body = recorded.body if isinstance(recorded.body, dict) else {}
        file = server.files.get(body.get("input_file_id", ""))
        refusal = refused(body, file)
        if refusal:
            server.refuse(recorded, *refusal)
            return invalid(refusal[1], refusal[0])
        requests, failure = validate(file.content, body["endpoint"])
        model = next((r.body.get("model", "") for _, r in requests), "")
        batch = make_batch(server, "batch_", model, [] if failure else requests, rules.openai)
        batch.extra.update(endpoint=body["endpoint"], input_file_id=file.id)
        if failure:
            batch.state, batch.ended_at, batch.failure = "failed", time.time(), failure
        return web.json_response(batch_json(server, batch, status="validating"))

    def find(request: web.Request) -> FakeBatch | web.Response:
        batch_id = request.match_info["batch_id"]
        return server.batches.get(batch_id) or invalid(f"No batch found with id '{batch_id}'.", 404)

    batch_route = on_batch(server, find)

    @batch_route
    async def retrieve(request: web.Request, batch: FakeBatch) -> web.Response:
        if batch.plan.failing_polls > batch.faults:  # a passing fault: the API is briefly unavailable
            batch.faults += 1
            return web.json_response({"error": {"message": "The server is overloaded.", "type": "server_error",
                                                "param": None, "code": None}}, status=503)
        batch.advance(poll=True)
        return web.json_response(batch_json(server, batch))

    @batch_route
    async def cancel(request: web.Request, batch: FakeBatch) -> web.Response:
        batch.advance()
        if batch.finished:
            return invalid(f"Cannot cancel a batch with status '{STATUS[batch.state]}'.")
        batch.cancel()
        return web.json_response(batch_json(server, batch))

    async def listing(request: web.Request) -> web.Response:
        await server.receive(request)
        mine = [b for b in server.batches.values() if b.id.startswith("batch_")]
        data = [batch_json(server, b) for b in sorted(mine, key=lambda b: -b.created_at)]
        return web.json_response({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None, "has_more": False})

    return [web.post("/v1/batches", create), web.get("/v1/batches", listing),
            web.get("/v1/batches/{batch_id}", retrieve), web.post("/v1/batches/{batch_id}/cancel", cancel)]
