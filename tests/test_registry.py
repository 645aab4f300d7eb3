"""The factory: ids, aliases, registration, entry-point plugins, availability, lazy SDK imports, the doctor."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from coditect_magics import providers
from coditect_magics.providers import Chunk, Provider, Reply, errors
from coditect_magics.providers.base import ProviderSpec, require_sdk

SDKS = ("anthropic", "openai", "google.genai", "huggingface_hub", "aiohttp", "ddgs")


def test_ids_and_aliases():
    assert providers.resolve("anthropic:claude-opus-4-8") == ("anthropic", "claude-opus-4-8")
    assert providers.resolve("openai") == ("openai", providers.registry.entry("openai").spec.default_model)
    assert providers.resolve("claude")[0] == "anthropic"
    assert providers.resolve("llama") == ("ollama", "llama3.2")
    assert providers.resolve("gemini")[0] == "gemini"
    assert providers.resolve("search:openai:gpt-4o") == ("search", "openai:gpt-4o")
    llm = providers.get("lmstudio:my/model:q4", temperature=0.1)
    assert (llm.provider, llm.model, llm.id) == ("lmstudio", "my/model:q4", "lmstudio:my/model:q4")


def test_unknown_provider_lists_the_known_ones():
    with pytest.raises(errors.UnknownProvider) as caught:
        providers.get("antropic:claude")
    message = str(caught.value)
    assert "antropic" in message
    for name in ("anthropic", "openai", "gemini", "huggingface", "ollama", "lmstudio", "search", "claude"):
        assert name in message


def test_unknown_keyword_is_refused_not_ignored():
    with pytest.raises(TypeError, match="temprature"):
        providers.get("openai", temprature=0.2)


def test_api_key_stays_out_of_reprs():
    llm = providers.get("openai", api_key="sk-test-hidden-999999")
    assert "sk-test-hidden" not in repr(llm) + repr(llm.settings)


class EchoProvider(Provider):
    """A provider written in the test: echoes the last user message."""

    spec = ProviderSpec(name="echo", default_model="echo-1", description="echoes", key_required=False)

    async def complete(self, request):
        return Reply(text=request.messages[-1].text.upper(), provider="echo", model=request.model_name)

    async def stream(self, request):
        for word in request.messages[-1].text.split():
            yield Chunk(text=word)
        yield Chunk(finish_reason="stop")


async def test_register_at_run_time():
    providers.register("shout", EchoProvider)
    assert "shout" in providers.names()
    llm = providers.get("shout")
    assert llm.model == "echo-1"
    assert (await llm.complete("hello there")).text == "HELLO THERE"
    stream = llm.stream("a b c")
    assert [c.text async for c in stream][:3] == ["a", "b", "c"]
    assert stream.reply.text == "abc"
    assert providers.status("shout").usable


def test_entry_point_plugin(tmp_path, monkeypatch):
    (tmp_path / "kit_plugin_demo.py").write_text(textwrap.dedent("""
        from coditect_magics.providers import Provider, Reply
        from coditect_magics.providers.base import ProviderSpec
        class Demo(Provider):
            spec = ProviderSpec(name="demo", default_model="demo-1", description="plugin", key_required=False)
            async def complete(self, request):
                return Reply(text="from plugin", provider="demo", model="demo-1")
    """))
    dist = tmp_path / "kit_plugin_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kit-plugin-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[coditect_magics.providers]\nplugged = kit_plugin_demo:Demo\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(providers.registry, "_entry_points_loaded", False)
    assert "plugged" in providers.names()
    assert providers.get("plugged").model == "demo-1"


def test_missing_sdk_names_the_extra():
    spec = ProviderSpec(name="ghost", default_model="g", description="needs a missing SDK", extra="ghost",
                        sdk_modules=("no_such_sdk_module",), key_required=False)
    with pytest.raises(errors.MissingDependency) as caught:
        require_sdk(spec, "no_such_sdk_module")
    assert "pip install 'coditect-magics[ghost]'" in str(caught.value)

    class Ghost(Provider):
        pass
    Ghost.spec = spec
    providers.register("ghost", Ghost)
    row = providers.status("ghost")
    assert not row.usable and "coditect-magics[ghost]" in row.reason


def test_available_gives_a_reason_per_provider(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    rows = {row.name: row for row in providers.available()}
    assert set(providers.registry.BUILTIN) <= set(rows)
    assert rows["anthropic"].reason == "ANTHROPIC_API_KEY not set" and not rows["anthropic"].usable
    assert rows["gemini"].reason == "GEMINI_API_KEY or GOOGLE_API_KEY not set"
    assert "not reachable at http://127.0.0.1:9" in rows["ollama"].reason
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-123456789")
    assert providers.status("anthropic").usable


def test_sdks_are_imported_only_on_first_use():
    code = textwrap.dedent(f"""
        import json, sys
        from coditect_magics import providers
        providers.available()
        llm = providers.get("anthropic:claude-sonnet-4-6", api_key="x" * 20)
        print(json.dumps([m for m in {SDKS!r} if m in sys.modules]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_doctor_prints_the_table():
    result = subprocess.run([sys.executable, "-m", "coditect_magics", "doctor"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "OLLAMA_HOST": "http://127.0.0.1:9",
                                 "LMSTUDIO_BASE_URL": "http://127.0.0.1:9/v1"})
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["provider", "usable"]
    names = [line.split()[0] for line in lines[1:]]
    assert names[:len(providers.registry.BUILTIN)] == list(providers.registry.BUILTIN)
    assert "OPENAI_API_KEY not set" in result.stdout
