"""The Chat Completions wire format that OpenAI, LM Studio and Hugging Face (TGI, Inference Endpoints, the router)
share: messages with tool calls and tool results, tools, the output schema, and replies and stream events read back
into the kit's types, from the openai SDK's objects and huggingface_hub's alike."""

from __future__ import annotations

import base64
import json
from typing import Any, AsyncIterable, AsyncIterator, Mapping

from . import errors
from .base import normalize_finish
from .output import json_schema_format
from .types import Chunk, ImagePart, Message, Request, TextPart, ToolCall, ToolCallDelta, ToolResult, Usage


def openai_messages(request: Request) -> list[dict[str, Any]]:
    """The request's messages in the Chat Completions shape (shared by every OpenAI-compatible server)."""
    return [out for message in request.messages for out in _messages(message)]


def _messages(message: Message) -> list[dict[str, Any]]:
    """One message per turn, its tool calls as `tool_calls`; each tool result is a `tool` message of its own."""
    if isinstance(message.content, str):
        return [{"role": message.role, "content": message.content}]
    content: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    images: list[ImagePart] = []   # a tool message takes text only: its images follow in a user message
    for part in message.content:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            content.append(_image(part))
        elif isinstance(part, ToolCall):
            calls.append({"id": part.id, "type": "function",
                          "function": {"name": part.name, "arguments": json.dumps(dict(part.arguments))}})
        elif isinstance(part, ToolResult):  # the protocol has no error flag: the content says what went wrong
            results.append({"role": "tool", "tool_call_id": part.id, "content": part.content})
            images.extend(part.images)
        else:
            raise errors.BadRequest(f"{type(part).__name__} parts are not supported by this provider yet")
    if images:
        results.append({"role": "user", "content": [{"type": "text", "text": "The images the tools returned:"},
                                                    *map(_image, images)]})
    if not calls:  # tool results must follow the assistant turn that called them, before any other content
        return results + ([{"role": message.role, "content": content}] if content or not results else [])
    # an assistant turn with tool calls takes its text as a string, or null when it has none
    text = "".join(c["text"] for c in content if c["type"] == "text")
    return [{"role": message.role, "content": text or None, "tool_calls": calls}, *results]


def _image(part: ImagePart) -> dict[str, Any]:
    url = f"data:{part.media_type};base64,{base64.b64encode(part.data).decode()}"
    return {"type": "image_url", "image_url": {"url": url}}


def openai_tools(request: Request) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": dict(t.parameters)}} for t in request.tools]


def tool_arguments(name: str, arguments: Any) -> dict[str, Any]:
    """A call's arguments as an object: a JSON string as OpenAI sends them, or an object as some TGI versions do."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    try:
        parsed = json.loads(arguments or "{}")
    except (TypeError, json.JSONDecodeError):
        parsed = None
    if not isinstance(parsed, dict):
        raise errors.BadResponse(f"tool call {name!r} has arguments that are not a JSON object")
    return parsed


def openai_tool_calls(message: Any) -> tuple[ToolCall, ...]:
    """The tool calls of a whole reply's message (the openai SDK's and huggingface_hub's alike)."""
    return tuple(ToolCall(call.id or f"call_{i}", call.function.name,
                          tool_arguments(call.function.name, call.function.arguments))
                 for i, call in enumerate(getattr(message, "tool_calls", None) or ()))


def openai_finish(reason: Any, tool_calls: bool) -> str | None:
    """The finish reason, "tool_calls" whenever the reply calls tools (some servers say "stop" then)."""
    finish = normalize_finish(reason)
    return "tool_calls" if tool_calls and finish in ("stop", None) else finish


def openai_usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    return Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0,
                 (getattr(details, "cached_tokens", 0) or 0) if details else 0)


def openai_arguments(request: Request, max_tokens_field: str = "max_tokens", output: bool = True) -> dict[str, Any]:
    """Model, messages, the sampling parameters that are set and the output schema (as a json_schema
    response_format, unless `output` is False: a model that cannot take one), as Chat Completions arguments."""
    args: dict[str, Any] = {"model": request.model_name, "messages": openai_messages(request)}
    if request.temperature is not None:
        args["temperature"] = request.temperature
    if request.max_tokens is not None:
        args[max_tokens_field] = request.max_tokens
    if request.stop:
        args["stop"] = list(request.stop)
    if request.tools:
        args["tools"] = openai_tools(request)
    if request.output is not None and output:
        args["response_format"] = json_schema_format(request.output)
    return args


async def openai_chunks(events: AsyncIterable[Any]) -> AsyncIterator[Chunk]:
    """Chunks from Chat Completions stream events (the openai SDK's and huggingface_hub's alike): the text and the
    tool-call pieces as they come, then one last chunk with the usage, finish reason and model the server reported.
    No finish reason, no last chunk: the stream was cut."""
    finish, usage, model, calls = None, None, None, False
    async for event in events:
        model = getattr(event, "model", None) or model
        if getattr(event, "usage", None):
            usage = openai_usage(event.usage)
        for choice in getattr(event, "choices", None) or ():
            if choice.delta and choice.delta.content:
                yield Chunk(text=choice.delta.content)
            for call in (choice.delta and choice.delta.tool_calls) or ():
                calls = True
                yield Chunk(tool_call=_delta(call))
            finish = normalize_finish(choice.finish_reason) or finish
    if finish:
        yield Chunk(usage=usage or Usage(), finish_reason=openai_finish(finish, calls), model=model)


def _delta(call: Any) -> ToolCallDelta:
    function = call.function
    arguments = getattr(function, "arguments", None) or ""
    return ToolCallDelta(call.index or 0, id=call.id or None, name=getattr(function, "name", None) or None,
                         arguments=arguments if isinstance(arguments, str) else json.dumps(arguments))
