"""What the wire tests (strict servers, cached tokens, stream errors, timeouts and resets) share: an executor whose
every provider points at one loopback server, closed on the test's loop, and the ledger rows it wrote."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from coditect_magics.cache import ResponseCache
from coditect_magics.costs import Ledger
from coditect_magics.executor import Executor, ExecutorSettings

KEY = "sk-test-wire-SECRET-7"


def options(url: str) -> dict[str, dict[str, str]]:
    """Every provider's endpoint (and a key where one is needed) on the loopback server at `url`."""
    return {"openai": {"api_key": KEY, "base_url": f"{url}/v1"}, "anthropic": {"api_key": KEY, "base_url": url},
            "gemini": {"api_key": KEY, "base_url": url}, "huggingface": {"base_url": url},
            "ollama": {"base_url": url}}


@asynccontextmanager
async def executor(tmp_path: Path, url: str, **settings: Any) -> AsyncIterator[Executor]:
    """An executor with short backoffs on the server at `url`; its SDK clients are closed on the test's loop."""
    settings = {"attempts": 2, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_wait_s": 10,
                "timeout_s": 5, **settings}
    ex = Executor(ExecutorSettings(provider_options=options(url), **settings), ledger=Ledger(tmp_path / "ledger.db"),
                  cache=ResponseCache(tmp_path / "cache.db"))
    try:
        yield ex
    finally:
        await ex.aclose()


def rows(ex: Executor) -> list[dict[str, Any]]:
    """The executor's ledger rows, oldest first."""
    columns, values = ex.ledger.query("SELECT * FROM calls ORDER BY ts, attempt")
    return [dict(zip(columns, v)) for v in values]


async def drain(execution: Any) -> str:
    """Run an Execution to its end; the text it streamed."""
    return "".join([chunk.text async for chunk in execution])
