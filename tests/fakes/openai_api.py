"""OpenAI Chat Completions on the wire (also spoken by LM Studio, Hugging Face TGI and Inference Endpoints).

prompt_tokens counts the cached prompt tokens too; prompt_tokens_details.cached_tokens says how many. A script's
`fail_after` ends a stream with OpenAI's in-stream error (`data: {"error": {...}}`), or with TGI's
(`data: {"error": "...", "error_type": "..."}`) for a TGIScript, whose errors before a reply have TGI's flat shape
too. Requests OpenAI refuses (rules.py) get its 400; they are checked for TGI and LM Studio as well, which take
the same conversations."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import rules
from .core import FakeServer, Recorded, Script, argument_pieces, argument_text, pieces

ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
               429: "rate_limit_exceeded"}
FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}
# TGI's error_type for the status it answers with (router/src/server.rs: InferError)
TGI_ERRORS = {422: "validation", 429: "overloaded", 424: "generation", 500: "incomplete_generation"}


@dataclass
class TGIScript(Script):
    """A reply from a text-generation-inference server: its errors are `{"error": "...", "error_type": "..."}`."""


def _usage(script: Script) -> dict[str, Any]:
    return {"prompt_tokens": script.input_tokens, "completion_tokens": script.output_tokens,
            "total_tokens": script.input_tokens + script.output_tokens,
            "prompt_tokens_details": {"cached_tokens": script.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def _error(script: Script, status: int, message: str) -> dict[str, Any]:
    """The error body in the server's own shape: OpenAI's nested object, or TGI's flat one."""
    if isinstance(script, TGIScript):
        return {"error": message, "error_type": TGI_ERRORS.get(status, "generation")}
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "server_error"), "param": None,
                      "code": None}}


def _tool_calls(script: Script) -> list[dict[str, Any]]:
    return [{"id": c.get("id") or f"call_{i}fake", "type": "function",
             "function": {"name": c["name"], "arguments": argument_text(c)}} for i, c in enumerate(script.tool_calls)]


def _finish(script: Script) -> str:
    """OpenAI says tool_calls when the reply calls tools."""
    if script.tool_calls and script.finish_reason == "stop":
        return "tool_calls"
    return FINISH.get(script.finish_reason, script.finish_reason)


def completion(script: Script, model: str) -> dict[str, Any]:
    """A whole reply (`chat.completion`), as the endpoint and a batch's output lines carry it."""
    message: dict[str, Any] = {"role": "assistant", "content": script.text or None}
    if script.tool_calls:
        message["tool_calls"] = _tool_calls(script)
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": _finish(script)}], "usage": _usage(script)}


def error_body(script: Script, status: int, message: str) -> dict[str, Any]:
    """The error body in the server's own shape (public for the batch fake's error lines)."""
    return _error(script, status, message)


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n"


def routes(server: FakeServer) -> list[web.RouteDef]:
    async def chat(request: web.Request) -> web.StreamResponse:
        recorded = await server.receive(request)
        refusal = rules.openai(recorded.body) if server.strict else None
        if refusal is not None:
            server.refuse(recorded, 400, refusal.message)
            return web.json_response({"error": {"message": refusal.message, "type": "invalid_request_error",
                                                "param": refusal.param, "code": refusal.code}}, status=400)
        script = await server.answer(request, recorded)
        body = recorded.body if isinstance(recorded.body, dict) else {}
        model = script.model or body.get("model", "unknown")
        if script.status != 200:
            return server.error(script, recorded, _error(script, script.status, server.message(script, recorded)))
        if not body.get("stream"):
            if script.bad_json:
                return server.bad_json()
            return web.json_response(completion(script, model))
        return await server.events(request, script, _stream_events(script, recorded, model))

    return [web.post("/v1/chat/completions", chat), web.post("/chat/completions", chat)]


def _stream_events(script: Script, recorded: Recorded, model: str) -> list[str]:
    parts = pieces(script.text) if script.text else []
    if script.cut_after is not None:
        parts = parts[:script.cut_after]
    if script.fail_after is not None:
        parts = parts[:script.fail_after]
    events = [_chunk(model, {"role": "assistant", "content": ""})]
    if script.bad_json:
        events.append("data: {\"choices\": [ not json\n\n")
    events += [_chunk(model, {"content": p}) for p in parts]
    if script.fail_after is not None:  # the server fails mid-reply: its error event, and the stream ends
        return events + [f"data: {json.dumps(_error(script, script.fail_status, script.error_message))}\n\n"]
    if script.cut_after is not None or script.end_early:
        return events
    for index, call in enumerate(_tool_calls(script)):  # id and name first, then the arguments in pieces
        first, *rest = argument_pieces(call["function"]["arguments"])
        events.append(_chunk(model, {"tool_calls": [{"index": index, "id": call["id"], "type": "function", "function": {
            "name": call["function"]["name"], "arguments": first}}]}))
        events += [_chunk(model, {"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                   for piece in rest]
    events.append(_chunk(model, {}, _finish(script)))
    if (recorded.body or {}).get("stream_options", {}).get("include_usage"):
        usage = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                 "choices": [], "usage": _usage(script)}
        events.append(f"data: {json.dumps(usage)}\n\n")
    events.append("data: [DONE]\n\n")
    return events
