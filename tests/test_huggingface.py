"""What huggingface_hub's AsyncInferenceClient really sends for the `huggingface` provider: a TGI server or Inference
Endpoint by base_url (key optional), or serverless by model id through the router (an hf_ token required)."""

from __future__ import annotations

import base64

import pytest

from coditect_magics import providers
from coditect_magics.providers import ImagePart, Message, TextPart, ToolSpec, errors
from tests.fakes import Script

TOKEN = "hf_test_token_0001"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


@pytest.fixture(autouse=True)
def no_saved_token(monkeypatch, tmp_path):
    """Neither the developer's base URL nor a token saved by `hf auth login` may leak into these tests."""
    for name in ("HF_BASE_URL", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-token"))


@pytest.fixture
def router(server, monkeypatch):
    """The serverless router pointed at the loopback server, offline mode off."""
    import huggingface_hub.constants
    from huggingface_hub.inference import _providers
    monkeypatch.setattr(_providers.CONVERSATIONAL_AUTO_ROUTER, "base_url", server.url)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return server


async def test_request_shape_on_a_tgi_server(server):
    llm = providers.get(f"huggingface:{MODEL}", api_key=TOKEN, base_url=server.url, temperature=0.2, max_tokens=64)
    reply = await llm.complete(MESSAGES, stop="END")
    sent = server.last
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.body["model"] == MODEL
    assert sent.body["messages"] == MESSAGES
    assert sent.body["temperature"] == 0.2
    assert sent.body["max_tokens"] == 64
    assert sent.body["stop"] == ["END"]
    assert sent.body["stream"] is False and "stream_options" not in sent.body
    assert (reply.text, reply.usage.input_tokens, reply.usage.output_tokens) == (Script().text, 11, 7)


async def test_stream_asks_for_usage(server):
    stream = providers.get("huggingface", base_url=server.url).stream("Hi")
    chunks = [c async for c in stream]
    assert server.last.body["stream"] is True
    assert server.last.body["stream_options"] == {"include_usage": True}
    assert server.last.body["model"] == providers.registry.entry("huggingface").spec.default_model
    assert chunks[-1].usage == providers.Usage(11, 7) and stream.reply.text == Script().text


async def test_tgi_needs_no_key_and_takes_the_url_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("HF_BASE_URL", f"{server.url}/v1")  # with or without /v1: the SDK adds what is missing
    reply = await providers.get(f"huggingface:{MODEL}").complete("Hi")
    assert reply.text == Script().text
    assert server.last.path == "/v1/chat/completions"
    assert "Authorization" not in server.last.headers


async def test_hf_token_is_sent_to_an_endpoint(server, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    await providers.get("huggingface", base_url=server.url).complete("Hi")
    assert server.last.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_serverless_by_model_id_goes_through_the_router(router, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    reply = await providers.get(f"huggingface:{MODEL}:groq", max_tokens=16).complete(MESSAGES)
    sent = router.last
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.body["model"] == f"{MODEL}:groq"  # the router picks the inference provider from the suffix
    assert sent.body["messages"] == MESSAGES and sent.body["max_tokens"] == 16
    assert reply.model == f"{MODEL}:groq" and reply.text == Script().text


async def test_serverless_uses_the_token_saved_by_hf_auth_login(router, tmp_path, monkeypatch):
    saved = "hf_saved_by_login_0002"  # used nowhere else: only reading the file can make it known to redaction
    (tmp_path / "token").write_text(saved + "\n")
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "token"))
    router.script(Script(), Script(status=401, echo_key=True))
    llm = providers.get(f"huggingface:{MODEL}")
    await llm.complete("Hi")
    assert router.last.headers["Authorization"] == f"Bearer {saved}"
    assert providers.status("huggingface").usable
    with pytest.raises(errors.AuthenticationFailed) as caught:
        await llm.complete("Hi")
    assert router.last.credential == saved and saved not in str(caught.value) + repr(caught.value)


async def test_serverless_without_a_token_names_the_variable(router):
    with pytest.raises(errors.MissingCredentials) as caught:
        await providers.get(f"huggingface:{MODEL}").complete("Hi")
    assert "HF_TOKEN" in str(caught.value) and caught.value.variables == ("HF_TOKEN",)
    assert not router.requests
    row = providers.status("huggingface")
    assert not row.usable and row.reason == "HF_TOKEN not set"


async def test_serverless_refuses_a_key_that_is_no_hf_token(router):
    with pytest.raises(errors.AuthenticationFailed, match="hf_"):
        await providers.get(f"huggingface:{MODEL}", api_key="sk-test-not-hf-123456").complete("Hi")
    assert not router.requests


async def test_offline_mode_is_named_in_the_error(router, monkeypatch):
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(errors.Unreachable, match="HF_HUB_OFFLINE"):
        await providers.get(f"huggingface:{MODEL}", api_key=TOKEN).complete("Hi")
    assert not router.requests


async def test_image_part_as_data_url(server):
    png = b"\x89PNG\r\n\x1a\nfake"
    message = Message("user", (TextPart("What is this?"), ImagePart("image/png", png)))
    await providers.get("huggingface:meta-llama/Llama-3.2-11B-Vision-Instruct", base_url=server.url).complete([message])
    content = server.last.body["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert content[1] == {"type": "image_url",
                          "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}}


async def test_tools_are_sent_not_dropped(server):
    tool = ToolSpec("lookup", "Look a word up", {"type": "object", "properties": {}})
    await providers.get("huggingface", base_url=server.url).complete("Hi", tools=(tool,))
    assert server.last.body["tools"] == [{"type": "function", "function": {
        "name": "lookup", "description": "Look a word up", "parameters": {"type": "object", "properties": {}}}}]


async def test_tgi_input_too_long_is_context_too_long(server):
    server.script(Script(status=422, error_message="Input validation error: `inputs` tokens + `max_new_tokens` "
                                                   "must be <= 4096. Given: 4000 `inputs` tokens and 200"))
    with pytest.raises(errors.ContextTooLong, match="must be <= 4096"):
        await providers.get("huggingface", base_url=server.url).complete("Hi")


def test_tgi_stream_error_events_are_mapped():
    from huggingface_hub import errors as hub_errors
    adapter = providers.registry.entry("huggingface").factory(providers.Settings())
    assert isinstance(adapter.map_error(hub_errors.OverloadedError("Model is overloaded")), errors.ServerError)
    assert isinstance(adapter.map_error(hub_errors.GenerationError("CUDA out of memory")), errors.ServerError)
    assert type(adapter.map_error(hub_errors.ValidationError("`temperature` must be strictly positive"))) \
        is errors.BadRequest
    assert isinstance(adapter.map_error(hub_errors.IncompleteGenerationError("stopped")), errors.StreamCut)
    assert adapter.map_error(ValueError("not an SDK error")) is None


async def test_aclose_closes_the_sdk_session(server):
    llm = providers.get("huggingface", base_url=server.url)
    await llm.complete("Hi")
    adapter = llm.adapter()
    session = adapter.client._async_client
    await llm.aclose()
    assert session.is_closed and adapter._client is None
    assert (await llm.complete("Hi")).text == Script().text  # a new adapter after closing
