"""The embedded model: SmolLM2-135M through llama-cpp-python, for real (small prompts, few tokens)."""

from __future__ import annotations

import asyncio

import pytest

from coditect_magics import providers
from coditect_magics.providers import errors
from coditect_magics.providers.local import _load

# llama-cpp-python and the model are a required part: missing, each test skips (locally) or fails (in CI)
pytestmark = pytest.mark.usefixtures("local_model")

QUESTION = [{"role": "system", "content": "Answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"}]


async def test_complete_and_stream_agree():
    llm = providers.get("local:smollm2", temperature=0, max_tokens=16)
    whole = await llm.complete("Name a primary colour.")
    stream = llm.stream("Name a primary colour.")
    chunks = [c async for c in stream]
    assert whole.text and stream.reply.text == whole.text
    assert len([c for c in chunks if c.text]) > 1, "the reply must arrive token by token"
    assert stream.reply.usage == whole.usage
    assert whole.usage.input_tokens > 5 and 0 < whole.usage.output_tokens <= 16
    assert whole.provider == "local" and whole.model == "smollm2"


async def test_answers_a_factual_question():
    llm = providers.get("local", temperature=0.2, max_tokens=24, options={"seed": 7})
    reply = await llm.complete(QUESTION)
    assert "Paris" in reply.text
    assert reply.finish_reason in ("stop", "length")


async def test_cancelling_a_stream_stops_generation():
    llm = providers.get("local", temperature=0.7, max_tokens=400, options={"seed": 1})
    request = llm.request("Write a very long story about a lighthouse keeper.")
    seen = 0
    stream = llm.stream(request)
    iterator = stream.__aiter__()
    while seen < 3:
        seen += bool((await anext(iterator)).text)
    await iterator.aclose()
    model, lock = llm.adapter().model(request)
    assert await asyncio.to_thread(lock.acquire, True, 5), "generation must end once the stream is closed"
    try:
        assert model.n_tokens < stream.usage.input_tokens + 60 if stream.usage.input_tokens else model.n_tokens < 200
    finally:
        lock.release()


async def test_one_model_per_file_and_settings():
    first = _load(providers.registry.entry("local").spec, "smollm2", 4096, 2)
    again = _load(providers.registry.entry("local").spec, "smollm2", 4096, 2)
    assert first[0] is again[0]


async def test_prompt_past_the_context_is_context_too_long():
    llm = providers.get("local", max_tokens=8, options={"n_ctx": 128})
    with pytest.raises(errors.ContextTooLong):
        await llm.complete("word " * 400)


async def test_missing_file_and_tools_are_clear_errors(tmp_path):
    with pytest.raises(errors.ModelNotFound, match="no GGUF file"):
        await providers.get(f"local:{tmp_path}/none.gguf").complete("hi")
    request = providers.Request.build("local:smollm2", "hi", tools=(providers.ToolSpec("f", "d", {}),))
    with pytest.raises(errors.BadRequest, match="tools are not supported by local:smollm2"):
        await providers.get("local").complete(request)


def test_status_is_usable():
    row = providers.status("local")
    assert row.usable and row.default_model == "smollm2"


def test_magic_with_no_configuration_uses_the_local_model(tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("LMSTUDIO_BASE_URL", "http://127.0.0.1:9/v1")
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "coditect_magics")
        with capture_output() as captured:
            result = shell.run_line_magic("llm", "--max-tokens 12 Say hello.")
        assert captured.stderr.count("\n") == 1 and "using local:smollm2" in captured.stderr
        assert result.text and result.model == "local:smollm2"
        assert result.cost == 0 and result.usage.output_tokens > 0
        frame = shell.run_line_magic("llm", "costs")
        assert list(frame["provider"]) == ["local"] and frame["cost_usd"].iloc[0] == 0
    finally:
        InteractiveShell.clear_instance()


def test_an_agent_without_declared_tools_talks_on_the_embedded_model(shell, tmp_path, monkeypatch):
    """The embedded model cannot call tools: an agent that did not ask for any answers without them, said once;
    one that names tools gets the provider's clear refusal instead of a silent drop."""
    from IPython.utils.capture import capture_output
    monkeypatch.chdir(tmp_path)
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.md").write_text("---\nname: helper\nmodel: local:smollm2\n---\nYou answer in one sentence.\n")
    (agents / "reader.md").write_text("---\nname: reader\nmodel: local:smollm2\ntools: Read\n---\nYou read files.\n")
    with capture_output() as captured:
        first = shell.run_cell_magic("agent", "helper --max-tokens 12", "Say hello.")
        second = shell.run_cell_magic("agent", "helper --max-tokens 12", "Say goodbye.")
        refused = shell.run_cell_magic("agent", "reader --max-tokens 12", "Read notes.txt.")
    assert first.text and second.text and first.model == "local:smollm2"
    assert captured.stderr.count("local:smollm2 cannot call tools, so helper answers without them") == 1
    assert refused is None or refused.status != "ok"
    assert "tools are not supported by local:smollm2" in captured.stderr
