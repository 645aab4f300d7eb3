"""OpenAI Chat Completions through the official `openai` SDK (`AsyncOpenAI`)."""

from __future__ import annotations

import base64
from contextlib import aclosing
from typing import Any, AsyncIterable, AsyncIterator

from . import errors
from .base import Provider, ProviderSpec, normalize_finish, require_sdk
from .types import Chunk, ImagePart, Message, Reply, Request, TextPart, Usage

SPEC = ProviderSpec(
    name="openai", default_model="gpt-4.1-mini", description="OpenAI (Chat Completions)", extra="openai",
    sdk_modules=("openai",), key_env=("OPENAI_API_KEY",), base_url_env="OPENAI_BASE_URL",
    models=("gpt-5.5", "gpt-5-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini", "o4-mini"))


def openai_messages(request: Request) -> list[dict[str, Any]]:
    """The request's messages in the Chat Completions shape (shared by every OpenAI-compatible server)."""
    return [_message(m) for m in request.messages]


def _message(message: Message) -> dict[str, Any]:
    if isinstance(message.content, str):
        return {"role": message.role, "content": message.content}
    content: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            url = f"data:{part.media_type};base64,{base64.b64encode(part.data).decode()}"
            content.append({"type": "image_url", "image_url": {"url": url}})
        else:
            raise errors.BadRequest(f"{type(part).__name__} parts are not supported by this provider yet")
    return {"role": message.role, "content": content}


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
    return args


async def openai_chunks(events: AsyncIterable[Any]) -> AsyncIterator[Chunk]:
    """Chunks from Chat Completions stream events (the openai SDK's and huggingface_hub's alike): the text as it
    comes, then one last chunk with the usage, finish reason and model the server reported. No finish reason, no
    last chunk: the stream was cut."""
    finish, usage, model = None, None, None
    async for event in events:
        model = getattr(event, "model", None) or model
        if getattr(event, "usage", None):
            usage = openai_usage(event.usage)
        for choice in getattr(event, "choices", None) or ():
            if choice.delta and choice.delta.content:
                yield Chunk(text=choice.delta.content)
            finish = normalize_finish(choice.finish_reason) or finish
    if finish:
        yield Chunk(usage=usage or Usage(), finish_reason=finish, model=model)


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
        return Reply(text=choice.message.content or "", provider=self.spec.name, model=response.model or request.model_name,
                     usage=openai_usage(response.usage), finish_reason=normalize_finish(choice.finish_reason))

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
