"""Executor benchmark against the loopback FakeServer: executor call vs the raw SDK call, `compare` fan-out over 7
providers, and the cache hit. Prints each figure beside its goal.

    /work/venv/bin/python benchmarks/bench_executor.py [--calls 300] [--warmup 50] [--server process|thread]

The fake server runs in its own process by default (as a real endpoint would), so its work does not share this
process's GIL with the calls measured; `--server thread` runs it on a thread here instead. The ledger and the cache
are fresh SQLite files in a temporary directory; every executor call writes its ledger row, as in real use."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes

from loopback import Servers, fake_server  # noqa: E402
from report import Report, quantile  # noqa: E402

KEY = "sk-bench-not-a-real-key"
PROMPT = [{"role": "user", "content": "Say hello."}]
TEXT = "Hello from the loopback server."
PROVIDER_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY",
                "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_API_VERSION", "HF_TOKEN",
                "HUGGING_FACE_HUB_TOKEN", "HF_BASE_URL", "OLLAMA_HOST", "LMSTUDIO_BASE_URL", "LMSTUDIO_API_KEY",
                "CODITECT_LOG_PROMPTS")
COMPARE_IDS = ["anthropic:claude-sonnet-4-6", "openai:gpt-4o", "gemini:gemini-2.5-flash",
               "huggingface:meta-llama/Llama-3.1-8B-Instruct", "ollama:llama3.2", "lmstudio:qwen2.5-7b-instruct",
               "search:openai:gpt-4o"]


table = Report(width=52)


# --- the loopback server ----------------------------------------------------------------------------------------

def scripted(recorded: Any) -> Any:
    """Every request gets the same plain reply."""
    from tests.fakes import Script
    return Script(text=TEXT)


class Server:
    """A FakeServer in a child process (default) or on a thread of this process."""

    def __init__(self, latency: float, mode: str) -> None:
        self.latency, self.mode = latency, mode
        self.fake: Any = None
        self.procs: Any = None

    def __enter__(self) -> str:
        if self.mode == "thread":
            self.fake = fake_server(self.latency, scripted)
            return self.fake.start_in_thread()
        self.procs = Servers(1, self.latency, scripted)
        return self.procs.__enter__()[0]

    def __exit__(self, *exc: Any) -> None:
        if self.fake is not None:
            self.fake.stop_thread()
        if self.procs is not None:
            self.procs.__exit__(*exc)


def provider_options(url: str) -> dict[str, dict[str, Any]]:
    """Every provider pointed at the loopback server."""
    return {
        "anthropic": {"api_key": KEY, "base_url": url},
        "openai": {"api_key": KEY, "base_url": f"{url}/v1"},
        "gemini": {"api_key": KEY, "base_url": url},
        "huggingface": {"base_url": url},
        "ollama": {"base_url": url},
        "lmstudio": {"base_url": f"{url}/v1"},
        "search": {"api_key": KEY, "base_url": f"{url}/v1", "options": {"backend": lambda query: [
            {"title": "Loopback", "url": "http://127.0.0.1/", "snippet": f"A scripted result for {query}."}]}},
    }


def executor(tmp: Path, url: str, name: str, **settings: Any) -> Any:
    from coditect_magics.cache import ResponseCache
    from coditect_magics.costs import Ledger
    from coditect_magics.executor import Executor, ExecutorSettings
    return Executor(ExecutorSettings(provider_options=provider_options(url), **settings),
                    ledger=Ledger(tmp / f"{name}-ledger.sqlite3"), cache=ResponseCache(tmp / f"{name}-cache.sqlite3"))


# --- 1. executor vs raw SDK -------------------------------------------------------------------------------------

async def overhead(tmp: Path, url: str, calls: int, warmup: int) -> dict[str, Any]:
    import openai
    ex = executor(tmp, url, "overhead", cache="off")
    raw = openai.AsyncOpenAI(api_key=KEY, base_url=f"{url}/v1", max_retries=0, timeout=60)

    async def via_executor() -> float:
        t0 = time.perf_counter()
        reply = await ex.run("openai:gpt-4o", PROMPT)
        elapsed = time.perf_counter() - t0
        assert reply.text == TEXT and not reply.cached
        return elapsed

    async def via_sdk() -> float:
        t0 = time.perf_counter()
        response = await raw.chat.completions.create(model="gpt-4o", messages=PROMPT)
        elapsed = time.perf_counter() - t0
        assert response.choices[0].message.content == TEXT
        return elapsed

    for _ in range(warmup):
        await via_executor()
        await via_sdk()
    ex_times, sdk_times = [], []
    for i in range(calls):  # interleaved, alternating which goes first
        if i % 2:
            ex_times.append(await via_executor())
            sdk_times.append(await via_sdk())
        else:
            sdk_times.append(await via_sdk())
            ex_times.append(await via_executor())
    rows = ex.ledger.count(status="ok")
    await ex.aclose()
    await raw.close()
    ex.ledger.close()
    return {"ex": ex_times, "sdk": sdk_times, "rows": rows}


# --- 2. compare -------------------------------------------------------------------------------------------------

async def fan_out(tmp: Path, url: str, rounds: int) -> dict[str, Any]:
    from coditect_magics.compare import Comparing
    ex = executor(tmp, url, "compare", cache="off", attempts=1)
    for model_id in COMPARE_IDS:  # warm-up: SDK imports, clients, connections
        await ex.run(model_id, PROMPT)
    await Comparing(ex, PROMPT, COMPARE_IDS).records()
    # a single call goes the way compare sends each one: Executor.stream, read to its end
    singles: dict[str, list[float]] = {i: [] for i in COMPARE_IDS}
    for _ in range(rounds):
        for model_id in COMPARE_IDS:
            t0 = time.perf_counter()
            execution = ex.stream(model_id, PROMPT)
            text = "".join([c.text async for c in execution])
            singles[model_id].append(time.perf_counter() - t0)
            assert text == TEXT, (model_id, text)
    walls, columns, cpu = [], [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        results = await Comparing(ex, PROMPT, COMPARE_IDS).records()
        walls.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        errors = [f"{r.model}: {r.error}" for r in results if r.error]
        assert not errors, errors
        columns.append(max(r.latency_s for r in results))
    await ex.aclose()
    ex.ledger.close()
    return {"singles": singles, "walls": walls, "columns": columns, "cpu": cpu}


# --- 3. cache hit -----------------------------------------------------------------------------------------------

async def cache_hits(tmp: Path, url: str, calls: int, warmup: int) -> dict[str, Any]:
    ex = executor(tmp, url, "cache")  # cache="auto": temperature 0 is cached
    first = await ex.run("openai:gpt-4o", PROMPT, temperature=0)
    assert not first.cached
    times = []
    for i in range(warmup + calls):
        t0 = time.perf_counter()
        reply = await ex.run("openai:gpt-4o", PROMPT, temperature=0)
        elapsed = time.perf_counter() - t0
        assert reply.cached and reply.text == TEXT
        if i >= warmup:
            times.append(elapsed)
    cached_rows = ex.ledger.count(status="cached")
    await ex.aclose()
    ex.ledger.close()
    return {"times": times, "rows": cached_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="measured calls per side (default 300)")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5, help="compare rounds (default 5)")
    parser.add_argument("--server", choices=("process", "thread"), default="process")
    args = parser.parse_args()
    for name in PROVIDER_ENV:
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        os.environ["CODITECT_LEDGER"] = str(tmp / "default-ledger.sqlite3")
        os.environ["CODITECT_CACHE"] = str(tmp / "default-cache.sqlite3")
        cpu0 = time.process_time()
        with Server(0.0, args.server) as url:
            over = asyncio.run(overhead(tmp, url, args.calls, args.warmup))
            hits = asyncio.run(cache_hits(tmp, url, args.calls, args.warmup))
        with Server(0.2, args.server) as url:
            fan = asyncio.run(fan_out(tmp, url, args.rounds))
        cpu = time.process_time() - cpu0

    import openai
    print(f"executor benchmark (loopback FakeServer in a {args.server}, openai SDK {openai.__version__}, "
          f"Python {sys.version.split()[0]})")
    ex_med, sdk_med = statistics.median(over["ex"]), statistics.median(over["sdk"])
    paired = statistics.median(e - s for e, s in zip(over["ex"], over["sdk"]))
    print(f"1. Executor.run('openai:gpt-4o') vs AsyncOpenAI.chat.completions.create, {args.calls} calls each, "
          f"interleaved, after {args.warmup} warm-up each; cache off, ledger on")
    table.info("executor call, median", f"{ex_med * 1000:9.3f} ms   (p10 {quantile(over['ex'], .1) * 1000:.3f}, "
                                        f"p90 {quantile(over['ex'], .9) * 1000:.3f})")
    table.info("raw SDK call, median", f"{sdk_med * 1000:9.3f} ms   (p10 {quantile(over['sdk'], .1) * 1000:.3f}, "
                                       f"p90 {quantile(over['sdk'], .9) * 1000:.3f})")
    table.line("   overhead (median executor - median SDK)", (ex_med - sdk_med) * 1000, "ms", 1.0)
    table.info("median of paired differences", f"{paired * 1000:9.3f} ms")
    table.line("   ratio (median executor / median SDK)", ex_med / sdk_med, "x", 1.05)
    table.info("ledger rows written (ok)", f"{over['rows']:9d}")

    singles = {i: statistics.median(t) for i, t in fan["singles"].items()}
    slowest_id = max(singles, key=singles.get)
    slowest = singles[slowest_id]
    wall = statistics.median(fan["walls"])
    print(f"2. compare over {len(COMPARE_IDS)} providers, 200 ms scripted latency each, median of {args.rounds} rounds "
          "(single calls: Executor.stream read to its end, one at a time, as compare sends each)")
    for model_id, t in singles.items():
        table.info(f"single {model_id}", f"{t * 1000:9.1f} ms")
    table.info("slowest single call", f"{slowest * 1000:9.1f} ms   ({slowest_id})")
    table.info("compare wall time", f"{wall * 1000:9.1f} ms   (sum of singles {sum(singles.values()) * 1000:.0f} ms)")
    table.info("slowest column's own latency in compare", f"{statistics.median(fan['columns']) * 1000:9.1f} ms")
    table.info("CPU time of this process per compare", f"{statistics.median(fan['cpu']) * 1000:9.1f} ms")
    table.line("   compare wall / slowest single call", wall / slowest, "x", 1.15)

    print(f"3. cache hit: Executor.run temperature 0, already cached, {args.calls} calls after {args.warmup} warm-up")
    table.line("   cache hit, median", statistics.median(hits["times"]) * 1000, "ms", 2.0)
    table.info("p90", f"{quantile(hits['times'], .9) * 1000:9.3f} ms   ({hits['rows']} 'cached' ledger rows)")

    print(f"load average {' '.join(f'{x:.2f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after, on {os.cpu_count()} cores; "
          f"this process used {cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
