"""Shared fixtures: a loopback provider server per test and an environment with no real keys or endpoints; the test
key, messages and helpers the provider test files have in common; the real servers and machine parts some tests
need (tests/parts.py: missing, they skip locally and fail in CI)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Iterator

import pytest

from coditect_magics import providers
from tests import parts
from tests.fakes import FakeServer, Script
from tests.servers import start_chroma, start_redis

PROVIDER_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY",
                "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_API_VERSION", "HF_TOKEN",
                "HUGGING_FACE_HUB_TOKEN", "HF_BASE_URL", "HF_TOKEN_PATH", "HF_HOME", "HF_HUB_OFFLINE", "OLLAMA_HOST", "LMSTUDIO_BASE_URL", "LMSTUDIO_API_KEY")

KEY = "sk-test-SECRET-123456"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def ipython_dir(tmp_path_factory) -> str:
    """One IPython directory for the whole run: the shells' history database must outlive each test's temp home
    (IPython writes to it at interpreter exit)."""
    return str(tmp_path_factory.mktemp("ipython"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path, ipython_dir) -> None:
    """No test sees the developer's keys or endpoints; everything points at loopback."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    (tmp_path / "home").mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IPYTHONDIR", ipython_dir)
    monkeypatch.setenv("CODITECT_LEDGER", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("CODITECT_CACHE", str(tmp_path / "cache.sqlite3"))


@pytest.fixture
async def server():
    """A fresh loopback server speaking every provider protocol; `server.url` is its base."""
    fake = FakeServer()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def handles():
    """`handles(model, **kw)` is `providers.get(model, **kw)`, and every handle made so is closed when the test ends,
    on the test's own loop (a dropped SDK client closes itself later on whatever loop is running then, which logs
    'Event loop is closed')."""
    made: list[providers.LLM] = []

    def get(model: str, **kw) -> providers.LLM:
        made.append(providers.get(model, **kw))
        return made[-1]

    yield get
    while made:
        await made.pop().aclose()


@pytest.fixture
def thread_server():
    """A loopback server on its own thread, for sync code (magics, notebooks) that runs on the kit's loop."""
    fake = FakeServer()
    fake.start_in_thread()
    yield fake
    fake.stop_thread()


@pytest.fixture
def shell(thread_server, monkeypatch):
    """A real IPython InteractiveShell with the extension loaded, every provider pointed at `thread_server`."""
    from IPython.core.interactiveshell import InteractiveShell
    url = thread_server.url
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-magics-openai")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-magics-anthropic")
    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "coditect_magics")
    ip.run_line_magic("config", f"CoditectMagics.base_urls = {{'openai': '{url}/v1', 'anthropic': '{url}', "
                                f"'ollama': '{url}', 'lmstudio': '{url}/v1'}}")
    ip.run_line_magic("config", "CoditectMagics.stream_interval = 0")
    # remembering loads Chroma and the embedder on a worker thread: the memory tests turn it on where they test it
    ip.run_line_magic("config", "CoditectMagics.remember = False")
    yield ip
    ip.run_line_magic("unload_ext", "coditect_magics")
    InteractiveShell.clear_instance()


@pytest.fixture
def redis_url(tmp_path: Path):
    """A redis-server of the test's own on loopback (Debian's redis-server: a required part)."""
    url, process = start_redis(tmp_path)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (`chroma run`) for the module's tests; its `host:port`."""
    yield from start_chroma(tmp_path_factory.mktemp("chroma-server"))


@pytest.fixture
def local_embedder() -> None:
    """ChromaDB and the offline all-MiniLM-L6-v2 embedder are installed (a required part)."""
    parts.local_embedder()


@pytest.fixture
def local_model() -> Path:
    """The embedded llama-cpp model's GGUF file (a required part)."""
    return parts.local_model()


@pytest.fixture
def everywhere(thread_server, monkeypatch):
    """Every provider's endpoint variable points at the loopback server; each reply repeats its prompt."""
    url = thread_server.url
    for name, value in {"ANTHROPIC_API_KEY": "sk-ant-nb-test-1", "ANTHROPIC_BASE_URL": url,
                        "OPENAI_API_KEY": "sk-nb-test-1", "OPENAI_BASE_URL": f"{url}/v1",
                        "GEMINI_API_KEY": "nb-gemini-test-1", "GOOGLE_GEMINI_BASE_URL": url,
                        "HF_BASE_URL": url, "OLLAMA_HOST": url, "LMSTUDIO_BASE_URL": f"{url}/v1"}.items():
        monkeypatch.setenv(name, value)
    thread_server.responder = lambda recorded: Script(text=f"You asked: {recorded.prompt}", input_tokens=40,
                                                      output_tokens=12)
    return thread_server
