"""Which key a call spends: calls spread over a provider's usable keys in turn, each key under its own `limits`
moving window (shared through Redis when set, counted under a hash of the key, never the key); a key that was rate
limited is passed over until its own Retry-After ends, one that was refused is passed over for the session."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, Callable, Mapping

from coditect_magics.providers import errors, registry

from .pool import Key, KeyPool

NO_KEY = "no-key"   # what a keyless provider's (ollama's) window is counted under


class Rotation:
    """`await take(provider)` gives the next key (None for a provider that has none), after a slot in its window;
    `failed(key, exc)` learns from an error; `another(provider, key)` says whether a retry can go straight on."""

    def __init__(self, pool: KeyPool, rate_limits: Mapping[str, str] | None = None,
                 redis_url: str | None = None, max_wait_s: float = float("inf")) -> None:
        self.pool = pool
        self.max_wait_s = max_wait_s  # every key cooling longer than this: RateLimited at once (the next model)
        self.rate_limits = dict(rate_limits or {})
        self.redis_url = redis_url
        self._limiter: Any = None
        self._turns: dict[str, itertools.count[int]] = {}

    @staticmethod
    def owner(model_id: str, aliases: Mapping[str, str] | None = None) -> str:
        """The provider whose keys a model's calls spend: its own, or for a wrapper (search:openai:...) the wrapped
        model's (the wrapper hands its key on)."""
        provider, model = registry.resolve(model_id)
        if not registry.entry(provider).spec.wraps:
            return provider
        try:
            return registry.resolve(registry.qualify(model, aliases))[0]
        except errors.UnknownProvider:  # the call itself reports it
            return provider

    async def take(self, provider: str, explicit: str | None = None) -> Key | None:
        """The key for the next call: the next in turn that is not cooling and has room in its window (waiting
        for the first to have room when none has). RateLimited when every key cools past `max_wait_s`."""
        keys = self.pool.usable(provider, explicit)
        if not keys:
            await self._wait_slot(provider, NO_KEY)
            return None
        start = next(self._turns.setdefault(provider, itertools.count()))
        while True:
            order = [keys[(start + i) % len(keys)] for i in range(len(keys))]
            waits = []
            for key in order:
                cooling = self.pool.cooling(key)
                if cooling > 0:
                    waits.append(cooling)
                    continue
                room = await self._hit(provider, key.id)
                if room == 0:
                    return key
                waits.append(room)
            if all(self.pool.cooling(key) > self.max_wait_s for key in keys):
                wait = min(waits)
                raise errors.RateLimited(f"every {provider} key is rate limited for {wait:.0f} s more",
                                         retry_after=wait, provider=provider)
            await asyncio.sleep(max(min(waits), 0.01))

    def failed(self, key: Key | None, exc: BaseException) -> None:
        """A 429 cools the key for its Retry-After (it alone); a 401/403 marks it bad for the session."""
        if key is None:
            return
        if isinstance(exc, errors.RateLimited):
            self.pool.cool(key, exc.retry_after or 0.0)
        elif isinstance(exc, errors.AuthenticationFailed) and key.source != "explicit":
            self.pool.refused(key, exc)

    def another(self, provider: str, key: Key | None, explicit: str | None = None) -> bool:
        """Whether a key other than `key` can be used at once (so a retry need not wait, nor count as giving up)."""
        if key is None:
            return False
        try:
            keys = self.pool.usable(provider, explicit)
        except errors.AuthenticationFailed:
            return False
        return any(other.name != key.name and self.pool.cooling(other) == 0 for other in keys)

    async def _hit(self, provider: str, key_id: str) -> float:
        """0 when a call may go now on this key (and counts it); else the seconds until its window has room."""
        rule = self.rate_limits.get(provider)
        if not rule:
            return 0.0
        from limits import parse
        limiter, item = self._window(), parse(rule)
        if await limiter.hit(item, provider, key_id):
            return 0.0
        stats = await limiter.get_window_stats(item, provider, key_id)
        return max(stats.reset_time - time.time(), 0.01)

    async def _wait_slot(self, provider: str, key_id: str) -> None:
        while (room := await self._hit(provider, key_id)) > 0:
            await asyncio.sleep(room)

    def _window(self) -> Any:
        """limits' moving window, in this process or, with `redis_url`, across every kernel and worker sharing it."""
        if self._limiter is None:
            from limits.aio.storage import MemoryStorage
            from limits.aio.strategies import MovingWindowRateLimiter
            from limits.storage import storage_from_string
            url = self.redis_url
            storage = storage_from_string(f"async+{url}", implementation="redispy") if url else MemoryStorage()
            self._limiter = MovingWindowRateLimiter(storage)
        return self._limiter


def retrying(settings: Any, switch: Callable[[], bool] = lambda: False) -> Any:
    """The executor's tries (tenacity) under `settings` (attempts, backoff, max_wait_s): retryable errors back off,
    a 429 waits its Retry-After. `switch()` says another key can be used at once: then a 429 or a refused key goes
    straight on with it (a refused key's call is retried too), and that try does not count against `attempts`."""
    import tenacity
    s = settings
    backoff = tenacity.wait_exponential_jitter(initial=s.backoff_initial_s, max=s.backoff_max_s)
    out_of_time = tenacity.stop_before_delay(s.max_wait_s)
    switched = 0

    def wait(state: Any) -> float:
        nonlocal switched
        exc = state.outcome.exception()
        if isinstance(exc, (errors.RateLimited, errors.AuthenticationFailed)) and switch():
            switched += 1
            return 0.0
        if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
            return exc.retry_after
        return backoff(state)

    def retry(exc: BaseException) -> bool:
        return isinstance(exc, errors.ProviderError) and (
            exc.retryable or (isinstance(exc, errors.AuthenticationFailed) and switch()))

    def stop(state: Any) -> bool:  # tenacity asks after `wait`, which has counted the switches
        return state.attempt_number - switched >= s.attempts or out_of_time(state)

    return tenacity.AsyncRetrying(stop=stop, wait=wait, reraise=True, retry=tenacity.retry_if_exception(retry))
