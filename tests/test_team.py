"""Beyond one kernel: rate limits and the response cache shared through a real redis-server on loopback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes import Script


CALLER = """
import asyncio, sys, time
from pathlib import Path
from coditect_magics.executor import Executor, ExecutorSettings
url, redis_url, calls, ledger, gate = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], Path(sys.argv[5])
settings = ExecutorSettings(provider_options={"openai": {"api_key": "sk-team-test", "base_url": url + "/v1"}},
                            rate_limits={"openai": "3/2second"}, redis_url=redis_url or None, ledger_path=ledger,
                            cache="off")
import openai  # imported before the gate: both processes start calling together, however long each took to start
(gate / f"ready-{ledger[-10:]}").touch()
while not (gate / "go").exists():
    time.sleep(0.01)
async def main():
    ex = Executor(settings)
    for n in range(calls):
        await ex.run("openai:gpt-4o", f"call {n}")
    await ex.aclose()
asyncio.run(main())
"""


def most_within(times: list[float], seconds: float) -> int:
    """The most requests that arrived within any span of `seconds`."""
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t - start < seconds) for i, start in enumerate(times))


@pytest.mark.timeout(120)
def test_a_rate_limit_holds_across_processes(thread_server, redis_url, tmp_path: Path) -> None:
    """Two processes, each under "3 per 2 seconds" for the same key: through Redis the server never sees more than 3
    requests within 1.2 s (the other 0.8 s absorbs how late a request reaches the server after taking its slot: a
    process's first request was measured here ~0.4 s behind, the rest ~5 ms); without Redis each process counts
    alone and the server sees up to 6."""
    arrived: list[float] = []
    thread_server.responder = lambda recorded: (arrived.append(time.monotonic()), Script(text="ok"))[1]

    def run_pair(shared: str) -> list[float]:
        arrived.clear()
        gate = tmp_path / f"gate-{'shared' if shared else 'alone'}"
        gate.mkdir()
        callers = [subprocess.Popen([sys.executable, "-c", CALLER, thread_server.url, shared, "6",
                                     str(tmp_path / f"ledger-{n}.sqlite3"), str(gate)]) for n in range(2)]
        deadline = time.monotonic() + 60
        while len(list(gate.glob("ready-*"))) < 2:  # both started and imported: open the gate for both at once
            assert time.monotonic() < deadline and all(c.poll() is None for c in callers), "a caller did not start"
            time.sleep(0.01)
        (gate / "go").touch()
        assert all(c.wait(90) == 0 for c in callers)
        return list(arrived)

    shared = run_pair(redis_url)
    assert len(shared) == 12 and most_within(shared, 1.2) <= 3
    alone = run_pair("")
    assert len(alone) == 12 and most_within(alone, 1.2) > 3, "the check above can fail: without Redis it does"


async def test_the_response_cache_is_shared_through_redis(server, redis_url, tmp_path: Path) -> None:
    from coditect_magics.costs import Ledger
    from coditect_magics.executor import Executor, ExecutorSettings
    options = {"openai": {"api_key": "sk-team-test", "base_url": f"{server.url}/v1"}}
    server.script(Script(text="Cached once."))
    first, second = (Executor(ExecutorSettings(provider_options=options, redis_url=redis_url),
                              ledger=Ledger(tmp_path / f"l{n}.sqlite3")) for n in range(2))
    try:
        one = await first.run("openai:gpt-4o", "Same question", temperature=0)
        two = await second.run("openai:gpt-4o", "Same question", temperature=0)
    finally:
        await first.aclose()
        await second.aclose()
    assert len(server.requests) == 1 and one.text == two.text == "Cached once." and two.cached
    assert [r.status for r in second.ledger.rows()] == ["cached"]
    import redis
    keys = redis.Redis.from_url(redis_url).keys("coditect:reply:*")
    assert len(keys) == 1 and b"sk-team-test" not in redis.Redis.from_url(redis_url).get(keys[0])
