"""Errors in the middle of a stream, each in its API's own form (Anthropic `event: error`, OpenAI
`data: {"error": ...}`, TGI `{"error", "error_type"}`, Gemini an error chunk and a cut, Ollama an error line), through
the real SDKs: each ends as the kit's typed error carrying the partial text. The executor's policy holds: a failure
before the first chunk is retried and then falls back; after it, nothing is retried and the partial text is kept,
in the executor and in `%llm` in a real shell."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from coditect_magics.providers import errors
from tests.fakes import Script
from tests.fakes.openai_api import TGIScript
from tests.wire import KEY, drain, executor, rows

TEXT = "one two three four five"
PARTIAL = "one two "

# api -> (model id, the path its requests take, a script failing after two text pieces, the kit's error for it)
APIS = {
    "anthropic": ("anthropic:claude-sonnet-4-6", "/v1/messages",
                  Script(text=TEXT, fail_after=2, fail_status=529), errors.ServerError),
    "openai": ("openai:gpt-4.1-mini", "/v1/chat/completions",
               Script(text=TEXT, fail_after=2, fail_status=500,
                      error_message="The server had an error while processing your request. Sorry about that!"),
               errors.ServerError),
    "gemini": ("gemini:gemini-2.5-flash", "/v1/models/gemini-2.5-flash:streamGenerateContent",
               Script(text=TEXT, fail_after=2, fail_status=503,
                      error_message="The model is overloaded. Please try again later."), errors.ServerError),
    "tgi": ("huggingface:tgi", "/v1/chat/completions",
            TGIScript(text=TEXT, fail_after=2, fail_status=424, error_message="CUDA out of memory"),
            errors.ServerError),
    "ollama": ("ollama:llama3.2", "/api/chat",
               Script(text=TEXT, fail_after=2, error_message="an error was encountered while running the model"),
               errors.ServerError),
}


def failing(api: str, after: int) -> Script:
    """The API's failing script, failing after `after` text pieces."""
    from dataclasses import replace
    return replace(APIS[api][2], fail_after=after)


@pytest.mark.parametrize("api", sorted(APIS))
async def test_error_after_text_keeps_the_partial_and_is_not_retried(server, tmp_path, api):
    model, path, script, kind = APIS[api]
    server.script(script)
    async with executor(tmp_path, server.url, attempts=3) as ex:
        execution = ex.stream(model, "Count to five.", fallbacks=["anthropic:claude-haiku-4-5"])
        with pytest.raises(kind) as caught:
            await drain(execution)
    assert caught.value.partial == execution.text == PARTIAL
    assert [r.path for r in server.requests] == [path], "text had arrived: no retry, no fallback"
    assert [r["status"] for r in rows(ex)] == ["error"]
    said = "Overloaded" if api == "anthropic" else script.error_message  # Anthropic's own word for a 529
    assert said in str(caught.value), "the one line carries what the server said"


async def test_anthropic_overloaded_event_names_its_kind(server, tmp_path):
    server.script(Script(text=TEXT, fail_after=2, fail_status=529))
    async with executor(tmp_path, server.url) as ex:
        with pytest.raises(errors.ServerError) as caught:
            await drain(ex.stream("anthropic:claude-sonnet-4-6", "Count."))
    assert caught.value.status == 529 and "Overloaded" in str(caught.value)


@pytest.mark.parametrize("status, kind", [(424, errors.ServerError), (500, errors.StreamCut),
                                          (429, errors.ServerError)])
async def test_tgi_error_types_map_to_the_kits_errors(server, tmp_path, status, kind):
    """generation (424), incomplete_generation (500) and overloaded (429) as TGI words them inside a stream."""
    server.script(TGIScript(text=TEXT, fail_after=1, fail_status=status, error_message="boom"))
    async with executor(tmp_path, server.url, attempts=1) as ex:
        with pytest.raises(kind) as caught:
            await drain(ex.stream("huggingface:tgi", "Count."))
    assert caught.value.partial == "one "


@pytest.mark.parametrize("api", sorted(APIS))
async def test_error_before_any_text_is_retried_then_falls_back(server, tmp_path, api):
    model, path, _, kind = APIS[api]
    server.script(failing(api, 0), failing(api, 0), Script(text="from the fallback"))
    fallback = "ollama:llama3.2" if api != "ollama" else "anthropic:claude-sonnet-4-6"
    async with executor(tmp_path, server.url, attempts=2) as ex:
        execution = ex.stream(model, "Count to five.", fallbacks=[fallback])
        assert await drain(execution) == "from the fallback"
    assert [r.path for r in server.requests][:2] == [path, path]
    assert len(server.requests) == 3 and execution.reply.provider == fallback.split(":")[0]
    assert [r["status"] for r in rows(ex)] == ["error", "error", "ok"]
    assert {r["error_class"] for r in rows(ex)[:2]} == {kind.__name__}


@pytest.mark.parametrize("api", sorted(APIS))
def test_llm_magic_keeps_the_partial_reply(shell, thread_server, monkeypatch, api):
    url = thread_server.url
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    shell.run_line_magic("config", f"CoditectMagics.base_urls = {{'openai': '{url}/v1', 'anthropic': '{url}', "
                                   f"'gemini': '{url}', 'huggingface': '{url}', 'ollama': '{url}'}}")
    model, path, script, _ = APIS[api]
    thread_server.script(script)
    with capture_output() as captured:
        shell.run_line_magic("llm", f"{model} Count to five.")
    result = shell.user_ns["_llm"]
    assert (result.text, result.status) == (PARTIAL, "error")
    lines = captured.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("coditect: ") and lines[0].endswith("(the partial reply is kept)")
    assert [r.path for r in thread_server.requests] == [path]
