"""What the anthropic SDK really sends and receives for the `anthropic` provider, against the loopback Messages API."""

from __future__ import annotations

import base64
import json
import socket
import traceback
import warnings

import aiohttp
import pytest

pytest.importorskip("anthropic")  # imported at collection: its ~1 s import is not charged to the first test

from coditect_magics import providers
from coditect_magics.providers import ImagePart, Message, TextPart, ToolCall, ToolResult, ToolSpec, errors
from tests.fakes import Script
from tests.fakes.anthropic_api import AnthropicScript

KEY = "sk-test-SECRET-123456"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


@pytest.fixture(autouse=True)
async def close_handles():
    """Close every handle a test made, on the test's own loop (a dropped SDK client closes itself later on
    whatever loop is running then, which logs 'Event loop is closed')."""
    yield
    while HANDLES:
        await HANDLES.pop().aclose()


HANDLES: list[providers.LLM] = []


def claude(server, model: str = "anthropic:claude-sonnet-4-6", **kw) -> providers.LLM:
    kw.setdefault("api_key", KEY)
    kw.setdefault("base_url", server.url if server else None)
    HANDLES.append(providers.get(model, **kw))
    return HANDLES[-1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# what the SDK sends

async def test_request_shape(server):
    llm = claude(server, max_tokens=64)
    await llm.complete(MESSAGES + [{"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Again"}],
                       stop="END")
    sent = server.last
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["anthropic-version"]
    assert sent.body["model"] == "claude-sonnet-4-6"
    assert sent.body["system"] == "Be brief."
    assert sent.body["messages"] == [{"role": "user", "content": "Say hello."},
                                     {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Again"}]
    assert "temperature" not in sent.body, "API version 2026-10-21 refuses sampling parameters"
    assert sent.body["max_tokens"] == 64
    assert sent.body["stop_sequences"] == ["END"]
    assert "stream" not in sent.body


async def test_defaults_max_tokens_and_leaves_out_what_is_unset(server):
    await claude(server, "anthropic").complete("Hi")
    body = server.last.body
    assert body["model"] == "claude-sonnet-4-6" == providers.registry.entry("anthropic").spec.default_model
    assert body["max_tokens"] == 1024
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert not {"system", "temperature", "stop_sequences", "tools"} & set(body)


async def test_image_part_as_base64_block(server):
    png = b"\x89PNG\r\n\x1a\nfake"
    await claude(server).complete([Message("user", (TextPart("What is this?"), ImagePart("image/png", png)))])
    assert server.last.body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(png).decode()}}]


async def test_unconvertible_part_is_a_bad_request(server):
    with pytest.raises(errors.BadRequest, match="dict parts are not supported"):
        await claude(server).complete([{"role": "user", "content": [{"type": "audio"}]}])
    assert not server.requests


async def test_environment_variables(server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    reply = await claude(None, "claude", api_key=None).complete("Hi")
    assert reply.text == Script().text
    assert server.last.credential == KEY
    assert providers.status("anthropic").usable


async def test_base_url_with_v1_still_reaches_messages(server):
    await claude(None, base_url=f"{server.url}/v1/").complete("Hi")
    assert server.last.path == "/v1/messages"


# replies

async def test_whole_reply(server):
    server.script(Script(text="Hello, notebook.", input_tokens=21, output_tokens=4))
    reply = await claude(server).complete(MESSAGES)
    assert reply.text == "Hello, notebook."
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (21, 4)
    assert reply.finish_reason == "stop"
    assert (reply.provider, reply.model) == ("anthropic", "claude-sonnet-4-6")
    assert reply.latency_s > 0
    assert len(server.requests) == 1


async def test_server_reported_model(server):
    server.script(Script(model="claude-sonnet-4-6-20260301"), Script(model="claude-sonnet-4-6-20260301"))
    llm = claude(server)
    assert (await llm.complete("Hi")).model == "claude-sonnet-4-6-20260301"
    stream = llm.stream("Hi")
    chunks = [c async for c in stream]
    assert chunks[-1].model == stream.reply.model == "claude-sonnet-4-6-20260301"


async def test_stream(server):
    text = "Streaming works, one word at a time."
    server.script(Script(text=text, input_tokens=9, output_tokens=8))
    stream = claude(server, max_tokens=50).stream(MESSAGES)
    chunks = [chunk async for chunk in stream]
    assert [c.text for c in chunks if c.text] == ["Streaming ", "works, ", "one ", "word ", "at ", "a ", "time."]
    assert "".join(c.text for c in chunks) == text
    assert chunks[-1].usage == providers.Usage(9, 8)
    assert chunks[-1].finish_reason == "stop"
    assert all(c.usage is None and c.finish_reason is None for c in chunks[:-1])
    assert stream.reply.text == text and stream.reply.usage == providers.Usage(9, 8)
    assert stream.reply.ttft_s is not None
    sent = server.last.body
    assert sent["stream"] is True and sent["system"] == "Be brief." and sent["max_tokens"] == 50


async def test_thinking_blocks_are_left_out(server):
    script = AnthropicScript(text="The answer is 4.", thinking="2 plus 2 makes 4, so", output_tokens=30)
    server.script(script, script)
    llm = claude(server)
    assert (await llm.complete("2+2?")).text == "The answer is 4."
    stream = llm.stream("2+2?")
    chunks = [c async for c in stream]
    assert "".join(c.text for c in chunks) == "The answer is 4."
    assert stream.reply.usage.output_tokens == 30


@pytest.mark.parametrize("scripted, expected", [("length", "length"), ("stop_sequence", "stop"),
                                                ("content_filter", "content_filter"), ("pause_turn", "pause_turn")])
async def test_stop_reasons(server, scripted, expected):
    server.script(Script(finish_reason=scripted), Script(finish_reason=scripted))
    llm = claude(server)
    assert (await llm.complete("Hi")).finish_reason == expected
    chunks = [c async for c in llm.stream("Hi")]
    assert chunks[-1].finish_reason == expected


async def test_tool_calls(server):
    call = {"id": "toolu_01", "name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}
    script = Script(text="Let me look.", tool_calls=[call], finish_reason="tool_calls")
    server.script(script, script)
    tool = ToolSpec("get_weather", "Weather in a city", {"type": "object", "properties": {"city": {"type": "string"}}})
    llm = claude(server)
    reply = await llm.complete("Weather in Paris?", tools=(tool,))
    assert reply.tool_calls == (ToolCall("toolu_01", "get_weather", {"city": "Paris", "unit": "C"}),)
    assert reply.finish_reason == "tool_calls" and reply.text == "Let me look."
    assert server.last.body["tools"] == [{"name": "get_weather", "description": "Weather in a city",
                                          "input_schema": dict(tool.parameters)}]
    stream = llm.stream("Weather in Paris?", tools=(tool,))
    [c async for c in stream]
    assert stream.reply.tool_calls == reply.tool_calls and stream.reply.finish_reason == "tool_calls"


async def test_tool_results_go_back_as_blocks(server):
    messages = [{"role": "user", "content": "Weather in Paris?"},
                Message("assistant", (ToolCall("toolu_01", "get_weather", {"city": "Paris"}),)),
                Message("tool", (ToolResult("toolu_01", "18 C, sunny"),))]
    await claude(server).complete(messages)
    assert server.last.body["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C, sunny",
                                      "is_error": False}]}]


# faults

@pytest.mark.parametrize("status, error", [(401, errors.AuthenticationFailed), (403, errors.AuthenticationFailed),
                                           (404, errors.ModelNotFound), (400, errors.BadRequest),
                                           (500, errors.ServerError), (503, errors.ServerError),
                                           (529, errors.ServerError)])
async def test_status_errors(server, status, error):
    server.script(Script(status=status, error_message=f"scripted {status}"))
    with pytest.raises(error) as caught:
        await claude(server).complete(MESSAGES)
    assert f"scripted {status}" in str(caught.value)
    assert len(server.requests) == 1, "the SDK's own retries must be off"


async def test_prompt_too_long(server):
    server.script(Script(status=400, error_message="prompt is too long: 210000 tokens > 200000 maximum"))
    with pytest.raises(errors.ContextTooLong):
        await claude(server).complete("Hi")


async def test_rate_limit_carries_retry_after(server):
    server.script(Script(status=429, retry_after="2"))
    with pytest.raises(errors.RateLimited) as caught:
        await claude(server).complete(MESSAGES)
    assert caught.value.retry_after == 2.0
    assert len(server.requests) == 1


async def test_rate_limit_in_stream(server):
    server.script(Script(status=429, retry_after="1"))
    with pytest.raises(errors.RateLimited) as caught:
        [c async for c in claude(server).stream(MESSAGES)]
    assert caught.value.retry_after == 1.0
    assert len(server.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_timeout(server, stream):
    server.script(Script(delay=0.8))
    llm = claude(server, timeout=0.5)
    with pytest.raises(errors.Timeout):
        if stream:
            [c async for c in llm.stream(MESSAGES)]
        else:
            await llm.complete(MESSAGES)


async def test_cut_stream_keeps_partial_text(server):
    server.script(Script(text="one two three four five", cut_after=2))
    received = []
    with pytest.raises(errors.StreamCut) as caught:
        async for chunk in claude(server).stream(MESSAGES):
            received.append(chunk.text)
    assert caught.value.partial == "one two " == "".join(received)


async def test_stream_without_final_events_is_cut(server):
    server.script(Script(text="one two three", end_early=True))
    with pytest.raises(errors.StreamCut) as caught:
        [c async for c in claude(server).stream(MESSAGES)]
    assert caught.value.partial == "one two three"


@pytest.mark.parametrize("stream", [False, True])
async def test_bad_json(server, stream):
    server.script(Script(bad_json=True))
    llm = claude(server)
    with pytest.raises(errors.BadResponse):
        if stream:
            [c async for c in llm.stream(MESSAGES)]
        else:
            await llm.complete(MESSAGES)


async def test_error_event_inside_a_stream():
    """The API can report a failure as an `error` event after a 200; its error.type gives the kind."""
    import anthropic
    import httpx2
    response = httpx2.Response(200, request=httpx2.Request("POST", "http://127.0.0.1/v1/messages"))
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    exc = anthropic.APIStatusError(str(body), response=response, body=body)
    mapped = providers.registry.entry("anthropic").factory(providers.Settings()).map_error(exc)
    assert isinstance(mapped, errors.ServerError) and mapped.status == 529 and "Overloaded" in str(mapped)


async def test_unreachable():
    with pytest.raises(errors.Unreachable):
        await claude(None, base_url=f"http://127.0.0.1:{closed_port()}", timeout=2).complete(MESSAGES)


async def test_missing_key_names_the_variable(server):
    with pytest.raises(errors.MissingCredentials) as caught:
        await claude(server, api_key=None).complete(MESSAGES)
    assert "ANTHROPIC_API_KEY" in str(caught.value)
    assert caught.value.variables == ("ANTHROPIC_API_KEY",)
    assert not server.requests
    row = providers.status("anthropic")
    assert not row.usable and row.reason == "ANTHROPIC_API_KEY not set"


async def test_key_echoed_by_server_never_shows(server):
    server.script(Script(status=401, echo_key=True), Script(status=400, echo_key=True),
                  Script(status=429, echo_key=True))
    llm = claude(server)
    for stream in (False, False, True):
        with pytest.raises(errors.ProviderError) as caught:
            if stream:
                [c async for c in llm.stream(MESSAGES)]
            else:
                await llm.complete(MESSAGES)
        err = caught.value
        assert server.last.credential == KEY, "the test server must really have received the key"
        shown = str(err) + repr(err) + "".join(traceback.format_exception(err))
        assert KEY not in shown and "***" in shown


# one-line warnings

async def test_temperature_is_left_out_with_one_warning(server):
    llm = claude(server, temperature=0.2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await llm.complete("Hi")
        await llm.complete("Hi")
    assert "temperature" not in server.last.body
    caught = [w for w in caught if w.category is not ResourceWarning]
    assert [(w.category, "\n" in str(w.message)) for w in caught] == [(UserWarning, False)]
    assert "temperature" in str(caught[0].message)


async def test_deprecated_model_warns_in_one_line_once(server):
    llm = claude(server, "anthropic:claude-sonnet-4-5")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await llm.complete("Hi")
        [c async for c in llm.stream("Hi")]
        await claude(server).complete("Hi")  # a current model: no warning
    caught = [w for w in caught if w.category is not ResourceWarning]
    assert [(w.category, "\n" in str(w.message)) for w in caught] == [(FutureWarning, False)]
    assert "claude-sonnet-4-5" in str(caught[0].message) and "November 30th, 2026" in str(caught[0].message)
    assert caught[0].filename == __file__, "the warning points at the caller's line"
    assert server.requests[0].body["model"] == "claude-sonnet-4-5"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [c async for c in claude(server, "anthropic:claude-sonnet-4-5").stream("Hi")]  # a new handle, streaming
    assert [w.filename for w in caught if w.category is FutureWarning] == [__file__]


# the fake itself speaks the documented wire format

async def test_fake_sse_event_sequence(server):
    async with aiohttp.ClientSession() as session:
        payload = {"model": "claude-sonnet-4-6", "max_tokens": 10, "stream": True,
                   "messages": [{"role": "user", "content": "Hi"}]}
        async with session.post(f"{server.url}/v1/messages", json=payload) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            raw = await response.text()
        server.script(Script(status=429))
        async with session.post(f"{server.url}/v1/messages", json=payload) as response:
            error = await response.json()
    events = [block.split("\n") for block in raw.strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in events]
    datas = [json.loads(lines[1].removeprefix("data: ")) for lines in events]
    words = len(Script().text.split())
    assert names == (["message_start", "content_block_start", "ping"] + ["content_block_delta"] * words
                     + ["content_block_stop", "message_delta", "message_stop"])
    assert [d["type"] for d in datas] == names
    assert datas[0]["message"]["usage"]["input_tokens"] == Script().input_tokens
    assert datas[-2]["delta"]["stop_reason"] == "end_turn" and datas[-2]["usage"]["output_tokens"] == 7
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"
