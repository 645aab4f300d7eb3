"""What a newcomer sees of the search wrapper in `%llm list`: usable only when the model it wraps is, and wrapping
the kit's default model (the session's default if set, else the first usable provider's)."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import closed_port


def rows_of(shell) -> dict[str, str]:
    """`%llm list`'s table rows by provider name."""
    table = shell.run_line_magic("llm", "list").data
    return {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}


@pytest.fixture
def no_keys(shell, monkeypatch: pytest.MonkeyPatch):
    """The shell on a machine with no key and no reachable local server (and only the built-in providers: other
    tests register usable plug-ins for the whole run)."""
    from coditect_magics.providers import registry
    monkeypatch.setattr(registry, "_entries", {n: e for n, e in registry._entries.items() if n in registry.BUILTIN})
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    port = closed_port()
    shell.run_line_magic("config", f"CoditectMagics.base_urls = {{'ollama': 'http://127.0.0.1:{port}', "
                                   f"'lmstudio': 'http://127.0.0.1:{port}/v1'}}")
    return shell


def test_with_no_key_and_no_local_model_search_is_not_usable_and_names_its_model(
        no_keys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as where the `local` extra is not installed
    rows = rows_of(no_keys)
    assert "| openai | no | openai:gpt-4.1-mini | OPENAI_API_KEY not set |" in rows["openai"]
    assert "| local | no |" in rows["local"]
    assert ("| search | no | search:openai:gpt-4.1-mini | wraps openai:gpt-4.1-mini, but openai is not usable: "
            "OPENAI_API_KEY not set |") in rows["search"]


def test_with_the_local_model_usable_search_wraps_it(no_keys, local_model) -> None:
    rows = rows_of(no_keys)
    assert "| local | yes | local:smollm2 |" in rows["local"]
    assert "| search | yes | search:local:smollm2 | wraps local:smollm2 (ready) |" in rows["search"]


def test_with_a_key_search_wraps_the_first_usable_provider_or_the_configured_default(
        no_keys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-newcomer-openai")
    assert "| search | yes | search:openai:gpt-4.1-mini | wraps openai:gpt-4.1-mini (key from OPENAI_API_KEY) |" \
        in rows_of(no_keys)["search"]
    no_keys.run_line_magic("config", "CoditectMagics.default_model = 'claude'")
    assert "| search | no | search:anthropic:claude-sonnet-4-6 | wraps anthropic:claude-sonnet-4-6, but anthropic " \
           "is not usable: ANTHROPIC_API_KEY not set |" in rows_of(no_keys)["search"]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-newcomer-anthropic")
    assert "| search | yes | search:anthropic:claude-sonnet-4-6 |" in rows_of(no_keys)["search"]


def test_a_bare_search_call_wraps_the_default_model(shell, thread_server, monkeypatch: pytest.MonkeyPatch) -> None:
    from coditect_magics.providers import search
    from tests.fakes import Script

    def backend(query: str, max_results: int) -> list[dict[str, str]]:
        return [{"title": "Python 3.14 released", "url": "https://example.org/py", "body": "It is out."}]

    monkeypatch.setattr(search.SearchProvider, "ddgs_backend", lambda self: backend)  # no web from a test
    shell.run_line_magic("config", "CoditectMagics.default_model = 'ollama:llama3.2'")
    thread_server.script(Script(text="It was released [1]."))
    shell.run_line_magic("llm", "search What is the latest Python release?")
    assert thread_server.last.path == "/api/chat", "the default model's server, not OpenAI's"
    assert "Python 3.14 released" in str(thread_server.last.body["messages"])
    assert shell.user_ns["_llm"].model == "search:ollama:llama3.2"
