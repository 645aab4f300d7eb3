"""What each real API refuses, with its own status and message, so that the loopback servers refuse it too.

Only refusals the real services make are here (their messages as users report them in the SDKs' and agents'
issue trackers): Anthropic's required max_tokens, its tool_use/tool_result pairing and non-empty content, its
demand for `tools` once tool blocks are in the history, object input schemas, a tool_choice naming a tool it was
given, and an output_config.format that is a closed JSON schema; OpenAI's tool-message pairing and its json_schema
response format (a name, a schema, and under `strict: true` every object closed with all its properties required);
Gemini's function call and response turn order, their counts, valid roles, Gemini 3's thought signatures, and a
response schema only with responseMimeType application/json (before Gemini 3, not beside function declarations).
Consecutive turns of one role are not refused: Anthropic and Gemini merge them, OpenAI and Ollama take them as
they are."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Refusal:
    """A 400 as the API words it; `param` and `code` where OpenAI's error body names them."""

    message: str
    param: str | None = None
    code: str | None = None


def _blocks(content: Any) -> list[dict[str, Any]]:
    """A message's content as blocks (a string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _merged(messages: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Anthropic combines consecutive turns of one role into one turn before it checks them."""
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for message in messages:
        role, blocks = message.get("role"), _blocks(message.get("content"))
        if turns and turns[-1][0] == role:
            turns[-1] = (role, turns[-1][1] + blocks)
        else:
            turns.append((role, blocks))
    return turns


def anthropic(body: Any) -> Refusal | None:
    """Anthropic's Messages API: the first rule a request breaks, or None."""
    if not isinstance(body, dict):
        return Refusal("messages: Field required")
    for field in ("model", "max_tokens", "messages"):
        if field not in body:
            return Refusal(f"{field}: Field required")
    messages = body["messages"]
    for index, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return Refusal(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        final_assistant = index == len(messages) - 1 and message["role"] == "assistant"
        content = message.get("content")
        if not content and not final_assistant:
            return Refusal(f"messages.{index}: all messages must have non-empty content except for the optional "
                           "final assistant message")
        for block in _blocks(content):
            if block.get("type") == "text" and not block.get("text") and not final_assistant:
                return Refusal("messages: text content blocks must be non-empty")
            if block.get("type") == "text" and block.get("text") and not block["text"].strip():
                return Refusal("messages: text content blocks must contain non-whitespace text")
    return _anthropic_output(body) or _tool_choice(body) or _anthropic_tools(body, _merged(messages))


def _anthropic_output(body: dict[str, Any]) -> Refusal | None:
    """output_config.format is {type: json_schema, schema: {...}}, each object of the schema closed."""
    config = body.get("output_config")
    if config is None or config.get("format") is None:
        return None
    form = config["format"]
    if not isinstance(form, dict) or form.get("type") != "json_schema":
        return Refusal("output_config.format.type: Input should be 'json_schema'")
    if not isinstance(form.get("schema"), dict):
        return Refusal("output_config.format.schema: Field required" if "schema" not in form
                       else "output_config.format.schema: Input should be a valid dictionary")
    problem = _not_strict(form["schema"], ())
    if problem and "additionalProperties" in problem:
        return Refusal("output_config.format.schema: For 'object' type, 'additionalProperties' must be explicitly "
                       "set to false")
    return None


def _tool_choice(body: dict[str, Any]) -> Refusal | None:
    """Each tool's input_schema is an object schema; tool_choice needs tools, and {type: tool} names one of them."""
    for index, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict) and "input_schema" in tool and (tool["input_schema"] or {}).get("type") != "object":
            return Refusal(f"tools.{index}.custom.input_schema.type: Input should be 'object'")
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") in (None, "auto", "none"):
        return None
    names = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
    if not names:
        return Refusal("tool_choice may only be specified while providing tools.")
    if choice.get("type") == "tool" and choice.get("name") not in names:
        return Refusal(f"tool_choice: Tool '{choice.get('name')}' not found in the provided tools")
    return None


def _anthropic_tools(body: dict[str, Any], turns: list[tuple[str, list[dict[str, Any]]]]) -> Refusal | None:
    """Each tool_result answers a tool_use of the turn just before; each tool_use is answered in the next turn,
    its results first; and a history holding tool blocks needs `tools`."""
    uses_in = [[b.get("id") for b in blocks if b.get("type") == "tool_use"] for _, blocks in turns]
    any_tool_blocks = False
    for index, (role, blocks) in enumerate(turns):
        results = [b for b in blocks if b.get("type") == "tool_result"]
        any_tool_blocks = any_tool_blocks or bool(results or uses_in[index])
        previous = uses_in[index - 1] if index and turns[index - 1][0] == "assistant" else []
        for position, block in enumerate(blocks):
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in previous:
                return Refusal(f"messages.{index}.content.{position}: unexpected `tool_use_id` found in "
                               f"`tool_result` blocks: {block.get('tool_use_id')}. Each `tool_result` block must "
                               "have a corresponding `tool_use` block in the previous message.")
        uses = uses_in[index]
        if role != "assistant" or not uses or index == len(turns) - 1:
            continue
        following = turns[index + 1][1]
        answered = {b.get("tool_use_id") for b in following if b.get("type") == "tool_result"}
        missing = [u for u in uses if u not in answered]
        if missing:
            return Refusal(f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately "
                           f"after: {', '.join(map(str, missing))}. Each `tool_use` block must have a corresponding "
                           "`tool_result` block in the next message.")
        if any(b.get("type") != "tool_result" for b in following[:len(uses)]):
            return Refusal(f"messages.{index + 1}: Did not find {len(uses)} `tool_result` block(s) at the beginning "
                           "of this message. Messages following `tool_use` blocks must begin with a matching number "
                           "of `tool_result` blocks.")
    if any_tool_blocks and not body.get("tools"):
        return Refusal("Requests which include `tool_use` or `tool_result` blocks must define tools.")
    return None


def openai(body: Any) -> Refusal | None:
    """OpenAI Chat Completions: the first rule a request breaks, or None."""
    if not isinstance(body, dict):
        return Refusal("We could not parse the JSON body of your request.")
    for field in ("model", "messages"):
        if field not in body:
            return Refusal(f"Missing required parameter: '{field}'.", param=field, code="missing_required_parameter")
    messages = body["messages"]
    if not messages:
        return Refusal("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty "
                       "array instead.", param="messages", code="empty_array")
    open_calls: list[str] | None = None  # the ids of the last assistant tool_calls still being answered
    answered: set[str] = set()
    caller = 0
    for index, message in enumerate(messages):
        if message.get("role") == "tool":
            if open_calls is None or message.get("tool_call_id") not in open_calls:
                return Refusal("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                               "message with 'tool_calls'.", param=f"messages.[{index}].role")
            answered.add(message["tool_call_id"])
            continue
        if open_calls and (missing := [c for c in open_calls if c not in answered]):
            return _unanswered(caller, missing)
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        open_calls = [c.get("id") for c in calls] if calls else None
        answered, caller = set(), index
    if open_calls and (missing := [c for c in open_calls if c not in answered]):
        return _unanswered(caller, missing)
    return _response_format(body.get("response_format"))


NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _response_format(form: Any) -> Refusal | None:
    """A json_schema response_format needs a name of the allowed characters and a schema; with `strict: true`
    every object of the schema must be closed and require all its properties."""
    if not isinstance(form, dict) or form.get("type") != "json_schema":
        return None
    spec = form.get("json_schema")
    if not isinstance(spec, dict):
        return Refusal("Missing required parameter: 'response_format.json_schema'.",
                       param="response_format.json_schema", code="missing_required_parameter")
    for field in ("name", "schema"):
        if field not in spec:
            return Refusal(f"Missing required parameter: 'response_format.json_schema.{field}'.",
                           param=f"response_format.json_schema.{field}", code="missing_required_parameter")
    if not isinstance(spec["name"], str) or not NAME.match(spec["name"]):
        return Refusal("Invalid 'response_format.json_schema.name': string does not match pattern. Expected a "
                       "string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                       param="response_format.json_schema.name", code="invalid_value")
    if spec.get("strict") is True:
        problem = _not_strict(spec["schema"], ())
        if problem:
            return Refusal(f"Invalid schema for response_format '{spec['name']}': {problem}",
                           param="response_format")
    return None


def _not_strict(node: Any, context: tuple[str, ...]) -> str | None:
    """What OpenAI's strict mode finds wrong first in a schema node (walked depth first), or None."""
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node:
        if node.get("additionalProperties") is not False:
            return (f"In context={context!r}, 'additionalProperties' is required to be supplied and to be "
                    "false.")
        missing = [k for k in node.get("properties") or {} if k not in (node.get("required") or [])]
        if missing:
            return (f"In context={context!r}, 'required' is required to be supplied and to be an array including "
                    f"every key in properties. Missing '{missing[0]}'.")
    children: list[tuple[tuple[str, ...], Any]] = []
    for key in ("properties", "$defs", "definitions"):
        children += [((*context, key, name), child) for name, child in (node.get(key) or {}).items()]
    for key in ("anyOf", "allOf", "prefixItems"):
        children += [((*context, key, str(i)), child) for i, child in enumerate(node.get(key) or [])]
    if isinstance(node.get("items"), dict):
        children.append(((*context, "items"), node["items"]))
    return next((p for path, child in children if (p := _not_strict(child, path))), None)


def _unanswered(index: int, missing: list[str]) -> Refusal:
    return Refusal("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                   f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                   f"{', '.join(missing)}", param=f"messages.[{index}].role")


def gemini(body: Any, model: str) -> Refusal | None:
    """Gemini's generateContent: the first rule a request breaks, or None."""
    contents = body.get("contents") if isinstance(body, dict) else None
    if not contents:
        return Refusal("* GenerateContentRequest.contents: contents is not specified\n")
    for index, content in enumerate(contents):
        role, parts = content.get("role", "user"), content.get("parts") or []
        if role not in ("user", "model"):
            return Refusal("Please use a valid role: user, model.")
        if not parts:
            return Refusal(f"* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty.\n")
        previous = contents[index - 1] if index else None
        calls = [p for p in parts if "functionCall" in p]
        responses = [p for p in parts if "functionResponse" in p]
        if calls and (previous is None or previous.get("role", "user") != "user"):
            return Refusal("Please ensure that function call turn comes immediately after a user turn or after a "
                           "function response turn.")
        if responses:
            asked = [p for p in (previous or {}).get("parts") or [] if "functionCall" in p]
            if not asked or previous.get("role") != "model":
                return Refusal("Please ensure that function response turn comes immediately after a function call "
                               "turn.")
            if len(asked) != len(responses):
                return Refusal("Please ensure that the number of function response parts is equal to the number of "
                               "function call parts of the function call turn.")
    return _json_output(body, model) or (_signatures(contents) if model.startswith("gemini-3") else None)


def _json_output(body: dict[str, Any], model: str) -> Refusal | None:
    """A response schema needs responseMimeType application/json; before Gemini 3, a JSON answer cannot come
    from a request with function declarations."""
    config = body.get("generationConfig") or {}
    for field in ("responseJsonSchema", "responseSchema"):
        if field in config and config.get("responseMimeType") != "application/json":
            return Refusal(f"* GenerateContentRequest.generation_config.response_mime_type: "
                           f"response_mime_type must be application/json when {_snake(field)} is set.\n")
    declared = any(tool.get("functionDeclarations") for tool in body.get("tools") or [])
    if declared and config.get("responseMimeType") == "application/json" and not model.startswith(("gemini-3",
                                                                                                   "gemini-4")):
        return Refusal("Function calling with a response mime type: 'application/json' is unsupported")
    return None


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _signatures(contents: list[dict[str, Any]]) -> Refusal | None:
    """Gemini 3 checks the current turn (since the last user text): each step's first function call carries its
    thoughtSignature."""
    start = max((i for i, c in enumerate(contents) if c.get("role", "user") == "user"
                 and any("text" in p for p in c.get("parts") or [])), default=0)
    for index, content in enumerate(contents[start:], start):
        calls = [(n, p) for n, p in enumerate(content.get("parts") or []) if "functionCall" in p]
        if calls and not calls[0][1].get("thoughtSignature"):
            position, part = calls[0]
            name = part["functionCall"].get("name")
            return Refusal("Function call is missing a thought_signature in functionCall parts. This is required for "
                           "tools to work correctly, and missing thought_signature may lead to degraded model "
                           f"performance. Additional data, function call `default_api:{name}` , position "
                           f"{position + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures "
                           "for more details.")
    return None


GOOGLE_404 = ("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
              "  <p><b>404.</b> <ins>That’s an error.</ins>\n  <p>The requested URL <code>{path}</code> was not found "
              "on this server.  <ins>That’s all we know.</ins>\n")


def not_found(request: web.Request) -> web.Response:
    """The 404 of the API the client meant, told by its path and headers (all four share the fake's port)."""
    path, headers = request.path, request.headers
    if "/api/" in path:  # Ollama is a Go server: the standard library's plain text
        return web.Response(status=404, text="404 page not found", content_type="text/plain")
    if "x-goog-api-key" in headers or path.startswith("/v1beta/"):
        return web.Response(status=404, text=GOOGLE_404.format(path=path), content_type="text/html")
    if "anthropic-version" in headers:
        return web.json_response({"type": "error", "error": {"type": "not_found_error", "message": "Not Found"},
                                  "request_id": "req_fake_not_found"}, status=404)
    return web.json_response({"error": {"message": f"Invalid URL ({request.method} {path})",
                                        "type": "invalid_request_error", "param": None, "code": None}}, status=404)
