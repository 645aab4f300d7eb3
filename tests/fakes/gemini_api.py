"""Gemini's generateContent / streamGenerateContent on the wire (v1 and v1beta), as google-genai calls it.

promptTokenCount counts the cached tokens too (cachedContentTokenCount says how many). A 429 carries its wait as a
google.rpc.RetryInfo detail in the body (with a QuotaFailure beside it) and no Retry-After header, as the real API
does. A script's `fail_after` ends a stream with an error chunk (`{"error": {...}}`) and then a cut connection.
Requests Gemini refuses (rules.py) get its 400 INVALID_ARGUMENT."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import rules
from .core import FakeServer, Recorded, Script, pieces

FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY", "tool_calls": "STOP"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


@dataclass
class GeminiScript(Script):
    thought: str = ""                    # a thought summary part (thought: true) before the text
    thoughts_tokens: int = 0             # usageMetadata.thoughtsTokenCount (billed as output)
    block_reason: str | None = None      # the prompt is blocked: no candidates, promptFeedback.blockReason
    call_ids: bool = False               # functionCall parts carry the scripted ids (the Developer API leaves them out)


def _usage(script: Script, final: bool = True) -> dict[str, Any]:
    """Real streams carry a running usageMetadata on every chunk; only the last has the candidates' count."""
    if not final:
        return {"promptTokenCount": script.input_tokens, "totalTokenCount": script.input_tokens}
    usage = {"promptTokenCount": script.input_tokens, "candidatesTokenCount": script.output_tokens}
    thoughts = getattr(script, "thoughts_tokens", 0)
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if script.cached_tokens:
        usage["cachedContentTokenCount"] = script.cached_tokens
    usage["totalTokenCount"] = script.input_tokens + script.output_tokens + thoughts
    return usage


def _blocked(script: Script, model: str) -> dict[str, Any]:
    return {"promptFeedback": {"blockReason": script.block_reason},
            "usageMetadata": {"promptTokenCount": script.input_tokens, "totalTokenCount": script.input_tokens},
            "modelVersion": model, "responseId": "fake-response"}


def _thought(script: Script) -> list[dict[str, Any]]:
    return [{"text": script.thought, "thought": True}] if getattr(script, "thought", "") else []


def _response(model: str, parts: list[dict[str, Any]], usage: dict[str, Any],
              finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": "fake-response"}


SIGNATURE = "c2lnbmF0dXJlLW9mLXRoZS1jYWxscw=="  # a thoughtSignature, base64 as on the wire


def _call_parts(script: Script) -> list[dict[str, Any]]:
    """The calls as functionCall parts; as Gemini 3 does, only the first carries a thoughtSignature."""
    parts = []
    for index, call in enumerate(script.tool_calls):
        function = {"name": call["name"], "args": call.get("arguments", {})}
        if getattr(script, "call_ids", False) and call.get("id"):
            function = {"id": call["id"], **function}
        parts.append({"functionCall": function, **({"thoughtSignature": SIGNATURE} if index == 0 else {})})
    return parts


def whole(script: Script, model: str) -> dict[str, Any]:
    """A whole generateContent response, as the endpoint and a batch's inlined responses carry it."""
    if getattr(script, "block_reason", None):
        return _blocked(script, model)
    parts = _thought(script) + ([{"text": script.text}] if script.text else []) + _call_parts(script)
    return _response(model, parts, _usage(script), FINISH.get(script.finish_reason, script.finish_reason.upper()))


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": STATUS.get(status, "UNKNOWN")}}


def _error(server: FakeServer, script: Script, recorded: Recorded) -> web.Response:
    message = server.message(script, recorded)
    error = _error_body(script.status, message)["error"]
    details: list[dict[str, Any]] = []
    if script.retry_after is not None:  # Google's own hint, in the body only: the real API sends no Retry-After
        details.append({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "quotaValue": "10"}]})
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{script.retry_after}s"})
    if "API key not valid" in message:  # what the real API answers a wrong key with: 400, not 401
        details.append({"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com"})
    if details:
        error["details"] = details
    return server.error(script, recorded, {"error": error}, header=False)


def _sse(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body)}\r\n\r\n"


def _stream_events(script: Script, model: str) -> list[str]:
    parts = pieces(script.text) if script.text else []
    if script.cut_after is not None:
        parts = parts[:script.cut_after]
    if script.fail_after is not None:
        parts = parts[:script.fail_after]
    events = [_sse(_response(model, _thought(script), _usage(script, final=False)))] if _thought(script) else []
    for index, piece in enumerate(parts):
        events.append(_sse(_response(model, [{"text": piece}], _usage(script, final=False))))
        if index == 0 and script.bad_json:
            events.append('data: {"candidates": [ not json\r\n\r\n')
    if not parts and script.bad_json:
        events.append('data: {"candidates": [ not json\r\n\r\n')
    if script.fail_after is not None:  # the error as one more chunk; then the connection is cut
        return events + [_sse(_error_body(script.fail_status, script.error_message))]
    if script.cut_after is not None or script.end_early:
        return events
    # several calls come in separate chunks, each whole (Gemini never splits a call's arguments)
    events += [_sse(_response(model, [part], _usage(script, final=False))) for part in _call_parts(script)]
    events.append(_sse(_response(model, [{"text": ""}], _usage(script),
                                 FINISH.get(script.finish_reason, script.finish_reason.upper()))))
    return events


def routes(server: FakeServer) -> list[web.RouteDef]:
    async def generate(request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["target"].partition(":")
        recorded = await server.receive(request)
        if method not in ("generateContent", "streamGenerateContent"):
            server.refuse(recorded, 404, f"no method {method!r}")
            return web.json_response(_error_body(404, f"no method {method!r}"), status=404)
        refusal = rules.gemini(recorded.body, model) if server.strict else None
        if refusal is not None:
            server.refuse(recorded, 400, refusal.message)
            return web.json_response(_error_body(400, refusal.message), status=400)
        script = await server.answer(request, recorded)
        model = script.model or model
        if script.status != 200:
            return _error(server, script, recorded)
        if method == "generateContent":
            return server.bad_json() if script.bad_json else web.json_response(whole(script, model))
        if getattr(script, "block_reason", None):
            return await server.events(request, script, [_sse(_blocked(script, model))])
        return await server.events(request, script, _stream_events(script, model), cut=script.fail_after is not None)

    return [web.post("/{version:v1|v1beta}/models/{target}", generate)]
