"""The one way the kit runs a request: budgets, cache, rate limits, retries with backoff (tenacity), fallbacks to the
next provider, streaming (retried only before the first chunk), fan-out to several providers, and a ledger row for
every attempt."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
import warnings
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, AsyncIterator, Mapping, Sequence

from coditect_magics.budgets import Budgets
from coditect_magics.providers import LLM, Chunk, ImagePart, Reply, Request, Usage, errors, registry
from coditect_magics.settings import DEFAULTS

Target = Request | str | Sequence[str]


@dataclass(frozen=True)
class ExecutorSettings:
    """Plain settings (a session derives them from its own; services never read IPython config)."""

    attempts: int = DEFAULTS.attempts    # tries per provider, the first included
    max_wait_s: float = DEFAULTS.max_wait  # total backoff a provider may cost before giving up (or falling back)
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    timeout_s: float = DEFAULTS.timeout  # per call (per stream event once streaming)
    rate_limits: Mapping[str, str] = field(default_factory=dict)   # provider -> "60/minute"
    cache: str = DEFAULTS.cache          # auto: only temperature-0 requests; on; off
    budgets: Budgets = Budgets()
    provider_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # api_key/base_url per provider
    log_prompts: bool = False            # keep prompt text in the ledger
    ledger_path: str | None = None
    cache_path: str | None = None
    redis_url: str | None = None         # rate limits and the response cache shared through Redis (a team)
    aliases: Mapping[str, str] = field(default_factory=dict)  # the session's model aliases over the registry's
    schema_retries: int = DEFAULTS.schema_retries  # asks again after an answer that does not match its schema


@dataclass(frozen=True)
class CallContext:
    """Who a call is for, carried into its ledger rows."""

    agent: str | None = None
    run_id: str | None = None
    parent_call_id: str | None = None
    agent_budget_usd: float | None = None   # this agent's own limit (its binding), else the general one
    memory_items: int = 0                   # memories added to the request's context


# who asks from outside the process (an MCP client: "mcp:claude-code"); set around the work done for them, it
# heads the agent of every call made inside, its budget check included ("mcp:claude-code/reviewer"; no agent:
# "mcp:claude-code"), delegated agents' calls too
CALLER: ContextVar[str | None] = ContextVar("coditect_caller", default=None)


def attributed(context: CallContext) -> CallContext:
    """The context with the agent the ledger row carries: the caller's label before it, when one is set."""
    caller = CALLER.get()
    agent = context.agent or ""
    if not caller or agent == caller or agent.startswith(f"{caller}/"):  # already attributed
        return context
    return replace(context, agent=f"{caller}/{agent}" if agent else caller)


class Executor:
    """Runs requests for the magics, widgets and agents; one per kernel is the usual (see `default()`)."""

    def __init__(self, settings: ExecutorSettings | None = None, *, ledger: Any = None, cache: Any = None,
                 session_id: str | None = None, replay: Any = None, keys: Any = None) -> None:
        self.settings = settings or ExecutorSettings()
        self._keys = keys  # a session's keys.KeyPool (what it learned of each key outlives a rebuilt executor)
        # a queued job's journal of finished calls (workers.replay.Replay): a job run again after its worker died
        # takes those replies from it instead of calling (and charging) again
        self.replay = replay
        if session_id is None:
            from coditect_magics.costs import session_id as current_session
            session_id = current_session()
        self.session_id = session_id
        self._ledger = ledger
        self._cache = cache
        self._handles: dict[tuple[str, str], LLM] = {}
        self._rotation: Any = None
        self._ledger_warned = False

    # parts made on first use
    @property
    def ledger(self) -> Any:
        if self._ledger is None:
            from coditect_magics.costs import Ledger
            self._ledger = Ledger(self.settings.ledger_path, log_prompts=self.settings.log_prompts)
        return self._ledger

    @property
    def cache(self) -> Any:
        if self._cache is None:
            from coditect_magics.cache import RedisResponseCache, ResponseCache
            url = self.settings.redis_url
            self._cache = RedisResponseCache(url) if url else ResponseCache(self.settings.cache_path)
        return self._cache

    @property
    def rotation(self) -> Any:
        """Which key each call spends, and each key's rate-limit window (keys.Rotation)."""
        if self._rotation is None:
            from coditect_magics.keys import KeyPool, Rotation
            self._keys = self._keys or KeyPool()
            self._rotation = Rotation(self._keys, self.settings.rate_limits, self.settings.redis_url,
                                      self.settings.max_wait_s)
        return self._rotation

    def handle(self, model_id: str, key: Any = None) -> LLM:
        """The handle for an id or alias (the session's too) and a keys.Key (None: the provider's own lookup)."""
        slot = (model_id, key.id if key else "")  # by the key's hash: a name stored again may hold a new key
        llm = self._handles.get(slot)
        if llm is None:
            qualified = registry.qualify(model_id, self.settings.aliases)
            provider, model = registry.resolve(qualified)
            options = dict(self.settings.provider_options.get(provider, {}))
            if not options and registry.entry(provider).spec.wraps:  # search:ollama:... calls where ollama is set
                inner = registry.qualify(model, self.settings.aliases).partition(":")[0]
                options = dict(self.settings.provider_options.get(inner, {}))
            options.update({"api_key": key.value} if key else {})
            llm = self._handles[slot] = registry.get(qualified, timeout=self.settings.timeout_s, **options)
        return llm

    def chain(self, target: Target, messages: Any = None, fallbacks: Sequence[str] = (), **params: Any) -> list[Request]:
        """The requests to try in order: the target (an id, a list of ids or a Request), then the fallbacks; a
        BadRequest when the messages hold an image one of those models cannot read."""
        if isinstance(target, Request):
            first = replace(target, **params) if params else target
            ids = [first.model, *fallbacks]
            base = first
        else:
            ids = [target] if isinstance(target, str) else list(target)
            ids += list(fallbacks)
            if not ids:
                raise errors.UnknownProvider("no model given to run")
            base = Request.build(ids[0], messages if messages is not None else [], **params)
        chain = [replace(base, model=self.handle(i).id) for i in ids]
        if any(isinstance(part, ImagePart) for message in base.messages for part in message.parts):
            for request in chain:  # every caller gets the check, for the fallbacks too, before anything is sent
                registry.require_images(request.model)
        return chain

    async def aclose(self) -> None:
        """Close the SDK clients of every handle this executor made (on the loop they were used on)."""
        for llm in self._handles.values():
            await llm.aclose()

    # policies
    def _cache_on(self, request: Request, override: bool | None) -> bool:
        if override is not None:
            return override
        mode = self.settings.cache
        return mode == "on" or (mode == "auto" and request.temperature == 0)

    def check_budget(self, context: CallContext) -> None:
        """Refuse (BudgetExceeded) work for `context` once a spend limit is reached: calls, and batch jobs."""
        self.settings.budgets.check(self.ledger.spend, self.session_id, context.agent, context.agent_budget_usd)

    def record(self, request: Request, context: CallContext, *, call_id: str, attempt: int, status: str,
               reply: Reply | None = None, usage: Usage | None = None, partial: bool = False,
               latency_s: float | None = None, ttft_s: float | None = None,
               error: BaseException | None = None, row_id: str | None = None, key_name: str | None = None) -> Any:
        """Write one ledger row; returns it (its cost is what `compare` shows). A call cut off after output began,
        without usage, has an unknown cost; one that failed before any output cost nothing."""
        from coditect_magics.costs import CallRecord, price
        provider, model = request.provider, request.model_name
        usage = reply.usage if reply else (usage or Usage())
        if status == "cached":
            cost, known = 0.0, True
        elif reply is None and not usage.total_tokens:
            cost, known = (None, False) if partial else (0.0, True)
        else:
            priced = price(provider, model, usage)
            cost, known = priced.usd, priced.known
        prompt = "\n\n".join(f"{m.role}: {m.text}" for m in request.messages) if self.settings.log_prompts else None
        row = CallRecord(
            call_id=call_id, attempt=attempt, parent_call_id=context.parent_call_id, run_id=context.run_id,
            session_id=self.session_id, provider=provider, model=(reply.model if reply else None) or model,
            agent=context.agent, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens, cost_usd=cost, price_known=known,
            latency_s=latency_s if latency_s is not None else (reply.latency_s if reply else None),
            ttft_s=ttft_s if ttft_s is not None else (reply.ttft_s if reply else None), status=status,
            error_class=type(error).__name__ if error else None, error_message=str(error) if error else None,
            prompt=prompt, memory_items=context.memory_items, key_name=key_name, **({"id": row_id} if row_id else {}))
        try:
            self.ledger.record(row)
        except (OSError, sqlite3.Error) as exc:  # a ledger problem must not fail the user's call
            if not self._ledger_warned:
                self._ledger_warned = True
                warnings.warn(f"the cost ledger could not be written ({exc}); calls go on unrecorded", stacklevel=2)
        return row

    # the calls
    async def run(self, target: Target, messages: Any = None, *, fallbacks: Sequence[str] = (),
                  context: CallContext = CallContext(), cache: bool | None = None, **params: Any) -> Reply:
        """One whole reply, trying the chain in order."""
        execution = self.stream(target, messages, fallbacks=fallbacks, context=context, cache=cache, stream=False,
                                **params)
        async for _ in execution:
            pass
        assert execution.reply is not None
        return execution.reply

    async def complete(self, target: Target, messages: Any = None, *, schema: Any = None, **options: Any) -> Reply:
        """One whole reply; with `schema` (a pydantic model, TypedDict or JSON-schema dict) validated into
        `Reply.parsed`, asked again with the errors when it does not fit (`structured.complete`)."""
        if schema is None:
            return await self.run(target, messages, **options)
        from coditect_magics.structured import complete
        return await complete(self, target, messages, schema=schema, **options)

    def stream(self, target: Target, messages: Any = None, *, fallbacks: Sequence[str] = (),
               context: CallContext = CallContext(), cache: bool | None = None, stream: bool = True,
               **params: Any) -> "Execution":
        """Chunks as they arrive (iterate the returned Execution); afterwards `.reply`, `.row`."""
        return Execution(self, self.chain(target, messages, fallbacks, **params), attributed(context), cache,
                         stream)

    async def compare_table(self, messages: Any, ids: Sequence[str], **params: Any) -> Any:
        """The same messages to every id at once (`compare.Comparing`), as a DataFrame: one row per id, in order."""
        from coditect_magics.compare import Comparing, table
        comparing = Comparing(self, messages, ids, **params)  # schema=: validated answers, a column per field
        return table(await comparing.records(), comparing.schema)


@dataclass
class _Opened:
    """A call that has produced its first chunk (stream) or its whole reply."""

    start: float
    reply: Reply | None = None
    stream: Any = None
    iterator: Any = None
    first: Chunk | None = None


class Execution:
    """A call under way: iterate for chunks. Afterwards `.reply` (the whole reply) and `.row` (its ledger row);
    `.text` holds what arrived so far, also after a failure or a cancel; `.attempts` counts tries over the chain."""

    def __init__(self, executor: Executor, chain: list[Request], context: CallContext, cache: bool | None,
                 stream: bool) -> None:
        self.executor, self.chain, self.context = executor, chain, context
        # under a replay journal the call's id follows from the job and the request, so a re-run writes the same
        # ledger rows (which the ledger then skips) and finds the reply the first run kept
        self.replayed = executor.replay is not None
        self.call_id = executor.replay.key(chain[0]) if self.replayed else uuid.uuid4().hex
        self.text = ""
        self.reply: Reply | None = None
        self.row: Any = None
        self.model: str = chain[0].model
        self.attempts = 0
        self.key_name: str | None = None  # the name of the key the current try spends (never the key)
        self._cache, self._stream = cache, stream

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._run()

    def _record(self, request: Request, status: str, **kw: Any) -> Any:
        row_id = None
        if self.replayed:
            row_id = f"{self.call_id}:{'ok' if status in ('ok', 'cached') else self.attempts}"
        kw.setdefault("key_name", self.key_name)
        return self.executor.record(request, self.context, call_id=self.call_id, attempt=self.attempts,
                                    status=status, row_id=row_id, **kw)

    async def _run(self) -> AsyncIterator[Chunk]:
        ex = self.executor
        kept = ex.replay.get(self.call_id) if self.replayed else None
        if kept is not None:  # an earlier run of this job made the call: its row is in the ledger already
            self.attempts = 1
            self.text, self.reply, self.model = kept.text, kept, kept.model or self.model
            self.row = self._record(self.chain[0], "ok", reply=kept)
            yield Chunk(text=kept.text, usage=kept.usage, finish_reason=kept.finish_reason, model=kept.model)
            return
        for position, request in enumerate(self.chain):
            self.model = request.model
            ex.check_budget(self.context)
            use_cache = ex._cache_on(request, self._cache)
            hit = ex.cache.get(request) if use_cache else None
            if hit is not None:
                self.attempts += 1
                self.text, self.reply = hit.text, hit
                self.row = self._record(request, "cached", reply=hit)
                yield Chunk(text=hit.text, usage=hit.usage, finish_reason=hit.finish_reason, model=hit.model)
                return
            try:
                opened = await self._open(ex.handle(request.model), request)
            except errors.ProviderError as exc:
                if exc.fallback and position + 1 < len(self.chain):
                    continue
                raise
            if opened.reply is not None:
                self.reply, self.text = opened.reply, opened.reply.text
                self.row = self._record(request, "ok", reply=self.reply)
                yield Chunk(text=self.reply.text, usage=self.reply.usage, finish_reason=self.reply.finish_reason,
                            model=self.reply.model, sources=self.reply.sources, note=self.reply.note)
            else:
                async for chunk in self._rest(request, opened):
                    yield chunk
            if self.replayed and self.reply is not None:
                ex.replay.put(self.call_id, self.reply)
            if use_cache and self.reply is not None:
                ex.cache.put(request, self.reply)
            return

    async def _open(self, llm: LLM, request: Request) -> _Opened:
        """Start the call, retrying until the first chunk (or the whole reply) arrives; a row per failed try. Each
        try takes a key in turn (keys.Rotation) and its handle; an error teaches the rotation about that key."""
        ex = self.executor
        provider = ex.rotation.owner(request.model, ex.settings.aliases)
        explicit = ex.settings.provider_options.get(provider, {}).get("api_key")
        key = None
        from coditect_magics.keys import retrying
        async for trying in retrying(ex.settings, lambda: ex.rotation.another(provider, key, explicit)):
            with trying:
                self.attempts += 1
                await llm.ready_adapter()  # a first SDK import must not sit between the rate-limit slot and the send
                key = await ex.rotation.take(provider, explicit)
                keyed = ex.handle(request.model, key) if key is not None else llm
                self.key_name = key.name if key is not None else None
                opened = _Opened(start=time.perf_counter())
                try:
                    if not self._stream:
                        opened.reply = await keyed.complete(request)
                    else:
                        opened.stream = keyed.stream(request)
                        opened.iterator = opened.stream.__aiter__()
                        opened.first = await anext(opened.iterator)
                    return opened
                except asyncio.CancelledError:
                    self._record(request, "cancelled", latency_s=time.perf_counter() - opened.start)
                    raise
                except Exception as exc:
                    ex.rotation.failed(key, exc)
                    self._record(request, "error", latency_s=time.perf_counter() - opened.start, error=exc)
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _rest(self, request: Request, opened: _Opened) -> AsyncIterator[Chunk]:
        """Pass the stream through from its first chunk; no retry past it. Records the final row."""
        stream, status, failure = opened.stream, "ok", None
        try:
            self.text += opened.first.text
            yield opened.first
            async for chunk in opened.iterator:
                self.text += chunk.text
                yield chunk
        except (asyncio.CancelledError, GeneratorExit):
            status = "cancelled"
            raise
        except Exception as exc:
            status, failure = "error", exc
            raise
        finally:
            self.reply = stream.reply
            self.row = self._record(request, status, reply=stream.reply, usage=stream.usage, partial=bool(self.text),
                                    latency_s=time.perf_counter() - opened.start, ttft_s=stream.ttft_s, error=failure)


_default: Executor | None = None


def default() -> Executor:
    """The kernel's executor, made on first use."""
    global _default
    if _default is None:
        _default = Executor()
    return _default
