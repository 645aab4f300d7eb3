"""What the anthropic SDK really sends and receives for the `anthropic` provider, against the loopback Messages API."""

from __future__ import annotations

import base64
import json
import warnings

import aiohttp
import pytest

from tests import parts

# imported at collection: its ~1 s import is not charged to the first test
parts.module("anthropic", "pip install -e '.[dev]' (the anthropic extra)")

from coditect_magics import providers  # noqa: E402
from coditect_magics.providers import ImagePart, Message, TextPart, ToolCall, ToolResult, ToolSpec, errors  # noqa: E402
from tests.conftest import KEY, MESSAGES  # noqa: E402
from tests.fakes import Script  # noqa: E402
from tests.fakes.anthropic_api import AnthropicScript  # noqa: E402


@pytest.fixture
def claude(server, handles):
    """`claude(model, **kw)`: a handle on the loopback server with the test key, closed when the test ends."""
    def get(model: str = "anthropic:claude-sonnet-4-6", **kw) -> providers.LLM:
        kw.setdefault("api_key", KEY)
        kw.setdefault("base_url", server.url)
        return handles(model, **kw)
    return get


# what the SDK sends

async def test_request_shape(server, claude):
    llm = claude(max_tokens=64)
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


async def test_defaults_max_tokens_and_leaves_out_what_is_unset(server, claude):
    await claude("anthropic").complete("Hi")
    body = server.last.body
    assert body["model"] == "claude-sonnet-4-6" == providers.registry.entry("anthropic").spec.default_model
    assert body["max_tokens"] == 1024
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert not {"system", "temperature", "stop_sequences", "tools"} & set(body)


async def test_image_part_as_base64_block(server, claude):
    png = b"\x89PNG\r\n\x1a\nfake"
    await claude().complete([Message("user", (TextPart("What is this?"), ImagePart("image/png", png)))])
    assert server.last.body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(png).decode()}}]


async def test_unconvertible_part_is_a_bad_request(server, claude):
    with pytest.raises(errors.BadRequest, match="dict parts are not supported"):
        await claude().complete([{"role": "user", "content": [{"type": "audio"}]}])
    assert not server.requests


async def test_environment_variables(server, monkeypatch, claude):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    reply = await claude("claude", api_key=None, base_url=None).complete("Hi")
    assert reply.text == Script().text
    assert server.last.credential == KEY
    assert providers.status("anthropic").usable


async def test_base_url_with_v1_still_reaches_messages(server, claude):
    await claude(base_url=f"{server.url}/v1/").complete("Hi")
    assert server.last.path == "/v1/messages"


async def test_stream_request(server, claude):
    [c async for c in claude(max_tokens=50).stream(MESSAGES)]
    sent = server.last.body
    assert sent["stream"] is True and sent["system"] == "Be brief." and sent["max_tokens"] == 50


# replies

async def test_thinking_blocks_are_left_out(server, claude):
    script = AnthropicScript(text="The answer is 4.", thinking="2 plus 2 makes 4, so", output_tokens=30)
    server.script(script, script)
    llm = claude()
    assert (await llm.complete("2+2?")).text == "The answer is 4."
    stream = llm.stream("2+2?")
    chunks = [c async for c in stream]
    assert "".join(c.text for c in chunks) == "The answer is 4."
    assert stream.reply.usage.output_tokens == 30


@pytest.mark.parametrize("scripted, expected", [("stop_sequence", "stop"), ("content_filter", "content_filter"),
                                                ("pause_turn", "pause_turn")])
async def test_stop_reasons(server, scripted, expected, claude):
    server.script(Script(finish_reason=scripted), Script(finish_reason=scripted))
    llm = claude()
    assert (await llm.complete("Hi")).finish_reason == expected
    chunks = [c async for c in llm.stream("Hi")]
    assert chunks[-1].finish_reason == expected


async def test_tool_calls(server, claude):
    call = {"id": "toolu_01", "name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}
    script = Script(text="Let me look.", tool_calls=[call], finish_reason="tool_calls")
    server.script(script, script)
    tool = ToolSpec("get_weather", "Weather in a city", {"type": "object", "properties": {"city": {"type": "string"}}})
    llm = claude()
    reply = await llm.complete("Weather in Paris?", tools=(tool,))
    assert reply.tool_calls == (ToolCall("toolu_01", "get_weather", {"city": "Paris", "unit": "C"}),)
    assert reply.finish_reason == "tool_calls" and reply.text == "Let me look."
    assert server.last.body["tools"] == [{"name": "get_weather", "description": "Weather in a city",
                                          "input_schema": dict(tool.parameters)}]
    stream = llm.stream("Weather in Paris?", tools=(tool,))
    [c async for c in stream]
    assert stream.reply.tool_calls == reply.tool_calls and stream.reply.finish_reason == "tool_calls"


async def test_tool_results_go_back_as_blocks(server, claude):
    messages = [{"role": "user", "content": "Weather in Paris?"},
                Message("assistant", (ToolCall("toolu_01", "get_weather", {"city": "Paris"}),)),
                Message("tool", (ToolResult("toolu_01", "18 C, sunny"),))]
    tool = ToolSpec("get_weather", "Weather in a city", {"type": "object", "properties": {"city": {"type": "string"}}})
    await claude().complete(messages, tools=(tool,))  # the API refuses tool blocks in a request without tools
    assert server.last.body["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C, sunny",
                                      "is_error": False}]}]


# faults

async def test_prompt_too_long(server, claude):
    server.script(Script(status=400, error_message="prompt is too long: 210000 tokens > 200000 maximum"))
    with pytest.raises(errors.ContextTooLong):
        await claude().complete("Hi")


async def test_error_event_inside_a_stream():
    """The API can report a failure as an `error` event after a 200; its error.type gives the kind."""
    import anthropic
    import httpx2
    response = httpx2.Response(200, request=httpx2.Request("POST", "http://127.0.0.1/v1/messages"))
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    exc = anthropic.APIStatusError(str(body), response=response, body=body)
    mapped = providers.registry.entry("anthropic").factory(providers.Settings()).map_error(exc)
    assert isinstance(mapped, errors.ServerError) and mapped.status == 529 and "Overloaded" in str(mapped)


# one-line warnings

async def test_temperature_is_left_out_with_one_warning(server, claude):
    llm = claude(temperature=0.2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await llm.complete("Hi")
        await llm.complete("Hi")
    assert "temperature" not in server.last.body
    caught = [w for w in caught if w.category is not ResourceWarning]
    assert [(w.category, "\n" in str(w.message)) for w in caught] == [(UserWarning, False)]
    assert "temperature" in str(caught[0].message)


async def test_deprecated_model_warns_in_one_line_once(server, claude):
    from anthropic._data import DEPRECATED_MODELS  # the list moves with each SDK release: take one it names now
    model, end_of_life = next(iter(DEPRECATED_MODELS.items()))
    llm = claude(f"anthropic:{model}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await llm.complete("Hi")
        [c async for c in llm.stream("Hi")]
        await claude().complete("Hi")  # a current model: no warning
    caught = [w for w in caught if w.category is not ResourceWarning]
    assert [(w.category, "\n" in str(w.message)) for w in caught] == [(FutureWarning, False)]
    assert model in str(caught[0].message) and end_of_life in str(caught[0].message)
    assert caught[0].filename == __file__, "the warning points at the caller's line"
    assert server.requests[0].body["model"] == model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [c async for c in claude(f"anthropic:{model}").stream("Hi")]  # a new handle, streaming
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
