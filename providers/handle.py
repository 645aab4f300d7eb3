"""`LLM`: what `providers.get()` returns. It owns one adapter per event loop and adds timing, timeouts and
error mapping around the adapter's calls."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
import weakref
from dataclasses import replace
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

from . import errors
from .base import Provider, ProviderSpec, Settings, map_transport_error, timeout
from .types import Chunk, Message, Reply, Request, ToolCall, Usage

Messages = Sequence["Message | Mapping[str, Any]"] | str | Request


class LLM:
    """A model on a provider with default parameters: `await llm.complete(messages)`, `llm.stream(messages)`."""

    def __init__(self, spec: ProviderSpec, factory: Callable[[Settings], Provider], model: str,
                 settings: Settings, params: Mapping[str, Any]) -> None:
        self.spec = spec
        self.model = model
        self.settings = settings
        self.params = dict(params)
        self._factory = factory
        self._adapters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Provider] = weakref.WeakKeyDictionary()

    @property
    def provider(self) -> str:
        return self.spec.name

    @property
    def id(self) -> str:
        return f"{self.spec.name}:{self.model}"

    def __repr__(self) -> str:
        return f"LLM({self.id!r})"

    def request(self, messages: Messages, **params: Any) -> Request:
        """Build the Request this handle would send (handle defaults, overridden by `params`)."""
        if isinstance(messages, Request):
            return replace(messages, model=self.id, **params) if params else replace(messages, model=self.id)
        return Request.build(self.id, messages, **{**self.params, **params})

    async def ready_adapter(self) -> Provider:
        """The adapter for the running loop, its SDK imported on a worker thread the first time: an SDK's import
        takes a second or two, which on the loop would stall every other call (and eat their timeouts)."""
        missing = [name for name in self.spec.sdk_modules if name not in sys.modules]
        if missing:
            await asyncio.to_thread(lambda: [importlib.import_module(name) for name in missing])
        return self.adapter()

    def adapter(self) -> Provider:
        """The adapter for the running loop (SDK clients are bound to the loop they were made on)."""
        loop = asyncio.get_running_loop()
        adapter = self._adapters.get(loop)
        if adapter is None:
            adapter = self._adapters[loop] = self._factory(self.settings)
        return adapter

    def map_error(self, exc: BaseException, adapter: Provider | None = None) -> BaseException:
        if isinstance(exc, errors.ProviderError):
            exc.provider = exc.provider or self.provider
            exc.model = exc.model or (self.model if exc.provider == self.provider else "")
            return exc
        mapped = (adapter.map_error(exc) if adapter else None) or map_transport_error(exc, self.provider, self.model)
        if mapped is None:
            return exc
        mapped.provider, mapped.model = self.provider, self.model
        mapped.detail = errors.describe(exc)
        return mapped

    async def complete(self, messages: Messages, **params: Any) -> Reply:
        """The whole reply at once, with usage and latency."""
        request = self.request(messages, **params)
        start = time.perf_counter()
        failure: BaseException | None = None
        adapter: Provider | None = None
        try:
            adapter = await self.ready_adapter()
            start = time.perf_counter()  # the latency of the call, not of a first import
            async with timeout(self.settings.timeout):
                reply = await adapter.complete(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # mapped below, outside the except block, so the SDK error is not chained
            failure = self.map_error(exc, adapter)
        if failure is not None:
            raise failure
        return replace(reply, provider=self.provider, latency_s=time.perf_counter() - start)

    def stream(self, messages: Messages, **params: Any) -> "ReplyStream":
        """Chunks as they arrive; the last carries usage, and afterwards `stream.reply` holds the whole reply."""
        return ReplyStream(self, self.request(messages, **params))

    async def aclose(self) -> None:
        for adapter in list(self._adapters.values()):
            await adapter.aclose()
        self._adapters.clear()


class ReplyStream:
    """An async iterator of Chunks that also assembles the Reply; a stream that ends without its finish event
    raises StreamCut with the partial text."""

    def __init__(self, llm: LLM, request: Request) -> None:
        self.llm = llm
        self.request = request
        self.reply: Reply | None = None
        self.text = ""
        self.usage = Usage()
        self.ttft_s: float | None = None
        self._tool_parts: dict[int, dict[str, Any]] = {}
        self._iter: AsyncIterator[Chunk] | None = None

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._run()

    async def _run(self) -> AsyncIterator[Chunk]:
        llm = self.llm
        start = time.perf_counter()
        finish: str | None = None
        model = llm.model
        sources: tuple = ()
        note = ""
        adapter = None
        failure: BaseException | None = None
        try:
            adapter = await llm.ready_adapter()
            start = time.perf_counter()  # time to first token of the call, not of a first import
            self._iter = adapter.stream(self.request)
            while True:
                async with timeout(llm.settings.timeout):
                    try:
                        chunk = await anext(self._iter)
                    except StopAsyncIteration:
                        break
                if self.ttft_s is None and (chunk.text or chunk.tool_call):
                    self.ttft_s = time.perf_counter() - start
                self.text += chunk.text
                if chunk.tool_call:
                    self._add_tool_delta(chunk)
                if chunk.usage:
                    self.usage = chunk.usage
                finish = chunk.finish_reason or finish
                model = chunk.model or model
                sources = chunk.sources or sources
                note = chunk.note or note
                yield chunk
        except (asyncio.CancelledError, GeneratorExit):
            await self._close_iter()
            raise
        except Exception as exc:
            failure = llm.map_error(exc, adapter)
        if failure is None and finish is None:
            failure = errors.StreamCut("the stream ended before its final event", provider=llm.provider,
                                       model=llm.model)
        if failure is not None:
            await self._close_iter()
            if isinstance(failure, errors.ProviderError):  # an error event mid-reply keeps the text too
                failure.partial = self.text
            raise failure
        self.reply = Reply(text=self.text, provider=llm.provider, model=model, usage=self.usage,
                           finish_reason=finish, tool_calls=self._tool_calls(), sources=sources, note=note,
                           latency_s=time.perf_counter() - start, ttft_s=self.ttft_s)

    async def _close_iter(self) -> None:
        aclose = getattr(self._iter, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                pass

    def _add_tool_delta(self, chunk: Chunk) -> None:
        delta = chunk.tool_call
        part = self._tool_parts.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
        part["id"] = delta.id or part["id"]
        part["name"] = delta.name or part["name"]
        part["arguments"] += delta.arguments

    def _tool_calls(self) -> tuple[ToolCall, ...]:
        calls = []
        for index in sorted(self._tool_parts):
            part = self._tool_parts[index]
            try:
                arguments = json.loads(part["arguments"] or "{}")
            except json.JSONDecodeError:
                arguments = None
            if not isinstance(arguments, dict):
                raise errors.BadResponse(f"tool call {part['name']!r} has arguments that are not a JSON object",
                                         provider=self.llm.provider, model=self.llm.model)
            calls.append(ToolCall(part["id"] or f"call_{index}", part["name"], arguments))
        return tuple(calls)
