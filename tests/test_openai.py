"""What the openai SDK really sends for the `openai` and `lmstudio` providers."""

from __future__ import annotations

import base64

from coditect_magics import providers
from coditect_magics.providers import ImagePart, Message, TextPart
from tests.fakes import Script

KEY = "sk-test-openai-0001"


async def test_request_shape(server):
    llm = providers.get("openai:gpt-4.1-mini", api_key=KEY, base_url=f"{server.url}/v1", temperature=0.2,
                        max_tokens=64)
    await llm.complete([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], stop="END")
    sent = server.last
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-4.1-mini"
    assert sent.body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert sent.body["temperature"] == 0.2
    assert sent.body["max_completion_tokens"] == 64
    assert sent.body["stop"] == ["END"]
    assert "stream" not in sent.body


async def test_stream_asks_for_usage(server):
    llm = providers.get("openai", api_key=KEY, base_url=f"{server.url}/v1")
    [c async for c in llm.stream("Hi")]
    assert server.last.body["stream"] is True
    assert server.last.body["stream_options"] == {"include_usage": True}
    assert server.last.body["model"] == providers.registry.entry("openai").spec.default_model


async def test_image_part_as_data_url(server):
    png = b"\x89PNG\r\n\x1a\nfake"
    message = Message("user", (TextPart("What is this?"), ImagePart("image/png", png)))
    await providers.get("openai:gpt-4o", api_key=KEY, base_url=f"{server.url}/v1").complete([message])
    content = server.last.body["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert content[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(png).decode()


async def test_environment_variables(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    reply = await providers.get("openai:gpt-4o").complete("Hi")
    assert reply.text == Script().text
    assert server.last.headers["Authorization"] == f"Bearer {KEY}"


async def test_server_reported_model(server):
    server.script(Script(model="gpt-4o-2024-08-06"))
    reply = await providers.get("openai:gpt-4o", api_key=KEY, base_url=f"{server.url}/v1").complete("Hi")
    assert reply.model == "gpt-4o-2024-08-06"


async def test_lmstudio_needs_no_key_and_uses_max_tokens(server, monkeypatch):
    monkeypatch.setenv("LMSTUDIO_BASE_URL", f"{server.url}/v1")
    reply = await providers.get("lmstudio:qwen2.5-7b-instruct", max_tokens=32).complete("Hi")
    assert reply.text == Script().text
    assert server.last.body["max_tokens"] == 32
    assert server.last.body["model"] == "qwen2.5-7b-instruct"


async def test_lmstudio_status_probes_the_server(server, monkeypatch):
    monkeypatch.setenv("LMSTUDIO_BASE_URL", f"{server.url}/v1")
    assert providers.status("lmstudio").usable
    monkeypatch.setenv("LMSTUDIO_BASE_URL", "http://127.0.0.1:9/v1")
    row = providers.status("lmstudio")
    assert not row.usable and "not reachable at http://127.0.0.1:9/v1" in row.reason
