"""Data features benchmark against a loopback FakeServer in another process: structured output, key rotation,
batch jobs and `%llm eval`, each beside its baseline measured in the same run (so the ratios hold whatever else the
machine is doing). Prints each figure beside its goal.

    .venv/bin/python benchmarks/bench_data.py [--calls 300] [--rotation-calls 500] [--batch 10000]
                                              [--eval-rows 200] [--rounds 3]

1. `Executor.complete(model, messages, schema=City)` vs `Executor.run` for the same scripted JSON reply (openai,
   cache off, ledger on), interleaved: the added ms per call (median minus median).
2. Two openai keys (OPENAI_API_KEY, OPENAI_API_KEY_2) vs one: the pool reads the environment at each call, so
   blocks of calls alternate with the second variable set and unset; the ledger's key_name shows the spread.
3. `--batch` prompts through the session's BatchService on the OpenAI batch fake: submit, the first fetch (results
   and one ledger row per request), a second fetch (no new rows); baseline: as many rows written as ordinary calls
   write theirs (`Executor.record`, one transaction per row, priced).
4. `%llm eval`'s service (`evals.evaluate`: pydantic-evals, scoring, summary, chart) over `--eval-rows` rows x 2
   models vs as many plain calls at the same concurrency (8 per model, both models at once, streamed as the
   evaluation's answers are), alternating rounds; the ratio of median wall times."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import timeit
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes

from loopback import Servers  # noqa: E402
from report import Report, quantile  # noqa: E402

MODEL = "openai:gpt-4.1-mini"
EVAL_MODELS = ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5")
CITY = '{"name": "Paris", "country": "France", "population": 2102650}'
PROMPT = [{"role": "user", "content": "The capital of France, as JSON."}]
KEYS = {"OPENAI_API_KEY": "sk-bench-first-not-real", "ANTHROPIC_API_KEY": "sk-bench-anthropic-not-real"}
SECOND = ("OPENAI_API_KEY_2", "sk-bench-second-not-real")
PROVIDER_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_API_KEY_2", "OPENAI_BASE_URL",
                "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "HF_TOKEN", "OLLAMA_HOST",
                "CODITECT_LOG_PROMPTS", "CODITECT_REDIS_URL")
CONCURRENCY = 8   # evals' default per contestant
table = Report(width=58)


def answering(recorded: Any) -> Any:
    """The loopback model: every request (a call, or each request of a batch) gets the same JSON answer."""
    from tests.fakes import Script
    return Script(text=CITY, input_tokens=20, output_tokens=12)


def ms(seconds: float) -> str:
    """Seconds as milliseconds, three decimals."""
    return f"{seconds * 1000:.3f} ms"


def executor(tmp: Path, url: str, name: str) -> Any:
    """An executor on the loopback server: cache off, its own ledger, a key pool reading the environment."""
    from coditect_magics.costs import Ledger
    from coditect_magics.executor import Executor, ExecutorSettings
    from coditect_magics.keys import KeyPool, KeyStore
    settings = ExecutorSettings(provider_options={"openai": {"base_url": f"{url}/v1"}, "anthropic": {"base_url": url}},
                                cache="off", attempts=1)
    return Executor(settings, ledger=Ledger(tmp / f"{name}.sqlite3"), keys=KeyPool(KeyStore(tmp / "config")))


async def timed(call: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    """Seconds of each of `n` awaits of `call()`, one after another."""
    took = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        took.append(time.perf_counter() - started)
    return took


# --- 1. structured output -----------------------------------------------------------------------------------------

def structured(tmp: Path, url: str, calls: int) -> bool:
    """complete(schema=City) vs run() on the same reply, in alternating blocks after a warm-up."""
    from pydantic import BaseModel

    from coditect_magics import bridge

    class City(BaseModel):
        name: str
        country: str
        population: int

    ex = executor(tmp, url, "structured")

    async def parsed() -> None:
        """A structured call, its answer validated into a City."""
        assert (await ex.complete(MODEL, PROMPT, schema=City)).parsed.population == 2102650

    async def plain() -> None:
        """The same call without a schema."""
        assert (await ex.run(MODEL, PROMPT)).text == CITY

    async def measure() -> tuple[list[float], list[float]]:
        """Warm-up, then blocks of each kind in turn."""
        await timed(parsed, 20)
        await timed(plain, 20)
        runs, completes = [], []
        for _ in range(10):
            runs += await timed(plain, calls // 10)
            completes += await timed(parsed, calls // 10)
        await ex.aclose()
        return runs, completes

    runs, completes = bridge.run(measure())
    validate, made = _parts_cost(City)
    print(f"1. structured output: Executor.complete(schema=City) vs Executor.run, {calls} calls each, alternating "
          f"blocks, {MODEL}, cache off, ledger on")
    table.info("run(), median / p90", f"{ms(statistics.median(runs))} / {ms(quantile(runs, .9))}")
    table.info("complete(schema=City), median / p90",
               f"{ms(statistics.median(completes))} / {ms(quantile(completes, .9))}")
    ok = table.line("   added per call (median complete - median run)",
                    (statistics.median(completes) - statistics.median(runs)) * 1000, "ms", 1.0)
    table.info("ratio complete / run (medians)", f"{statistics.median(completes) / statistics.median(runs):.3f} x")
    table.info("Schema.validate alone, median", ms(validate))
    table.info("Schema.of(City) alone, median", ms(made))
    table.info("ledger rows written (ok)", str(ex.ledger.count(status="ok")))
    ex.ledger.close()
    return ok


def _parts_cost(model: Any) -> tuple[float, float]:
    """Median seconds of `Schema.validate` on the answer's text (the part a call cannot hide) and of `Schema.of`
    (each structured call makes its schema from the class)."""
    from coditect_magics.structured import Schema
    schema = Schema.of(model)
    validate = [timeit.timeit(lambda: schema.validate(CITY), number=1) for _ in range(2000)]
    made = [timeit.timeit(lambda: Schema.of(model), number=1) for _ in range(2000)]
    return statistics.median(validate), statistics.median(made)


# --- 2. key rotation ----------------------------------------------------------------------------------------------

def rotation(tmp: Path, url: str, calls: int) -> bool:
    """One executor, blocks of calls with one key and with two (OPENAI_API_KEY_2 set only for the latter)."""
    from coditect_magics import bridge
    ex = executor(tmp, url, "rotation")

    async def call() -> None:
        """One call, on whichever key the rotation gives."""
        assert (await ex.run(MODEL, PROMPT)).text == CITY

    async def block(two: bool, n: int) -> list[float]:
        """`n` calls with the second key set (`two`) or not."""
        if two:
            os.environ[SECOND[0]] = SECOND[1]
        try:
            return await timed(call, n)
        finally:
            os.environ.pop(SECOND[0], None)

    async def measure() -> tuple[list[float], list[float]]:
        """Warm-up (both keys' clients made), then blocks of each in turn."""
        await block(True, 20)   # both keys' clients made and connected
        await block(False, 20)
        one, two = [], []
        for _ in range(10):
            one += await block(False, calls // 10)
            two += await block(True, calls // 10)
        await ex.aclose()
        return one, two

    one, two = bridge.run(measure())
    _, spread = ex.ledger.query("SELECT key_name, COUNT(*) FROM calls GROUP BY key_name ORDER BY key_name")
    print(f"2. key rotation: two openai keys vs one, {calls} calls each, alternating blocks of {calls // 10}")
    table.info("one key, median / p90", f"{ms(statistics.median(one))} / {ms(quantile(one, .9))}")
    table.info("two keys, median / p90", f"{ms(statistics.median(two))} / {ms(quantile(two, .9))}")
    ok = table.line("   added per call (median two keys - median one)",
                    (statistics.median(two) - statistics.median(one)) * 1000, "ms", 0.5)
    table.info("ratio two / one (medians)", f"{statistics.median(two) / statistics.median(one):.3f} x")
    table.info("ledger rows by key_name, both sides", ", ".join(f"{name} {n}" for name, n in spread))
    ex.ledger.close()
    return ok


# --- 3. batch jobs ------------------------------------------------------------------------------------------------

def session_of(tmp: Path, url: str) -> Any:
    """A Session (no kernel) on the loopback server, its ledger and batch store in `tmp`."""
    from coditect_magics.session import Session
    from coditect_magics.settings import DEFAULTS
    return Session(DEFAULTS.replace(base_urls={"openai": f"{url}/v1", "anthropic": url}, cache="off",
                                    ledger_path=str(tmp / "session.sqlite3"), batch_poll_s=0.01,
                                    batch_poll_max_s=0.05, remember=False, attempts=1))


def batch(tmp: Path, url: str, n: int) -> bool:
    """Submit `n` prompts, follow the job to its end, fetch twice; then `n` ordinary ledger rows (the baseline)."""
    from coditect_magics import bridge
    session = session_of(tmp, url)
    service = session.batches
    rows = [(i, f"Name a city, number {i}.") for i in range(n)]
    started = time.perf_counter()
    job = bridge.run(service.submit(MODEL, rows))
    submit = time.perf_counter() - started

    async def finish() -> Any:
        """The job as it stands once finished (polled as `%agent result --wait` does)."""
        return [j async for j in service.follow(job.id, timeout=120)][-1]

    assert bridge.run(finish()).finished, "the fake ended the batch"
    import coditect_magics.costs as costs
    api = service.api("openai", service.key("openai", job.key_name))  # the adapter the job's fetch uses
    with spying((api, "results"), (service.store, "save"), (service.ledger, "record_many"),
                (costs, "price")) as parts:
        started = time.perf_counter()
        _, items = bridge.run(service.fetch(job.id))
        first = time.perf_counter() - started
    written = service.ledger.count(run_id=job.id)
    started = time.perf_counter()
    _, again = bridge.run(service.fetch(job.id))
    second = time.perf_counter() - started
    assert sum(i.status == "ok" and i.answer == CITY for i in items) == n == len(again) == written
    assert service.ledger.count(run_id=job.id) == written, "the second fetch wrote nothing"
    ordinary = _ordinary_rows(tmp, n)
    session.close()
    print(f"3. batch job: {n:,} prompts through Session.batches on the OpenAI batch fake ({len(job.parts)} batch); "
          f"baseline: {n:,} ledger rows of ordinary calls (Executor.record, one per call)")
    table.info("submit (.jsonl upload, batch create, store)", f"{submit:.3f} s")
    table.info("first fetch (results, items, ledger rows)", f"{first:.3f} s")
    table.info("  of which results (download, parse)", f"{parts['results'][0]:.3f} s")
    table.info("  of which items kept (JobStore.save)", f"{parts['save'][0]:.3f} s")
    table.info("  of which pricing each row (costs.price)", f"{parts['price'][0]:.3f} s")
    table.info("  of which ledger rows (record_many)", f"{parts['record_many'][0]:.3f} s  ({written:,} rows)")
    table.info("second fetch (no new rows)", f"{second:.3f} s")
    table.info("baseline: ordinary calls' rows, one each", f"{ordinary:.3f} s  ({n / ordinary:,.0f} rows/s)")
    ok = table.line("   first fetch, ledger rows per second", written / first, "r/s", 2000, sign="≥")
    table.info("fetch rows/s over ordinary rows/s", f"{(written / first) / (n / ordinary):.2f} x")
    return ok


@contextlib.contextmanager
def spying(*targets: tuple[Any, str]) -> Iterator[dict[str, list[float]]]:
    """Time the calls of each (object, method name) while inside, by name (the seconds summed); restored after."""
    spent: dict[str, list[float]] = {}
    originals = [(obj, name, getattr(obj, name)) for obj, name in targets]
    for obj, name, original in originals:
        spent[name] = total = [0.0]

        def timed_sync(*args: Any, _f: Any = original, _t: list[float] = total, **kwargs: Any) -> Any:
            """The method, timed."""
            started = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                _t[0] += time.perf_counter() - started

        async def timed_async(*args: Any, _f: Any = original, _t: list[float] = total, **kwargs: Any) -> Any:
            """The coroutine method, timed."""
            started = time.perf_counter()
            try:
                return await _f(*args, **kwargs)
            finally:
                _t[0] += time.perf_counter() - started

        setattr(obj, name, timed_async if asyncio.iscoroutinefunction(original) else timed_sync)
    try:
        yield spent
    finally:
        for obj, name, original in originals:
            setattr(obj, name, original)


def _ordinary_rows(tmp: Path, n: int) -> float:
    """Seconds to write `n` rows as `n` ordinary calls write theirs (priced, one transaction each)."""
    from coditect_magics.costs import Ledger
    from coditect_magics.executor import CallContext, Executor, ExecutorSettings
    from coditect_magics.providers import Reply, Request, Usage
    ex = Executor(ExecutorSettings(cache="off"), ledger=Ledger(tmp / "ordinary.sqlite3"))
    request = Request.build(MODEL, PROMPT)
    reply = Reply(CITY, "openai", "gpt-4.1-mini", Usage(20, 12), latency_s=0.01)
    ex.record(request, CallContext(), call_id="warm-up", attempt=1, status="ok", reply=reply)
    started = time.perf_counter()
    for _ in range(n):
        ex.record(request, CallContext(run_id="bench"), call_id=uuid.uuid4().hex, attempt=1, status="ok",
                  reply=reply, key_name="OPENAI_API_KEY")
    took = time.perf_counter() - started
    assert ex.ledger.count(run_id="bench") == n
    ex.ledger.close()
    return took


# --- 4. evaluations -----------------------------------------------------------------------------------------------

def evaluation(tmp: Path, url: str, n: int, rounds: int) -> bool:
    """evals.evaluate over n rows x 2 models vs 2n plain streamed calls at the same concurrency, alternating."""
    import pandas as pd

    from coditect_magics import bridge
    from coditect_magics.evals import evaluate
    from coditect_magics.evals.summary import chart
    session = session_of(tmp, url)
    data = pd.DataFrame({"question": [f"The capital of France, as JSON ({i})?" for i in range(n)],
                         "answer": [CITY] * n})
    ex = session.executor

    async def plain() -> None:
        """Every question to both models, streamed, at most CONCURRENCY at once per model."""
        gates = [asyncio.Semaphore(CONCURRENCY) for _ in EVAL_MODELS]

        async def one(model: str, gate: asyncio.Semaphore, text: str) -> None:
            """One streamed call, read to its end."""
            async with gate:
                execution = ex.stream(model, [{"role": "user", "content": text}])
                assert "".join([c.text async for c in execution]) == CITY

        await asyncio.gather(*(one(m, g, q) for m, g in zip(EVAL_MODELS, gates) for q in data["question"]))

    def run_eval() -> Any:
        """One whole evaluation, as `%llm eval data --models ... --input question --expected answer` runs it."""
        return evaluate(session, data, "data", models=list(EVAL_MODELS), input_column="question",
                        expected_column="answer", concurrency=CONCURRENCY)

    evaluate(session, data.head(4), "data", models=list(EVAL_MODELS), input_column="question",
             expected_column="answer")   # imports (pydantic-evals, matplotlib), clients, connections
    bridge.run(plain())
    evals, plains = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        result = run_eval()
        evals.append(time.perf_counter() - started)
        started = time.perf_counter()
        bridge.run(plain())
        plains.append(time.perf_counter() - started)
    assert list(result.summary["passes"]) == [n, n] and list(result.summary["errors"]) == [0, 0]
    started = time.perf_counter()
    chart(result.summary)
    drawn = time.perf_counter() - started
    session.close()
    answers = n * len(EVAL_MODELS)
    e, p = statistics.median(evals), statistics.median(plains)
    print(f"4. %llm eval service: {n} rows x {len(EVAL_MODELS)} models ({', '.join(EVAL_MODELS)}), exact scorer, "
          f"concurrency {CONCURRENCY} per model, median of {rounds} rounds; baseline: {answers} plain streamed calls "
          "at the same concurrency")
    table.info("evaluate(): wall, answers per second", f"{e:.3f} s  ({answers / e:,.0f} answers/s)")
    table.info("plain calls: wall, calls per second", f"{p:.3f} s  ({answers / p:,.0f} calls/s)")
    table.info("  the chart alone (summary.chart, timed apart)", f"{drawn:.3f} s")
    return table.line("   eval wall / plain calls wall (medians)", e / p, "x", 2.0, sign="≤")


def environment(tmp: Path) -> None:
    """No real keys, endpoints, key store or keyring; the scripted keys in the environment; files in `tmp`."""
    for name in PROVIDER_ENV:
        os.environ.pop(name, None)
    os.environ.update(KEYS)
    os.environ.update({"NO_PROXY": "127.0.0.1,localhost", "CODITECT_CONFIG_DIR": str(tmp / "config"),
                       "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                       "CODITECT_LEDGER": str(tmp / "default-ledger.sqlite3"),
                       "CODITECT_CACHE": str(tmp / "default-cache.sqlite3")})


def main() -> None:
    """Start the loopback server, measure each feature beside its baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="structured: calls per side")
    parser.add_argument("--rotation-calls", type=int, default=500, help="key rotation: calls per side")
    parser.add_argument("--batch", type=int, default=10_000, help="prompts in the batch job")
    parser.add_argument("--eval-rows", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="eval rounds per side")
    args = parser.parse_args()
    load_before = os.getloadavg()
    cpu0 = time.process_time()
    ok = True
    with tempfile.TemporaryDirectory() as tmp_dir, Servers(1, 0.0, answering) as (url,):
        tmp = Path(tmp_dir)
        environment(tmp)
        import openai
        print(f"data features benchmark (loopback FakeServer in a process, openai SDK {openai.__version__}, "
              f"Python {sys.version.split()[0]})")
        ok &= structured(tmp, url, args.calls)
        ok &= rotation(tmp, url, args.rotation_calls)
        ok &= batch(tmp, url, args.batch)
        ok &= evaluation(tmp, url, args.eval_rows, args.rounds)
    print(f"load average {' '.join(f'{x:.2f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after, on {os.cpu_count()} cores; "
          f"this process used {time.process_time() - cpu0:.1f} s CPU")
    print("all goals met" if ok else "a goal was missed")


if __name__ == "__main__":
    main()
