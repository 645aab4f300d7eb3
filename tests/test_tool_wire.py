"""Native tool calling on the wire, every provider through its real SDK against the loopback server: the tools as
each API names them, one and several calls read from whole replies and from streams (the same calls either way), the
calls and their results sent back in the provider's own shape with ids matched, error results flagged where the
protocol has a flag, malformed streamed arguments refused, and `local` refusing tools out loud."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from coditect_magics import providers
from coditect_magics.cache import ResponseCache
from coditect_magics.costs import Ledger
from coditect_magics.executor import Executor, ExecutorSettings
from coditect_magics.providers import Message, TextPart, ToolCall, ToolResult, ToolSpec, errors
from coditect_magics.tools import run_tools, tool
from tests.conftest import KEY
from tests.fakes import Script
from tests.fakes.gemini_api import SIGNATURE, GeminiScript

WEATHER = ToolSpec("get_weather", "The weather in a city now.", {
    "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
    "required": ["city"]})
CLOCK = ToolSpec("get_time", "The time in a time zone.", {
    "type": "object", "properties": {"zone": {"type": "string", "description": "An IANA zone"}}})
TOOLS = (WEATHER, CLOCK)
CALLS = [{"id": "call_weather_01", "name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}},
         {"id": "call_time_02", "name": "get_time", "arguments": {"zone": "Europe/Paris"}}]
QUESTION = "Weather and time in Paris?"
PREAMBLE = "Let me look."


class Backend:
    """A search backend that counts its searches."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def __call__(self, query: str, max_results: int) -> list[dict[str, str]]:
        self.queries.append(query)
        return [{"title": "Paris weather", "href": "https://example.org/paris", "body": "Mild, 18 C."}]


@dataclass(frozen=True)
class Target:
    model: str
    protocol: str                         # which wire format the fake speaks for it
    base: Callable[[str], str]
    key: bool = True
    options: Callable[[], dict[str, Any]] = field(default=dict)

    @property
    def name(self) -> str:
        return self.model.split(":")[0]

    def get(self, handles, url: str, **kw: Any) -> providers.LLM:
        return handles(self.model, base_url=self.base(url), api_key=KEY if self.key else None,
                       options=self.options(), **kw)

    def script(self, **kw: Any) -> Script:
        return GeminiScript(**kw) if self.protocol == "gemini" else Script(**kw)


TARGETS = {
    "anthropic": Target("anthropic:claude-sonnet-4-6", "anthropic", lambda url: url),
    "openai": Target("openai:gpt-4.1-mini", "openai", lambda url: f"{url}/v1"),
    "lmstudio": Target("lmstudio:qwen2.5-7b-instruct", "openai", lambda url: f"{url}/v1", key=False),
    "huggingface": Target("huggingface:meta-llama/Llama-3.1-8B-Instruct", "openai", lambda url: url, key=False),
    "gemini": Target("gemini:gemini-2.5-flash", "gemini", lambda url: url),
    "ollama": Target("ollama:llama3.2", "ollama", lambda url: url, key=False),
    "search": Target("search:openai:gpt-4.1-mini", "openai", lambda url: f"{url}/v1",
                     options=lambda: {"backend": Backend()}),
}
TEXT_ARGUMENTS = ("anthropic", "openai", "lmstudio", "huggingface", "search")  # arguments stream as JSON text


@pytest.fixture(params=sorted(TARGETS))
def target(request) -> Target:
    return TARGETS[request.param]


def native_tools(protocol: str) -> list[dict[str, Any]]:
    """TOOLS as each API takes them."""
    if protocol == "anthropic":
        return [{"name": t.name, "description": t.description, "input_schema": dict(t.parameters)} for t in TOOLS]
    if protocol == "gemini":
        return [{"functionDeclarations": [{"name": t.name, "description": t.description,
                                           "parametersJsonSchema": dict(t.parameters)} for t in TOOLS]}]
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": dict(t.parameters)}} for t in TOOLS]


def sent_tools(protocol: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tools in the body; google-genai 3.6 spells `parameters_json_schema` in snake case, which the API takes as
    well as the camel case of its reference, so either counts."""
    tools = body["tools"]
    if protocol == "gemini":
        for tool in tools:
            for declaration in tool.get("functionDeclarations", ()):
                if "parameters_json_schema" in declaration:
                    declaration["parametersJsonSchema"] = declaration.pop("parameters_json_schema")
    return tools


def turns_after_question(protocol: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The turns after the first user question, OpenAI's JSON-string arguments parsed so they compare as objects."""
    turns = body["contents" if protocol == "gemini" else "messages"][1:]
    if protocol == "openai":
        for turn in turns:
            for call in turn.get("tool_calls") or ():
                call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return turns


def native_history(protocol: str, calls: tuple[ToolCall, ...], results: tuple[ToolResult, ...]) -> list[dict]:
    """The assistant turn carrying `calls` (after PREAMBLE) and the tool turn carrying `results`, as each API
    wants them back."""
    if protocol == "anthropic":
        return [{"role": "assistant", "content": [{"type": "text", "text": PREAMBLE}] + [
                    {"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments)} for c in calls]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": r.id, "content": r.content,
                                              "is_error": r.is_error} for r in results]}]
    if protocol == "openai":
        return [{"role": "assistant", "content": PREAMBLE, "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": dict(c.arguments)}}
                    for c in calls]},
                *({"role": "tool", "tool_call_id": r.id, "content": r.content} for r in results)]
    if protocol == "gemini":  # the first call carries the thought signature it came with; ids were made up
        return [{"role": "model", "parts": [{"text": PREAMBLE}] + [
                    {"functionCall": {"name": c.name, "args": dict(c.arguments)},
                     **({"thoughtSignature": SIGNATURE} if i == 0 else {})} for i, c in enumerate(calls)]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": c.name, "response": {"error" if r.is_error else "output": r.content}}}
                    for c, r in zip(calls, results)]}]
    return [{"role": "assistant", "content": PREAMBLE, "tool_calls": [
                {"function": {"name": c.name, "arguments": dict(c.arguments)}} for c in calls]},
            *({"role": "tool", "content": r.content, "tool_name": r.name} for r in results)]


def expected_ids(target: Target, count: int) -> list[str] | None:
    """The call ids the kit should report: the API's own, Ollama's by position; None where they are made up."""
    if target.protocol == "gemini":
        return None
    if target.protocol == "ollama":
        return [f"call_{i}" for i in range(count)]
    return [c["id"] for c in CALLS[:count]]


async def whole_and_streamed(server, llm: providers.LLM, script: Script):
    """The same scripted reply taken whole and as a stream: (reply, stream reply, stream chunks)."""
    server.script(script, script)
    reply = await llm.complete(QUESTION, tools=TOOLS)
    stream = llm.stream(QUESTION, tools=TOOLS)
    chunks = [chunk async for chunk in stream]
    return reply, stream.reply, chunks


# the tools

async def test_tools_go_in_the_native_format(server, handles, target):
    server.script(target.script(text="No tools needed."))
    reply = await target.get(handles, server.url).complete(QUESTION, tools=TOOLS)
    assert reply.text == "No tools needed." and reply.tool_calls == () and reply.finish_reason == "stop"
    assert sent_tools(target.protocol, server.last.body) == native_tools(target.protocol)


async def test_no_tools_sends_no_tools_field(server, handles, target):
    await target.get(handles, server.url).complete(QUESTION)
    body = server.last.body
    assert "tools" not in body and "tools" not in body.get("config", {})


# calls read from replies

@pytest.mark.parametrize("count", [1, 2])
async def test_calls_whole_and_streamed_are_the_same(server, handles, target, count):
    script = target.script(text=PREAMBLE, tool_calls=CALLS[:count])
    reply, streamed, chunks = await whole_and_streamed(server, target.get(handles, server.url), script)
    assert [(c.name, dict(c.arguments)) for c in reply.tool_calls] == [(c["name"], c["arguments"])
                                                                      for c in CALLS[:count]]
    assert streamed.tool_calls == reply.tool_calls
    assert (reply.text, streamed.text) == (PREAMBLE, PREAMBLE)
    assert reply.finish_reason == streamed.finish_reason == "tool_calls"
    ids = [c.id for c in reply.tool_calls]
    assert len(set(ids)) == count and all(ids)
    if expected_ids(target, count) is not None:
        assert ids == expected_ids(target, count)
    assert chunks[-1].finish_reason == "tool_calls"
    assert all(c.finish_reason is None for c in chunks[:-1])
    pieces = [c.tool_call for c in chunks if c.tool_call]
    assert sorted({p.index for p in pieces}) == list(range(count))
    if target.name in TEXT_ARGUMENTS:  # the arguments really arrived in pieces, and were joined
        for index in range(count):
            assert len([p for p in pieces if p.index == index and p.arguments]) > 1


async def test_calls_without_text(server, handles, target):
    script = target.script(text="", tool_calls=CALLS)
    reply, streamed, _ = await whole_and_streamed(server, target.get(handles, server.url), script)
    assert reply.text == streamed.text == ""
    assert [c.name for c in streamed.tool_calls] == ["get_weather", "get_time"]
    assert streamed.tool_calls == reply.tool_calls


async def test_a_call_with_no_arguments(server, handles, target):
    script = target.script(text="", tool_calls=[{"id": "call_now_01", "name": "get_time", "arguments": {}}])
    reply, streamed, _ = await whole_and_streamed(server, target.get(handles, server.url), script)
    assert [(c.name, dict(c.arguments)) for c in reply.tool_calls] == [("get_time", {})]
    assert streamed.tool_calls == reply.tool_calls


# calls and results sent back

@pytest.mark.parametrize("stream", [False, True])
async def test_the_next_request_carries_calls_and_results_natively(server, handles, target, stream):
    llm = target.get(handles, server.url)
    server.script(target.script(text=PREAMBLE, tool_calls=CALLS), target.script(text="18 C and 14:05."))
    if stream:
        first = llm.stream(QUESTION, tools=TOOLS)
        [c async for c in first]
        reply = first.reply
    else:
        reply = await llm.complete(QUESTION, tools=TOOLS)
    results = (ToolResult(reply.tool_calls[0].id, "18 C, sunny", name="get_weather"),
               ToolResult(reply.tool_calls[1].id, "unknown zone", is_error=True, name="get_time"))
    history = [Message("user", QUESTION), Message("assistant", (TextPart(reply.text), *reply.tool_calls)),
               Message("tool", results)]
    answer = await llm.complete(history, tools=TOOLS)
    assert answer.text == "18 C and 14:05." and answer.finish_reason == "stop"
    body = server.last.body
    assert sent_tools(target.protocol, body) == native_tools(target.protocol)  # sent again with every step
    assert turns_after_question(target.protocol, body) == native_history(target.protocol, reply.tool_calls, results)


async def test_error_results_are_flagged(server, handles, target):
    """Anthropic has is_error and Gemini an `error` response; the others carry the error text as the content."""
    call = ToolCall("call_weather_01", "get_weather", {"city": "Atlantis"})
    history = [Message("user", QUESTION), Message("assistant", (call,)),
               Message("tool", (ToolResult(call.id, "no such city", is_error=True, name="get_weather"),))]
    await target.get(handles, server.url).complete(history, tools=TOOLS)
    result = turns_after_question(target.protocol, server.last.body)[-1]
    if target.protocol == "anthropic":
        assert result["content"][0]["is_error"] is True
    elif target.protocol == "gemini":
        assert result["parts"][0]["functionResponse"]["response"] == {"error": "no such city"}
    else:
        assert result["role"] == "tool" and result["content"] == "no such city"


async def test_results_answer_their_calls_by_id_in_any_order(server, handles, target):
    """Results given in the opposite order keep their ids (and, on Gemini, find their call's name by id)."""
    calls = (ToolCall("call_weather_01", "get_weather", {"city": "Paris"}),
             ToolCall("call_time_02", "get_time", {"zone": "Europe/Paris"}))
    results = (ToolResult("call_time_02", "14:05"), ToolResult("call_weather_01", "18 C"))
    history = [Message("user", QUESTION), Message("assistant", calls), Message("tool", results)]
    await target.get(handles, server.url).complete(history, tools=TOOLS)
    turns = turns_after_question(target.protocol, server.last.body)
    if target.protocol == "anthropic":
        assert [b["tool_use_id"] for b in turns[-1]["content"]] == ["call_time_02", "call_weather_01"]
    elif target.protocol == "openai":
        assert [t["tool_call_id"] for t in turns[1:]] == ["call_time_02", "call_weather_01"]
    elif target.protocol == "gemini":
        responses = [p["functionResponse"] for p in turns[-1]["parts"]]
        assert [(r["id"], r["name"]) for r in responses] == [("call_time_02", "get_time"),
                                                              ("call_weather_01", "get_weather")]
    else:  # Ollama's results have no ids: they go in the order given, named after the call they answer
        assert [(t["content"], t["tool_name"]) for t in turns[1:]] == [("14:05", "get_time"), ("18 C", "get_weather")]


@pytest.mark.parametrize("name", ["openai", "lmstudio", "huggingface"])
async def test_results_in_a_user_turn_come_before_its_text(server, handles, name):
    """A user turn holding results and a remark (Anthropic's habit) becomes the tool messages, then the remark."""
    call = ToolCall("call_weather_01", "get_weather", {"city": "Paris"})
    history = [Message("user", QUESTION), Message("assistant", (call,)),
               Message("user", (ToolResult(call.id, "18 C"), TextPart("And in Rome?")))]
    await TARGETS[name].get(handles, server.url).complete(history, tools=TOOLS)
    assert turns_after_question("openai", server.last.body)[1:] == [
        {"role": "tool", "tool_call_id": "call_weather_01", "content": "18 C"},
        {"role": "user", "content": [{"type": "text", "text": "And in Rome?"}]}]


# malformed calls

@pytest.mark.parametrize("arguments", ['{"zone": "Europe/Par', '["Europe/Paris"]'])
@pytest.mark.parametrize("name", TEXT_ARGUMENTS)
async def test_bad_json_arguments_in_a_stream_are_bad_response(server, handles, name, arguments):
    """Cut JSON, or JSON that is not an object (a tool takes named arguments), is the server's fault."""
    target = TARGETS[name]
    broken = [CALLS[0], {"id": "call_bad_02", "name": "get_time", "arguments": arguments}]
    server.script(target.script(text="", tool_calls=broken))
    stream = target.get(handles, server.url).stream(QUESTION, tools=TOOLS)
    with pytest.raises(errors.BadResponse, match="'get_time' has arguments that are not"):
        [c async for c in stream]
    assert stream.reply is None


@pytest.mark.parametrize("name", ["openai", "lmstudio", "huggingface"])
async def test_bad_json_arguments_in_a_whole_reply_are_bad_response(server, handles, name):
    target = TARGETS[name]
    server.script(target.script(text="", tool_calls=[{"id": "c1", "name": "get_time", "arguments": "[1, 2"}]))
    with pytest.raises(errors.BadResponse, match="'get_time' has arguments that are not a JSON object"):
        await target.get(handles, server.url).complete(QUESTION, tools=TOOLS)


async def test_local_refuses_tools_out_loud(handles):
    request = providers.Request.build("local:smollm2", QUESTION, tools=TOOLS)
    with pytest.raises(errors.BadRequest, match="tools are not supported by local:smollm2$"):
        await handles("local").complete(request)
    with pytest.raises(errors.BadRequest, match="tools are not supported by local:smollm2$"):
        [c async for c in handles("local").stream(request)]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("reason", ["malformed_function_call", "unexpected_tool_call"])
async def test_gemini_unusable_calls_are_bad_response(server, handles, stream, reason):
    """Gemini sends no arguments to parse: it reports a call it could not use as a finish reason."""
    server.script(GeminiScript(text="", finish_reason=reason))
    llm = TARGETS["gemini"].get(handles, server.url)
    with pytest.raises(errors.BadResponse, match=f"function call Gemini could not use \\({reason.upper()}\\)"):
        if stream:
            [c async for c in llm.stream(QUESTION, tools=TOOLS)]
        else:
            await llm.complete(QUESTION, tools=TOOLS)


# Gemini: made-up ids, the API's own ids, thought signatures

async def test_gemini_made_ids_are_stable_and_never_sent(server, handles):
    llm = TARGETS["gemini"].get(handles, server.url)
    reply, streamed, _ = await whole_and_streamed(server, llm, GeminiScript(text="", tool_calls=CALLS))
    server.script(GeminiScript(text="", tool_calls=CALLS))
    again = await llm.complete(QUESTION, tools=TOOLS)
    assert reply.tool_calls == streamed.tool_calls == again.tool_calls
    assert [c.id[:5] for c in reply.tool_calls] == ["gc_0_", "gc_1_"]
    history = [Message("user", QUESTION), Message("assistant", reply.tool_calls),
               Message("tool", tuple(ToolResult(c.id, "ok") for c in reply.tool_calls))]
    await llm.complete(history, tools=TOOLS)
    model, results = server.last.body["contents"][1:]
    assert all("id" not in p["functionCall"] for p in model["parts"])
    assert [(p["functionResponse"]["name"], "id" in p["functionResponse"]) for p in results["parts"]] == [
        ("get_weather", False), ("get_time", False)]


async def test_gemini_api_ids_are_kept_and_sent_back(server, handles):
    llm = TARGETS["gemini"].get(handles, server.url)
    reply, streamed, _ = await whole_and_streamed(server, llm, GeminiScript(text="", tool_calls=CALLS, call_ids=True))
    assert [c.id for c in reply.tool_calls] == [c.id for c in streamed.tool_calls] == ["call_weather_01",
                                                                                       "call_time_02"]
    history = [Message("user", QUESTION), Message("assistant", reply.tool_calls),
               Message("tool", tuple(ToolResult(c.id, "ok") for c in reply.tool_calls))]
    await llm.complete(history, tools=TOOLS)
    model, results = server.last.body["contents"][1:]
    assert [p["functionCall"]["id"] for p in model["parts"]] == ["call_weather_01", "call_time_02"]
    assert [p["functionResponse"]["id"] for p in results["parts"]] == ["call_weather_01", "call_time_02"]


@pytest.mark.parametrize("model, signature", [("gemini-3.5-flash", "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="),
                                              ("gemini-2.5-flash", None)])
async def test_gemini_calls_it_never_saw_get_the_documented_stand_in_signature(server, handles, model, signature):
    """History from elsewhere (another kernel, a saved thread) has no signature: Gemini 3 gets Google's documented
    `skip_thought_signature_validator` on the turn's first call; Gemini 2.5 needs none."""
    llm = handles(f"gemini:{model}", base_url=server.url, api_key=KEY)
    calls = (ToolCall("call_a", "get_weather", {"city": "Paris"}), ToolCall("call_b", "get_time", {}))
    history = [Message("user", QUESTION), Message("assistant", calls),
               Message("tool", (ToolResult("call_a", "18 C"), ToolResult("call_b", "14:05")))]
    await llm.complete(history, tools=TOOLS)
    first, second = server.last.body["contents"][1]["parts"]
    assert first.get("thoughtSignature") == signature and "thoughtSignature" not in second


async def test_gemini_results_without_names_or_known_ids_follow_the_calls_in_order(server, handles):
    llm = TARGETS["gemini"].get(handles, server.url)
    calls = (ToolCall("call_a", "get_weather", {"city": "Paris"}), ToolCall("call_b", "get_time", {}))
    history = [Message("user", QUESTION), Message("assistant", calls),
               Message("tool", (ToolResult("x1", "18 C"), ToolResult("x2", "14:05")))]
    await llm.complete(history, tools=TOOLS)
    assert [p["functionResponse"]["name"] for p in server.last.body["contents"][2]["parts"]] == ["get_weather",
                                                                                                 "get_time"]
    with pytest.raises(errors.BadRequest, match="answers no earlier tool call"):
        await llm.complete([Message("user", QUESTION), Message("tool", (ToolResult("x1", "18 C"),))])


# the search wrapper

async def test_search_passes_tools_through_and_searches_once_per_question(server, handles):
    backend = Backend()
    llm = handles("search:openai:gpt-4.1-mini", base_url=f"{server.url}/v1", api_key=KEY,
                  options={"backend": backend})
    server.script(Script(text="", tool_calls=CALLS[:1]), Script(text="18 C [1]."))
    reply = await llm.complete(QUESTION, tools=TOOLS)
    history = [Message("user", QUESTION), Message("assistant", reply.tool_calls),
               Message("tool", (ToolResult(reply.tool_calls[0].id, "18 C"),))]
    answer = await llm.complete(history, tools=TOOLS)
    assert answer.text == "18 C [1]." and [s.url for s in answer.sources] == ["https://example.org/paris"]
    assert backend.queries == [QUESTION]  # the loop's second step reuses the results the model saw
    first, second = (r.body for r in server.requests)
    assert first["tools"] == second["tools"] == native_tools("openai")
    assert "https://example.org/paris" in first["messages"][0]["content"]
    assert "https://example.org/paris" in second["messages"][0]["content"]
    assert second["messages"][2] == {"role": "tool", "tool_call_id": "call_weather_01", "content": "18 C"}


# the kit's tool loop over each provider's wire

@pytest.mark.parametrize("stream", [False, True])
async def test_the_tool_loop_runs_on_every_provider(server, target, stream, tmp_path):
    """Two calls in one reply, both run, their results back in the provider's own shape, then the answer."""
    @tool
    def get_weather(city: str, unit: str = "C") -> str:
        """The weather in a city now."""
        return f"18 {unit} in {city}"

    @tool
    def get_time(zone: str) -> str:
        """The time in a time zone."""
        raise LookupError(f"unknown zone {zone}")

    connection = {"base_url": target.base(server.url), "api_key": KEY if target.key else None,
                  "options": target.options()}
    executor = Executor(ExecutorSettings(provider_options={target.name: connection}, attempts=1, timeout_s=10),
                        ledger=Ledger(tmp_path / "ledger.db"), cache=ResponseCache(tmp_path / "cache.db"))
    server.script(target.script(text=PREAMBLE, tool_calls=CALLS), target.script(text="18 C; the zone is unknown."))
    try:
        result = await run_tools(executor, target.model, QUESTION, [get_weather, get_time], stream=stream)
    finally:
        await executor.aclose()
    assert (result.status, result.text, result.steps) == ("done", "18 C; the zone is unknown.", 2)
    calls = next(m for m in result.messages if m.role == "assistant").parts[1:]
    sent = turns_after_question(target.protocol, server.last.body)
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    results = next(m for m in result.messages if m.role == "tool").parts
    assert [(r.id, r.is_error) for r in results] == [(calls[0].id, False), (calls[1].id, True)]
    assert sent == native_history(target.protocol, tuple(calls), tuple(results))
