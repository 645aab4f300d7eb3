"""Answers as data (`--schema`, `executor.complete(..., schema=)`): a pydantic model, a TypedDict or a JSON-schema
dict; the reply validated into the object; an invalid answer asked again with the validation errors on the wire,
both calls in the ledger; a reply that still fails is one line that keeps the raw text; streamed and whole; `%agent
map --schema` (fields as columns, a failed row's error), `--compare` with a schema, `%%agent --schema`, bad names.
Real IPython shells and SDKs against the loopback servers."""

from __future__ import annotations

import json

import pytest
from IPython.utils.capture import capture_output
from pydantic import BaseModel
from typing_extensions import TypedDict

from coditect_magics import structured
from coditect_magics.cache import ResponseCache
from coditect_magics.costs import Ledger
from coditect_magics.executor import Executor, ExecutorSettings
from coditect_magics.structured import InvalidAnswer, Schema, resolve_schema
from tests.fakes import Script

KEY = "sk-test-structured-SECRET-7"
PARIS = '{"name": "Paris", "population": 2100000}'


class City(BaseModel):
    name: str
    population: int


class Place(TypedDict):
    name: str
    population: int


PLACE_SCHEMA = {"title": "Place", "type": "object", "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
                "required": ["name", "population"]}


def ledger_rows(ledger) -> list[dict]:
    columns, values = ledger.query("SELECT * FROM calls ORDER BY ts, attempt")
    return [dict(zip(columns, v)) for v in values]


def schema_on_wire(body: dict, name: str) -> bool:
    """The schema reached the model: as the API's response format, or (a provider that cannot constrain output)
    in the system prompt."""
    if "response_format" in body:
        return body["response_format"]["json_schema"]["name"] == name
    system = " ".join(m["content"] for m in body["messages"] if m["role"] == "system")
    return f"schema named {name}" in system and '"population"' in system


@pytest.fixture
async def executor(server, tmp_path):
    ex = Executor(ExecutorSettings(provider_options={"openai": {"api_key": KEY, "base_url": f"{server.url}/v1"}},
                                   attempts=1, timeout_s=5),
                  ledger=Ledger(tmp_path / "ledger.db"), cache=ResponseCache(tmp_path / "cache.db"))
    yield ex
    await ex.aclose()


# the service, from Python
@pytest.mark.parametrize("shape, expected", [
    (City, City(name="Paris", population=2100000)),
    (Place, {"name": "Paris", "population": 2100000}),
    (PLACE_SCHEMA, {"name": "Paris", "population": 2100000}),
])
async def test_complete_parses_each_kind_of_schema(server, executor, shape, expected):
    server.script(Script(text=PARIS))
    reply = await executor.complete("openai:gpt-4.1-mini", "The capital of France?", schema=shape)
    assert reply.parsed == expected and type(reply.parsed) is type(expected)
    assert reply.text == PARIS
    assert schema_on_wire(server.last.body, Schema.of(shape).name)


async def test_an_invalid_answer_is_asked_again_with_the_errors(server, executor):
    server.script(Script(text='{"name": "Paris", "population": "lots"}', input_tokens=20, output_tokens=9),
                  Script(text=PARIS, input_tokens=40, output_tokens=8))
    reply = await executor.complete("openai:gpt-4.1-mini", "The capital of France?", schema=City)
    assert reply.parsed == City(name="Paris", population=2100000)
    retry = server.requests[1].body["messages"]
    assert retry[-2] == {"role": "assistant", "content": '{"name": "Paris", "population": "lots"}'}
    assert retry[-1]["role"] == "user" and "population: Input should be a valid integer" in retry[-1]["content"]
    rows = ledger_rows(executor.ledger)
    assert [(r["status"], r["input_tokens"]) for r in rows] == [("ok", 20), ("ok", 40)]
    assert reply.usage.input_tokens == 60 and reply.usage.output_tokens == 17


async def test_an_answer_that_still_fails_raises_with_its_text(server, executor):
    server.script(Script(text="Paris, about two million"), Script(text='{"name": "Paris"}'))
    with pytest.raises(InvalidAnswer) as caught:
        await executor.complete("openai:gpt-4.1-mini", "The capital of France?", schema=City)
    assert caught.value.text == '{"name": "Paris"}' and caught.value.attempts == 2
    assert str(caught.value) == "the answer does not match City after 2 tries: population: Field required"
    assert len(ledger_rows(executor.ledger)) == 2


async def test_retries_follow_the_setting(server, executor):
    server.script(Script(text="no JSON here"), Script(text=PARIS))
    with pytest.raises(InvalidAnswer):
        await executor.complete("openai:gpt-4.1-mini", "The capital?", schema=City, retries=0)
    assert len(server.requests) == 1


def test_bad_schema_names_are_one_line():
    namespace = {"n": 3, "City": City, "broken": {"type": "objekt"}}
    for name, says in [("Town", "no variable 'Town' in the notebook"), ("n", "n (int) is not a schema"),
                       ("broken", "broken is not a valid JSON schema"), ("City.nope", "City has no attribute")]:
        with pytest.raises(structured.UsageError) as caught:
            resolve_schema(name, namespace)
        assert says in str(caught.value) and "\n" not in str(caught.value)
    assert resolve_schema("City", namespace).fields == ("name", "population")


# the fronts, in a real shell
def shown(captured) -> list[dict]:
    return [o.data for o in captured.outputs]


@pytest.mark.parametrize("stream", [True, False])
def test_llm_schema_parses_and_keeps_the_text(shell, thread_server, stream):
    shell.user_ns["City"] = City
    thread_server.script(Script(text=PARIS, chunk_delay=0.01))
    with capture_output() as captured:
        shell.run_cell_magic("llm", f"openai:gpt-4.1-mini --schema City -o city{'' if stream else ' --no-stream'}",
                             "The capital of France, with its population?")
    assert shell.user_ns["city"] == City(name="Paris", population=2100000)
    result = shell.user_ns["_llm"]
    assert result.parsed is shell.user_ns["city"] and result.text == PARIS
    bundles = [d for d in shown(captured) if "text/markdown" in d]
    assert "City(name='Paris', population=2100000)" in bundles[-1]["text/markdown"]
    if stream:  # the JSON shows as it arrives, before the object
        assert any(d["text/markdown"].startswith('```\n{"name": "Paris",') and "2100000" not in d["text/markdown"]
                   for d in bundles)
    assert ("stream" in thread_server.last.body) is stream
    assert schema_on_wire(thread_server.last.body, "City")
    assert captured.stderr == ""


def test_llm_schema_typeddict_and_json_schema_dict(shell, thread_server):
    shell.user_ns.update(Place=Place, place_schema=PLACE_SCHEMA)
    thread_server.script(Script(text=PARIS), Script(text=f"```json\n{PARIS}\n```"))
    shell.run_cell_magic("llm", "openai:gpt-4.1-mini --schema Place -o a", "Paris?")
    shell.run_cell_magic("llm", "openai:gpt-4.1-mini --schema place_schema -o b", "Paris?")
    assert shell.user_ns["a"] == shell.user_ns["b"] == {"name": "Paris", "population": 2100000}


def test_llm_schema_retry_then_one_line_keeping_the_raw_text(shell, thread_server):
    shell.user_ns["City"] = City
    thread_server.script(Script(text='{"name": "Paris"}', input_tokens=10, output_tokens=5),
                         Script(text='{"name": "Paris", "population": "many"}', input_tokens=30, output_tokens=9))
    with capture_output() as captured:
        shell.run_cell_magic("llm", "openai:gpt-4.1-mini --schema City -o city", "Paris?")
    retry = thread_server.requests[1].body["messages"]
    assert retry[-2] == {"role": "assistant", "content": '{"name": "Paris"}'}
    assert "population: Field required" in retry[-1]["content"]
    lines = captured.stderr.strip().splitlines()
    assert lines[0].startswith("coditect: the answer does not match City: population: Field required; asking again")
    assert lines[1] == ("coditect: the answer does not match City after 2 tries: population: Input should be a "
                        "valid integer, unable to parse string as an integer (the raw text is in _llm.text)")
    assert len(lines) == 2 and "city" not in shell.user_ns
    result = shell.user_ns["_llm"]
    assert result.text == '{"name": "Paris", "population": "many"}' and result.parsed is None
    assert result.status == "invalid" and result.usage.input_tokens == 40
    rows = shell.run_line_magic("llm", "costs")
    assert len(rows) == 2 and list(rows["input_tokens"]) == [10, 30]


def test_llm_schema_bad_name_is_one_line(shell, thread_server):
    shell.user_ns["n"] = 3
    for line, says in [("--schema Town", "no variable 'Town' in the notebook"), ("--schema n", "n (int) is not")]:
        with capture_output() as captured:
            shell.run_cell_magic("llm", f"openai:gpt-4.1-mini {line}", "Paris?")
        assert captured.stderr.count("\n") == 1 and says in captured.stderr
    assert thread_server.requests == []


def test_compare_with_a_schema_has_a_row_per_model_and_the_fields(shell, thread_server):
    shell.user_ns["City"] = City
    thread_server.responder = lambda recorded: Script(
        text=PARIS if recorded.body["model"] == "gpt-4.1-mini" else "I think Paris.")
    with capture_output():
        frame = shell.run_cell_magic("llm", "--compare openai:gpt-4.1-mini,openai:gpt-4o --schema City", "Paris?")
    assert list(frame.columns[:3]) == ["model", "name", "population"]
    good, bad = frame.iloc[0], frame.iloc[1]
    assert (good["name"], good["population"], good["status"]) == ("Paris", 2100000, "ok")
    assert bad["name"] is None and bad["status"] == "error" and "does not match City after 2 tries" in bad["error"]
    assert len(thread_server.requests) == 3  # the bad model was asked again once


def test_a_model_that_cannot_constrain_output_gets_the_schema_in_its_prompt(shell, thread_server):
    shell.user_ns["City"] = City
    thread_server.script(Script(text=PARIS))
    shell.run_cell_magic("llm", "openai:gpt-3.5-turbo --schema City -s 'Be brief.' -o city", "Paris?")
    sent = thread_server.last.body
    assert "response_format" not in sent
    assert [m["role"] for m in sent["messages"]] == ["system", "system", "user"]
    assert sent["messages"][1]["content"].startswith("Answer with one JSON object only")
    assert json.loads(sent["messages"][1]["content"].partition("\n")[2]) == City.model_json_schema()
    assert shell.user_ns["city"] == City(name="Paris", population=2100000)


@pytest.fixture
def extractor(shell, tmp_path, monkeypatch):
    """A project with an `extractor` agent (no tools) on openai:gpt-4.1-mini, and City in the namespace."""
    from tests.agent_support import agent_file
    monkeypatch.chdir(tmp_path)
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "extractor.md").write_text(agent_file("extractor", "openai:gpt-4.1-mini", "[]", "You extract cities."))
    shell.user_ns["City"] = City
    return shell


def test_agent_map_with_a_schema_fills_a_column_per_field_and_errors(extractor, thread_server):
    import pandas as pd

    def answer(recorded):
        if "Atlantis" in recorded.prompt or "Atlantis" in json.dumps(recorded.body["messages"]):
            return Script(text="Atlantis is a legend.")
        return Script(text=json.dumps({"name": recorded.prompt.split()[-1], "population": len(recorded.prompt)}))

    thread_server.responder = answer
    extractor.user_ns["df"] = pd.DataFrame({"text": ["About Lyon", "About Atlantis", "About Nice"]})
    with capture_output():
        out = extractor.run_line_magic("agent", "map extractor df --column text --schema City")
    assert list(out.columns) == ["text", "name", "population", "error"]
    assert out.loc[0, "name"] == "Lyon" and out.loc[2, "population"] == len("About Nice")
    assert out.loc[1, "name"] is None and out.loc[1, "population"] is None
    assert "does not match City after 2 tries" in out.loc[1, "error"] and out.loc[0, "error"] is None
    frame = extractor.run_line_magic("llm", "costs")
    assert len(frame) == 4 and set(frame["agent"]) == {"extractor"}  # the failed row was asked twice


def test_agent_map_schema_refuses_to_overwrite_a_column(extractor, thread_server):
    import pandas as pd
    extractor.user_ns["df"] = pd.DataFrame({"name": ["Lyon"]})
    with capture_output() as captured:
        extractor.run_line_magic("agent", "map extractor df --column name --schema City")
    assert "df already has column(s) name" in captured.stderr and thread_server.requests == []


def test_agent_cell_with_a_schema(extractor, thread_server):
    thread_server.script(Script(text=PARIS))
    with capture_output() as captured:
        extractor.run_cell_magic("agent", "extractor --schema City -o city", "Paris?")
    assert extractor.user_ns["city"] == City(name="Paris", population=2100000)
    assert extractor.user_ns["_llm"].text == PARIS and captured.stderr == ""
    assert thread_server.last.body["messages"][0] == {"role": "system", "content": "You extract cities."}


def test_tools_then_schema_validates_the_final_answer_asking_again_without_tools(shell, thread_server):
    shell.user_ns["City"] = City

    def population(city: str) -> int:
        """How many people live in a city."""
        return 2100000

    shell.user_ns["population"] = population
    thread_server.script(
        Script(tool_calls=[{"id": "c1", "name": "population", "arguments": {"city": "Paris"}}], text=""),
        Script(text="Paris has 2,100,000 people."),
        Script(text=PARIS))
    with capture_output():
        shell.run_cell_magic("llm", "openai:gpt-4.1-mini --tools population --schema City -o city", "Paris?")
    first, second, third = (r.body for r in thread_server.requests)
    assert "schema named City" in first["messages"][0]["content"] and "tools" in first
    assert first.get("response_format") is None and "tools" not in third
    assert third["messages"][-2] == {"role": "assistant", "content": "Paris has 2,100,000 people."}
    assert "Invalid JSON" in third["messages"][-1]["content"]
    assert shell.user_ns["city"] == City(name="Paris", population=2100000)
    assert shell.user_ns["_llm"].parsed == shell.user_ns["city"]


@pytest.mark.parametrize("model", ["anthropic:claude-sonnet-4-6", "anthropic:claude-3-5-haiku-latest",
                                   "ollama:llama3.2", "lmstudio:qwen2.5-7b-instruct"])
@pytest.mark.parametrize("stream", [True, False])
def test_llm_schema_on_other_providers(shell, thread_server, model, stream):
    shell.user_ns["City"] = City
    thread_server.script(Script(text='{"name": "Paris"}'), Script(text=PARIS))
    with capture_output() as captured:
        shell.run_cell_magic("llm", f"{model} --schema City -o city{'' if stream else ' --no-stream'}", "Paris?")
    assert shell.user_ns["city"] == City(name="Paris", population=2100000), captured.stderr
    assert "population: Field required" in json.dumps(thread_server.requests[1].body)
    assert thread_server.refusals == []


async def test_complete_on_gemini(server, tmp_path):
    ex = Executor(ExecutorSettings(provider_options={"gemini": {"api_key": KEY, "base_url": server.url}},
                                   attempts=1, timeout_s=5),
                  ledger=Ledger(tmp_path / "ledger.db"), cache=ResponseCache(tmp_path / "cache.db"))
    server.script(Script(text="Paris!"), Script(text=PARIS))
    try:
        reply = await ex.complete("gemini:gemini-2.5-flash", "The capital of France?", schema=City)
    finally:
        await ex.aclose()
    assert reply.parsed == City(name="Paris", population=2100000) and server.refusals == []
    assert "Invalid JSON" in json.dumps(server.requests[1].body["contents"])


def test_help_and_docs_name_the_schema_option(shell, thread_server):
    with capture_output() as captured:
        shell.run_line_magic("llm", "help")
    assert captured.stdout.count("--schema NAME") >= 2  # %llm's and %agent's options
    assert "%agent map NAME DF --column COL [--out NEWCOL | --schema NAME]" in captured.stdout


def test_schema_refusals_are_one_line(extractor, thread_server):
    import typing
    extractor.user_ns["Old"] = typing.TypedDict("Old", {"name": str})
    for magic, line, cell, says in [
            ("llm", "openai:gpt-4.1-mini --schema Old", "Paris?", "Old: Please use `typing_extensions.TypedDict`"),
            ("agent", "extractor --schema City --queue", "Paris?", "leave out --queue")]:
        with capture_output() as captured:
            extractor.run_cell_magic(magic, line, cell)
        assert captured.stderr.count("\n") == 1 and says in captured.stderr, captured.stderr
    assert thread_server.requests == []


async def test_nulls_a_strict_api_asks_for_give_way_to_defaults(server, executor):
    class Town(BaseModel):
        name: str
        population: int = 0
        mayor: str | None = None

    server.script(Script(text='{"name": "Lyon", "population": null, "mayor": null}'))
    reply = await executor.complete("openai:gpt-4.1-mini", "Lyon?", schema=Town)
    assert reply.parsed == Town(name="Lyon", population=0, mayor=None) and len(server.requests) == 1
    strict = server.last.body["response_format"]["json_schema"]
    assert strict["strict"] is True and strict["schema"]["required"] == ["name", "population", "mayor"]
