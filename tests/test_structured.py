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
