"""The ollama adapter (aiohttp on Ollama's own API) against the loopback server: what goes on the wire, Ollama's own
faults, OLLAMA_HOST and status. Replies, streams and the faults every provider shares are in
tests/test_conformance.py."""

from __future__ import annotations

import base64
import functools

import pytest

from coditect_magics import providers
from coditect_magics.providers import errors
from coditect_magics.providers.ollama import OllamaProvider, normalise_host
from coditect_magics.providers.types import ImagePart, Message, TextPart, ToolCall, ToolResult, ToolSpec
from tests.conftest import KEY, closed_port
from tests.fakes import Script

MESSAGES = [{"role": "system", "content": "Answer in one sentence."}, {"role": "user", "content": "Say hello."}]


@pytest.fixture
def ollama(handles):
    """`ollama(**kw)`: an `ollama:llama3.2` handle, closed when the test ends."""
    return functools.partial(handles, "ollama:llama3.2")


@pytest.fixture
def llm(server, ollama):
    return ollama(base_url=server.url, timeout=5)


async def collect(stream) -> list:
    return [chunk async for chunk in stream]


# what is sent

async def test_request_shape(server, ollama):
    await ollama(base_url=server.url, temperature=0.2, max_tokens=64, stop=["\n\n"]).complete(MESSAGES)
    sent = server.last
    assert (sent.method, sent.path) == ("POST", "/api/chat")
    assert sent.body["model"] == "llama3.2"
    assert sent.body["stream"] is False
    assert sent.body["messages"] == [{"role": "system", "content": "Answer in one sentence."},
                                     {"role": "user", "content": "Say hello."}]
    assert sent.body["options"] == {"temperature": 0.2, "num_predict": 64, "stop": ["\n\n"]}
    assert "Authorization" not in sent.headers


async def test_no_options_when_none_given_and_settings_options_merged(server, ollama):
    await ollama(base_url=server.url).complete("hi")
    assert "options" not in server.last.body
    await ollama(base_url=server.url, options={"num_ctx": 8192, "seed": 7}, temperature=0).complete("hi")
    assert server.last.body["options"] == {"num_ctx": 8192, "seed": 7, "temperature": 0}


async def test_stream_request(server, llm):
    await collect(llm.stream(MESSAGES))
    assert server.last.body["stream"] is True
    assert server.last.body["messages"][0]["role"] == "system"


async def test_image_goes_base64_in_images(server, llm):
    png = b"\x89PNG\r\n\x1a\nfake-image-bytes"
    message = Message("user", (TextPart("What is in "), ImagePart("image/png", png), TextPart("this picture?")))
    await llm.complete([message])
    sent = server.last.body["messages"][0]
    assert sent == {"role": "user", "content": "What is in this picture?",
                    "images": [base64.b64encode(png).decode("ascii")]}


async def test_tool_calls_whole_and_streamed(server, llm):
    call = {"id": "ignored", "name": "get_weather", "arguments": {"city": "Paris"}}
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    tools = (ToolSpec("get_weather", "Weather for a city", schema),)
    server.script(Script(text="", tool_calls=[call], finish_reason="tool_calls"))
    reply = await llm.complete(providers.Request.build("ollama:llama3.2", "Weather in Paris?", tools=tools))
    assert reply.finish_reason == "tool_calls"
    assert [(c.name, dict(c.arguments)) for c in reply.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert server.last.body["tools"][0] == {"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city", "parameters": dict(tools[0].parameters)}}
    server.script(Script(text="", tool_calls=[call], finish_reason="tool_calls"))
    stream = llm.stream(providers.Request.build("ollama:llama3.2", "Weather in Paris?", tools=tools))
    await collect(stream)
    assert stream.reply.finish_reason == "tool_calls"
    assert [(c.name, dict(c.arguments)) for c in stream.reply.tool_calls] == [("get_weather", {"city": "Paris"})]


async def test_tool_call_and_result_messages_are_converted(server, llm):
    history = [Message("user", "Weather in Paris?"),
               Message("assistant", (ToolCall("call_0", "get_weather", {"city": "Paris"}),)),
               Message("tool", (ToolResult("call_0", "18 C, sunny", name="get_weather"),
                                ToolResult("call_1", "12 C, rain", name="get_weather")))]
    await llm.complete(history)
    assert server.last.body["messages"][1:] == [
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather",
                                                                          "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "18 C, sunny", "tool_name": "get_weather"},
        {"role": "tool", "content": "12 C, rain", "tool_name": "get_weather"}]


# faults

async def test_missing_model_is_model_not_found(server, llm):
    server.script(Script(status=404))
    with pytest.raises(errors.ModelNotFound) as caught:
        await llm.complete("hi")
    assert "model 'llama3.2' not found, try pulling it first" in str(caught.value)


async def test_slow_stream_times_out(server, ollama):
    server.script(Script(text="one two three", chunk_delay=0.8))
    llm = ollama(base_url=server.url, timeout=0.4)
    with pytest.raises(errors.Timeout):
        await collect(llm.stream("hi"))


async def test_error_line_in_stream_is_server_error(server, llm):
    server.script(Script(text="alpha beta", finish_reason="error",
                         error_message="an error was encountered while running the model"))
    with pytest.raises(errors.ServerError) as caught:
        await collect(llm.stream("hi"))
    assert "an error was encountered while running the model" in str(caught.value)


async def test_error_line_about_context_is_bad_request(server, llm):
    server.script(Script(text="", finish_reason="error", error_message="input exceeds the context length"))
    with pytest.raises(errors.ContextTooLong):
        await collect(llm.stream("hi"))


async def test_whole_reply_failing_mid_generation_is_server_error(server, llm):
    server.script(Script(finish_reason="error", error_message="model runner crashed"))
    with pytest.raises(errors.ServerError) as caught:
        await llm.complete("hi")
    assert caught.value.status == 500


async def test_optional_key_goes_as_a_bearer_token(server, ollama):
    """Ollama needs none, but a proxy or ollama.com may want one; that it never shows is in the conformance suite."""
    await ollama(base_url=server.url, api_key=KEY).complete("hi")
    assert server.last.headers["Authorization"] == f"Bearer {KEY}"


# endpoint, status and model listing

@pytest.mark.parametrize("value, expected", [
    ("127.0.0.1:11434", "http://127.0.0.1:11434"),
    ("0.0.0.0:11434", "http://127.0.0.1:11434"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("localhost", "http://localhost:11434"),
    ("http://127.0.0.1:11434/", "http://127.0.0.1:11434"),
    ("https://ollama.example.com", "https://ollama.example.com"),
    ("http://gpu-box:8080/ollama", "http://gpu-box:8080/ollama"),
    ("[::]:11434", "http://127.0.0.1:11434"),
])
def test_ollama_host_is_normalised(value, expected):
    assert normalise_host(value) == expected


@pytest.mark.parametrize("prefix", ["", "0.0.0.0:", "http://"])
async def test_ollama_host_without_scheme_reaches_the_server(server, ollama, monkeypatch, prefix):
    port = server.url.rsplit(":", 1)[1]
    host = {"": f"127.0.0.1:{port}", "0.0.0.0:": f"0.0.0.0:{port}", "http://": server.url}[prefix]
    monkeypatch.setenv("OLLAMA_HOST", host)
    reply = await ollama().complete("hi")
    assert reply.text == Script().text
    assert server.last.path == "/api/chat"


async def test_explicit_base_url_wins_over_ollama_host(server, ollama, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{closed_port()}")
    assert (await ollama(base_url=server.url).complete("hi")).text == Script().text


def test_status_not_reachable_on_a_closed_port(monkeypatch):
    port = closed_port()
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    row = providers.status("ollama")
    assert row.usable is False
    assert row.reason == f"Ollama not reachable at http://127.0.0.1:{port}"
    assert row.default_model == "llama3.2"


def test_status_default_url(monkeypatch):
    row = providers.status("ollama")
    assert row.reason in ("Ollama not reachable at http://127.0.0.1:11434", "server at http://127.0.0.1:11434")


async def test_status_usable_when_the_server_runs(server, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", server.url.removeprefix("http://"))
    row = providers.status("ollama")
    assert row.usable is True
    assert row.reason == f"server at {server.url}"


def test_spec():
    spec = OllamaProvider.spec
    assert (spec.name, spec.default_model, spec.extra) == ("ollama", "llama3.2", "ollama")
    assert spec.sdk_modules == ("aiohttp",)
    assert (spec.key_env, spec.key_required, spec.probe_server) == ((), False, True)
    assert (spec.base_url_env, spec.default_base_url) == ("OLLAMA_HOST", "http://127.0.0.1:11434")
    assert providers.resolve("llama") == ("ollama", "llama3.2")
