"""OpenAI Chat Completions through the official `openai` SDK (`AsyncOpenAI`)."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, AsyncIterator

from . import errors
from .base import Provider, ProviderSpec, require_sdk
from .output import OutputMode
from .chat_completions import openai_arguments, openai_chunks, openai_finish, openai_tool_calls, openai_usage
from .types import Chunk, Reply, Request

# OpenAI's current families (gpt-4o, gpt-4.1, gpt-5, o1/o3/o4) read images; the older text models are listed by
# prefix instead, so that a new model passes
TEXT_ONLY = ("gpt-3.5", "gpt-4-0314", "gpt-4-0613", "gpt-4-32k", "o1-mini", "o1-preview", "o3-mini", "davinci",
             "babbage", "text-", "gpt-oss")

# models from before Structured Outputs: they take no json_schema response format
NO_JSON_SCHEMA = ("gpt-3.5", "gpt-4-", "gpt-4o-2024-05-13", "o1-mini", "o1-preview", "davinci", "babbage", "text-")

# an error event inside a stream comes after the HTTP 200: the status its error type stands for
STREAM_ERROR_STATUS = {"invalid_request_error": 400, "rate_limit_exceeded": 429, "tokens": 429, "requests": 429,
                       "server_error": 500}


@dataclass(frozen=True)
class OpenAISpec(ProviderSpec):
    def accepts_images(self, model: str) -> bool | None:
        """Every model but the older text-only ones (and the plain `gpt-4`, whose prefix gpt-4o shares)."""
        name = model.lower()
        return False if name == "gpt-4" or name.startswith(TEXT_ONLY) else super().accepts_images(model)

    def output_mode(self, model: str, tools: bool = False) -> OutputMode | None:
        """A json_schema response format, on every model since gpt-4o-2024-08-06 (not the older ones)."""
        name = model.lower()
        return None if name == "gpt-4" or name.startswith(NO_JSON_SCHEMA) else super().output_mode(model, tools)


SPEC = OpenAISpec(
    name="openai", default_model="gpt-4.1-mini", description="OpenAI (Chat Completions)", extra="openai",
    sdk_modules=("openai",), key_env=("OPENAI_API_KEY",), base_url_env="OPENAI_BASE_URL",
    models=("gpt-5.5", "gpt-5-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini", "o4-mini"),
    images=True, vision_models="openai:gpt-4.1-mini or openai:gpt-4o", output="json_schema", batch="openai_batch")


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
        return openai_arguments(request, self.max_tokens_field,
                                output=self.spec.output_mode(request.model_name) is not None)

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
        message = getattr(exc, "message", "") or str(exc)
        if isinstance(status, int):
            headers = getattr(getattr(exc, "response", None), "headers", {}) or {}
            return errors.from_status(status, message,
                                      retry_after=errors.parse_retry_after(headers.get("retry-after")))
        body = getattr(exc, "body", None)
        if type(exc).__name__ == "APIError" and isinstance(body, dict):
            # an error event inside a stream (`data: {"error": ...}` after a 200): its type says what it stands for
            return errors.from_status(STREAM_ERROR_STATUS.get(str(body.get("type")), 500), message)
        return None

    async def aclose(self) -> None:
        if getattr(self, "_client", None) is not None:
            await self._client.close()
            self._client = None


PROVIDER = OpenAIProvider
