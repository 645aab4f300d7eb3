"""Anthropic Claude through the official `anthropic` SDK (`AsyncAnthropic`, Messages API)."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Any, AsyncIterator

from . import errors
from .base import Provider, ProviderSpec, normalize_finish, require_sdk
from .output import OutputMode, has_open_map, is_object_schema, wire_name
from .types import Chunk, ImagePart, Message, Reply, Request, TextPart, ToolCall, ToolCallDelta, ToolResult, Usage


@dataclass(frozen=True)
class AnthropicSpec(ProviderSpec):
    def accepts_images(self, model: str) -> bool | None:
        """Claude 3 and later read images; Claude 2 and Instant, text only."""
        return False if model.lower().startswith(("claude-2", "claude-instant")) else super().accepts_images(model)

    def output_mode(self, model: str, tools: bool = False) -> OutputMode | None:
        """output_config.format on the models that take it (told by the name), else a forced tool carries it."""
        return "json_schema" if native_output(model) else "tool"


# the first version of each family that takes output_config.format; every family from version 5 on takes it
NATIVE_OUTPUT = {"sonnet": (4, 5), "opus": (4, 1), "haiku": (4, 5)}
MODEL_VERSION = re.compile(r"^claude-([a-z]+)-(\d+)(?:-(\d{1,2}))?(?:-\d{8})?(?:[-@]|$)")
ANSWER_TOOL = "Give your answer by calling this tool: its input is the answer, in exactly the shape its schema asks."


def native_output(model: str) -> bool:
    """Whether a Claude model takes a JSON schema as output_config.format (Sonnet 4.5+, Opus 4.1+, Haiku 4.5+,
    the 5-series); older names (claude-3-5-sonnet-...) do not."""
    found = MODEL_VERSION.match(model.lower())
    if not found:
        return False
    version = (int(found.group(2)), int(found.group(3) or 0))
    return version[0] >= 5 or version >= NATIVE_OUTPUT.get(found.group(1), (5, 0))


SPEC = AnthropicSpec(
    name="anthropic", default_model="claude-sonnet-4-6", description="Anthropic Claude (Messages API)",
    extra="anthropic", sdk_modules=("anthropic",), key_env=("ANTHROPIC_API_KEY",), base_url_env="ANTHROPIC_BASE_URL",
    default_base_url="", models=("claude-sonnet-4-6", "claude-opus-4-8", "claude-haiku-4-5", "claude-sonnet-4-5"),
    images=True, vision_models="anthropic:claude-sonnet-4-6", batch="anthropic_batch")

DEFAULT_MAX_TOKENS = 1024  # the Messages API requires max_tokens
# an `error` event inside a stream comes with HTTP 200: its error.type gives the status it stands for
ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
                "permission_error": 403, "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429,
                "api_error": 500, "timeout_error": 504, "overloaded_error": 529}
# the SDK's own deprecation warning spans three lines; the adapter shows one line instead
SDK_DEPRECATION = r"The model '.*' is deprecated and will reach end-of-life"


def anthropic_content(message: Message) -> str | list[dict[str, Any]]:
    if isinstance(message.content, str):
        return message.content
    blocks: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(_image(part))
        elif isinstance(part, ToolCall):
            blocks.append({"type": "tool_use", "id": part.id, "name": part.name, "input": dict(part.arguments)})
        elif isinstance(part, ToolResult):  # images a tool returned go inside its result
            content: Any = [{"type": "text", "text": part.content}, *map(_image, part.images)] \
                if part.images else part.content
            blocks.append({"type": "tool_result", "tool_use_id": part.id, "content": content,
                           "is_error": part.is_error})
        else:
            raise errors.BadRequest(f"{type(part).__name__} parts are not supported by this provider yet")
    return blocks


def _image(part: ImagePart) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": part.media_type,
                                        "data": base64.b64encode(part.data).decode()}}


USAGE_FIELDS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens")


def usage_figures(usage: Any, before: dict[str, int] | None = None) -> dict[str, int]:
    """The API's usage figures, each taken from `usage` where it reports it, else kept from `before`: a stream's
    message_delta may repeat them all (cumulative) or carry output_tokens alone."""
    figures = dict(before or {})
    for name in USAGE_FIELDS:
        value = getattr(usage, name, None) if usage is not None else None
        if value is not None:
            figures[name] = value
    return figures


def anthropic_usage(figures: dict[str, int]) -> Usage:
    """Usage in the kit's terms. The API's input_tokens leaves out the prompt cache's reads and writes; the kit's
    input counts every prompt token (as OpenAI's prompt_tokens does), cached says how many were read from the cache
    and cache_write how many were written to it (billed above plain input)."""
    read, written = figures.get("cache_read_input_tokens", 0), figures.get("cache_creation_input_tokens", 0)
    return Usage(figures.get("input_tokens", 0) + read + written, figures.get("output_tokens", 0), read, written)


def forced_tool(args: dict[str, Any]) -> str | None:
    """The name of the tool that carries the answer, when the arguments force one (only the output schema does)."""
    return args["tools"][-1]["name"] if "tool_choice" in args else None


def answered(finish: str | None, answer: str | None, calls: bool) -> str | None:
    """A reply whose only tool call was the forced answer stopped: it called no tool the caller has to run."""
    return "stop" if answer and not calls and finish == "tool_calls" else finish


class AnthropicProvider(Provider):
    spec = SPEC

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self._client: Any = None
        self._warned: set[str] = set()

    def client(self, model: str) -> Any:
        if self._client is None:
            anthropic = require_sdk(self.spec, "anthropic")
            key = self.spec.require_key(self.settings, model)
            base_url = self.spec.base_url(self.settings).rstrip("/")
            base_url = base_url[:-3] if base_url.endswith("/v1") else base_url  # the SDK adds /v1 itself
            self._client = anthropic.AsyncAnthropic(api_key=key, base_url=base_url or None,
                                                    timeout=self.settings.timeout, max_retries=0)
        return self._client

    def arguments(self, request: Request) -> dict[str, Any]:
        model = request.model_name
        self.warn_if_deprecated(model)
        args: dict[str, Any] = {
            "model": model, "max_tokens": DEFAULT_MAX_TOKENS if request.max_tokens is None else request.max_tokens,
            "messages": [{"role": "user" if m.role == "tool" else m.role, "content": anthropic_content(m)}
                         for m in request.turns]}
        if request.system:
            args["system"] = request.system
        if request.temperature is not None:  # removed from SDK 2.x and refused by API version 2026-10-21
            self.warn_once("temperature", "anthropic: the Messages API no longer takes a temperature; it is left out",
                           UserWarning)
        if request.stop:
            args["stop_sequences"] = list(request.stop)
        if request.tools:
            args["tools"] = [{"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
                             for t in request.tools]
        return {**args, **self.output_arguments(request, args.get("tools", []))}

    def output_arguments(self, request: Request, tools: list[dict[str, Any]]) -> dict[str, Any]:
        """The output schema as output_config.format where the model takes it and the schema is closed; else a
        tool the model must call (any tool, when the request brings its own), whose input is the answer; nothing
        for a schema whose root is not an object (a tool's input is one)."""
        output = request.output
        if output is None:
            return {}
        if self.spec.output_mode(request.model_name) == "json_schema" and not has_open_map(output.schema):
            try:  # the SDK's own translation: objects closed, keywords the API lacks moved to the description
                schema = require_sdk(self.spec, "anthropic").transform_schema(dict(output.schema))
            except (ValueError, TypeError):  # a node without a type: the tool takes any JSON schema
                schema = None
            if schema is not None:
                return {"output_config": {"format": {"type": "json_schema", "schema": schema}}}
        if not is_object_schema(output.schema):  # a tool's input is an object: the service asks in the prompt
            return {}
        name = wire_name(output.name)
        choice = {"type": "any"} if tools else {"type": "tool", "name": name}
        return {"tools": [*tools, {"name": name, "description": ANSWER_TOOL, "input_schema": dict(output.schema)}],
                "tool_choice": choice}

    def warn_if_deprecated(self, model: str) -> None:
        """One line instead of the SDK's three-line DeprecationWarning."""
        try:
            from anthropic._data import DEPRECATED_MODELS  # private: if it moves, the SDK's own warning shows
        except ImportError:
            return
        if not any(f[1] is not None and f[1].pattern == SDK_DEPRECATION for f in warnings.filters):
            warnings.filterwarnings("ignore", message=SDK_DEPRECATION, category=DeprecationWarning)
        if model in DEPRECATED_MODELS:
            self.warn_once(model, f"anthropic:{model} is deprecated and reaches end of life on "
                                  f"{DEPRECATED_MODELS[model]}; the current default is anthropic:{SPEC.default_model}")

    def warn_once(self, key: str, message: str, category: type[Warning] = FutureWarning) -> None:
        """A one-line warning, once per adapter, pointing at the first line outside the kit (the caller's)."""
        if key not in self._warned:
            self._warned.add(key)
            frame, level, here = sys._getframe(1), 2, os.path.dirname(__file__)
            while frame is not None and os.path.dirname(frame.f_code.co_filename) == here:
                frame, level = frame.f_back, level + 1
            warnings.warn(message, category, stacklevel=level)

    async def complete(self, request: Request) -> Reply:
        client = self.client(request.model_name)
        args = self.arguments(request)
        answer = forced_tool(args)
        message = await client.messages.create(**args)
        text = "".join(block.text if block.type == "text" else json.dumps(block.input) for block in message.content
                       if block.type == "text" or (block.type == "tool_use" and block.name == answer))
        calls = tuple(ToolCall(block.id, block.name, block.input or {})
                      for block in message.content if block.type == "tool_use" and block.name != answer)
        return Reply(text=text, provider=self.spec.name, model=message.model or request.model_name,
                     usage=anthropic_usage(usage_figures(message.usage)),
                     finish_reason=answered(normalize_finish(message.stop_reason), answer, bool(calls)),
                     tool_calls=calls)

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        client = self.client(request.model_name)
        args = self.arguments(request)
        answer = forced_tool(args)
        stream = await client.messages.create(**args, stream=True)
        model, figures, reason = request.model_name, {}, None
        tools: dict[int, int] = {}  # content block index -> tool call index
        answers: set[int] = set()   # content blocks of the forced answer tool: their input is the reply's text
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    model = event.message.model or model
                    figures = usage_figures(event.message.usage)
                elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                    block = event.content_block
                    if block.name == answer:
                        answers.add(event.index)
                        continue
                    tools[event.index] = len(tools)
                    yield Chunk(tool_call=ToolCallDelta(tools[event.index], id=block.id, name=block.name))
                elif event.type == "content_block_delta":
                    delta = event.delta  # thinking_delta and signature_delta are skipped
                    if delta.type == "text_delta" and delta.text:
                        yield Chunk(text=delta.text)
                    elif delta.type == "input_json_delta" and delta.partial_json and event.index in answers:
                        yield Chunk(text=delta.partial_json)
                    elif delta.type == "input_json_delta" and delta.partial_json and event.index in tools:
                        yield Chunk(tool_call=ToolCallDelta(tools[event.index], arguments=delta.partial_json))
                elif event.type == "message_delta":
                    reason = normalize_finish(event.delta.stop_reason) or reason
                    figures = usage_figures(event.usage, figures)
                elif event.type == "message_stop":
                    yield Chunk(usage=anthropic_usage(figures), model=model,
                                finish_reason=answered(reason or "stop", answer, bool(tools)))

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        names = {cls.__name__ for cls in type(exc).__mro__}
        if "APIResponseValidationError" in names:
            return errors.BadResponse("the reply does not have the Messages API's shape")
        status = getattr(exc, "status_code", None)
        if "APIStatusError" not in names or not isinstance(status, int):
            return None
        if status < 400:  # an error event inside a stream
            status = ERROR_STATUS.get(getattr(exc, "type", None) or "", 500)
        headers = getattr(getattr(exc, "response", None), "headers", {}) or {}
        detail = getattr(exc, "api_message", None) or getattr(exc, "message", "") or str(exc)
        return errors.from_status(status, detail, retry_after=errors.parse_retry_after(headers.get("retry-after")))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


PROVIDER = AnthropicProvider
