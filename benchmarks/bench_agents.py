"""Agents benchmark over loopback servers, each in its own process: a 3-level delegation tree (root → 2 → 4) with
200 ms per model call, wall time vs the critical path (goal ≤ 1.15×); and the tool loop's overhead per step vs the
same number of raw SDK calls (goal ≤ 2 ms). Prints each figure beside its goal.

    /work/venv/bin/python benchmarks/bench_agents.py [--latency 0.2] [--steps 10] [--rounds 15]

Root, middle and leaf agents each talk to their own server (Anthropic, Ollama and OpenAI protocols), so every
level's calls land on its own endpoint, as with three providers. The ledger is a fresh SQLite file: every model call
writes its row, as in real use."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes

from loopback import Servers  # noqa: E402
from report import Report  # noqa: E402

KEY = "sk-bench-not-a-real-key"
LEVELS = {"root": ("anthropic:claude-sonnet-4-6", "Task", "mid"), "mid": ("ollama:llama3.2", "Task", "leaf"),
          "leaf": ("openai:gpt-4o-mini", "[]", None)}


table = Report(width=58)


# --- loopback servers in child processes ------------------------------------------------------------------------

def answered(body: Any) -> bool:
    """Whether the request's last turn carries tool results (Anthropic tool_result blocks, a role "tool" message)."""
    last = (body or {}).get("messages", [{}])[-1]
    return last.get("role") == "tool" or "tool_result" in json.dumps(last.get("content", ""))


def delegating(recorded: Any) -> Any:
    """Delegate to two agents of the next level, then answer once their results are back."""
    from tests.fakes import Script
    body = recorded.body or {}
    if answered(body):
        return Script(text="combined")
    system = json.dumps(body.get("system", "")) + json.dumps(body.get("messages", [{}])[0])
    child = next((LEVELS[level][2] for level in ("root", "mid") if f"You are {level}." in system), None)
    if child is None:
        return Script(text="leaf work")
    return Script(text="", tool_calls=[{"id": f"call_{child}_{i}", "name": "Task", "arguments": {
        "description": f"part {i}", "prompt": f"Part {i}.", "subagent_type": child}} for i in (1, 2)])


def looping(recorded: Any) -> Any:
    """Call the `noop` tool until this is the run's last model call (BENCH_AGENT_STEPS of them), then answer."""
    from tests.fakes import Script
    body = recorded.body or {}
    if not body.get("tools"):
        return Script(text="raw")
    turns = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
    if turns + 1 >= int(os.environ["BENCH_AGENT_STEPS"]):
        return Script(text="finished")
    return Script(text="", tool_calls=[{"id": f"toolu_{turns}", "name": "noop", "arguments": {}}])



def make_executor(tmp: Path, name: str, anthropic: str, ollama: str = "", openai: str = "") -> Any:
    from coditect_magics.cache import ResponseCache
    from coditect_magics.costs import Ledger
    from coditect_magics.executor import Executor, ExecutorSettings
    options = {"anthropic": {"api_key": KEY, "base_url": anthropic}, "ollama": {"base_url": ollama or anthropic},
               "openai": {"api_key": KEY, "base_url": f"{openai or anthropic}/v1"}}
    return Executor(ExecutorSettings(provider_options=options, cache="off", attempts=1),
                    ledger=Ledger(tmp / f"{name}-ledger.sqlite3"), cache=ResponseCache(tmp / f"{name}-cache.sqlite3"))


# --- 1. the delegation tree ---------------------------------------------------------------------------------------

async def tree(tmp: Path, urls: list[str], latency: float, rounds: int) -> dict[str, Any]:
    from coditect_magics.agents import AgentLibrary, resolve_agent
    from coditect_magics.agents.runner import Runner
    folder = tmp / "agents"
    folder.mkdir(exist_ok=True)
    for name, (model, tools, _) in LEVELS.items():
        (folder / f"{name}.md").write_text(f"---\nname: {name}\ndescription: The {name} level.\ntools: {tools}\n"
                                           f"model: {model}\n---\nYou are {name}.\n")
    library = AgentLibrary([folder], standard=False)
    ex = make_executor(tmp, "tree", *urls)
    runner = Runner(ex, agents=library, stream=True)
    root = resolve_agent(library.get("root"))
    walls, done = [], None
    for round_ in range(min(rounds, 5) + 1):  # the first round pays the SDKs' imports: not counted
        started = time.perf_counter()
        done = await runner.run(root, "Do the whole job.")
        if round_:
            walls.append(time.perf_counter() - started)
        assert done.status == "done" and done.text == "combined", (done.status, done.trace)
    await ex.aclose()
    nodes = [node for _, node in done.trace.walk()]
    calls = sum(node.steps for node in nodes)
    # root asks → a mid asks → a leaf answers → the mid answers → root answers: five calls in a row
    critical = 5 * latency
    return {"wall": statistics.median(walls), "critical": critical, "nodes": len(nodes), "calls": calls,
            "depth": max(depth for depth, _ in done.trace.walk())}


# --- 2. tool-loop overhead per step --------------------------------------------------------------------------------

async def loop_overhead(tmp: Path, url: str, steps: int, rounds: int) -> dict[str, Any]:
    import anthropic

    from coditect_magics.tools import Tool, run_tools
    ex = make_executor(tmp, "loop", url)

    def noop() -> str:
        """Do nothing."""
        return "ok"

    tool = Tool.from_function(noop)
    raw = anthropic.AsyncAnthropic(api_key=KEY, base_url=url, max_retries=0)
    spec = [{"name": "noop", "description": "Do nothing.", "input_schema": dict(tool.parameters)}]

    async def via_loop() -> float:
        started = time.perf_counter()
        result = await run_tools(ex, "anthropic:claude-sonnet-4-6", "Go.", [tool], max_steps=steps + 1,
                                 stream=False)
        elapsed = time.perf_counter() - started
        assert result.status == "done" and result.steps == steps, (result.status, result.steps)
        return elapsed / steps

    async def via_sdk() -> float:
        messages: list[dict[str, Any]] = [{"role": "user", "content": "Go."}]
        started = time.perf_counter()
        for _ in range(steps):
            reply = await raw.messages.create(model="claude-sonnet-4-6", max_tokens=1024, messages=messages,
                                              tools=spec)
            if reply.stop_reason != "tool_use":
                break
            block = next(b for b in reply.content if b.type == "tool_use")
            messages += [{"role": "assistant", "content": [b.model_dump() for b in reply.content]},
                         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id,
                                                       "content": "ok"}]}]
        return (time.perf_counter() - started) / steps

    async def via_executor(messages: list[Any]) -> float:
        """The same requests through the executor alone: what the loop adds on top of it is the loop's own."""
        started = time.perf_counter()
        for step in range(steps):
            await ex.run("anthropic:claude-sonnet-4-6", messages[:1 + 2 * step], tools=(tool.spec,))
        return (time.perf_counter() - started) / steps

    history = list((await run_tools(ex, "anthropic:claude-sonnet-4-6", "Go.", [tool], max_steps=steps + 1,
                                    stream=False)).messages)
    await via_loop(), await via_sdk(), await via_executor(history)  # warm: imports, connections, schemas
    loops, sdks, executors = [], [], []
    for _ in range(rounds):  # interleaved, so a busy moment on the machine hits every side alike
        loops.append(await via_loop())
        sdks.append(await via_sdk())
        executors.append(await via_executor(history))
    await raw.close()
    await ex.aclose()
    return {"loop": statistics.median(loops), "sdk": statistics.median(sdks),
            "executor": statistics.median(executors),
            "overhead": statistics.median(a - b for a, b in zip(loops, sdks))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each model call takes on the server")
    parser.add_argument("--steps", type=int, default=10, help="model calls per tool-loop run (the loop's default)")
    parser.add_argument("--rounds", type=int, default=15, help="timed repetitions (median reported)")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with Servers(3, args.latency, delegating) as urls:
            found = asyncio.run(tree(tmp, urls, args.latency, args.rounds))
        ratio = found["wall"] / found["critical"]
        table.info("delegation tree", f"{found['nodes']} agent runs, {found['calls']} model calls, "
                                      f"depth {found['depth']}, {args.latency * 1000:.0f} ms per call, 3 servers")
        table.info("critical path (5 calls in a row)", f"{found['critical']:.3f} s; wall {found['wall']:.3f} s")
        ok &= table.line("delegation tree wall time / critical path", ratio, "x", 1.15, sign="≤")
        os.environ["BENCH_AGENT_STEPS"] = str(args.steps)  # the spawned server reads it
        with Servers(1, 0.0, looping) as (url,):
            measured = asyncio.run(loop_overhead(tmp, url, args.steps, args.rounds))
        table.info("raw SDK call per step (anthropic, whole replies)", f"{measured['sdk'] * 1000:.3f} ms")
        table.info("executor alone, same requests, per step", f"{measured['executor'] * 1000:.3f} ms")
        table.info("tool loop per step (executor, ledger row, tool run)", f"{measured['loop'] * 1000:.3f} ms")
        ok &= table.line("tool-loop overhead per step vs raw SDK calls", measured["overhead"] * 1000, "ms", 2.0,
                          sign="≤")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
