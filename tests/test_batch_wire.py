"""The batch adapters on each provider's official SDK against the loopback batch APIs: what goes on the wire, the
job's life (submit, retrieve until it ends, results with ok, errored and expired outcomes, cancel), a new adapter
finding a batch by id (as after a kernel restart), and what the real APIs refuse refused."""

from __future__ import annotations

import json

import pytest

from coditect_magics.providers import Request, errors
from coditect_magics.providers.batching import BatchAPI, BatchItem, BatchStatus, batch_api
from coditect_magics.providers.types import OutputSchema, ToolSpec
from tests import parts
from tests.conftest import closed_port
from tests.fakes import Script
from tests.fakes.batches import BatchPlan

KEY = "sk-test-batch-SECRET-0042"
CITY = OutputSchema("City", {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
                             "additionalProperties": False})


@pytest.fixture
async def apis():
    """`apis(provider, base_url)`: a batch adapter with the test key, closed when the test ends."""
    made: list[BatchAPI] = []

    def make(provider: str, base_url: str) -> BatchAPI:
        made.append(batch_api(provider, api_key=KEY, base_url=base_url))
        return made[-1]

    yield make
    for api in made:
        await api.aclose()


def items(model: str, *custom_ids: str, **params) -> list[BatchItem]:
    return [BatchItem(c, Request.build(model, [{"role": "system", "content": "Be brief."},
                                               {"role": "user", "content": f"Question {c}"}], **params))
            for c in custom_ids]


async def until_finished(api: BatchAPI, batch_id: str, limit: int = 10) -> list[BatchStatus]:
    """Every status a poller sees, the last one finished."""
    seen = [await api.retrieve(batch_id)]
    while not seen[-1].finished and len(seen) < limit:
        seen.append(await api.retrieve(batch_id))
    return seen


def by_id(outcomes) -> dict:
    return {o.custom_id: o for o in outcomes}


# OpenAI Batch


async def test_openai_lines_are_the_chat_adapters_calls(server, apis, handles):
    api = apis("openai", f"{server.url}/v1")
    request = items("openai:gpt-4.1-mini", "q1", temperature=0.2, max_tokens=50)[0].request
    request = Request(request.model, request.messages, request.temperature, request.max_tokens,
                      tools=(ToolSpec("lookup", "Look a word up.", {"type": "object", "properties": {}}),), output=CITY)
    await handles("openai:gpt-4.1-mini", api_key=KEY, base_url=f"{server.url}/v1").complete(request)
    chat_body = server.last.body
    status = await api.submit([BatchItem("q1", request), *items("openai:gpt-4.1-mini", "q2")])
    upload, create = [r for r in server.requests if r.path in ("/v1/files", "/v1/batches")]
    lines = [json.loads(line) for line in upload.body["content"].splitlines()]
    assert upload.body["purpose"] == "batch" and upload.body["filename"].endswith(".jsonl")
    assert upload.credential == KEY
    assert lines[0] == {"custom_id": "q1", "method": "POST", "url": "/v1/chat/completions", "body": chat_body}
    assert lines[0]["body"]["response_format"]["json_schema"]["schema"] == dict(CITY.schema)
    assert "stream" not in lines[0]["body"] and lines[1]["custom_id"] == "q2"
    assert create.body == {"input_file_id": create.body["input_file_id"], "endpoint": "/v1/chat/completions",
                           "completion_window": "24h"}
    assert status.state == "validating" and status.counts["total"] == 2 and status.provider == "openai"
    assert api.size(BatchItem("q1", request)) == len(upload.body["content"].splitlines()[0]) + 1


async def test_openai_batch_life(server, apis):
    server.batch_plan = BatchPlan(polls=2, expire={"r3"})
    server.script(Script(text="Paris.", input_tokens=20, output_tokens=3), Script(status=500, error_message="boom"),
                  Script(text="Rome.", input_tokens=21, output_tokens=4))
    api = apis("openai", f"{server.url}/v1")
    submitted = await api.submit(items("openai:gpt-4.1-mini", "r1", "r2", "r3", "r4"))
    seen = await until_finished(api, submitted.id)
    assert [s.state for s in seen] == ["in_progress", "in_progress", "expired"]
    assert seen[0].counts["processing"] == 4 and seen[-1].counts["processing"] == 0
    assert seen[-1].ended_at is not None and seen[-1].expires_at > seen[-1].created_at
    outcomes = by_id(await api.results(submitted.id))
    assert sorted(outcomes) == ["r1", "r2", "r3", "r4"]
    assert outcomes["r1"].status == "ok" and outcomes["r1"].reply.text == "Paris."
    assert (outcomes["r1"].reply.usage.input_tokens, outcomes["r1"].reply.usage.output_tokens) == (20, 3)
    assert outcomes["r4"].reply.text == "Rome." and outcomes["r4"].reply.model == "gpt-4.1-mini"
    assert outcomes["r2"].status == "error" and "HTTP 500" in outcomes["r2"].error and "boom" in outcomes["r2"].error
    assert outcomes["r2"].reply is None
    assert outcomes["r3"].status == "expired" and outcomes["r3"].reply is None


async def test_openai_new_adapter_finds_the_batch_and_cancel(server, apis):
    first = apis("openai", f"{server.url}/v1")
    done = await first.submit(items("openai:gpt-4.1-mini", "a", "b"))
    server.batch_plan = BatchPlan(polls=5)
    running = await first.submit(items("openai:gpt-4.1-mini", "c", "d"))
    await first.aclose()
    again = apis("openai", f"{server.url}/v1")   # a new kernel: nothing but the ids
    assert (await until_finished(again, done.id))[-1].state == "ended"
    assert [o.status for o in await again.results(done.id)] == ["ok", "ok"]
    with pytest.raises(errors.BadRequest, match="results come when it has ended"):
        await again.results(running.id)
    assert (await again.cancel(running.id)).state == "cancelling"
    assert (await again.retrieve(running.id)).state == "cancelled"
    assert {o.custom_id: o.status for o in await again.results(running.id)} == {"c": "cancelled", "d": "cancelled"}


async def test_openai_unknown_batch_is_one_line(server, apis):
    api = apis("openai", f"{server.url}/v1")
    with pytest.raises(errors.BatchNotFound) as caught:
        await api.retrieve("batch_doesnotexist")
    assert str(caught.value).startswith("openai: no batch 'batch_doesnotexist'") and "\n" not in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in caught.value.detail


async def test_openai_mixed_models_fail_validation(server, apis):
    api = apis("openai", f"{server.url}/v1")
    assert api.limits.one_model and api.limits.max_requests == 50_000
    mixed = items("openai:gpt-4.1-mini", "m1") + items("openai:gpt-4o", "m2")
    status = (await until_finished(api, (await api.submit(mixed)).id))[-1]
    assert status.state == "failed" and "line 2" in status.error and "model" in status.error


async def test_openai_refusals(server):
    openai = parts.module("openai", "pip install -e '.[dev]'")
    client = openai.AsyncOpenAI(api_key=KEY, base_url=f"{server.url}/v1", max_retries=0)
    good = {"custom_id": "x", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Hi"}]}}
    other = await client.files.create(file=("data.jsonl", json.dumps(good).encode()), purpose="user_data")
    with pytest.raises(openai.BadRequestError, match="purpose 'batch'"):
        await client.batches.create(input_file_id=other.id, endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.BadRequestError, match="Must be .jsonl"):
        await client.files.create(file=("data.txt", b"{}"), purpose="batch")
    cases = {"invalid_json_line": "not json", "duplicate_custom_id": json.dumps(good),
             "url_mismatch": json.dumps({**good, "custom_id": "y", "url": "/v1/embeddings"}),
             "model_mismatch": json.dumps({**good, "custom_id": "z", "body": {**good["body"], "model": "gpt-4o"}})}
    for code, line in cases.items():
        file = await client.files.create(file=("in.jsonl", f"{json.dumps(good)}\n{line}\n".encode()), purpose="batch")
        batch = await client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions",
                                            completion_window="24h")
        batch = await client.batches.retrieve(batch.id)
        assert batch.status == "failed" and [e.code for e in batch.errors.data] == [code], code
        assert batch.errors.data[0].line == 2
    await client.close()


# Anthropic Message Batches


async def test_anthropic_params_are_the_chat_adapters_calls(server, apis, handles):
    api = apis("anthropic", server.url)
    request = items("anthropic:claude-sonnet-4-6", "q1", max_tokens=50)[0].request
    request = Request(request.model, request.messages, max_tokens=50, stop=("END",), output=CITY)
    await handles("anthropic:claude-sonnet-4-6", api_key=KEY, base_url=server.url).complete(request)
    chat_body = server.last.body
    status = await api.submit([BatchItem("q1", request), *items("anthropic:claude-haiku-4-5", "q2")])
    create = server.last
    assert create.path == "/v1/messages/batches" and create.credential == KEY
    assert create.headers["anthropic-version"] == server.requests[0].headers["anthropic-version"]
    assert create.body["requests"][0] == {"custom_id": "q1", "params": chat_body}
    assert create.body["requests"][1]["params"]["model"] == "claude-haiku-4-5"   # one batch, two models
    assert "stream" not in chat_body and chat_body["system"] == "Be brief."
    assert status.state == "in_progress" and status.counts["processing"] == 2 and status.counts["total"] == 2
    assert api.size(BatchItem("q1", request)) == len(json.dumps(create.body["requests"][0], separators=(",", ":")))
    assert not api.limits.one_model and api.limits.max_requests == 100_000


async def test_anthropic_batch_life(server, apis):
    server.batch_plan = BatchPlan(polls=1, expire={"r3"})
    server.script(Script(text="Paris.", input_tokens=20, output_tokens=3, cached_tokens=5),
                  Script(status=529, error_message="Overloaded"), Script(text="Rome."))
    api = apis("anthropic", server.url)
    submitted = await api.submit(items("anthropic:claude-sonnet-4-6", "r1", "r2", "r3", "r4") +
                                 [BatchItem("r5", Request.build("anthropic:claude-sonnet-4-6", ""))])
    seen = await until_finished(api, submitted.id)
    assert [s.state for s in seen] == ["in_progress", "expired"]
    assert seen[-1].counts == {"total": 5, "succeeded": 2, "errored": 2, "expired": 1, "cancelled": 0,
                               "processing": 0}
    outcomes = by_id(await api.results(submitted.id))
    assert outcomes["r1"].status == "ok" and outcomes["r1"].reply.text == "Paris."
    usage = outcomes["r1"].reply.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == (25, 3, 5)
    assert outcomes["r2"].status == "error" and "HTTP 529" in outcomes["r2"].error
    assert outcomes["r3"].status == "expired" and outcomes["r4"].reply.text == "Rome."
    # the Messages rules, checked when the request runs: an empty turn is an errored request, not a failed batch
    assert outcomes["r5"].status == "error" and "non-empty content" in outcomes["r5"].error


async def test_anthropic_forced_answer_tool_is_the_text(server, apis):
    """An older Claude takes the output schema as a forced tool: the batch's reply has the tool's input as text."""
    server.script(Script(text='{"name": "Paris"}'))
    api = apis("anthropic", server.url)
    request = Request.build("anthropic:claude-3-5-sonnet-20241022", "The capital of France?", output=CITY)
    submitted = await api.submit([BatchItem("f1", request)])
    assert server.last.body["requests"][0]["params"]["tool_choice"] == {"type": "tool", "name": "City"}
    await until_finished(api, submitted.id)
    [answer] = await api.results(submitted.id)
    assert json.loads(answer.reply.text) == {"name": "Paris"}


async def test_anthropic_new_adapter_finds_the_batch_and_cancel(server, apis):
    first = apis("anthropic", server.url)
    done = await first.submit(items("anthropic:claude-sonnet-4-6", "a", "b"))
    server.batch_plan = BatchPlan(polls=5)
    running = await first.submit(items("anthropic:claude-sonnet-4-6", "c"))
    await first.aclose()
    again = apis("anthropic", server.url)
    assert (await until_finished(again, done.id))[-1].state == "ended"
    assert sorted(o.custom_id for o in await again.results(done.id) if o.status == "ok") == ["a", "b"]
    with pytest.raises(errors.BadRequest, match="results come when it has ended"):
        await again.results(running.id)
    assert (await again.cancel(running.id)).state == "cancelling"
    final = await again.retrieve(running.id)
    assert final.state == "cancelled" and final.counts["cancelled"] == 1
    assert [(o.custom_id, o.status) for o in await again.results(running.id)] == [("c", "cancelled")]
    with pytest.raises(errors.BatchNotFound, match="^anthropic: no batch 'msgbatch_nope'"):
        await again.retrieve("msgbatch_nope")


async def test_anthropic_refusals(server):
    anthropic = parts.module("anthropic", "pip install -e '.[dev]'")
    client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.url, max_retries=0)
    params = {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
    cases = {"should match pattern": [{"custom_id": "row 1", "params": params}],
             "at most 64 characters": [{"custom_id": "x" * 65, "params": params}],
             "used by another request": [{"custom_id": "a", "params": params}, {"custom_id": "a", "params": params}],
             "params.max_tokens: Field required": [{"custom_id": "a", "params": {**params, "max_tokens": None}}],
             "at least 1 item": []}
    cases["params.max_tokens: Field required"][0]["params"].pop("max_tokens")
    for message, requests in cases.items():
        with pytest.raises(anthropic.BadRequestError, match=message):
            await client.messages.batches.create(requests=requests)
    assert len(server.refusals) == len(cases) and not server.batches
    await client.close()


# Gemini batch mode


async def test_gemini_inline_requests_are_the_chat_adapters_calls(server, apis, handles):
    api = apis("gemini", server.url)
    request = items("gemini:gemini-3.5-flash", "q1", temperature=0.3, max_tokens=40)[0].request
    request = Request(request.model, request.messages, 0.3, 40, output=CITY,
                      tools=(ToolSpec("lookup", "Look a word up.", {"type": "object", "properties": {}}),))
    await handles("gemini:gemini-3.5-flash", api_key=KEY, base_url=server.url).complete(request)
    chat_body = server.last.body
    status = await api.submit([BatchItem("q1", request), *items("gemini:gemini-3.5-flash", "q2")])
    create = server.last
    assert create.path == "/v1beta/models/gemini-3.5-flash:batchGenerateContent" and create.credential == KEY
    inline = create.body["batch"]["inputConfig"]["requests"]["requests"]
    assert inline[0] == {"request": chat_body, "metadata": {"key": "q1"}} and inline[1]["metadata"] == {"key": "q2"}
    assert chat_body["generationConfig"]["responseJsonSchema"] == dict(CITY.schema)
    assert create.body["batch"]["displayName"]
    assert status.state == "in_progress" and status.id.startswith("batches/") and status.counts["total"] == 2
    wire = len(json.dumps(inline[0]))
    assert 0.75 * wire < api.size(BatchItem("q1", request)) < 1.25 * wire   # an estimate of the wire size
    assert api.limits.one_model and api.limits.max_bytes < 20 * 1024 * 1024


async def test_gemini_batch_life(server, apis):
    server.batch_plan = BatchPlan(polls=2, expire={"r3"})
    server.script(Script(text="Paris.", input_tokens=20, output_tokens=3), Script(status=429, error_message="slow"),
                  Script(text="Rome."))
    api = apis("gemini", server.url)
    order = ["r1", "r2", "r3", "r4"]
    submitted = await api.submit(items("gemini:gemini-2.5-flash", *order))
    seen = await until_finished(api, submitted.id)
    assert [s.state for s in seen] == ["in_progress", "in_progress", "expired"]
    assert seen[-1].counts == {"succeeded": 2, "errored": 1} and seen[-1].ended_at is not None
    outcomes = by_id(await api.results(submitted.id, order=order))
    assert sorted(outcomes) == order
    assert outcomes["r1"].status == "ok" and outcomes["r1"].reply.text == "Paris."
    assert (outcomes["r1"].reply.usage.input_tokens, outcomes["r1"].reply.usage.output_tokens) == (20, 3)
    assert outcomes["r2"].status == "error" and "HTTP 429" in outcomes["r2"].error
    assert outcomes["r3"].status == "expired" and outcomes["r4"].reply.text == "Rome."
    # without the order, the keys Gemini echoes still name every answer; the unanswered one is left out
    assert sorted(o.custom_id for o in await api.results(submitted.id)) == ["r1", "r2", "r4"]


async def test_gemini_new_adapter_finds_the_batch_and_cancel(server, apis):
    first = apis("gemini", server.url)
    done = await first.submit(items("gemini:gemini-2.5-flash", "a", "b"))
    server.batch_plan = BatchPlan(polls=5)
    running = await first.submit(items("gemini:gemini-2.5-flash", "c", "d"))
    await first.aclose()
    again = apis("gemini", server.url)
    assert (await until_finished(again, done.id))[-1].state == "ended"
    assert [(o.custom_id, o.status) for o in await again.results(done.id)] == [("a", "ok"), ("b", "ok")]
    with pytest.raises(errors.BadRequest, match="results come when it has ended"):
        await again.results(running.id)
    assert (await again.cancel(running.id)).state == "cancelled"
    assert {o.custom_id: o.status for o in await again.results(running.id, order=["c", "d"])} == \
        {"c": "cancelled", "d": "cancelled"}
    for unknown in ("batches/nope", "nope"):
        with pytest.raises(errors.BatchNotFound, match=f"^gemini: no batch '{unknown}'"):
            await again.retrieve(unknown)


async def test_gemini_refusals(server, apis):
    api = apis("gemini", server.url)
    with pytest.raises(errors.BadRequest, match="one model"):
        await api.submit(items("gemini:gemini-2.5-flash", "a") + items("gemini:gemini-2.5-pro", "b"))
    huge = [BatchItem("big", Request.build("gemini:gemini-2.5-flash", "x" * (21 * 1024 * 1024)))]
    with pytest.raises(errors.BadRequest, match="payload size exceeds the limit"):
        await api.submit(huge)
    genai = parts.module("google.genai", "pip install -e '.[dev]'")
    client = genai.Client(api_key=KEY, http_options=genai.types.HttpOptions(base_url=server.url))
    src = [{"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "metadata": {"key": "fine"}},
           {"contents": [{"role": "system", "parts": [{"text": "Hi"}]}], "metadata": {"key": "bad-role"}}]
    with pytest.raises(genai.errors.ClientError) as caught:   # the SDK's default v1 serves no batch mode
        await client.aio.batches.create(model="gemini-2.5-flash", src=src)
    assert caught.value.code == 404
    beta = genai.Client(api_key=KEY, http_options=genai.types.HttpOptions(base_url=server.url, api_version="v1beta"))
    job = await beta.aio.batches.create(model="gemini-2.5-flash", src=src)
    job = await beta.aio.batches.get(name=job.name)
    fine, bad = job.dest.inlined_responses
    assert fine.response.text and fine.metadata == {"key": "fine"}
    assert bad.error.code == 400 and "valid role" in bad.error.message and bad.metadata == {"key": "bad-role"}
    for made in (client, beta):
        await made.aio.aclose()


# all three


@pytest.mark.parametrize("provider,path,batch_id", [("openai", "/v1", "batch_x"), ("anthropic", "", "msgbatch_x"),
                                                    ("gemini", "", "batches/x")])
async def test_unreachable_is_the_kits_one_line_error(apis, provider, path, batch_id):
    api = apis(provider, f"http://127.0.0.1:{closed_port()}{path}")
    with pytest.raises(errors.Unreachable) as caught:
        await api.retrieve(batch_id)
    assert str(caught.value).startswith(f"{provider}: cannot connect") and "\n" not in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in caught.value.detail
