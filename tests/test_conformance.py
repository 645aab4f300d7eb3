"""Every provider through its real SDK against the loopback server: whole and streamed replies, usage, and each
injected fault mapped to the kit's error. One table row per provider; provider-specific wire details live in
tests/test_<provider>.py."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Callable

import pytest

from coditect_magics import providers
from coditect_magics.providers import errors
from tests.conftest import KEY, MESSAGES, closed_port
from tests.fakes import Script


@dataclass(frozen=True)
class Target:
    model: str
    base: Callable[[str], str]        # server url -> the base_url the SDK wants
    key_env: tuple[str, ...] = ()     # empty: the provider needs no key

    @property
    def name(self) -> str:
        return self.model.split(":")[0]

    @property
    def model_name(self) -> str:
        return self.model.split(":", 1)[1]

    def get(self, url: str, **kw):
        kw.setdefault("api_key", KEY if self.key_env else None)
        return providers.get(self.model, base_url=self.base(url), **kw)


TARGETS = {
    "anthropic": Target("anthropic:claude-sonnet-4-6", lambda url: url, ("ANTHROPIC_API_KEY",)),
    "openai": Target("openai:gpt-4.1-mini", lambda url: f"{url}/v1", ("OPENAI_API_KEY",)),
    "gemini": Target("gemini:gemini-2.5-flash", lambda url: url, ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
    "lmstudio": Target("lmstudio:qwen2.5-7b-instruct", lambda url: f"{url}/v1"),
    "huggingface": Target("huggingface:meta-llama/Llama-3.1-8B-Instruct", lambda url: url),  # TGI: key optional
    "ollama": Target("ollama:llama3.2", lambda url: url),
}


@pytest.fixture(params=sorted(TARGETS))
def target(request) -> Target:
    return TARGETS[request.param]


async def call(llm: providers.LLM, stream: bool) -> None:
    """One whole reply, or one stream read to its end."""
    if stream:
        [c async for c in llm.stream(MESSAGES)]
    else:
        await llm.complete(MESSAGES)


async def test_whole_reply(server, target):
    server.script(Script(text="Hello, notebook.", input_tokens=21, output_tokens=4))
    reply = await target.get(server.url).complete(MESSAGES)
    assert reply.text == "Hello, notebook."
    assert reply.usage == providers.Usage(21, 4, 0)
    assert reply.finish_reason == "stop"
    assert (reply.provider, reply.model) == (target.name, target.model_name)
    assert reply.latency_s > 0
    assert len(server.requests) == 1


async def test_stream_joins_to_whole_text(server, target):
    text = "Streaming works, one word at a time."
    server.script(Script(text=text, input_tokens=9, output_tokens=8))
    stream = target.get(server.url).stream(MESSAGES)
    chunks = [chunk async for chunk in stream]
    assert [c.text for c in chunks if c.text] == ["Streaming ", "works, ", "one ", "word ", "at ", "a ", "time."]
    assert "".join(c.text for c in chunks) == text
    assert chunks[-1].usage == providers.Usage(9, 8) and chunks[-1].finish_reason == "stop"
    assert all(c.usage is None and c.finish_reason is None for c in chunks[:-1])
    assert stream.reply.text == text and stream.reply.usage == providers.Usage(9, 8)
    assert stream.reply.finish_reason == "stop" and stream.reply.ttft_s is not None
    assert len(server.requests) == 1


async def test_server_reported_model(server, target):
    served = f"{target.model_name}-2026-03-01"
    server.script(Script(model=served), Script(model=served))
    llm = target.get(server.url)
    assert (await llm.complete("Hi")).model == served
    stream = llm.stream("Hi")
    chunks = [c async for c in stream]
    assert chunks[-1].model == stream.reply.model == served


@pytest.mark.parametrize("stream", [False, True])
async def test_length_finish_reason(server, target, stream):
    server.script(Script(text="cut short", finish_reason="length"))
    llm = target.get(server.url)
    if stream:
        replying = llm.stream(MESSAGES, max_tokens=2)
        chunks = [c async for c in replying]
        assert chunks[-1].finish_reason == "length"
        reply = replying.reply
    else:
        reply = await llm.complete(MESSAGES, max_tokens=2)
    assert reply.finish_reason == "length"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status, error", [(401, errors.AuthenticationFailed), (403, errors.AuthenticationFailed),
                                           (404, errors.ModelNotFound), (400, errors.BadRequest),
                                           (500, errors.ServerError), (503, errors.ServerError),
                                           (529, errors.ServerError), (504, errors.Timeout)])
async def test_status_errors(server, target, status, error, stream):
    server.script(Script(status=status, error_message=f"scripted {status}"))
    with pytest.raises(error) as caught:
        await call(target.get(server.url), stream)
    assert str(caught.value).startswith(f"{target.model}: ") and f"scripted {status}" in str(caught.value)
    if error is errors.ServerError:
        assert caught.value.status == status
    assert len(server.requests) == 1, "the SDK's own retries must be off"


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_carries_retry_after(server, target, stream):
    server.script(Script(status=429, retry_after="2", error_message="too many requests"))
    with pytest.raises(errors.RateLimited) as caught:
        await call(target.get(server.url), stream)
    assert caught.value.retry_after == 2.0
    assert "too many requests" in str(caught.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_timeout(server, target, stream):
    server.script(Script(delay=1.5))
    with pytest.raises(errors.Timeout):
        await call(target.get(server.url, timeout=0.3), stream)


async def test_cut_stream_keeps_partial_text(server, target):
    server.script(Script(text="one two three four five", cut_after=2))
    stream = target.get(server.url).stream(MESSAGES)
    received = []
    with pytest.raises(errors.StreamCut) as caught:
        async for chunk in stream:
            received.append(chunk.text)
    assert caught.value.partial == "one two " == "".join(received)
    assert stream.reply is None
    assert len(server.requests) == 1, "no automatic continuation"


async def test_stream_without_final_event_is_cut(server, target):
    server.script(Script(text="one two three", end_early=True))
    with pytest.raises(errors.StreamCut) as caught:
        [c async for c in target.get(server.url).stream(MESSAGES)]
    assert caught.value.partial == "one two three"


@pytest.mark.parametrize("stream", [False, True])
async def test_bad_json(server, target, stream):
    server.script(Script(bad_json=True))
    with pytest.raises(errors.BadResponse):
        await call(target.get(server.url), stream)
    assert len(server.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_unreachable(target, stream):
    with pytest.raises(errors.Unreachable):
        await call(target.get(f"http://127.0.0.1:{closed_port()}", timeout=2), stream)


@pytest.mark.parametrize("name", [name for name, t in sorted(TARGETS.items()) if t.key_env])
async def test_missing_key_names_the_variable(server, name):
    target = TARGETS[name]
    with pytest.raises(errors.MissingCredentials) as caught:
        await target.get(server.url, api_key=None).complete(MESSAGES)
    names = " or ".join(target.key_env)
    assert names in str(caught.value)
    assert caught.value.variables == target.key_env
    assert not server.requests
    row = providers.status(name)
    assert not row.usable and row.reason == f"{names} not set"


async def test_key_echoed_by_server_never_shows(server, target):
    server.script(Script(status=401, echo_key=True), Script(status=400, echo_key=True),
                  Script(status=429, echo_key=True))
    llm = target.get(server.url, api_key=KEY)
    for stream, error in ((False, errors.AuthenticationFailed), (False, errors.BadRequest), (True, errors.RateLimited)):
        with pytest.raises(error) as caught:
            await call(llm, stream)
        err = caught.value
        assert server.last.credential == KEY, "the test server must really have received the key"
        assert "invalid key ***" in str(err)
        shown = str(err) + repr(err) + "".join(traceback.format_exception(err))
        assert KEY not in shown and "***" in shown
