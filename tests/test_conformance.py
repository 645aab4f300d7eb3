"""Every provider through its real SDK against the loopback server: whole and streamed replies, usage, and each
injected fault mapped to the kit's error. One table row per provider; provider-specific wire details live in
tests/test_<provider>.py."""

from __future__ import annotations

import socket
import traceback
from dataclasses import dataclass
from typing import Callable

import pytest

from coditect_magics import providers
from coditect_magics.providers import errors
from tests.fakes import Script

KEY = "sk-test-SECRET-123456"


@dataclass(frozen=True)
class Target:
    model: str
    base: Callable[[str], str]        # server url -> the base_url the SDK wants
    key_env: str | None               # None: the provider needs no key

    def get(self, url: str, **kw):
        kw.setdefault("api_key", KEY if self.key_env else None)
        return providers.get(self.model, base_url=self.base(url), **kw)


TARGETS = {
    "anthropic": Target("anthropic:claude-sonnet-4-6", lambda url: url, "ANTHROPIC_API_KEY"),
    "openai": Target("openai:gpt-4.1-mini", lambda url: f"{url}/v1", "OPENAI_API_KEY"),
    "gemini": Target("gemini:gemini-2.5-flash", lambda url: url, "GEMINI_API_KEY"),
    "lmstudio": Target("lmstudio:qwen2.5-7b-instruct", lambda url: f"{url}/v1", None),
    "huggingface": Target("huggingface:meta-llama/Llama-3.1-8B-Instruct", lambda url: url, None),  # TGI: key optional
    "ollama": Target("ollama:llama3.2", lambda url: url, None),
}

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


@pytest.fixture(params=sorted(TARGETS))
def target(request) -> Target:
    return TARGETS[request.param]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_whole_reply(server, target):
    server.script(Script(text="Hello, notebook.", input_tokens=21, output_tokens=4))
    reply = await target.get(server.url).complete(MESSAGES)
    assert reply.text == "Hello, notebook."
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (21, 4)
    assert reply.finish_reason == "stop"
    assert reply.provider == target.model.split(":")[0]
    assert reply.model == target.model.split(":", 1)[1]
    assert reply.latency_s > 0
    assert len(server.requests) == 1


async def test_stream_joins_to_whole_text(server, target):
    text = "Streaming works, one word at a time."
    server.script(Script(text=text, input_tokens=9, output_tokens=8))
    stream = target.get(server.url).stream(MESSAGES)
    chunks = [chunk async for chunk in stream]
    assert len([c for c in chunks if c.text]) == len(text.split())
    assert "".join(c.text for c in chunks) == text
    assert chunks[-1].usage == providers.Usage(9, 8)
    assert chunks[-1].finish_reason == "stop"
    assert stream.reply.text == text and stream.reply.ttft_s is not None


async def test_length_finish_reason(server, target):
    server.script(Script(text="cut short", finish_reason="length"))
    reply = await target.get(server.url).complete(MESSAGES, max_tokens=2)
    assert reply.finish_reason == "length"


@pytest.mark.parametrize("status, error", [(401, errors.AuthenticationFailed), (404, errors.ModelNotFound),
                                           (400, errors.BadRequest), (500, errors.ServerError),
                                           (503, errors.ServerError)])
async def test_status_errors(server, target, status, error):
    server.script(Script(status=status))
    with pytest.raises(error):
        await target.get(server.url).complete(MESSAGES)
    assert len(server.requests) == 1, "the SDK's own retries must be off"


async def test_rate_limit_carries_retry_after(server, target):
    server.script(Script(status=429, retry_after="2"))
    with pytest.raises(errors.RateLimited) as caught:
        await target.get(server.url).complete(MESSAGES)
    assert caught.value.retry_after == 2.0
    assert len(server.requests) == 1


async def test_rate_limit_in_stream(server, target):
    server.script(Script(status=429, retry_after="1"))
    with pytest.raises(errors.RateLimited):
        [c async for c in target.get(server.url).stream(MESSAGES)]


async def test_timeout(server, target):
    server.script(Script(delay=1.5))
    with pytest.raises(errors.Timeout):
        await target.get(server.url, timeout=0.3).complete(MESSAGES)


async def test_cut_stream_keeps_partial_text(server, target):
    server.script(Script(text="one two three four five", cut_after=2))
    stream = target.get(server.url).stream(MESSAGES)
    received = []
    with pytest.raises(errors.StreamCut) as caught:
        async for chunk in stream:
            received.append(chunk.text)
    assert caught.value.partial == "one two " == "".join(received)


async def test_stream_without_final_event_is_cut(server, target):
    server.script(Script(text="one two three", end_early=True))
    with pytest.raises(errors.StreamCut) as caught:
        [c async for c in target.get(server.url).stream(MESSAGES)]
    assert caught.value.partial == "one two three"


async def test_bad_json(server, target):
    server.script(Script(bad_json=True))
    with pytest.raises(errors.BadResponse):
        await target.get(server.url).complete(MESSAGES)


async def test_bad_json_in_stream(server, target):
    server.script(Script(bad_json=True))
    with pytest.raises(errors.BadResponse):
        [c async for c in target.get(server.url).stream(MESSAGES)]


async def test_unreachable(target):
    with pytest.raises(errors.Unreachable):
        await target.get(f"http://127.0.0.1:{closed_port()}", timeout=2).complete(MESSAGES)


@pytest.mark.parametrize("name", [name for name, t in sorted(TARGETS.items()) if t.key_env])
async def test_missing_key_names_the_variable(server, name):
    target = TARGETS[name]
    with pytest.raises(errors.MissingCredentials) as caught:
        await target.get(server.url, api_key=None).complete(MESSAGES)
    assert target.key_env in str(caught.value)
    assert not server.requests


async def test_key_echoed_by_server_never_shows(server, target):
    server.script(Script(status=401, echo_key=True), Script(status=400, echo_key=True))
    llm = target.get(server.url, api_key=KEY)
    for _ in range(2):
        with pytest.raises(errors.ProviderError) as caught:
            await llm.complete(MESSAGES)
        err = caught.value
        assert server.last.credential == KEY, "the test server must really have received the key"
        shown = str(err) + repr(err) + "".join(traceback.format_exception(err))
        assert KEY not in shown and "***" in shown
