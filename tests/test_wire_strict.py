"""The loopback servers refuse what the real APIs refuse, with the real status and error shape, and the kit turns
each refusal into its typed error without retrying it. (That the kit itself never sends such a request is shown
by the rest of the suite, which runs against these strict servers: a refused request fails its test.)"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from coditect_magics.providers import Message, TextPart, ToolCall, ToolResult, ToolSpec, errors
from tests.fakes import Script
from tests.wire import KEY, executor, options

TOOL = ToolSpec("get_weather", "Weather in a city", {"type": "object", "properties": {"city": {"type": "string"}}})
CALL = ToolCall("toolu_01", "get_weather", {"city": "Paris"})
RESULT = ToolResult("toolu_01", "18 C, sunny")


async def post(url: str, body: Any, **headers: str) -> tuple[int, str, Any]:
    """POST JSON as a client would; (status, content type, body as JSON or text)."""
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body, headers=headers) as response:
            text = await response.text()
            kind = response.content_type
            return response.status, kind, (await response.json() if kind == "application/json" else text)


def anthropic_refusal(body: Any, message: str) -> bool:
    """`body` is Anthropic's invalid_request_error with `message`."""
    return body["type"] == "error" and body["error"] == {"type": "invalid_request_error", "message": message}


# Anthropic

async def test_anthropic_refuses_a_request_without_max_tokens(server):
    status, _, body = await post(f"{server.url}/v1/messages", {
        "model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "Hi"}]},
        **{"anthropic-version": "2023-06-01"})
    assert status == 400 and anthropic_refusal(body, "max_tokens: Field required")
    assert body["request_id"].startswith("req_") and [r[1] for r in server.refusals] == [400]


@pytest.mark.parametrize("messages, message", [
    ([Message("user", (RESULT,))],
     "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01. Each `tool_result` "
     "block must have a corresponding `tool_use` block in the previous message."),
    ([Message("user", "Weather?"), Message("assistant", (CALL,)), Message("user", "And tomorrow?")],
     "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01. Each "
     "`tool_use` block must have a corresponding `tool_result` block in the next message."),
], ids=["result-without-call", "call-without-result"])
async def test_anthropic_refuses_unpaired_tool_blocks(server, tmp_path, messages, message):
    async with executor(tmp_path, server.url, attempts=3) as ex:
        with pytest.raises(errors.BadRequest) as caught:
            await ex.run("anthropic:claude-sonnet-4-6", messages, tools=(TOOL,),
                         fallbacks=["openai:gpt-4.1-mini"])
    assert message in str(caught.value)
    assert len(server.requests) == 1, "a refused request is neither retried nor sent elsewhere"


async def test_anthropic_wants_tools_defined_beside_tool_blocks(server, tmp_path):
    history = [Message("user", "Weather?"), Message("assistant", (CALL,)), Message("tool", (RESULT,))]
    async with executor(tmp_path, server.url) as ex:
        with pytest.raises(errors.BadRequest, match="must define tools"):
            await ex.run("anthropic:claude-sonnet-4-6", history)
        server.script(Script(text="18 C."))
        assert (await ex.run("anthropic:claude-sonnet-4-6", history, tools=(TOOL,))).text == "18 C."


async def test_anthropic_refuses_empty_text_but_merges_consecutive_user_turns(server, tmp_path):
    async with executor(tmp_path, server.url) as ex:
        with pytest.raises(errors.BadRequest, match="text content blocks must be non-empty"):
            await ex.run("anthropic:claude-sonnet-4-6", [Message("user", (TextPart(""), TextPart("Hi")))])
        server.script(Script(text="Both read."))
        reply = await ex.run("anthropic:claude-sonnet-4-6", [Message("user", "First."), Message("user", "Second.")])
    assert reply.text == "Both read.", "the API combines consecutive user turns; it does not refuse them"


# OpenAI (and every Chat Completions server)

async def test_openai_refuses_a_tool_message_without_its_call(server, tmp_path):
    messages = [Message("user", "Weather?"), Message("tool", (ToolResult("call_9", "18 C"),))]
    async with executor(tmp_path, server.url) as ex:
        with pytest.raises(errors.BadRequest) as caught:
            await ex.run("openai:gpt-4.1-mini", messages, tools=(TOOL,))
    assert "messages with role 'tool' must be a response to a preceeding message with 'tool_calls'" in str(caught.value)
    status, _, body = await post(f"{server.url}/v1/chat/completions", server.last.body)
    assert status == 400 and body["error"]["param"] == "messages.[1].role"
    assert body["error"]["type"] == "invalid_request_error"


async def test_openai_refuses_calls_left_unanswered(server):
    body = {"model": "gpt-4.1-mini", "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
        {"role": "user", "content": "And?"}]}
    status, _, error = await post(f"{server.url}/v1/chat/completions", body)
    assert status == 400 and error["error"]["message"].endswith(
        "The following tool_call_ids did not have response messages: call_2")
    assert error["error"]["param"] == "messages.[1].role"


# Gemini

def gemini_url(server, model: str = "gemini-2.5-flash") -> str:
    """generateContent on the fake for `model` (v1beta, as google-genai's option and curl examples use)."""
    return f"{server.url}/v1beta/models/{model}:generateContent"


@pytest.mark.parametrize("contents, message", [
    ([{"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": 18}}}]}],
     "Please ensure that function response turn comes immediately after a function call turn."),
    ([{"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]}],
     "Please ensure that function call turn comes immediately after a user turn or after a function response turn."),
    ([{"role": "user", "parts": [{"text": "Weather?"}]},
      {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}},
                                  {"functionCall": {"name": "get_weather", "args": {}}}]},
      {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": 18}}}]}],
     "Please ensure that the number of function response parts is equal to the number of function call parts of "
     "the function call turn."),
    ([{"role": "assistant", "parts": [{"text": "Hi"}]}], "Please use a valid role: user, model."),
], ids=["response-without-call", "call-first", "fewer-responses", "bad-role"])
async def test_gemini_refuses_misordered_function_turns(server, contents, message):
    status, _, body = await post(gemini_url(server), {"contents": contents}, **{"x-goog-api-key": KEY})
    assert status == 400 and body == {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}


async def test_gemini_3_wants_thought_signatures_in_the_current_turn(server):
    contents = [{"role": "user", "parts": [{"text": "Weather?"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": 18}}}]}]
    status, _, body = await post(gemini_url(server, "gemini-3.5-flash"), {"contents": contents})
    assert status == 400 and "missing a thought_signature" in body["error"]["message"]
    contents[1]["parts"][0]["thoughtSignature"] = "c2ln"
    assert (await post(gemini_url(server, "gemini-3.5-flash"), {"contents": contents}))[0] == 200
    contents[1]["parts"][0].pop("thoughtSignature")
    assert (await post(gemini_url(server, "gemini-2.5-flash"), {"contents": contents}))[0] == 200


# unknown paths

@pytest.mark.parametrize("provider, base, shape", [
    ("openai", "/v2", "Invalid URL (POST /v2/chat/completions)"),
    ("anthropic", "/proxy", "Not Found"),
    ("gemini", "/proxy", "Error 404 (Not Found)"),
    ("huggingface", "/proxy", "Invalid URL (POST /proxy/v1/chat/completions)"),
    ("ollama", "/proxy", "404 page not found"),
])
async def test_an_unknown_base_path_is_a_404_the_kit_names(server, tmp_path, provider, base, shape):
    model = {"openai": "openai:gpt-4.1-mini", "anthropic": "anthropic:claude-sonnet-4-6",
             "gemini": "gemini:gemini-2.5-flash", "huggingface": "huggingface:tgi", "ollama": "ollama:llama3.2"}
    async with executor(tmp_path, server.url, attempts=3) as ex:
        wrong = options(server.url)
        wrong[provider] = {**wrong[provider], "base_url": f"{server.url}{base}"}
        ex.settings = replace(ex.settings, provider_options=wrong)
        with pytest.raises(errors.ProviderError) as caught:
            await ex.run(model[provider], "Hi")
    assert isinstance(caught.value, errors.ModelNotFound) and not caught.value.retryable
    assert "check the base URL" in str(caught.value) and shape in caught.value.detail + str(caught.value)
    assert len(server.requests) == 1 and server.refusals[0][1] == 404
