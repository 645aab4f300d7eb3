"""Anthropic's Messages API on loopback: `POST /v1/messages`, a whole `message` object or the SSE event sequence
(message_start, content_block_start, ping, content_block_delta..., content_block_stop, message_delta, message_stop),
and errors as `{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}`, also inside a stream
(`event: error`, after a 200) when a script has `fail_after`. Usage reports input_tokens without the prompt cache's
reads and writes, which come as cache_read_input_tokens and cache_creation_input_tokens, as the real API counts
them; a stream's message_delta carries the cumulative usage. Requests the API refuses get its 400 (rules.py).

`AnthropicScript(thinking="...")` adds a thinking block before the text, as real replies with thinking on have.
A request whose tool_choice forces a tool call gets one (see `forced`) when its script scripts none; a request with
output_config.format gets the script's text, which the script writes as the JSON answer."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from . import rules
from .core import Script, argument_pieces, argument_text, pieces

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 409: "conflict_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error"}


@dataclass
class AnthropicScript(Script):
    thinking: str = ""                   # a thinking block (with its signature) before the text
    # message_delta's usage: "cumulative" (every figure, as the API sends it now) or "output" (output_tokens only,
    # as older streams and the docs' example do: the input and cache figures come in message_start alone)
    delta_usage: str = "cumulative"


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")


def stop_reason(script: Script) -> str:
    if script.tool_calls and script.finish_reason == "stop":
        return "tool_use"
    return STOP_REASONS.get(script.finish_reason, script.finish_reason)


def usage(script: Script, output_tokens: int | None = None) -> dict[str, Any]:
    """The usage object: input_tokens excludes the cache's reads and writes (each counted in its own field)."""
    return {"input_tokens": script.input_tokens, "cache_creation_input_tokens": script.cache_write_tokens,
            "cache_read_input_tokens": script.cached_tokens,
            "cache_creation": {"ephemeral_5m_input_tokens": script.cache_write_tokens, "ephemeral_1h_input_tokens": 0},
            "output_tokens": script.output_tokens if output_tokens is None else output_tokens,
            "service_tier": "standard"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The API's error object, with a request id as real errors carry."""
    return {"type": "error", "error": {"type": error_type(status), "message": message},
            "request_id": f"req_{uuid.uuid4().hex[:24]}"}


def failed(script: Script) -> str:
    """The `error` event a stream ends with when the service fails mid-reply (overloaded, say)."""
    message = "Overloaded" if script.fail_status == 529 and script.error_message == Script.error_message \
        else script.error_message
    return f"event: error\ndata: {json.dumps(error_body(script.fail_status, message))}\n\n"


def blocks(script: Script) -> list[dict[str, Any]]:
    """The reply's content blocks, complete."""
    out: list[dict[str, Any]] = []
    if getattr(script, "thinking", ""):
        out.append({"type": "thinking", "thinking": script.thinking, "signature": "c2lnbmF0dXJl"})
    if script.text or not script.tool_calls:
        out.append({"type": "text", "text": script.text})
    for index, call in enumerate(script.tool_calls):
        out.append({"type": "tool_use", "id": call.get("id") or f"toolu_{index:02d}{uuid.uuid4().hex[:18]}",
                    "name": call["name"], "input": call.get("arguments", {})})
    return out


def sse(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"


def stream_events(script: Script, model: str, msg_id: str) -> list[str]:
    """The SSE event sequence of a reply, honouring cut_after (only that many text pieces) and end_early."""
    start = {"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": usage(script, output_tokens=1)}
    events = [sse({"type": "message_start", "message": start})]
    pinged = False
    for index, block in enumerate(blocks(script)):
        kind = block["type"]
        empty = {"text": {"type": "text", "text": ""}, "thinking": {"type": "thinking", "thinking": "", "signature": ""},
                 "tool_use": {**block, "input": {}}}[kind]
        events.append(sse({"type": "content_block_start", "index": index, "content_block": empty}))
        if not pinged:
            events.append(sse({"type": "ping"}))
            pinged = True
        if kind == "text":
            parts = pieces(block["text"])
            if script.cut_after is not None:
                parts = parts[:script.cut_after]
            if script.fail_after is not None:
                parts = parts[:script.fail_after]
            for part in parts:
                data = "{broken json" if script.bad_json else json.dumps(
                    {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": part}})
                events.append(f"event: content_block_delta\ndata: {data}\n\n")
            if script.cut_after is not None:
                return events
            if script.fail_after is not None:
                return events + [failed(script)]
        elif kind == "thinking":
            for part in pieces(block["thinking"]):
                events.append(sse({"type": "content_block_delta", "index": index,
                                   "delta": {"type": "thinking_delta", "thinking": part}}))
            events.append(sse({"type": "content_block_delta", "index": index,
                               "delta": {"type": "signature_delta", "signature": block["signature"]}}))
        else:  # the input as JSON text in pieces (the first empty), as the real API streams it
            for part in argument_pieces(argument_text({"arguments": block["input"]})):
                events.append(sse({"type": "content_block_delta", "index": index,
                                   "delta": {"type": "input_json_delta", "partial_json": part}}))
        events.append(sse({"type": "content_block_stop", "index": index}))
    if script.end_early:
        return events
    cumulative = {k: v for k, v in usage(script).items() if k not in ("cache_creation", "service_tier")}
    if getattr(script, "delta_usage", "cumulative") == "output":
        cumulative = {"output_tokens": script.output_tokens}
    events.append(sse({"type": "message_delta", "delta": {"stop_reason": stop_reason(script), "stop_sequence": None},
                       "usage": cumulative}))
    events.append(sse({"type": "message_stop"}))
    return events


def forced(script: Script, body: dict[str, Any]) -> Script:
    """What a model does when tool_choice makes it call a tool ({type: tool} names it; {type: any} leaves it to the
    model: here the last tool given) and the script calls none: it calls that tool, its input the script's text
    read as JSON (text that is not a JSON object is taken as the value of "text"). A forced call comes without
    text before it."""
    choice, tools = body.get("tool_choice") or {}, body.get("tools") or []
    if choice.get("type") not in ("tool", "any") or not tools:
        return script
    if script.tool_calls:
        return replace(script, text="")
    name = choice.get("name") if choice.get("type") == "tool" else tools[-1].get("name")
    try:
        answer = json.loads(script.text)
    except ValueError:
        answer = None
    arguments = answer if isinstance(answer, dict) else {"text": script.text}
    return replace(script, text="", tool_calls=[{"name": name, "arguments": arguments}])


def routes(server) -> list[web.RouteDef]:
    async def messages(request: web.Request) -> web.StreamResponse:
        recorded = await server.receive(request)
        refusal = rules.anthropic(recorded.body) if server.strict else None
        if refusal is not None:
            server.refuse(recorded, 400, refusal.message)
            return web.json_response(error_body(400, refusal.message), status=400)
        script = await server.answer(request, recorded)
        body = recorded.body if isinstance(recorded.body, dict) else {}
        if script.status != 200:
            error = error_body(script.status, server.message(script, recorded))
            response = server.error(script, recorded, error)
            response.headers["request-id"] = error["request_id"]
            return response
        model = script.model or body.get("model", "")
        script = forced(script, body)
        msg_id = f"msg_{uuid.uuid4().hex[:24]}"
        if body.get("stream"):
            return await server.events(request, script, stream_events(script, model, msg_id))
        if script.bad_json:
            return server.bad_json()
        return web.json_response({"id": msg_id, "type": "message", "role": "assistant", "model": model,
                                  "content": blocks(script), "stop_reason": stop_reason(script),
                                  "stop_sequence": None, "usage": usage(script)})

    return [web.post("/v1/messages", messages)]
