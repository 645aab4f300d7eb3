"""Ledger benchmark: insert time per row, and 100,000 rows to a DataFrame. Prints each figure beside its goal.

    /work/venv/bin/python benchmarks/bench_ledger.py [--rows 100000] [--inserts 5000]

Uses a fresh SQLite file in a temporary directory (WAL, one transaction per insert, as in real use)."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from coditect_magics import costs
from coditect_magics.providers.types import Usage
from report import Report  # benchmarks/, this script's folder

MODELS = [("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-4o"), ("gemini", "gemini-2.5-flash"),
          ("ollama", "llama3.2"), ("openai", "unknown-model")]


table = Report(width=44, unit_width=6)


def fake_rows(n: int, now: float) -> list[costs.CallRecord]:
    rng = random.Random(7)
    rows = []
    times = sorted(now - rng.random() * 30 * 86400 for _ in range(n))  # a ledger is written in time order
    for i in range(n):
        provider, model = rng.choice(MODELS)
        known = model != "unknown-model"
        rows.append(costs.CallRecord(
            provider, model, status=rng.choice(("ok", "ok", "ok", "error", "cached")),
            input_tokens=rng.randint(10, 5000), output_tokens=rng.randint(1, 2000), cached_tokens=rng.randint(0, 10),
            cost_usd=rng.random() / 100 if known else None, price_known=known, latency_s=rng.random() * 5,
            ttft_s=rng.random(), agent=rng.choice((None, "researcher", "coder")), run_id=None,
            session_id=f"s{i % 7}", ts=times[i]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--inserts", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = costs.Ledger(Path(tmp) / "bench.sqlite3")
        ledger.record(costs.CallRecord("ollama", "warm-up"))  # opens the file, sets WAL, creates the table

        rows = fake_rows(args.inserts, time.time())
        t0 = time.perf_counter()
        for rec in rows:
            ledger.record(rec)
        per_row = (time.perf_counter() - t0) / len(rows) * 1000
        usage = Usage(1200, 350, 100)
        costs.record_call("anthropic", "claude-sonnet-4-5", usage, ledger=ledger)  # genai-prices imported here
        t0 = time.perf_counter()
        for _ in range(1000):
            costs.record_call("anthropic", "claude-sonnet-4-5", usage, ledger=ledger, latency_s=0.8)
        priced = (time.perf_counter() - t0) / 1000 * 1000

        big = costs.Ledger(Path(tmp) / "big.sqlite3")
        big.record_many(fake_rows(args.rows, time.time()))
        import pandas  # noqa: F401  (import cost is not the figure measured)
        frame_times, frame_cpu, all_times, agg_times = [], [], [], []
        for _ in range(5):
            t0, c0 = time.perf_counter(), time.process_time()
            frame = costs.costs(ledger=big)
            frame_times.append(time.perf_counter() - t0)
            frame_cpu.append(time.process_time() - c0)
            t0 = time.perf_counter()
            costs.costs(ledger=big, columns="all")
            all_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            costs.costs(by="model", ledger=big)
            agg_times.append(time.perf_counter() - t0)
        assert len(frame) == args.rows
        t0 = time.perf_counter()
        frame._repr_html_()
        html = time.perf_counter() - t0

        print(f"ledger benchmark (SQLite {__import__('sqlite3').sqlite_version}, WAL, synchronous=NORMAL)")
        table.line(f"insert, one transaction per row ({args.inserts:,} rows)", per_row, "ms", 0.5)
        table.info("record_call: genai-prices price + insert", f"{priced:9.3f} ms")
        table.line(f"{args.rows:,} rows -> costs() DataFrame (median of 5)", statistics.median(frame_times), "s", 0.5)
        table.info("best of 5", f"{min(frame_times):9.3f} s")
        load = f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
        table.info("CPU time of this process (median)", f"{statistics.median(frame_cpu):9.3f} s   {load}")
        table.info("same, columns=all (21 columns)", f"{statistics.median(all_times):9.3f} s")
        table.info("costs(by=model) over the same rows", f"{statistics.median(agg_times):9.3f} s")
        table.info("inline HTML of the 100k-row frame", f"{html:9.3f} s")
        big.close()
        ledger.close()


if __name__ == "__main__":
    main()
