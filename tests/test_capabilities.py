"""What a provider's spec says a model can do: read images (which the executor enforces for every caller, fallbacks
included, before anything is sent) and how large its context window is."""

from __future__ import annotations

import pytest

from coditect_magics.costs import Ledger
from coditect_magics.executor import Executor, ExecutorSettings
from coditect_magics.providers import ImagePart, Message, Provider, ProviderSpec, TextPart, errors, registry
from coditect_magics.providers.local import DEFAULT_CONTEXT
from tests.fakes import Script

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
PICTURE = [Message("user", (TextPart("Describe this."), ImagePart("image/png", PNG)))]


@pytest.mark.parametrize("model_id, answer", [
    ("anthropic:claude-sonnet-4-6", True), ("anthropic:claude-2.1", False), ("claude", True),
    ("gemini:gemini-2.5-flash", True),
    ("openai:gpt-4o", True), ("openai:gpt-5.5", True), ("openai:gpt-4-turbo", True), ("openai:gpt-4", False),
    ("openai:gpt-3.5-turbo", False), ("openai:o3-mini", False), ("openai:gpt-oss-120b", False),
    ("ollama:llama3.2", False), ("llama", False), ("ollama:llama3.2-vision", True), ("ollama:qwen2.5vl:7b", True),
    ("ollama:gemma3", True), ("ollama:gemma3:1b", False),
    ("local:smollm2", False), ("local", False),
    ("huggingface:meta-llama/Llama-3.1-8B-Instruct", None), ("lmstudio:local-model", None),
    ("search:openai:gpt-4o", True), ("search:openai:gpt-3.5-turbo", False), ("search", True),
])
def test_each_provider_spec_says_whether_a_model_reads_images(model_id, answer):
    assert registry.accepts_images(model_id) is answer


def test_a_plugin_spec_declares_its_own_capabilities():
    class Seeing(Provider):
        spec = ProviderSpec(name="seeing", default_model="eye-1", description="test plugin", key_required=False,
                            images=True)

    class Blind(Provider):
        spec = ProviderSpec(name="blind", default_model="b-1", description="test plugin", key_required=False,
                            images=False, vision_models="seeing:eye-1")

    registry.register("seeing", Seeing)
    registry.register("blind", Blind)
    registry.register("unsaid", lambda settings: Blind(settings), default_model="u-1")
    assert (registry.accepts_images("seeing"), registry.accepts_images("unsaid")) == (True, None)
    with pytest.raises(errors.BadRequest, match="^blind:b-1 does not accept images; use a vision model such as "
                                                "seeing:eye-1$"):
        registry.require_images("blind")


@pytest.fixture
async def executor(server, tmp_path):
    """An executor whose openai, anthropic and ollama calls go to the loopback server."""
    options = {"openai": {"api_key": "sk-test-capabilities", "base_url": f"{server.url}/v1"},
               "anthropic": {"api_key": "sk-test-capabilities", "base_url": server.url},
               "ollama": {"base_url": server.url}}
    ex = Executor(ExecutorSettings(provider_options=options, attempts=1, timeout_s=5),
                  ledger=Ledger(tmp_path / "ledger.db"))
    yield ex
    await ex.aclose()


@pytest.mark.parametrize("model_id, suggestion", [
    ("local:smollm2", "ollama:llama3.2-vision or openai:gpt-4.1-mini"),
    ("openai:gpt-3.5-turbo", "openai:gpt-4.1-mini or openai:gpt-4o"),
    ("ollama:llama3.2", "ollama:llama3.2-vision, ollama:qwen2.5vl or ollama:llava"),
])
async def test_the_executor_refuses_an_image_for_a_text_model_before_any_request(executor, server, model_id,
                                                                                suggestion):
    server.script(Script(text="never sent"))
    with pytest.raises(errors.BadRequest) as caught:
        await executor.run(model_id, PICTURE)
    assert str(caught.value) == f"{model_id} does not accept images; use a vision model such as {suggestion}"
    with pytest.raises(errors.BadRequest):
        executor.stream(model_id, PICTURE)  # a stream is refused as it is made, before it is iterated
    assert not server.requests


async def test_a_fallback_that_cannot_read_images_is_refused_too(executor, server):
    server.script(Script(text="never sent"))
    with pytest.raises(errors.BadRequest, match="^ollama:llama3.2 does not accept images"):
        await executor.run("openai:gpt-4o", PICTURE, fallbacks=["anthropic", "ollama:llama3.2"])
    assert not server.requests


async def test_images_go_to_models_that_read_them_and_text_to_any(executor, server):
    server.script(Script(text="A picture."), Script(text="Plain text."))
    assert (await executor.run("openai:gpt-4o", PICTURE, fallbacks=["ollama:llava"])).text == "A picture."
    assert (await executor.run("openai:gpt-3.5-turbo", "Hello")).text == "Plain text."
    assert len(server.requests) == 2


def test_the_local_window_follows_coditect_local_n_ctx(monkeypatch):
    monkeypatch.delenv("CODITECT_LOCAL_N_CTX", raising=False)
    assert registry.context_window("local:smollm2") == DEFAULT_CONTEXT
    monkeypatch.setenv("CODITECT_LOCAL_N_CTX", "2048")
    assert registry.context_window("local:smollm2") == 2048
    assert registry.context_window("local:/models/other.gguf") == 2048


@pytest.mark.parametrize("model_id, window", [
    ("openai:gpt-4o", 128_000), ("search:openai:gpt-4o", 128_000), ("gpt", 1_000_000),
    ("anthropic:claude-sonnet-4-5", 200_000), ("gemini:gemini-2.5-flash", 1_048_576),
    ("huggingface:meta-llama/Llama-3.3-70B-Instruct:groq", 131_072),  # the id names the inference provider
])
def test_a_model_genai_prices_lists_has_its_window(model_id, window):
    assert registry.context_window(model_id) == window


@pytest.mark.parametrize("model_id", ["ollama:some-model-nobody-prices", "openai:no-such-model",
                                      "huggingface:meta-llama/Llama-3.1-8B-Instruct", "nosuchprovider:model"])
def test_an_unknown_window_is_none(model_id):
    assert registry.context_window(model_id) is None
