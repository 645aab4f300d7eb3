"""Google Gemini through the official `google-genai` SDK (`Client(...).aio.models`, Gemini Developer API)."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any, AsyncIterator

from . import errors
from .base import Provider, ProviderSpec, normalize_finish, require_sdk
from .gemini_messages import Signatures, gemini_contents, gemini_response_schema, gemini_tools, tool_calls
from .output import OutputMode
from .types import Chunk, Reply, Request, ToolCallDelta, Usage

@dataclass(frozen=True)
class GeminiSpec(ProviderSpec):
    def output_mode(self, model: str, tools: bool = False) -> OutputMode | None:
        """responseJsonSchema; before Gemini 3 not beside function declarations (the API refuses the pair)."""
        if tools and not model.lower().startswith(JSON_WITH_TOOLS):
            return None
        return super().output_mode(model, tools)


# the models that answer in JSON of a schema in a request with function declarations too
JSON_WITH_TOOLS = ("gemini-3", "gemini-4")

SPEC = GeminiSpec(
    name="gemini", default_model="gemini-2.5-flash", description="Google Gemini (google-genai)", extra="gemini",
    sdk_modules=("google.genai",), key_env=("GEMINI_API_KEY", "GOOGLE_API_KEY"), base_url_env="GOOGLE_GEMINI_BASE_URL",
    models=("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-3.8-flash", "gemini-3.5-flash",
            "gemini-3.5-flash-lite", "gemini-3.1-pro-preview", "gemini-3.1-flash-lite", "gemini-4-argon"),
    images=True, prices_id="google", output="json_schema", batch="gemini_batch")

# finish and block reasons that mean a filter stopped the reply (beyond normalize_finish's safety and recitation)
FILTERED = {"BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
            "MODEL_ARMOR", "JAILBREAK"}
# finish reasons that mean the model's function call was unusable: not JSON, or a tool it was not given
BAD_CALLS = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"}


def _quiet_env_key_warning(record: logging.LogRecord) -> bool:
    # google-genai logs "Both GOOGLE_API_KEY and GEMINI_API_KEY are set. Using GOOGLE_API_KEY." even when the key is
    # passed explicitly; the kit takes GEMINI_API_KEY first, so that warning would be wrong.
    return "GOOGLE_API_KEY and GEMINI_API_KEY" not in record.getMessage()


def gemini_usage(meta: Any) -> Usage:
    """Thinking tokens are billed as output: output = candidates + thoughts, so input + output = totalTokenCount.
    Input counts cached prompt tokens too (cached_tokens says how many)."""
    if meta is None:
        return Usage()
    return Usage(meta.prompt_token_count or 0, (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
                 meta.cached_content_token_count or 0)


def read(response: Any) -> tuple[str, str | None]:
    """The text (thought summaries left out) and the normalised finish reason of one response or stream chunk."""
    if not response.candidates:  # a blocked prompt has no candidates, only prompt_feedback
        feedback = response.prompt_feedback
        return "", ("content_filter" if feedback is not None and feedback.block_reason else None)
    candidate = response.candidates[0]
    parts = (candidate.content.parts if candidate.content else None) or []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    reason = candidate.finish_reason
    name = str(getattr(reason, "value", reason)) if reason is not None else None
    if name in BAD_CALLS:  # retryable: the model may well write the call right the next time
        raise errors.BadResponse(f"the model wrote a function call Gemini could not use ({name})")
    return text, ("content_filter" if name in FILTERED else normalize_finish(name))


def with_calls(finish: str | None, calls: bool) -> str | None:
    """Gemini says STOP after function calls too: the kit says tool_calls."""
    return "tool_calls" if calls and finish in ("stop", None) else finish


class GeminiProvider(Provider):
    spec = SPEC

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self._client: Any = None  # kept: a garbage-collected Client closes its session under a running request
        self._types: Any = None
        self._signatures = Signatures()

    def client(self, model: str) -> Any:
        if self._client is None:
            genai = require_sdk(self.spec, "google.genai")
            key = self.spec.require_key(self.settings, model)  # passed explicitly: the SDK prefers GOOGLE_API_KEY
            logging.getLogger("google_genai._api_client").addFilter(_quiet_env_key_warning)
            self._types = genai.types
            options = genai.types.HttpOptions(
                base_url=self.spec.base_url(self.settings) or None, api_version=self.settings.options.get("api_version"),
                retry_options=genai.types.HttpRetryOptions(attempts=1))  # no retries, not even on connect errors
            self._client = genai.Client(api_key=key, vertexai=False, http_options=options)
        return self._client

    def arguments(self, request: Request, whole: bool) -> dict[str, Any]:
        types = self._types
        # The SDK's timeout is aiohttp's total one: on a stream it would cut a long reply however fast its chunks
        # come, so a stream keeps only the handle's timeout between chunks.
        timeout = types.HttpOptions(timeout=max(1, round(self.settings.timeout * 1000))) if whole else None
        # before Gemini 3 a JSON answer and function calling exclude each other: with tools, the schema stays out
        # (the service asks for the shape in the prompt and validates the answer)
        output = request.output if self.spec.output_mode(request.model_name, bool(request.tools)) else None
        config = types.GenerateContentConfig(
            system_instruction=request.system or None, temperature=request.temperature,
            max_output_tokens=request.max_tokens, stop_sequences=list(request.stop) or None, http_options=timeout,
            tools=gemini_tools(request, types),
            # structured output: plain JSON Schema (responseJsonSchema), not the OpenAPI subset of response_schema
            response_mime_type="application/json" if output else None,
            response_json_schema=gemini_response_schema(output.schema) if output else None)
        return {"model": request.model_name, "contents": gemini_contents(request, types, self._signatures),
                "config": config}

    async def complete(self, request: Request) -> Reply:
        models = self.client(request.model_name).aio.models
        response = await models.generate_content(**self.arguments(request, whole=True))
        text, finish = read(response)
        calls = tuple(tool_calls(response, 0, self._signatures))
        return Reply(text=text, provider=self.spec.name, model=response.model_version or request.model_name,
                     usage=gemini_usage(response.usage_metadata), finish_reason=with_calls(finish, bool(calls)),
                     tool_calls=calls)

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        models = self.client(request.model_name).aio.models
        responses = await models.generate_content_stream(**self.arguments(request, whole=False))
        model, usage, finish, calls = request.model_name, None, None, 0
        try:
            async for response in responses:
                model = response.model_version or model
                usage = response.usage_metadata or usage  # a running total: the latest one counts
                text, reason = read(response)
                finish = reason or finish
                if text:
                    yield Chunk(text=text, model=model)
                for call in tool_calls(response, calls, self._signatures):  # whole calls, maybe one per chunk
                    yield Chunk(tool_call=ToolCallDelta(calls, call.id, call.name, json.dumps(call.arguments)))
                    calls += 1
        finally:
            await responses.aclose()
        if finish:  # none: the stream ended early, and the handle reports it as cut
            yield Chunk(usage=gemini_usage(usage), finish_reason=with_calls(finish, calls > 0), model=model)

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        sdk = sys.modules.get("google.genai.errors")
        if sdk is None:
            return None
        if isinstance(exc, sdk.UnknownApiResponseError):
            return errors.BadResponse("the server sent a reply that is not valid JSON")
        if not isinstance(exc, sdk.APIError):
            return None  # aiohttp's connect, timeout and payload errors: the common transport mapping
        code = exc.code if isinstance(exc.code, int) else 0
        message = str(exc.message or "")
        detail = f"{exc.status}: {message}" if exc.status else message
        body = exc.details.get("error", exc.details) if isinstance(exc.details, dict) else {}
        details = [d for d in body.get("details") or () if isinstance(d, dict)]
        if code == 400 and any(d.get("reason") == "API_KEY_INVALID" for d in details):  # a wrong key is a 400
            return errors.AuthenticationFailed(f"authentication failed (HTTP 400): {detail}")
        if code == 400 and "exceeds the maximum number of tokens" in message:
            return errors.ContextTooLong(f"the prompt is too long for the model (HTTP 400): {detail}")
        headers = getattr(exc.response, "headers", None) or {}
        retry_after = errors.parse_retry_after(headers.get("Retry-After"))
        if retry_after is None:  # Google's own hint: a RetryInfo detail with retryDelay "37s"
            delay = next((d["retryDelay"] for d in details if isinstance(d.get("retryDelay"), str)), None)
            retry_after = errors.parse_retry_after(delay.rstrip("s") if delay else None)
        return errors.from_status(code, detail, retry_after=retry_after)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aio.aclose()
            client.close()


PROVIDER = GeminiProvider
