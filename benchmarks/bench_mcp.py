"""MCP tool-call overhead: one function as a plain Python tool and as an MCP stdio server's tool (tests/mcp_demo.py's
`shout`, on the SDK's MCPServer), on the kit's loop as the tool loop runs them. Goal: an MCP call costs at most 5 ms
more than the Python tool (median). Measured two ways: the tool's own `run` (what the loop awaits), and whole tool
loops against a loopback model in another process (one call per reply: the figure is the whole turn's difference).
Then `%load_ext` in fresh processes: still under 75 ms, nothing of the mcp SDK imported.

    .venv/bin/python benchmarks/bench_mcp.py [--calls 400] [--rounds 40]"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes, tests/mcp_demo.py

from loopback import Servers  # noqa: E402
from report import Report, quantile  # noqa: E402

DEMO = ROOT / "tests" / "mcp_demo.py"
KEY = "sk-bench-not-a-real-key"
LOAD_RUNS = 11
table = Report(width=58)


def shout(text: str, times: int = 1) -> str:
    """The text in capitals (the demo server's tool, as a Python function)."""
    return " ".join([text.upper()] * times)


def calling(recorded: Any) -> Any:
    """The loopback model: call the offered tool once, then answer once its result is back."""
    from tests.fakes import Script
    body = recorded.body or {}
    if body.get("messages", [{}])[-1].get("role") == "tool":
        return Script(text="done")
    name = body["tools"][0]["function"]["name"]
    return Script(text="", tool_calls=[{"id": "call_1", "name": name, "arguments": {"text": "hi"}}])


def timed(run: Any, n: int) -> list[float]:
    """Seconds of each of `n` awaits of `run()`, on the kit's loop."""
    from coditect_magics import bridge

    async def measure() -> list[float]:
        """The awaits, timed one by one."""
        took = []
        for _ in range(n):
            started = time.perf_counter()
            await run()
            took.append(time.perf_counter() - started)
        return took

    return bridge.run(measure())


def per_call(python: Any, remote: Any, calls: int) -> bool:
    """The tools' own run(), alternating in blocks so load on the machine falls on both alike."""
    plain, mcp = [], []
    for _ in range(10):
        plain += timed(lambda: python.run({"text": "hi"}), calls // 10)
        mcp += timed(lambda: remote.run({"text": "hi"}), calls // 10)
    overhead = (statistics.median(mcp) - statistics.median(plain)) * 1000
    ok = table.line("MCP stdio call over a Python tool, median", overhead, "ms", 5, sign="≤")
    table.info("Python tool run(), median / p90", f"{statistics.median(plain) * 1000:.3f} / "
                                                  f"{quantile(plain, 0.9) * 1000:.3f} ms")
    table.info("MCP stdio tool run(), median / p90", f"{statistics.median(mcp) * 1000:.3f} / "
                                                     f"{quantile(mcp, 0.9) * 1000:.3f} ms")
    return ok


def through_loop(python: Any, remote: Any, url: str, rounds: int) -> bool:
    """Whole tool loops (model call, the tool, model call) against the loopback model; the median difference."""
    from coditect_magics.cache import ResponseCache
    from coditect_magics.costs import Ledger
    from coditect_magics.executor import Executor, ExecutorSettings
    from coditect_magics.tools import Policy, run_tools
    tmp = Path(tempfile.mkdtemp())
    executor = Executor(ExecutorSettings(provider_options={"openai": {"api_key": KEY, "base_url": f"{url}/v1"}},
                                         cache="off", attempts=1),
                        ledger=Ledger(tmp / "ledger.sqlite3"), cache=ResponseCache(tmp / "cache.sqlite3"))

    def loop(tool: Any) -> Any:
        """A run of the tool loop offering `tool`."""
        return lambda: run_tools(executor, "openai:gpt-4o-mini", "Shout hi.", [tool], stream=False,
                                 approval=Policy(frozenset({"mcp"})))

    timed(loop(python), 3)
    timed(loop(remote), 3)
    plain, mcp = [], []
    for _ in range(4):
        plain += timed(loop(python), rounds // 4)
        mcp += timed(loop(remote), rounds // 4)
    overhead = (statistics.median(mcp) - statistics.median(plain)) * 1000
    ok = table.line("the same in a tool loop (loopback model), median", overhead, "ms", 5, sign="≤")
    table.info("tool loop turn: Python / MCP, median", f"{statistics.median(plain) * 1000:.2f} / "
                                                       f"{statistics.median(mcp) * 1000:.2f} ms")
    return ok


LOAD = """
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
started = time.perf_counter()
ip.run_line_magic("load_ext", "coditect_magics")
took = time.perf_counter() - started
print(json.dumps({"s": took, "mcp": [m for m in ("mcp", "mcp_types", "httpx2") if m in sys.modules]}))
"""


def load_ext() -> bool:
    """%load_ext in fresh processes."""
    runs = [json.loads(subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True,
                                      check=True).stdout.strip().splitlines()[-1]) for _ in range(LOAD_RUNS)]
    ok = table.line(f"%load_ext coditect_magics, median of {LOAD_RUNS}",
                    statistics.median(r["s"] for r in runs) * 1000, "ms", 75)
    imported = sorted({m for r in runs for m in r["mcp"]})
    table.info("mcp SDK modules imported at load", ", ".join(imported) or "none")
    return ok and not imported


def main() -> None:
    """Start the demo server, measure, print each figure beside its goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    from coditect_magics import bridge
    from coditect_magics.mcp.config import from_entries
    from coditect_magics.mcp.manager import Manager
    from coditect_magics.tools import Tool
    servers = Manager(lambda: from_entries({"demo": {"command": sys.executable, "args": [str(DEMO)]}}))
    started = time.perf_counter()
    remote = next(t for t in bridge.run(servers.tools("demo")) if t.remote_name == "shout")
    table.info("stdio server start (spawn, handshake, tool list)", f"{time.perf_counter() - started:.2f} s")
    python = Tool.from_function(shout)
    timed(lambda: remote.run({"text": "warm"}), 20)
    timed(lambda: python.run({"text": "warm"}), 20)
    ok = per_call(python, remote, args.calls)
    with Servers(1, 0.0, calling) as (url,):
        ok &= through_loop(python, remote, url, args.rounds)
    servers.close()
    ok &= load_ext()
    print("all goals met" if ok else "a goal was missed")


if __name__ == "__main__":
    main()
