"""Structured output on the wire: each provider's official SDK sends a request's output schema where its API takes
it (OpenAI's strict json_schema response format, Anthropic's output_config or a forced tool, Gemini's
responseJsonSchema, Ollama's format), the loopback servers refuse what the real APIs refuse, the reply's text is the
JSON, and the response cache keeps answers to a schema apart from plain ones."""

from __future__ import annotations

import json

import pytest

from coditect_magics import providers
from coditect_magics.cache import ResponseCache
from coditect_magics.costs import Ledger
from coditect_magics.executor import Executor, ExecutorSettings
from coditect_magics.providers import OutputSchema, ToolSpec
from coditect_magics.providers.output import json_schema_format, strict_schema, unstrict
from coditect_magics.providers.registry import output_mode
from tests.fakes import Script

KEY = "sk-test-structured-0001"
SCHEMA = {"type": "object", "title": "City",
          "properties": {"city": {"type": "string"}, "population": {"type": "integer"},
                         "nickname": {"type": "string", "default": None}},
          "required": ["city", "population"]}
OUTPUT = OutputSchema("City", SCHEMA)
ANSWER = '{"city": "Paris", "population": 2102650}'
# what OpenAI's strict mode takes for SCHEMA: closed, everything required, the optional nickname nullable
STRICT = {"type": "object", "title": "City",
          "properties": {"city": {"type": "string"}, "population": {"type": "integer"},
                         "nickname": {"type": ["string", "null"]}},
          "required": ["city", "population", "nickname"], "additionalProperties": False}
# the same closed for Anthropic's output_config (the SDK's transform_schema: optional stays optional, a keyword the
# API lacks is moved into the description)
CLOSED = {"type": "object", "title": "City",
          "properties": {"city": {"type": "string"}, "population": {"type": "integer"},
                         "nickname": {"type": "string", "description": "{default: None}"}},
          "required": ["city", "population"], "additionalProperties": False}
WEATHER = ToolSpec("weather", "The weather in a city.", {"type": "object", "properties": {"city": {"type": "string"}},
                                                         "required": ["city"]})


def handle(handles, server, model: str):
    """A handle on the loopback server for `model` (`provider:model`), with the base URL its SDK wants."""
    provider = model.partition(":")[0]
    base = f"{server.url}/v1" if provider in ("openai", "lmstudio") else server.url
    return handles(model, api_key=KEY, base_url=base)


async def answer(llm, stream: bool, **params):
    """The reply to a question asked with OUTPUT, whole or streamed (then also the text of its chunks)."""
    if not stream:
        return await llm.complete("Which city is the capital of France?", output=OUTPUT, **params)
    replying = llm.stream("Which city is the capital of France?", output=OUTPUT, **params)
    text = "".join([c.text async for c in replying])
    assert text == replying.reply.text
    return replying.reply


CHAT_COMPLETIONS = {"type": "json_schema", "json_schema": {"name": "City", "schema": STRICT, "strict": True}}
WIRE = {  # model -> where its API takes the schema, read from the recorded request body
    "openai:gpt-4.1-mini": lambda body: body["response_format"] == CHAT_COMPLETIONS,
    "lmstudio:qwen2.5-7b-instruct": lambda body: body["response_format"] == CHAT_COMPLETIONS,
    # huggingface_hub turns the json_schema format into the grammar a TGI server (or Inference Endpoint) takes
    "huggingface:meta-llama/Llama-3.1-8B-Instruct": lambda body: body["response_format"] == {"type": "json_object",
                                                                                              "value": STRICT},
    "anthropic:claude-sonnet-4-6": lambda body: (
        body["output_config"] == {"format": {"type": "json_schema", "schema": CLOSED}}
        and "tools" not in body and "tool_choice" not in body),
    "anthropic:claude-3-5-haiku-20241022": lambda body: (
        body["tools"] == [{"name": "City", "description": body["tools"][0]["description"], "input_schema": SCHEMA}]
        and body["tool_choice"] == {"type": "tool", "name": "City"} and "output_config" not in body),
    "gemini:gemini-2.5-flash": lambda body: body["generationConfig"]["responseMimeType"] == "application/json"
    and body["generationConfig"]["responseJsonSchema"] == SCHEMA and "responseSchema" not in body["generationConfig"],
    "ollama:llama3.2": lambda body: body["format"] == SCHEMA,
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("model", list(WIRE))
async def test_the_schema_goes_where_each_api_takes_it_and_the_reply_is_the_json(server, handles, model, stream):
    server.script(Script(text=ANSWER))
    reply = await answer(handle(handles, server, model), stream)
    assert not server.refusals, server.refusals
    assert WIRE[model](server.last.body), json.dumps(server.last.body, indent=1)
    assert json.loads(reply.text) == json.loads(ANSWER)
    assert reply.tool_calls == () and reply.finish_reason == "stop"


async def test_a_plain_request_sends_no_output_schema(server, handles):
    for model in WIRE:
        await handle(handles, server, model).complete("Hi")
    for recorded in server.requests:
        body = recorded.body
        assert not {"response_format", "output_config", "tool_choice", "format"} & set(body)
        assert not {"responseMimeType", "responseJsonSchema"} & set(body.get("generationConfig") or {})


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_forced_answer_tool_beside_the_requests_own_tools(server, handles, stream):
    """An older Claude with tools of its own: it must call a tool, its own or the answer; calling its own is a tool
    call the caller runs, calling the answer is the reply's text."""
    llm = handle(handles, server, "anthropic:claude-3-5-haiku-20241022")
    server.script(Script(tool_calls=[{"id": "toolu_1", "name": "weather", "arguments": {"city": "Paris"}}]),
                  Script(text=ANSWER))
    first = await answer(llm, stream, tools=(WEATHER,))
    assert [t["name"] for t in server.last.body["tools"]] == ["weather", "City"]
    assert server.last.body["tool_choice"] == {"type": "any"}
    assert first.tool_calls[0].name == "weather" and first.finish_reason == "tool_calls" and first.text == ""
    second = await answer(llm, stream, tools=(WEATHER,))
    assert json.loads(second.text) == json.loads(ANSWER) and second.tool_calls == ()
    assert not server.refusals


async def test_native_output_keeps_the_requests_tools_free(server, handles):
    llm = handle(handles, server, "anthropic:claude-sonnet-4-6")
    server.script(Script(text=ANSWER))
    await answer(llm, False, tools=(WEATHER,))
    body = server.last.body
    assert [t["name"] for t in body["tools"]] == ["weather"] and "tool_choice" not in body
    assert body["output_config"]["format"]["schema"] == CLOSED


async def test_an_open_map_goes_non_strict_to_openai_and_as_a_tool_to_claude(server, handles):
    tally = OutputSchema("Tally", {"type": "object", "additionalProperties": {"type": "integer"}})
    server.script(Script(text='{"a": 1}'), Script(text='{"a": 1}'))
    await handle(handles, server, "openai:gpt-4.1-mini").complete("Count.", output=tally)
    assert server.last.body["response_format"]["json_schema"] == {"name": "Tally", "schema": dict(tally.schema),
                                                                  "strict": False}
    reply = await handle(handles, server, "anthropic:claude-sonnet-4-6").complete("Count.", output=tally)
    body = server.last.body
    assert body["tool_choice"] == {"type": "tool", "name": "Tally"} and "output_config" not in body
    assert json.loads(reply.text) == {"a": 1} and not server.refusals


async def test_a_name_the_apis_refuse_is_made_one_they_take(server, handles):
    server.script(Script(text=ANSWER))
    await handle(handles, server, "openai:gpt-4.1-mini").complete("Hi", output=OutputSchema("city answer (v2)", SCHEMA))
    assert server.last.body["response_format"]["json_schema"]["name"] == "city_answer_v2"
    assert not server.refusals


async def test_the_fake_refuses_a_non_strict_schema_sent_as_strict(server):
    """The rule the strict transformation exists for: the same hand-made schema the adapter makes strict is refused
    by the loopback server (as by OpenAI) when sent raw with strict true."""
    import openai
    client = openai.AsyncOpenAI(api_key=KEY, base_url=f"{server.url}/v1", max_retries=0)
    try:
        for schema, problem in ((SCHEMA, "In context=(), 'additionalProperties' is required to be supplied"),
                                ({**SCHEMA, "additionalProperties": False}, "Missing 'nickname'")):
            form = {"type": "json_schema", "json_schema": {"name": "City", "schema": schema, "strict": True}}
            with pytest.raises(openai.BadRequestError) as refused:
                await client.chat.completions.create(model="gpt-4.1-mini", response_format=form,
                                                     messages=[{"role": "user", "content": "Hi"}])
            assert problem in refused.value.message and refused.value.param == "response_format"
        nested = {"type": "object", "properties": {"where": {"type": "object", "properties": {"x": {"type": "number"}},
                                                             "required": ["x"]}},
                  "required": ["where"], "additionalProperties": False}
        with pytest.raises(openai.BadRequestError, match=r"context=\('properties', 'where'\)"):
            await client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "Hi"}],
                                                 response_format={"type": "json_schema", "json_schema": {
                                                     "name": "W", "schema": nested, "strict": True}})
        with pytest.raises(openai.BadRequestError, match="response_format.json_schema.name"):
            await client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "Hi"}],
                                                 response_format={"type": "json_schema", "json_schema": {
                                                     "schema": STRICT, "strict": True}})
        # the adapter's strict form of the same schemas passes
        for schema in (SCHEMA, nested):
            await client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "Hi"}],
                                                 response_format=json_schema_format(OutputSchema("C", schema)))
        assert len(server.refusals) == 4
    finally:
        await client.close()


async def test_the_fake_refuses_bad_anthropic_output_and_tool_choice(server):
    import anthropic
    client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.url, max_retries=0)
    ask = {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
    try:
        cases = (({"output_config": {"format": {"type": "json_object", "schema": CLOSED}}},
                  "Input should be 'json_schema'"),
                 ({"output_config": {"format": {"type": "json_schema"}}}, "schema: Field required"),
                 ({"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}}, "additionalProperties"),
                 ({"tools": [{"name": "weather", "input_schema": WEATHER.parameters}],
                   "tool_choice": {"type": "tool", "name": "City"}}, "Tool 'City' not found"),
                 ({"tool_choice": {"type": "any"}}, "only be specified while providing tools"),
                 ({"tools": [{"name": "List", "input_schema": {"type": "array"}}]}, "Input should be 'object'"))
        for extra, message in cases:
            with pytest.raises(anthropic.BadRequestError, match=message):
                await client.messages.create(**ask, **extra)
        assert len(server.refusals) == len(cases)
    finally:
        await client.close()


async def test_the_fake_refuses_a_gemini_schema_without_the_json_mime_type(server):
    from google import genai
    client = genai.Client(api_key=KEY, http_options=genai.types.HttpOptions(
        base_url=server.url, retry_options=genai.types.HttpRetryOptions(attempts=1)))
    try:
        with pytest.raises(genai.errors.ClientError, match="response_mime_type must be application/json"):
            await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi",
                                                     config=genai.types.GenerateContentConfig(
                                                         response_json_schema=SCHEMA))
        weather = genai.types.Tool(function_declarations=[genai.types.FunctionDeclaration(
            name="weather", description="The weather.", parameters_json_schema=WEATHER.parameters)])
        with pytest.raises(genai.errors.ClientError, match="Function calling with a response mime type"):
            await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi",
                                                     config=genai.types.GenerateContentConfig(
                                                         response_mime_type="application/json",
                                                         response_json_schema=SCHEMA, tools=[weather]))
        assert len(server.refusals) == 2
    finally:
        await client.aio.aclose()
        client.close()


@pytest.mark.parametrize("model, sent", [("gemini-2.5-flash", False), ("gemini-3.5-flash", True)])
async def test_gemini_takes_a_schema_beside_tools_from_gemini_3_on(server, handles, model, sent):
    """Before Gemini 3 the API refuses a JSON answer with function declarations: the schema stays out (the service
    asks in the prompt), and the spec says so."""
    server.script(Script(text=ANSWER))
    await handle(handles, server, f"gemini:{model}").complete("Hi", output=OUTPUT, tools=(WEATHER,))
    config = server.last.body.get("generationConfig") or {}
    assert ("responseJsonSchema" in config) is sent and ("responseMimeType" in config) is sent
    assert (output_mode(f"gemini:{model}", tools=True) is not None) is sent and not server.refusals


async def test_claude_takes_a_schema_that_is_not_an_object_natively_only(server, handles):
    """A tool's input is an object: an older Claude gets no answer tool for a list (the service asks in the
    prompt); a Claude with output_config gets the list schema there."""
    names = OutputSchema("Names", {"type": "array", "items": {"type": "string"}})
    server.script(Script(text='["Ada"]'), Script(text='["Ada"]'))
    await handle(handles, server, "anthropic:claude-3-5-haiku-20241022").complete("Names?", output=names)
    assert not {"tools", "tool_choice", "output_config"} & set(server.last.body)
    reply = await handle(handles, server, "anthropic:claude-sonnet-4-6").complete("Names?", output=names)
    assert server.last.body["output_config"]["format"]["schema"] == dict(names.schema)
    assert json.loads(reply.text) == ["Ada"] and not server.refusals


def test_strict_form_closes_every_object_keeps_refs_and_leaves_the_original_alone():
    schema = {"type": "object", "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"},
                                                                                     "y": {"type": "number"}},
                                                    "required": ["x"]}},
              "properties": {"start": {"$ref": "#/$defs/Point"},
                             "path": {"type": "array", "items": {"$ref": "#/$defs/Point"}},
                             "label": {"$ref": "#/$defs/Point", "description": "where the label goes"},
                             "kind": {"enum": ["line", "curve"]},
                             "weight": {"anyOf": [{"type": "integer"}, {"type": "string"}]}},
              "required": ["start"]}
    original = json.loads(json.dumps(schema))
    strict = strict_schema(schema)
    assert schema == original
    assert strict["$defs"]["Point"] == {"type": "object", "required": ["x", "y"], "additionalProperties": False,
                                        "properties": {"x": {"type": "number"}, "y": {"type": ["number", "null"]}}}
    props = strict["properties"]
    assert props["start"] == {"$ref": "#/$defs/Point"}        # required: a $ref alone stays a $ref
    assert props["path"] == {"type": ["array", "null"], "items": {"$ref": "#/$defs/Point"}}
    assert props["label"]["type"] == ["object", "null"] and props["label"]["additionalProperties"] is False
    assert props["label"]["description"] == "where the label goes" and "$ref" not in props["label"]
    assert props["kind"] == {"anyOf": [{"enum": ["line", "curve"]}, {"type": "null"}]}
    assert props["weight"] == {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]}
    assert strict["required"] == list(schema["properties"]) and strict["additionalProperties"] is False


@pytest.mark.parametrize("schema", [
    {"type": "object", "additionalProperties": {"type": "integer"}},
    {"type": "object", "properties": {"tags": {"type": "object"}}},
    {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": True},
    {"type": "array", "items": {"type": "string"}}], ids=["map", "open-object", "open-extras", "array-root"])
def test_schemas_strict_mode_cannot_say_are_sent_non_strict(schema):
    assert strict_schema(schema) is None
    assert json_schema_format(OutputSchema("X", schema))["json_schema"] == {"name": "X", "schema": schema,
                                                                            "strict": False}


def test_unstrict_drops_the_nulls_strict_mode_added():
    answer_ = {"city": "Paris", "population": 2, "nickname": None}
    assert unstrict(answer_, SCHEMA) == {"city": "Paris", "population": 2}
    nullable = {**SCHEMA, "properties": {**SCHEMA["properties"], "nickname": {"type": ["string", "null"]}}}
    assert unstrict(answer_, nullable) == answer_


@pytest.mark.parametrize("model, mode", [
    ("openai:gpt-4.1-mini", "json_schema"), ("openai:gpt-3.5-turbo", None), ("lmstudio", "json_schema"),
    ("huggingface", "json_schema"), ("anthropic:claude-sonnet-4-5-20250929", "json_schema"),
    ("anthropic:claude-opus-4-1", "json_schema"), ("anthropic:claude-haiku-4-5", "json_schema"),
    ("anthropic:claude-opus-4-20250514", "tool"), ("anthropic:claude-3-7-sonnet-latest", "tool"),
    ("gemini", "json_schema"), ("ollama:llama3.2", "json_schema"), ("local", "grammar"),
    ("search:anthropic:claude-3-5-haiku-20241022", "tool"), ("nobody:model", None)])
def test_each_spec_says_how_it_holds_a_model_to_a_schema(model, mode):
    assert output_mode(model) == mode
    assert output_mode(model, tools=True) == mode or model.startswith("gemini")


async def test_a_model_without_structured_output_gets_no_response_format(server, handles):
    await handle(handles, server, "openai:gpt-3.5-turbo").complete("Hi", output=OUTPUT)
    assert "response_format" not in server.last.body


async def test_the_search_wrapper_passes_the_schema_to_the_model_it_wraps(server, handles, monkeypatch):
    from coditect_magics.providers import search
    monkeypatch.setattr(search.SearchProvider, "ddgs_backend",
                        lambda self: lambda query, n: [{"title": "Paris", "href": "https://example.org/paris",
                                                        "body": "Paris has 2,102,650 inhabitants."}])
    server.script(Script(text=ANSWER))
    reply = await handles("search:openai:gpt-4.1-mini", api_key=KEY, base_url=f"{server.url}/v1").complete(
        "How many people live in Paris?", output=OUTPUT)
    assert server.last.body["response_format"] == CHAT_COMPLETIONS
    assert json.loads(reply.text) == json.loads(ANSWER) and reply.sources


async def test_the_cache_keeps_a_schemas_answer_apart_from_a_plain_one(server, tmp_path):
    options = {"openai": {"api_key": KEY, "base_url": f"{server.url}/v1"}}
    executor = Executor(ExecutorSettings(provider_options=options, attempts=1), ledger=Ledger(tmp_path / "l.db"),
                        cache=ResponseCache(tmp_path / "cache.db"))
    server.script(Script(text="Paris, with about two million people."), Script(text=ANSWER))
    try:
        plain = await executor.run("openai:gpt-4.1-mini", "Paris?", temperature=0)
        shaped = await executor.run("openai:gpt-4.1-mini", "Paris?", temperature=0, output=OUTPUT)
        assert len(server.requests) == 2 and not shaped.cached
        assert json.loads(shaped.text) == json.loads(ANSWER)
        again = await executor.run("openai:gpt-4.1-mini", "Paris?", temperature=0)
        shaped_again = await executor.run("openai:gpt-4.1-mini", "Paris?", temperature=0, output=OUTPUT)
        assert len(server.requests) == 2 and again.cached and shaped_again.cached
        assert (again.text, shaped_again.text) == (plain.text, shaped.text)
    finally:
        await executor.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_the_embedded_model_answers_json_that_validates(local_model, stream):
    """llama.cpp's grammar, made from the schema, lets even a 135M model answer nothing but JSON of that shape."""
    import jsonschema
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 24},
                                               "country": {"type": "string", "maxLength": 24},
                                               "capital": {"type": "boolean"}},
              "required": ["city", "country", "capital"]}
    llm = providers.get("local:smollm2", temperature=0, max_tokens=80)
    question = "Give the capital city of France as JSON."
    if stream:
        replying = llm.stream(question, output=OutputSchema("City", schema))
        [c async for c in replying]
        reply = replying.reply
    else:
        reply = await llm.complete(question, output=OutputSchema("City", schema))

    def valid(text: str) -> bool:
        try:
            jsonschema.validate(json.loads(text), schema)
        except (ValueError, jsonschema.ValidationError):
            return False
        return True

    assert reply.finish_reason == "stop" and valid(reply.text), reply.text
    plain = await llm.complete(question)  # without the schema the same model does not: the grammar did the work
    assert not valid(plain.text), plain.text
