"""Prompt-cache tokens as each API reports them, through the real SDKs and the executor into the ledger: the ledger's
cached tokens and cost must be genai-prices' own figures for the usage the server sent (genai-prices reads the
API's usage object itself here, so the test does not restate how each API counts)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import Script
from tests.wire import drain, executor, rows

# (model id, script, the usage the server puts on the wire for it, genai-prices' provider id and API flavour)
CASES = {
    # Anthropic's input_tokens leaves out the cache's reads and writes; writes cost more than plain input
    "anthropic": ("anthropic:claude-sonnet-4-6",
                  Script(text="Cached.", input_tokens=120, cached_tokens=2048, cache_write_tokens=512,
                         output_tokens=40),
                  {"model": "claude-sonnet-4-6",
                   "usage": {"input_tokens": 120, "cache_read_input_tokens": 2048,
                             "cache_creation_input_tokens": 512, "output_tokens": 40}},
                  "anthropic", "default"),
    # OpenAI's prompt_tokens counts the cached ones; prompt_tokens_details.cached_tokens says how many
    "openai": ("openai:gpt-4.1-mini",
               Script(text="Cached.", input_tokens=3000, cached_tokens=2048, output_tokens=40),
               {"model": "gpt-4.1-mini",
                "usage": {"prompt_tokens": 3000, "completion_tokens": 40,
                          "prompt_tokens_details": {"cached_tokens": 2048}}},
               "openai", "chat"),
    # Gemini's promptTokenCount counts them too; cachedContentTokenCount says how many
    "gemini": ("gemini:gemini-2.5-flash",
               Script(text="Cached.", input_tokens=3000, cached_tokens=2048, output_tokens=40),
               {"modelVersion": "gemini-2.5-flash",
                "usageMetadata": {"promptTokenCount": 3000, "candidatesTokenCount": 40,
                                  "cachedContentTokenCount": 2048, "totalTokenCount": 3040}},
               "google", "default"),
}


def genai_figures(wire: dict[str, Any], provider_id: str, flavor: str) -> tuple[int, int, float]:
    """(input tokens, cache reads, USD) as genai-prices extracts and prices the API's own usage object."""
    import genai_prices
    extracted = genai_prices.extract_usage(wire, provider_id=provider_id, api_flavor=flavor)
    return (extracted.usage.input_tokens, extracted.usage.cache_read_tokens,
            float(extracted.calc_price().total_price))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("api", sorted(CASES))
async def test_ledger_holds_genai_prices_figures_for_cached_tokens(server, tmp_path, api, stream):
    model, script, wire, provider_id, flavor = CASES[api]
    server.script(script)
    async with executor(tmp_path, server.url) as ex:
        execution = ex.stream(model, "Summarise the cached document.", stream=stream)
        assert await drain(execution) == "Cached."
    [row] = rows(ex)
    inp, cached, usd = genai_figures(wire, provider_id, flavor)
    assert cached > 0 and (row["input_tokens"], row["cached_tokens"]) == (inp, cached)
    assert row["cost_usd"] == pytest.approx(usd, rel=1e-9) and row["price_known"]
    assert execution.reply.usage.cached_tokens == cached


async def test_cache_writes_are_charged_above_plain_input(server, tmp_path):
    """The same Anthropic prompt is dearer when its tokens are written to the cache than when they are plain input:
    a kit that dropped cache_creation_input_tokens (or priced them as input) would show both alike."""
    plain = Script(text="x", input_tokens=632, output_tokens=40)
    written = Script(text="x", input_tokens=120, cache_write_tokens=512, output_tokens=40)
    server.script(plain, written)
    async with executor(tmp_path, server.url) as ex:
        await ex.run("anthropic:claude-sonnet-4-6", "Hi")
        await ex.run("anthropic:claude-sonnet-4-6", "Hi again")
    first, second = rows(ex)
    assert first["input_tokens"] == second["input_tokens"] == 632
    assert second["cost_usd"] > first["cost_usd"]


async def test_stream_usage_from_message_start_alone(server, tmp_path):
    """Older Anthropic streams put the input and cache figures in message_start only, and just output_tokens in
    message_delta: the cache figures must survive the delta."""
    from tests.fakes.anthropic_api import AnthropicScript
    server.script(AnthropicScript(text="Cached.", input_tokens=120, cached_tokens=2048, cache_write_tokens=512,
                                  output_tokens=40, delta_usage="output"))
    async with executor(tmp_path, server.url) as ex:
        await drain(ex.stream("anthropic:claude-sonnet-4-6", "Hi"))
    [row] = rows(ex)
    inp, cached, usd = genai_figures(CASES["anthropic"][2], "anthropic", "default")
    assert (row["input_tokens"], row["cached_tokens"], row["output_tokens"]) == (inp, cached, 40)
    assert row["cost_usd"] == pytest.approx(usd, rel=1e-9)
