"""OpenAI Chat Completions through the official `openai` SDK (`AsyncOpenAI`)."""

from __future__ import annotations

import base64
import json
from contextlib import aclosing
from typing import Any, AsyncIterable, AsyncIterator, Mapping

from . import errors
from .base import Provider, ProviderSpec, normalize_finish, require_sdk
from .types import Chunk, ImagePart, Message, Reply, Request, TextPart, ToolCall, ToolCallDelta, ToolResult, Usage

SPEC = ProviderSpec(
    name="openai", default_model="gpt-4.1-mini", description="OpenAI (Chat Completions)", extra="openai",
    sdk_modules=("openai",), key_env=("OPENAI_API_KEY",), base_url_env="OPENAI_BASE_URL",
    models=("gpt-5.5", "gpt-5-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini", "o4-mini"))


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
    for part in message.content:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            url = f"data:{part.media_type};base64,{base64.b64encode(part.data).decode()}"
            content.append({"type": "image_url", "image_url": {"url": url}})
        elif isinstance(part, ToolCall):
            calls.append({"id": part.id, "type": "function",
                          "function": {"name": part.name, "arguments": json.dumps(dict(part.arguments))}})
        elif isinstance(part, ToolResult):  # the protocol has no error flag: the content says what went wrong
            results.append({"role": "tool", "tool_call_id": part.id, "content": part.content})
        else:
            raise errors.BadRequest(f"{type(part).__name__} parts are not supported by this provider yet")
    if not calls:
        return ([{"role": message.role, "content": content}] if content or not results else []) + results
    # an assistant turn with tool calls takes its text as a string, or null when it has none
    text = "".join(c["text"] for c in content if c["type"] == "text")
    return [{"role": message.role, "content": text or None, "tool_calls": calls}, *results]


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
    return "tool_calls" if tool_calls and finish in ("stop", "eos_token", None) else finish


def openai_usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    return Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0,
                 (getattr(details, "cached_tokens", 0) or 0) if details else 0)


def openai_arguments(request: Request, max_tokens_field: str = "max_tokens") -> dict[str, Any]:
    """Model, messages and the sampling parameters that are set, as Chat Completions arguments."""
    args: dict[str, Any] = {"model": request.model_name, "messages": openai_messages(request)}
    if request.temperature is not None:
        args["temperature"] = request.temperature
    if request.max_tokens is not None:
        args[max_tokens_field] = request.max_tokens
    if request.stop:
        args["stop"] = list(request.stop)
    if request.tools:
        args["tools"] = openai_tools(request)
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


class OpenAIProvider(Provider):
    spec = SPEC
    max_tokens_field = "max_completion_tokens"

    def client_options(self) -> dict[str, Any]:
        """Key and endpoint for the SDK client; LM Studio overrides this."""
        return {"api_key": self.spec.require_key(self.settings), "base_url": self.spec.base_url(self.settings) or None}

    @property
    def client(self) -> Any:
        if getattr(self, "_client", None) is None:
            openai = require_sdk(self.spec, "openai")
            self._client = openai.AsyncOpenAI(**self.client_options(), timeout=self.settings.timeout, max_retries=0)
        return self._client

    def arguments(self, request: Request) -> dict[str, Any]:
        return openai_arguments(request, self.max_tokens_field)

    async def complete(self, request: Request) -> Reply:
        response = await self.client.chat.completions.create(**self.arguments(request))
        if not response.choices:
            raise errors.BadResponse("the reply has no choices")
        choice = response.choices[0]
        calls = openai_tool_calls(choice.message)
        return Reply(text=choice.message.content or "", provider=self.spec.name, model=response.model or request.model_name,
                     usage=openai_usage(response.usage), finish_reason=openai_finish(choice.finish_reason, bool(calls)),
                     tool_calls=calls)

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        stream = await self.client.chat.completions.create(**self.arguments(request), stream=True,
                                                           stream_options={"include_usage": True})
        async with stream, aclosing(openai_chunks(stream)) as chunks:
            async for chunk in chunks:
                yield chunk

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            headers = getattr(getattr(exc, "response", None), "headers", {}) or {}
            return errors.from_status(status, getattr(exc, "message", "") or str(exc),
                                      retry_after=errors.parse_retry_after(headers.get("retry-after")))
        return None

    async def aclose(self) -> None:
        if getattr(self, "_client", None) is not None:
            await self._client.close()
            self._client = None


PROVIDER = OpenAIProvider
