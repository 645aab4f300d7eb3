"""Turns, tools and tool calls in Gemini's shape (google-genai types), kept apart from the adapter.

Gemini's function calls usually carry no ids, so each call is named from its place in the reply and its content:
the same id whether the reply came whole or streamed. Results go back as `functionResponse` parts matched to their
call by that id (or, lacking it, by position). Gemini 3 wants each call's `thoughtSignature` back with the history:
the adapter remembers the signatures it saw by call id, and a call it never saw gets Google's documented stand-in."""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from typing import Any

from . import errors
from .types import ImagePart, Request, TextPart, ToolCall, ToolResult

MADE_ID = re.compile(r"^gc_\d+_[0-9a-f]{8}$")  # ids the kit made up: never sent to the API
SKIP_SIGNATURE = b"skip_thought_signature_validator"  # accepted by Gemini 3 for a call whose signature is gone
KEEP_SIGNATURES = 512


class Signatures(OrderedDict):
    """The thought signatures of recent calls by call id, the oldest forgotten first."""

    def remember(self, call_id: str, signature: bytes | None) -> None:
        if signature:
            self[call_id] = signature
            self.move_to_end(call_id)
            while len(self) > KEEP_SIGNATURES:
                self.popitem(last=False)


def gemini_tools(request: Request, types: Any) -> list[Any] | None:
    if not request.tools:
        return None
    return [types.Tool(function_declarations=[
        types.FunctionDeclaration(name=t.name, description=t.description,
                                  parameters_json_schema=gemini_schema(t.parameters))
        for t in request.tools])]


# what Gemini's parametersJsonSchema takes (google-genai's JSONSchema, and the API's documented extras); a keyword
# outside it (`$schema`, `exclusiveMinimum`, `const`...) can fail the whole request with 400 INVALID_ARGUMENT, and
# an MCP server's schema may carry any of them
GEMINI_KEYWORDS = frozenset({
    "type", "format", "title", "description", "default", "items", "minItems", "maxItems", "enum", "properties",
    "required", "minProperties", "maxProperties", "minimum", "maximum", "minLength", "maxLength", "pattern",
    "additionalProperties", "anyOf", "uniqueItems", "$ref", "$defs", "oneOf", "$id", "$anchor", "prefixItems",
    "propertyOrdering", "nullable"})


def gemini_schema(schema: Any) -> dict[str, Any]:
    """A tool's JSON schema as Gemini takes it: only the keywords it knows, at every depth (`const` becomes a
    one-value `enum`, a one-part `allOf` is merged, draft-07 `definitions` become `$defs`); an object at the root."""
    cleaned = _gemini_node(dict(schema) if isinstance(schema, dict) else {})
    if "type" not in cleaned and "properties" in cleaned:
        cleaned["type"] = "object"
    if cleaned.get("type") != "object":
        return {"type": "object", "properties": {}}
    return cleaned


def gemini_response_schema(schema: Any) -> dict[str, Any]:
    """An output schema as responseJsonSchema takes it: the same keywords as a tool's, any type at the root."""
    return _gemini_node(dict(schema))


def _gemini_node(node: Any) -> Any:
    """One schema node with only Gemini's keywords, its subschemas cleaned too."""
    if not isinstance(node, dict):
        return node
    node = dict(node)
    parts = node.pop("allOf", None)
    if isinstance(parts, list) and len(parts) == 1 and isinstance(parts[0], dict):
        node = {**parts[0], **node}
    if "const" in node and "enum" not in node:
        node["enum"] = [node["const"]]
    if isinstance(node.get("definitions"), dict):
        node["$defs"] = {**node.pop("definitions"), **node.get("$defs", {})}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: _gemini_node(sub) for name, sub in value.items()}
        elif key == "items" and isinstance(value, list):     # draft-07 tuple items
            out["prefixItems"] = [_gemini_node(sub) for sub in value]
        elif key in ("items", "additionalProperties"):
            out[key] = _gemini_node(value)
        elif key in ("anyOf", "oneOf", "prefixItems") and isinstance(value, list):
            out[key] = [_gemini_node(sub) for sub in value]
        elif key == "enum":
            if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                               for v in value):
                out[key] = value
        elif key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/definitions/", "#/$defs/")
        elif key in GEMINI_KEYWORDS:
            out[key] = value
    return out


def gemini_contents(request: Request, types: Any, signatures: Signatures) -> list[Any]:
    """The turns as Gemini contents (roles user and model; tool results are user parts); system messages go to
    system_instruction. Consecutive turns of one role become one content, as Gemini expects."""
    contents: list[Any] = []
    names: dict[str, str] = {}  # call id -> tool name, for results that do not say their name
    last_calls: list[ToolCall] = []
    needs_signature = not request.model_name.startswith(("gemini-1", "gemini-2"))
    for message in request.turns:
        if message.role == "tool" and not all(isinstance(p, ToolResult) for p in message.parts):
            raise errors.BadRequest("a tool message for gemini takes ToolResult parts only")
        parts, results = [], 0
        for part in message.parts:
            if isinstance(part, TextPart):
                parts.append(types.Part(text=part.text))
            elif isinstance(part, ImagePart):  # the SDK sends the bytes base64-encoded as inlineData
                parts.append(types.Part(inline_data=types.Blob(mime_type=part.media_type, data=part.data)))
            elif isinstance(part, ToolCall) and message.role == "assistant":
                first = not any(p.function_call for p in parts)
                signature = signatures.get(part.id) or (SKIP_SIGNATURE if first and needs_signature else None)
                parts.append(types.Part(thought_signature=signature, function_call=types.FunctionCall(
                    id=_sent_id(part.id), name=part.name, args=dict(part.arguments))))
                names[part.id] = part.name
            elif isinstance(part, ToolResult):  # images a tool returned follow its response, as inline data
                parts.append(_response(part, names, last_calls, results, types))
                parts += [types.Part(inline_data=types.Blob(mime_type=i.media_type, data=i.data)) for i in part.images]
                results += 1
            else:
                raise errors.BadRequest(f"{type(part).__name__} parts in {message.role} messages are not supported "
                                        "by gemini")
        if not parts:
            continue
        calls = [p for p in message.parts if isinstance(p, ToolCall)]
        last_calls = calls or last_calls
        role = "model" if message.role == "assistant" else "user"
        if contents and contents[-1].role == role:
            contents[-1].parts.extend(parts)
        else:
            contents.append(types.Content(role=role, parts=parts))
    return contents


def _sent_id(call_id: str) -> str | None:
    return None if MADE_ID.match(call_id) else call_id


def _response(result: ToolResult, names: dict[str, str], calls: list[ToolCall], position: int, types: Any) -> Any:
    """A functionResponse; Gemini's convention is `output` for a result and `error` for a failure."""
    name = result.name or names.get(result.id) or (calls[position].name if position < len(calls) else "")
    if not name:
        raise errors.BadRequest(f"tool result {result.id!r} answers no earlier tool call: give it the tool's name")
    response = {"error" if result.is_error else "output": result.content}
    return types.Part(function_response=types.FunctionResponse(id=_sent_id(result.id), name=name, response=response))


def tool_calls(response: Any, start: int, signatures: Signatures) -> list[ToolCall]:
    """The function calls in one response or stream chunk, numbered from `start`; their signatures remembered."""
    if not response.candidates or not response.candidates[0].content:
        return []
    calls = []
    for part in response.candidates[0].content.parts or ():
        call = part.function_call
        if call is None:
            continue
        arguments = dict(call.args or {})
        call_id = call.id or _made_id(start + len(calls), call.name or "", arguments, part.thought_signature)
        signatures.remember(call_id, part.thought_signature)
        calls.append(ToolCall(call_id, call.name or "", arguments))
    return calls


def _made_id(index: int, name: str, arguments: dict[str, Any], signature: bytes | None) -> str:
    content = json.dumps([name, arguments], sort_keys=True, default=str).encode() + (signature or b"")
    return f"gc_{index}_{hashlib.sha1(content).hexdigest()[:8]}"
