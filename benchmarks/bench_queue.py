"""`%agent map` in the kernel vs on RQ workers, over a loopback OpenAI-protocol server with 100 ms per call (the
server in a process of its own). Prints rows/s for each, the ratio per unit of concurrency (goal: workers within
1.3× of in-process), and the cost of a job itself (goal ≤ 20 ms): many one-row jobs against a server that answers
at once, one worker taking them one after another: wall time per job, minus the same row's call made in-process.

    /work/venv/bin/python benchmarks/bench_queue.py [--rows 2000] [--latency 0.1] [--concurrency 64] [--jobs 200]

In-process: one asyncio loop with `concurrency` rows at once. Workers: 2 `coditect-magics worker` processes, each
job a chunk whose rows run `concurrency / 2` at once, so both sides have the same number of calls in flight. Every
call writes its ledger row (one SQLite file) on both sides, as in real use. Needs Debian's redis-server."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes, tests.servers

from loopback import Servers  # noqa: E402
from report import Report  # noqa: E402

MODEL = "openai:gpt-4o-mini"


table = Report(width=52, unit_width=5)


def tagging(recorded: Any) -> Any:
    """Each row's answer: its text tagged."""
    from tests.fakes import Script
    return Script(text=f"tag:{recorded.prompt}", input_tokens=20, output_tokens=4)


def start_workers(url: str, n: int, folder: Path) -> list[subprocess.Popen]:
    import redis
    from rq import Worker
    procs = [subprocess.Popen([sys.executable, "-m", "coditect_magics", "worker", "--url", url, "--name", f"bench{i}"],
                              stdout=open(folder / f"worker{i}.log", "w"), stderr=subprocess.STDOUT)
             for i in range(n)]
    connection = redis.Redis.from_url(url)
    deadline = time.monotonic() + 60
    while Worker.count(connection=connection) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not register")
        time.sleep(0.1)
    return procs


def job_for(base_url: str, concurrency: int) -> Any:
    from coditect_magics.agents import ResolvedAgent
    from coditect_magics.executor import ExecutorSettings
    from coditect_magics.workers.spec import AgentJob, Kit, travelling_settings
    settings = ExecutorSettings(provider_options={"openai": {"base_url": base_url}}, cache="off")
    agent = ResolvedAgent(name="tagger", model_id=MODEL, system_prompt="Tag the row.")
    return AgentJob(Kit(settings=travelling_settings(settings)), agent, tools=(), concurrency=concurrency), settings


async def in_process(base_url: str, rows: list[tuple[int, str]], concurrency: int) -> float:
    """Seconds for the rows in this process (after a warm-up call)."""
    from coditect_magics.agents.mapping import map_rows
    from coditect_magics.agents.runner import Runner
    from coditect_magics.executor import Executor
    job, settings = job_for(base_url, concurrency)
    runner = Runner(Executor(settings), stream=False)
    await map_rows(runner, job.agent, rows[:8], concurrency=concurrency)
    started = time.perf_counter()
    results = await map_rows(runner, job.agent, rows, concurrency=concurrency)
    took = time.perf_counter() - started
    assert all(r.status == "ok" for r in results), [r.error for r in results if r.status != "ok"][:3]
    await runner.executor.aclose()
    return took


def on_workers(runs: Any, base_url: str, rows: list[tuple[int, str]], concurrency: int, chunk: int) -> float:
    """Seconds from queueing the map to holding every row's result."""
    job, _ = job_for(base_url, concurrency)
    started = time.perf_counter()
    run_id = runs.map(job, rows, chunk=chunk)
    results = runs.result(run_id, timeout=600)
    took = time.perf_counter() - started
    assert len(results) == len(rows) and all(r.status == "ok" for r in results), \
        [r.error for r in results if r.status != "ok"][:3]
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    os.environ.update(OPENAI_API_KEY="sk-bench-not-a-real-key", CODITECT_LEDGER=str(folder / "ledger.sqlite3"),
                      NO_PROXY="127.0.0.1,localhost")
    with Servers(1, args.latency, tagging) as (slow_url,), Servers(1, 0.0, tagging) as (fast_url,):
        return measure(args, folder, slow_url, fast_url)


def measure(args: Any, folder: Path, slow_url: str, fast_url: str) -> int:
    """Both sides against the servers at `slow_url` (the latency) and `fast_url` (none); 0 when every goal is met."""
    from tests.servers import start_redis
    from coditect_magics.workers.runs import Runs
    redis_url, redis_proc = start_redis(folder)
    workers = start_workers(redis_url, 2, folder)
    try:
        rows = [(n, f"row {n}") for n in range(args.rows)]
        runs = Runs(redis_url)
        per_worker = args.concurrency // 2
        chunk = per_worker * 4  # four full rounds of calls per job
        on_workers(runs, f"{slow_url}/v1", rows[:2 * chunk], per_worker, chunk)  # warm both workers
        here = asyncio.run(in_process(f"{slow_url}/v1", rows, args.concurrency))
        there = on_workers(runs, f"{slow_url}/v1", rows, per_worker, chunk)
        print(f"map over {args.rows} rows, {args.latency * 1000:.0f} ms per call, {args.concurrency} calls in flight "
              f"on each side")
        table.info("in-process", f"{args.rows / here:8.1f} rows/s ({here:.2f} s)")
        table.info("2 RQ workers", f"{args.rows / there:8.1f} rows/s ({there:.2f} s; chunks of {chunk}, "
                                   f"{per_worker} at once per job)")
        ideal = args.rows * args.latency / args.concurrency
        table.info("ideal (latency-bound)", f"{args.rows / ideal:8.1f} rows/s ({ideal:.2f} s)")
        ok = table.line("workers / in-process time, per unit of concurrency", there / here, "×", 1.3, sign="≤")

        one = [(n, f"one {n}") for n in range(args.jobs)]
        single = asyncio.run(in_process(f"{fast_url}/v1", one, 1)) / args.jobs
        workers[1].terminate()  # one worker takes the jobs one after another: wall / jobs is a job's whole cost
        workers[1].wait(15)
        job, _ = job_for(f"{fast_url}/v1", 1)
        on_workers(runs, f"{fast_url}/v1", one[:10], 1, 1)
        started = time.perf_counter()
        run_id = runs.map(job, one, chunk=1)
        runs.result(run_id, timeout=600)
        per_job = (time.perf_counter() - started) / args.jobs
        table.info("one-row job on one worker (wall / jobs)", f"{per_job * 1000:8.2f} ms")
        table.info("the same row's call in-process", f"{single * 1000:8.2f} ms")
        ok &= table.line("job overhead", (per_job - single) * 1000, "ms", 20, sign="≤")
        return 0 if ok else 1
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(15)
        redis_proc.terminate()


if __name__ == "__main__":
    sys.exit(main())
