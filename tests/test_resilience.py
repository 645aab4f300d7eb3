"""Retries on what networks do: a server that accepts and then stalls past the timeout, one that resets the
connection, and Gemini's 429 whose wait comes only as a google.rpc.RetryInfo in the body. Each SDK's failure maps
to a retryable kit error; the executor retries it (counted at the server) and then falls back to the next model,
also under `%llm --fallback` in a real shell. Waits are checked from below only, on the server's arrival times."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from coditect_magics.providers import errors
from tests.fakes import Script
from tests.wire import KEY, drain, executor, options, rows

MODELS = {"anthropic": "anthropic:claude-sonnet-4-6", "openai": "openai:gpt-4.1-mini",
          "gemini": "gemini:gemini-2.5-flash", "huggingface": "huggingface:tgi", "ollama": "ollama:llama3.2"}
PATHS = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions", "huggingface": "/v1/chat/completions",
         "ollama": "/api/chat"}
STALL = Script(delay=5.0)    # accepts, reads the request, then sends nothing (until the client hangs up)
RESET = Script(reset=True)   # accepts, reads the request, then resets the connection (TCP RST)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", ["stall", "reset"])
@pytest.mark.parametrize("provider", sorted(MODELS))
async def test_each_sdk_maps_stalls_and_resets_to_retryable_errors(server, handles, provider, fault, stream):
    # what a first call pays (huggingface_hub imports httpx2 and more then, ~1 s; each client makes its SSL
    # contexts) is paid before the short timeout counts: a handle with a long one, then the test's own handle
    await handles(MODELS[provider], timeout=30, **options(server.url)[provider]).complete("Hi")
    llm = handles(MODELS[provider], timeout=1.0, **options(server.url)[provider])
    await llm.complete("Hi")
    server.script(STALL if fault == "stall" else RESET)
    with pytest.raises(errors.ProviderError) as caught:
        if stream:
            await drain(llm.stream("Hi"))
        else:
            await llm.complete("Hi")
    assert caught.value.retryable and caught.value.fallback, repr(caught.value)
    if fault == "stall":
        assert isinstance(caught.value, errors.Timeout)
    assert len(server.requests) == 3


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", ["stall", "reset"])
async def test_executor_retries_then_falls_back(server, tmp_path, fault, stream):
    script = STALL if fault == "stall" else RESET
    server.script(script, script, Script(text="from the fallback"))
    async with executor(tmp_path, server.url, attempts=2, timeout_s=1.0) as ex:
        execution = ex.stream("openai:gpt-4.1-mini", "Hi", fallbacks=["anthropic:claude-sonnet-4-6"], stream=stream)
        assert await drain(execution) == "from the fallback"
    assert [r.path for r in server.requests] == [PATHS["openai"]] * 2 + [PATHS["anthropic"]]
    recorded = rows(ex)
    assert [(r["provider"], r["status"]) for r in recorded] == [("openai", "error")] * 2 + [("anthropic", "ok")]
    if fault == "stall":
        assert {r["error_class"] for r in recorded[:2]} == {"Timeout"}
        assert server.requests[1].at - server.requests[0].at >= 0.5, "the first try waited (most of) its 1 s timeout"


def test_llm_magic_falls_back_past_a_stalled_server(shell, thread_server):
    shell.run_line_magic("config", "CoditectMagics.timeout = 1.0")
    shell.run_line_magic("config", "CoditectMagics.attempts = 2")
    thread_server.script(STALL, RESET, Script(text="Claude answers."))
    with capture_output():
        result = shell.run_line_magic("llm", "--fallback anthropic:claude-sonnet-4-6 openai:gpt-4.1-mini Hi")
    assert (result.text, result.model) == ("Claude answers.", "anthropic:claude-sonnet-4-6")
    assert [r.path for r in thread_server.requests] == [PATHS["openai"]] * 2 + [PATHS["anthropic"]]


# Gemini's RetryInfo

async def test_gemini_rate_limit_reads_retry_info_from_the_body(server, handles):
    server.script(Script(status=429, retry_after="1.5", error_message="Quota exceeded for metric"))
    with pytest.raises(errors.RateLimited) as caught:
        await handles(MODELS["gemini"], **options(server.url)["gemini"]).complete("Hi")
    assert caught.value.retry_after == 1.5 and "RESOURCE_EXHAUSTED" in str(caught.value)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_executor_waits_as_gemini_asks(server, tmp_path, stream):
    """The backoff here is 0.01-0.05 s: only the server's RetryInfo can make the second try wait a second."""
    server.script(Script(status=429, retry_after="1"), Script(text="after the wait"))
    async with executor(tmp_path, server.url) as ex:
        execution = ex.stream(MODELS["gemini"], "Hi", stream=stream)
        assert await drain(execution) == "after the wait"
    first, second = server.requests
    assert second.at - first.at >= 1.0
    assert [r["status"] for r in rows(ex)] == ["error", "ok"] and rows(ex)[0]["error_class"] == "RateLimited"


def test_llm_magic_waits_as_gemini_asks(shell, thread_server, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    url = thread_server.url
    shell.run_line_magic("config", f"CoditectMagics.base_urls = {{'gemini': '{url}'}}")
    thread_server.script(Script(status=429, retry_after="1"), Script(text="Gemini answers."))
    with capture_output():
        result = shell.run_line_magic("llm", "gemini:gemini-2.5-flash Hi")
    assert result.text == "Gemini answers."
    first, second = thread_server.requests
    assert second.at - first.at >= 1.0


async def test_gemini_429_carries_no_retry_after_header(server):
    """What makes the tests above honest: the fake's 429 has no Retry-After header, as the real API's has not."""
    import aiohttp
    server.script(Script(status=429, retry_after="1"))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.url}/v1/models/gemini-2.5-flash:generateContent",
                                json={"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}) as response:
            status, headers, body = response.status, response.headers, await response.json()
    assert status == 429 and "Retry-After" not in headers
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"} in body["error"]["details"]
