"""Ollama's own HTTP API (`POST /api/chat`, NDJSON streams) spoken with aiohttp."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, AsyncIterator
from urllib.parse import urlsplit, urlunsplit

from . import errors
from .base import Provider, ProviderSpec, Settings, normalize_finish, require_sdk
from .types import Chunk, ImagePart, Message, Reply, Request, TextPart, ToolCall, ToolCallDelta, ToolResult, Usage

DEFAULT_PORT = 11434
# Ollama serves many model families; only these read images (matched anywhere in `name:tag`)
VISION_FAMILIES = ("llava", "bakllava", "vision", "qwen2.5vl", "qwen2-vl", "qwen3-vl", "vl:", "minicpm-v", "moondream",
                   "gemma3", "llama4", "mistral-small3.1", "mistral-small3.2", "granite3.2-vision")
TEXT_ONLY = ("gemma3:270m", "gemma3:1b")  # the smallest gemma3 sizes read text only


def normalise_host(value: str) -> str:
    """`OLLAMA_HOST` as Ollama reads it: `host:port`, `0.0.0.0:port` or a full URL → `http://127.0.0.1:port`."""
    value = value.strip().rstrip("/")
    parts = urlsplit(value if "://" in value else f"http://{value}")
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # a bind-all address: the server is on this machine
        host = "127.0.0.1"
    port = parts.port or (None if "://" in value else DEFAULT_PORT)
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class OllamaSpec(ProviderSpec):
    def base_url(self, settings: Settings) -> str:
        return normalise_host(super().base_url(settings))

    def accepts_images(self, model: str) -> bool | None:
        """Only the vision families read images (a bare name means its default tag)."""
        tagged = model.lower() if ":" in model else f"{model.lower()}:"
        return any(family in tagged for family in VISION_FAMILIES) and not tagged.startswith(TEXT_ONLY)


def _messages(message: Message, names: dict[str, str]) -> list[dict[str, Any]]:
    """One Ollama message per turn; each tool result is a `tool` message of its own, in order, named after its
    call (`names`: call id -> tool name, filled as the calls go by) when it does not say its tool's name."""
    out: dict[str, Any] = {"role": message.role, "content": ""}
    results: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            out["content"] += part.text
        elif isinstance(part, ImagePart):
            out.setdefault("images", []).append(base64.b64encode(part.data).decode("ascii"))
        elif isinstance(part, ToolCall):  # Ollama's calls have no ids and take the arguments as an object
            names[part.id] = part.name
            out.setdefault("tool_calls", []).append({"function": {"name": part.name,
                                                                  "arguments": dict(part.arguments)}})
        elif isinstance(part, ToolResult):
            name = part.name or names.get(part.id)
            results.append({"role": "tool", "content": part.content, **({"tool_name": name} if name else {}),
                            **({"images": [base64.b64encode(i.data).decode("ascii") for i in part.images]}
                               if part.images else {})})
        else:
            raise errors.BadRequest(f"message part {type(part).__name__} is not supported by ollama yet")
    keep = out["content"] or len(out) > 2 or not results  # a turn of tool results only becomes just those
    return [out, *results] if keep else results


def _finish(done: dict[str, Any], tool_calls: bool) -> str | None:
    reason = normalize_finish(done.get("done_reason") or "stop")
    return "tool_calls" if tool_calls and reason == "stop" else reason  # Ollama says "stop" after tool calls


def _usage(done: dict[str, Any]) -> Usage:
    return Usage(input_tokens=done.get("prompt_eval_count") or 0, output_tokens=done.get("eval_count") or 0)


def _line_error(message: str) -> errors.ProviderError:
    """An `{"error": ...}` line inside a stream (its HTTP status was already 200)."""
    low = message.lower()
    status = 404 if "not found" in low else 500
    if any(word in low for word in ("context", "invalid", "too long")):
        status = 400
    return errors.from_status(status, message)


class OllamaProvider(Provider):
    spec = OllamaSpec(
        name="ollama", default_model="llama3.2", description="Ollama server (local models)", extra="ollama",
        sdk_modules=("aiohttp",), key_env=(), key_required=False, base_url_env="OLLAMA_HOST",
        default_base_url=f"http://127.0.0.1:{DEFAULT_PORT}", probe_server=True,
        vision_models="ollama:llama3.2-vision, ollama:qwen2.5vl or ollama:llava", output="json_schema")

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.base_url = self.spec.base_url(settings)
        self._session: Any = None

    def session(self) -> Any:
        if self._session is None or self._session.closed:
            aiohttp = require_sdk(self.spec, "aiohttp")
            key = self.spec.key(self.settings)  # optional: a proxy or ollama.com may want a bearer token
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.settings.timeout,
                                            sock_read=self.settings.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout,
                                                  headers={"Authorization": f"Bearer {key}"} if key else None)
        return self._session

    def body(self, request: Request, stream: bool) -> dict[str, Any]:
        options = dict(self.settings.options)  # e.g. num_ctx, seed
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.stop:
            options["stop"] = list(request.stop)
        names: dict[str, str] = {}
        messages = [converted for message in request.messages for converted in _messages(message, names)]
        body: dict[str, Any] = {"model": request.model_name, "messages": messages, "stream": stream}
        if options:
            body["options"] = options
        if request.tools:
            body["tools"] = [{"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": dict(t.parameters)}} for t in request.tools]
        if request.output is not None:  # a schema as `format` (the string "json" is the older JSON-only mode)
            body["format"] = dict(request.output.schema)
        return body

    async def _check(self, response: Any) -> None:
        if response.status == 200:
            return
        text = await response.text()
        try:
            detail = json.loads(text).get("error") or text
        except (ValueError, AttributeError):
            detail = text
        raise errors.from_status(response.status, str(detail),
                                 retry_after=errors.parse_retry_after(response.headers.get("Retry-After")))

    async def complete(self, request: Request) -> Reply:
        async with self.session().post(f"{self.base_url}/api/chat", json=self.body(request, False)) as response:
            await self._check(response)
            data = json.loads(await response.text())
        if data.get("error"):
            raise _line_error(str(data["error"]))
        message = data.get("message") or {}
        calls = tuple(ToolCall(c.get("id") or f"call_{i}", c["function"]["name"], c["function"].get("arguments") or {})
                      for i, c in enumerate(message.get("tool_calls") or ()))
        return Reply(text=message.get("content") or "", provider=self.spec.name,
                     model=data.get("model") or request.model_name, usage=_usage(data),
                     finish_reason=_finish(data, bool(calls)), tool_calls=calls)

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        async with self.session().post(f"{self.base_url}/api/chat", json=self.body(request, True)) as response:
            await self._check(response)
            calls = 0
            async for raw in response.content:
                if not raw.strip():
                    continue
                data = json.loads(raw)
                if data.get("error"):
                    raise _line_error(str(data["error"]))
                message = data.get("message") or {}
                for call in message.get("tool_calls") or ():
                    fn = call["function"]
                    yield Chunk(tool_call=ToolCallDelta(calls, id=call.get("id"), name=fn["name"],
                                                        arguments=json.dumps(fn.get("arguments") or {})))
                    calls += 1
                if not data.get("done"):
                    if message.get("content"):
                        yield Chunk(text=message["content"])
                    continue
                yield Chunk(text=message.get("content") or "", usage=_usage(data),
                            finish_reason=_finish(data, calls > 0), model=data.get("model") or request.model_name)
                return

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


PROVIDER = OllamaProvider
