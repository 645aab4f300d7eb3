"""Hugging Face Inference through `huggingface_hub.AsyncInferenceClient.chat_completion`.

Two ways in: serverless by model id (the Hugging Face router picks an inference provider; `org/model:groq` or
`org/model:cheapest` choose one) with an `hf_` token, or a TGI server / Inference Endpoint given as base_url
(`HF_BASE_URL`), where the token is optional: a local TGI needs none."""

from __future__ import annotations

import os
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, AsyncIterator

from . import errors
from .base import Provider, ProviderSpec, Settings, listed_context_window, require_sdk
from .chat_completions import openai_arguments, openai_chunks, openai_finish, openai_tool_calls, openai_usage
from .secrets import remember
from .types import Chunk, Reply, Request


@dataclass(frozen=True)
class HFSpec(ProviderSpec):
    def key(self, settings: Settings) -> str | None:
        """api_key=, then HF_TOKEN, then the token `hf auth login` saved (read here without importing the SDK)."""
        key = super().key(settings)
        if key:
            return key
        home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
        path = os.path.expanduser(os.environ.get("HF_TOKEN_PATH") or os.path.join(home, "token"))
        try:
            with open(path, encoding="utf-8") as file:
                key = file.read().strip() or None
        except OSError:
            return None
        remember(key)
        return key

    def needs_key(self, settings: Settings) -> bool:
        """Only the serverless router needs a token; a TGI server or Inference Endpoint may not."""
        return not self.base_url(settings)

    def context_window(self, model: str) -> int | None:
        """Known where the id names its inference provider (`org/model:groq`): genai-prices lists the model there."""
        base, sep, router = model.rpartition(":")
        return listed_context_window(f"huggingface_{router.lower()}", base) if sep and base and router else None


SPEC = HFSpec(
    name="huggingface", default_model="meta-llama/Llama-3.1-8B-Instruct", extra="huggingface",
    sdk_modules=("huggingface_hub",), key_env=("HF_TOKEN",), base_url_env="HF_BASE_URL",
    description="Hugging Face Inference (chat completions)", output="json_schema")  # TGI and the router take it

# Errors a TGI server sends inside a stream (`{"error": ..., "error_type": ...}`) as the HTTP status they stand for.
_STREAM_ERRORS = {"ValidationError": 422, "OverloadedError": 503, "GenerationError": 500, "UnknownError": 500}


def _status_error(status: int, detail: str, retry_after: float | None = None) -> errors.ProviderError:
    if status in (400, 413, 422) and "`inputs`" in detail and "tokens" in detail:  # TGI's "input too long"
        return errors.ContextTooLong(f"the prompt is too long for the model (HTTP {status}): {detail[:300]}")
    return errors.from_status(status, detail, retry_after=retry_after)


def _detail(exc: BaseException, response: Any) -> str:
    """The server's own message: OpenAI-style `{"error": {"message"}}` or TGI's `{"error": "..."}`."""
    try:
        error = response.json().get("error")
    except Exception:  # not JSON, or a stream whose body was not read
        error = None
    if isinstance(error, dict):
        error = error.get("message")
    return str(error or getattr(exc, "server_message", None) or exc)


class HuggingFaceProvider(Provider):
    spec = SPEC

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            hub = require_sdk(self.spec, "huggingface_hub")
            base = self.spec.base_url(self.settings) or None
            if base:
                key = self.spec.key(self.settings)
            else:
                key = self.spec.require_key(self.settings)
                if not key.startswith("hf_"):  # the SDK refuses it for the router with a bare ValueError
                    raise errors.AuthenticationFailed("serverless inference needs a Hugging Face token (hf_...); "
                                                      "other keys only work with base_url=", provider=self.spec.name)
            self._client = hub.AsyncInferenceClient(base_url=base, api_key=key, timeout=self.settings.timeout)
        return self._client

    async def complete(self, request: Request) -> Reply:
        response = await self.client.chat_completion(**openai_arguments(request))
        choices = getattr(response, "choices", None)
        if not choices:
            raise errors.BadResponse("the reply has no choices")
        choice = choices[0]
        calls = openai_tool_calls(choice.message)
        return Reply(text=getattr(choice.message, "content", None) or "", provider=self.spec.name,
                     model=getattr(response, "model", None) or request.model_name,
                     usage=openai_usage(getattr(response, "usage", None)),
                     finish_reason=openai_finish(choice.finish_reason, bool(calls)), tool_calls=calls)

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        arguments = openai_arguments(request)
        events = await self.client.chat_completion(**arguments, stream=True, stream_options={"include_usage": True})
        async with aclosing(openai_chunks(events)) as chunks:
            async for chunk in chunks:
                yield chunk

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        name = type(exc).__name__
        if isinstance(status, int):  # HfHubHTTPError and its subclasses
            return _status_error(status, _detail(exc, response),
                                 errors.parse_retry_after(response.headers.get("retry-after")))
        if name in _STREAM_ERRORS:
            return _status_error(_STREAM_ERRORS[name], str(exc))
        if name == "IncompleteGenerationError":
            return errors.StreamCut(f"the server could not finish the reply: {exc}")
        if name == "OfflineModeIsEnabled":
            return errors.Unreachable("HF_HUB_OFFLINE is set, so huggingface_hub refuses every request; unset it")
        return None

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()


PROVIDER = HuggingFaceProvider
