"""Ollama's own API on the wire: `POST /api/chat` (one JSON object, or NDJSON lines ending with `"done": true`).
Errors are `{"error": "..."}` with the HTTP status; `finish_reason="error"` scripts the error Ollama reports after a
reply has started: an `{"error": ...}` line in a stream (HTTP 200 already sent), a 500 for a whole reply;
`fail_after` sends that line after so many text pieces. A request without a model is refused with a 400."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from .core import FakeServer, Recorded, Script, pieces

DONE_REASON = {"stop": "stop", "length": "length", "tool_calls": "stop"}  # Ollama says "stop" after tool calls


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _line(model: str, message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": model, "created_at": _now(), "message": {"role": "assistant", **message}, **extra}


def _done(script: Script, model: str, content: str = "", **message: Any) -> dict[str, Any]:
    return _line(model, {"content": content, **message}, done=True,
                 done_reason=DONE_REASON.get(script.finish_reason, script.finish_reason), total_duration=412345678,
                 load_duration=12345678, prompt_eval_count=script.input_tokens, prompt_eval_duration=45678901,
                 eval_count=script.output_tokens, eval_duration=345678901)


def _tool_calls(script: Script) -> list[dict[str, Any]]:
    return [{"function": {"name": c["name"], "arguments": c["arguments"]}} for c in script.tool_calls]


def _error_text(script: Script, recorded: Recorded, model: str) -> str:
    if script.status == 404 and script.error_message == Script.error_message and not script.echo_key:
        return f"model '{model}' not found, try pulling it first"
    return FakeServer.message(script, recorded)


def routes(server: FakeServer) -> list[web.RouteDef]:
    async def chat(request: web.Request) -> web.StreamResponse:
        recorded = await server.receive(request)
        body = recorded.body if isinstance(recorded.body, dict) else {}
        if not body.get("model") and server.strict:
            server.refuse(recorded, 400, "model is required")
            return web.json_response({"error": "model is required"}, status=400)
        script = await server.answer(request, recorded)
        model = script.model or body.get("model", "")
        if script.status != 200:  # Ollama answers errors before any content with a status and a JSON body
            return server.error(script, recorded, {"error": _error_text(script, recorded, model)})
        if body.get("stream", True):  # Ollama streams unless told "stream": false
            return await server.events(request, script, _lines(script, model), "application/x-ndjson")
        if script.bad_json:
            return server.bad_json()
        if script.finish_reason == "error":
            return web.json_response({"error": server.message(script, recorded)}, status=500)
        message = {"tool_calls": _tool_calls(script)} if script.tool_calls else {}
        return web.json_response(_done(script, model, script.text, **message))

    return [web.post("/api/chat", chat)]


def _lines(script: Script, model: str) -> list[str]:
    parts = pieces(script.text) if script.text else []
    if script.cut_after is not None:
        parts = parts[:script.cut_after]
    if script.fail_after is not None:
        parts = parts[:script.fail_after]
    lines = [json.dumps(_line(model, {"content": p}, done=False)) + "\n" for p in parts]
    if script.bad_json:
        lines.insert(1, '{"model": "broken", "message": {\n')
    if script.cut_after is not None or script.end_early:
        return lines
    if script.finish_reason == "error" or script.fail_after is not None:
        return lines + [json.dumps({"error": script.error_message}) + "\n"]
    # Ollama streams each call whole as soon as it is parsed, one line per call
    lines += [json.dumps(_line(model, {"content": "", "tool_calls": [call]}, done=False)) + "\n"
              for call in _tool_calls(script)]
    return lines + [json.dumps(_done(script, model)) + "\n"]
