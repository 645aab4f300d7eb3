"""What the google-genai SDK really sends and receives for the `gemini` provider, against the loopback
generateContent / streamGenerateContent API."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import time

import aiohttp
import pytest

from coditect_magics import providers
from coditect_magics.providers import ImagePart, Message, TextPart, ToolResult, errors
from tests import parts
from tests.conftest import KEY, MESSAGES, closed_port
from tests.fakes import Script
from tests.fakes.gemini_api import GeminiScript

# imported once at collection (~0.6-1 s), not inside the first test
parts.module("google.genai", "pip install -e '.[dev]' (the gemini extra)")


def gemini(server, model: str = "gemini:gemini-2.5-flash", **kw) -> providers.LLM:
    kw.setdefault("api_key", KEY)
    return providers.get(model, base_url=server.url if server else None, **kw)


# what the SDK sends

async def test_request_shape(server):
    llm = gemini(server, temperature=0.2, max_tokens=64)
    await llm.complete(MESSAGES + [{"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Again"}],
                       stop="END")
    sent = server.last
    assert (sent.method, sent.path) == ("POST", "/v1/models/gemini-2.5-flash:generateContent")
    assert sent.headers["x-goog-api-key"] == KEY
    assert "key" not in sent.query and KEY not in sent.path, "the key must never travel in the URL"
    assert "Authorization" not in sent.headers
    assert sent.body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "Say hello."}]},
                                     {"role": "model", "parts": [{"text": "Hello."}]},
                                     {"role": "user", "parts": [{"text": "Again"}]}]
    assert sent.body["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 64, "stopSequences": ["END"]}
    assert sent.headers["X-Server-Timeout"] == "60", "the handle's timeout reaches the SDK"


async def test_defaults_leave_out_what_is_unset(server):
    await providers.get("gemini", api_key=KEY, base_url=server.url).complete("Hi")
    sent = server.last
    assert sent.path == f"/v1/models/{providers.registry.entry('gemini').spec.default_model}:generateContent"
    assert sent.path == "/v1/models/gemini-2.5-flash:generateContent"
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]
    assert sent.body.get("generationConfig", {}) == {}, "the SDK sends an empty generationConfig; nothing in it"
    assert set(sent.body) <= {"contents", "generationConfig"}


async def test_stream_request(server):
    [c async for c in gemini(server).stream(MESSAGES)]
    sent = server.last
    assert sent.path == "/v1/models/gemini-2.5-flash:streamGenerateContent"
    assert sent.query == {"alt": "sse"}, "only alt=sse: the key travels in x-goog-api-key, never in the URL"
    assert sent.headers["x-goog-api-key"] == KEY
    assert sent.body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert "X-Server-Timeout" not in sent.headers, "a stream has no total time limit (see test_long_stream...)"


async def test_api_version_option(server):
    await gemini(server, options={"api_version": "v1beta"}).complete("Hi")
    assert server.last.path == "/v1beta/models/gemini-2.5-flash:generateContent"


async def test_image_part_as_inline_data(server):
    png = b"\x89PNG\r\n\x1a\nfake"
    await gemini(server).complete([Message("user", (TextPart("What is this?"), ImagePart("image/png", png)))])
    text, image = server.last.body["contents"][0]["parts"]
    assert text == {"text": "What is this?"}
    inline = image["inlineData"]
    assert inline["data"] == base64.b64encode(png).decode()
    assert inline.get("mimeType", inline.get("mime_type")) == "image/png"  # google-genai 3.6 sends mime_type


async def test_unconvertible_parts_are_bad_requests(server):
    llm = gemini(server)  # tools themselves are tested in test_tool_wire.py
    with pytest.raises(errors.BadRequest, match="answers no earlier tool call"):
        await llm.complete([Message("user", (ToolResult("call_1", "18 C"),))])
    with pytest.raises(errors.BadRequest, match="a tool message for gemini takes ToolResult parts only"):
        await llm.complete([Message("tool", "18 C")])
    assert not server.requests


async def test_environment_variables(server, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
    reply = await providers.get("gemini").complete("Hi")
    assert reply.text == Script().text
    assert server.last.headers["x-goog-api-key"] == KEY
    assert providers.status("gemini").reason == "key from GEMINI_API_KEY"


async def test_google_api_key_alone(server, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-0002")
    await gemini(server, api_key=None).complete("Hi")
    assert server.last.headers["x-goog-api-key"] == "google-key-0002"


async def test_gemini_key_wins_over_google_key_without_a_wrong_warning(server, monkeypatch, caplog):
    """google-genai itself prefers GOOGLE_API_KEY and says so; the kit takes GEMINI_API_KEY first."""
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key-0001")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-0002")
    with caplog.at_level(logging.INFO, logger="google_genai"):
        await gemini(server, api_key=None).complete("Hi")
    assert server.last.headers["x-goog-api-key"] == "gemini-key-0001"
    assert not [r for r in caplog.records if "GOOGLE_API_KEY" in r.getMessage()]


def test_importing_the_module_does_not_import_the_sdk():
    code = ("import sys, coditect_magics.providers.gemini as g; "
            "assert 'google.genai' not in sys.modules and g.PROVIDER.spec.name == 'gemini'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


# what comes back

async def test_thoughts_are_left_out_of_the_text_and_counted_as_output(server):
    script = GeminiScript(text="Paris.", thought="The capital of France is...", input_tokens=30, output_tokens=2,
                          thoughts_tokens=40, cached_tokens=16)
    server.script(script, script)
    llm = gemini(server)
    reply = await llm.complete("Capital of France?")
    assert reply.text == "Paris."
    assert reply.usage == providers.Usage(input_tokens=30, output_tokens=42, cached_tokens=16)
    stream = llm.stream("Capital of France?")
    chunks = [c async for c in stream]
    assert "".join(c.text for c in chunks) == "Paris."
    assert stream.reply.usage == reply.usage


@pytest.mark.parametrize("scripted, expected", [("content_filter", "content_filter"), ("recitation", "content_filter"),
                                                ("prohibited_content", "content_filter"), ("spii", "content_filter"),
                                                ("other", "other")])  # unusable calls: test_tool_wire.py
async def test_finish_reasons(server, scripted, expected):
    server.script(Script(text="cut short", finish_reason=scripted), Script(text="cut short", finish_reason=scripted))
    llm = gemini(server)
    assert (await llm.complete("Hi")).finish_reason == expected
    stream = llm.stream("Hi")
    [c async for c in stream]
    assert stream.reply.finish_reason == expected


async def test_blocked_prompt(server):
    """A blocked prompt has no candidates, only promptFeedback: an empty reply filtered, not a broken stream."""
    server.script(GeminiScript(block_reason="PROHIBITED_CONTENT", input_tokens=12),
                  GeminiScript(block_reason="SAFETY", input_tokens=12))
    llm = gemini(server)
    reply = await llm.complete("Hi")
    assert (reply.text, reply.finish_reason, reply.usage) == ("", "content_filter", providers.Usage(12, 0))
    stream = llm.stream("Hi")
    chunks = [c async for c in stream]
    assert chunks[-1].finish_reason == "content_filter" and stream.reply.text == ""


# faults

async def test_invalid_key_is_a_400_that_means_authentication(server):
    server.script(Script(status=400, error_message="API key not valid. Please pass a valid API key."))
    with pytest.raises(errors.AuthenticationFailed, match="API key not valid"):
        await gemini(server).complete("Hi")


async def test_prompt_too_long(server):
    server.script(Script(status=400, error_message="The input token count (1200000) exceeds the maximum number of "
                                                   "tokens allowed (1048576)."))
    with pytest.raises(errors.ContextTooLong):
        await gemini(server).complete("Hi")


async def test_rate_limit_names_resource_exhausted(server):
    server.script(Script(status=429, retry_after="2"))
    with pytest.raises(errors.RateLimited, match="RESOURCE_EXHAUSTED"):
        await gemini(server).complete(MESSAGES)


def test_rate_limit_retry_delay_from_the_body():
    """The real API sends no Retry-After header: its hint is a RetryInfo detail in the error body."""
    from google.genai import errors as sdk_errors
    body = {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED",
                      "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}
    mapped = providers.registry.entry("gemini").factory(providers.Settings()).map_error(
        sdk_errors.ClientError(429, body, None))
    assert isinstance(mapped, errors.RateLimited) and mapped.retry_after == 37.0
    assert "Quota exceeded" in str(mapped)


async def test_long_stream_with_timely_chunks_is_not_cut(server):
    """The SDK's timeout is aiohttp's total one; a stream is bounded between chunks instead, like other providers."""
    llm = gemini(server, timeout=1.0)
    await llm.complete("Hi")  # the SDK client is made (~0.2 s: three SSL contexts) before the timed stream
    # 0.1 s between chunks leaves a loaded machine 0.9 s of slack per chunk; the whole stream outlasts the timeout
    text = " ".join(f"w{i}" for i in range(15))
    server.script(Script(text=text, chunk_delay=0.1))
    stream = llm.stream(MESSAGES)
    start = time.perf_counter()
    [c async for c in stream]
    assert time.perf_counter() - start > 1.0
    assert stream.reply.text == text


@pytest.mark.parametrize("stream", [False, True])
async def test_unreachable(server, stream):
    """google-genai raises a raw aiohttp ClientConnectorError, and without retry options it first sleeps 1-10 s
    and tries once more: the adapter's retry options make it fail at once."""
    async def call(llm: providers.LLM) -> None:
        if stream:
            [c async for c in llm.stream(MESSAGES)]
        else:
            await llm.complete(MESSAGES)

    # the baseline: a fresh handle's whole call on the loopback server, measured now, on this machine as loaded now
    start = time.perf_counter()
    await call(gemini(server, timeout=2))
    baseline = time.perf_counter() - start
    llm = providers.get("gemini", api_key=KEY, base_url=f"http://127.0.0.1:{closed_port()}", timeout=2)
    start = time.perf_counter()
    with pytest.raises(errors.Unreachable):
        await call(llm)
    failed = time.perf_counter() - start
    assert failed < 2 * baseline + 0.9, f"{failed:.2f} s, a whole call takes {baseline:.2f} s: the SDK slept to retry"


async def test_missing_key_names_the_model(server):
    """Both variables, the status row and no request are in the conformance suite; the model name is gemini's own."""
    with pytest.raises(errors.MissingCredentials) as caught:
        await gemini(server, api_key=None).complete(MESSAGES)
    assert caught.value.model == "gemini-2.5-flash"


async def test_aclose_then_reuse(server):
    llm = gemini(server)
    await llm.complete("Hi")
    await llm.aclose()
    assert (await llm.complete("Hi")).text == Script().text
    assert len(server.requests) == 2


# the fake itself speaks the documented wire format

async def test_fake_sse_events_and_error_body(server):
    url = f"{server.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    payload = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=payload) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            raw = await response.text()
        server.script(Script(status=429, retry_after="3"))
        async with session.post(url, json=payload) as response:
            assert response.status == 429 and "Retry-After" not in response.headers  # the wait is in the body
            error = await response.json()
    blocks = [b for b in raw.split("\r\n\r\n") if b]
    assert all(b.startswith("data: ") for b in blocks)
    events = [json.loads(b[len("data: "):]) for b in blocks]
    assert "".join(p["text"] for e in events for p in e["candidates"][0]["content"]["parts"]) == Script().text
    assert all("finishReason" not in e["candidates"][0] for e in events[:-1])
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"
    assert events[-1]["usageMetadata"] == {"promptTokenCount": 11, "candidatesTokenCount": 7, "totalTokenCount": 18}
    assert events[-1]["modelVersion"] == "gemini-2.5-flash"
    assert error["error"]["code"] == 429 and error["error"]["status"] == "RESOURCE_EXHAUSTED"
    retry = [d for d in error["error"]["details"] if d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"]
    assert [d["retryDelay"] for d in retry] == ["3s"]
