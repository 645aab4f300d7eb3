"""Shared fixtures: a loopback provider server per test and an environment with no real keys or endpoints."""

from __future__ import annotations

import pytest

from tests.fakes import FakeServer

PROVIDER_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY",
                "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_API_VERSION", "HF_TOKEN",
                "HUGGING_FACE_HUB_TOKEN", "HF_BASE_URL", "HF_TOKEN_PATH", "HF_HOME", "HF_HUB_OFFLINE", "OLLAMA_HOST", "LMSTUDIO_BASE_URL", "LMSTUDIO_API_KEY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No test sees the developer's keys or endpoints; everything points at loopback."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
async def server():
    """A fresh loopback server speaking every provider protocol; `server.url` is its base."""
    fake = FakeServer()
    await fake.start()
    yield fake
    await fake.stop()
