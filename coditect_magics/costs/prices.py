"""What a call cost: genai-prices' bundled (offline) price data, user overrides, and free local compute.

An unknown price is unknown — `PriceResult(None, known=False)` — never a crash and never a guessed number."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

#: Providers that run on the user's own machine: their calls cost nothing (known, not guessed).
LOCAL_PROVIDERS: set[str] = {"ollama", "lmstudio", "local", "embedded", "llamacpp", "llama_cpp", "llama-cpp"}

#: The kit's provider names where genai-prices calls the provider something else.
GENAI_PROVIDER_IDS: dict[str, str] = {"anthropic": "anthropic", "openai": "openai", "gemini": "google",
                                      "google": "google"}

_lock = threading.Lock()
# (provider or None, model lower-cased, "*" for every model of a provider) -> (input, output, cached) USD per Mtok
_overrides: dict[tuple[str | None, str], tuple[float, float, float | None]] = {}


@dataclass(frozen=True)
class PriceResult:
    """The cost of one call in USD; `usd` is None (and `known` False) when no price is known for the model.

    `source` says where the figure came from: "genai-prices", "override", "local" or "unknown"; `basis` how a batch
    request was priced: "batch" (genai-prices lists the model's batch price) or "batch-discount" (the standard price
    at the providers' documented batch discount); None at the standard rate."""

    usd: float | None
    known: bool
    source: str = "unknown"
    basis: str | None = None


UNKNOWN = PriceResult(None, False, "unknown")

#: What a batch request costs against the standard price where genai-prices lists no batch price: OpenAI's Batch
#: API, Anthropic's Message Batches and Gemini's batch mode each document 50%.
BATCH_DISCOUNT = 0.5


def set_price(provider: str | None, model: str, input_per_mtok: float, output_per_mtok: float,
              cached_per_mtok: float | None = None) -> None:
    """Override a model's price (USD per million tokens); it wins over genai-prices and over local pricing.

    `provider=None` applies to the model under any provider; `model="*"` to every model of `provider`.
    Cached input tokens are charged `cached_per_mtok`, or the input price when that is None."""
    if provider is None and model == "*":
        raise ValueError("set_price(None, '*') would price every call: name a provider or a model")
    for name, value in (("input_per_mtok", input_per_mtok), ("output_per_mtok", output_per_mtok),
                        ("cached_per_mtok", cached_per_mtok)):
        if value is not None and not value >= 0:
            raise ValueError(f"{name} must be a non-negative number of USD per million tokens, got {value!r}")
    key = (provider.lower() if provider else None, model.lower())
    with _lock:
        _overrides[key] = (float(input_per_mtok), float(output_per_mtok),
                           None if cached_per_mtok is None else float(cached_per_mtok))


def clear_prices(provider: str | None = None, model: str | None = None) -> None:
    """Drop overrides: all of them, or those matching the given provider and/or model."""
    with _lock:
        for key in list(_overrides):
            if (provider is None or key[0] == provider.lower()) and (model is None or key[1] == model.lower()):
                del _overrides[key]


def _tokens(usage: Any) -> tuple[int, int, int]:
    """(input, output, cached) from a kit `Usage`, any object with those attributes, or a mapping."""
    if usage is None:
        return 0, 0, 0
    get = usage.get if isinstance(usage, dict) else (lambda name, default=0: getattr(usage, name, default))
    return int(get("input_tokens", 0) or 0), int(get("output_tokens", 0) or 0), int(get("cached_tokens", 0) or 0)


def _cache_writes(usage: Any) -> int:
    """Prompt tokens written to the provider's cache (counted in input too), from a Usage, an object or a mapping."""
    if usage is None:
        return 0
    value = usage.get("cache_write_tokens", 0) if isinstance(usage, dict) else getattr(usage, "cache_write_tokens", 0)
    return int(value or 0)


def _override(provider: str, model: str) -> tuple[float, float, float | None] | None:
    model = model.lower()
    for key in ((provider, model), (provider, "*"), (None, model)):
        if key in _overrides:
            return _overrides[key]
    return None


def _genai_target(provider: str, model: str) -> tuple[str, str] | None:
    """genai-prices' (provider id, model ref) for a kit call, or None when genai-prices cannot price it."""
    if provider == "huggingface":
        # The HF router bills through an inference provider named after a colon ("org/model:groq"); without
        # that suffix it picks one itself and we cannot know which, so the price is unknown.
        base, sep, router = model.rpartition(":")
        return (f"huggingface_{router.lower()}", base) if sep and base and router else None
    return GENAI_PROVIDER_IDS.get(provider, provider), model


def _genai_price(provider_id: str, model: str, tokens: tuple[int, int, int], when: datetime | None,
                 writes: int = 0, batch: bool = False) -> float | None:
    """genai-prices' figure for these tokens, None where it has none. Kept per figures (a batch of thousands of
    rows repeats the same few usages): an undated call's figure is kept for the day it was asked on."""
    today = datetime.now(tz=timezone.utc).date() if when is None else None
    return _genai_figure(provider_id, model, tokens, when, writes, batch, today)


@functools.lru_cache(maxsize=4096)
def _genai_figure(provider_id: str, model: str, tokens: tuple[int, int, int], when: datetime | None, writes: int,
                  batch: bool, today: date | None) -> float | None:
    try:
        import genai_prices  # ~0.2 s: only on first use
        inp, out, cached = tokens
        # genai-prices' input_tokens counts the cache's reads and writes too, as the kit's does
        usage = genai_prices.Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cached or None,
                                   cache_write_tokens=writes or None)
        return float(genai_prices.calc_price(usage, model, provider_id=provider_id, genai_request_timestamp=when,
                                             price_context={"processing": "batch"} if batch else None).total_price)
    except Exception:  # LookupError for unknown models; anything else in the price data must not break a call
        return None


def lists_batch_price(provider_id: str, model: str, when: datetime | None = None) -> bool:
    """Whether genai-prices' data has a batch price variant (`processing: batch`) for the model in force `when`."""
    return _lists_batch_price(provider_id, model, when or datetime.now(tz=timezone.utc).replace(
        minute=0, second=0, microsecond=0))


@functools.lru_cache(maxsize=1024)
def _lists_batch_price(provider_id: str, model: str, at: datetime) -> bool:
    """`lists_batch_price` at a given time (an undated question is asked by the hour, so it is kept that long)."""
    try:
        from genai_prices import data_snapshot
        info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)[1]
        return any(v.when.get("processing") == "batch" and (v.constraint is None or v.constraint.active(at))
                   for v in info.price_variants or ())
    except Exception:  # LookupError for unknown models: no listed batch price
        return False


def _batch(result: PriceResult, provider_id: str, model: str, tokens: tuple[int, int, int], when: datetime | None,
           writes: int) -> PriceResult:
    """A standard-rate result repriced for a batch request: genai-prices' batch price where it lists one, else the
    documented discount (marked so)."""
    if not result.known or result.source == "local":
        return result
    if result.source == "genai-prices" and lists_batch_price(provider_id, model, when):
        usd = _genai_price(provider_id, model, tokens, when, writes, batch=True)
        if usd is not None:
            return PriceResult(usd, True, result.source, "batch")
    return PriceResult(result.usd * BATCH_DISCOUNT, True, result.source, "batch-discount")


def price(provider: str, model: str, usage: Any, *, when: datetime | None = None, batch: bool = False) -> PriceResult:
    """The cost of a call with `usage` (input tokens counting the cached ones too, output, cached tokens, and the
    tokens written to the cache, which genai-prices bills at the model's cache-write price; an override bills them
    as input).

    Order: a user override (`set_price`), then local providers (0 USD, known), then genai-prices' bundled data
    for the provider (anthropic, openai, gemini → google, huggingface with an ":inference-provider" suffix,
    or any provider id genai-prices knows). `when` picks historical prices (default: now). `batch`: the request
    went through a provider's batch API (`PriceResult.basis` says how it was priced)."""
    provider = (provider or "").lower()
    model = model or ""
    if provider == "search" and ":" in model:  # the search wrapper is priced as the model it wraps
        provider, model = model.split(":", 1)
    tokens = _tokens(usage)
    inp, out, cached = tokens
    override = _override(provider, model)
    if override is not None:
        in_price, out_price, cached_price = override
        cached = min(cached, inp)
        usd = ((inp - cached) * in_price + cached * (in_price if cached_price is None else cached_price)
               + out * out_price) / 1_000_000
        result = PriceResult(usd, True, "override")
        return _batch(result, provider, model, tokens, when, 0) if batch else result
    if provider in LOCAL_PROVIDERS:
        return PriceResult(0.0, True, "local")
    target = _genai_target(provider, model)
    if target is None:
        return UNKNOWN
    usd = _genai_price(target[0], target[1], tokens, when, _cache_writes(usage))
    if usd is None:
        return UNKNOWN
    result = PriceResult(usd, True, "genai-prices")
    return _batch(result, *target, tokens, when, _cache_writes(usage)) if batch else result
