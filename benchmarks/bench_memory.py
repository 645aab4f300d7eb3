"""Memory benchmark: index rate, query latency at 10,000 items and recall, for the torch embedder and the ONNX one
side by side in one run (so their ratio holds whatever else the machine is doing). Prints each figure beside its goal.

    /work/venv/bin/python benchmarks/bench_memory.py [--items 10000] [--queries 200] [--seed 7] [--agents 336]
                                                     [--embedders local-torch,local:fp32,local[@128]]

Two corpora, each indexed as files by `coditect_magics.memory.index` into a fresh embedded Memory per embedder:
1. benchmarks/memory_corpus.py: 7,500 chat messages in JSONL logs and 1,000 notebook cells with 68 planted facts,
   topped up with generated notes to --items. Recall@k: a planted question is found when one of its top-k hits
   contains the fact's identifying substring (questions keep the names a user would remember; harder paraphrases
   and exact-kNN recall are shown beside).
2. benchmarks/agent_corpus.py: --agents Claude Code agent files (Markdown, ~10 chunks each, some chunks the same in
   many files). Each query is the first 12 words of an agent's description; it is found when its file is among the
   sources of a top-k hit.
Index rate is items (chunks) per second of wall time for the whole `index()` call (reading, chunking, embedding,
Chroma), and per CPU-second (what the process itself used: steadier on a shared machine). Query latency is
`Memory.search(q, k=5)` wall time, the query's embedding included, after a few warm-up queries, on varied queries
(none repeated: the query cache does not help them; a repeated query is timed apart). The models run offline."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))  # memory_corpus, agent_corpus, report

import agent_corpus  # noqa: E402
import memory_corpus  # noqa: E402
from report import Report, quantile  # noqa: E402

WARMUP = 5
NOTE_BATCH = 256
table = Report(width=50, unit_width=7)


def top_up(memory: Any, items: int, seed: int) -> int:
    """Add generated notes until the store holds `items`; returns how many were added."""
    added = 0
    source = memory_corpus.notes(max(0, items - memory.count()) + 1000, seed)
    while memory.count() < items:
        need = min(NOTE_BATCH, items - memory.count())
        memory.add_many([{"text": next(source), "kind": "note", "source": "bench-notes"} for _ in range(need)])
        added += need
    return added


def latencies(memory: Any, queries: list[str]) -> dict[str, float]:
    """p50/p95/p99/mean/max of `Memory.search(q, k=5)` (embedding included) over varied queries after warm-up, the
    query embedding alone, and a repeated query (its vector cached)."""
    for query in queries[:WARMUP]:
        memory.search(query, k=5)
    searches, embeds, repeats = [], [], []
    for query in queries[WARMUP:]:
        t0 = time.perf_counter()
        memory.search(query, k=5)
        searches.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        memory.embedder([query + " ?"])  # not the cached vector
        embeds.append(time.perf_counter() - t0)
    for query in queries[:50]:
        t0 = time.perf_counter()
        memory.search(query, k=5)
        repeats.append(time.perf_counter() - t0)
    ms = 1000.0
    return {"p50": quantile(searches, 0.5) * ms, "p95": quantile(searches, 0.95) * ms,
            "p99": quantile(searches, 0.99) * ms, "mean": statistics.mean(searches) * ms, "max": max(searches) * ms,
            "embed p50": quantile(embeds, 0.5) * ms, "embed p95": quantile(embeds, 0.95) * ms,
            "repeat p50": quantile(repeats, 0.5) * ms, "repeat p95": quantile(repeats, 0.95) * ms}


def ranks(queries: list[str], found: Callable[[str, Any], bool],
          search: Callable[[str], list[Any]]) -> list[int | None]:
    """1-based rank of the first hit `found` accepts for each query, None when none of the hits is."""
    return [next((i for i, h in enumerate(search(q), 1) if found(q, h)), None) for q in queries]


def ranks_exact(memory: Any, questions: list[dict[str, str]], k: int) -> list[int | None]:
    """Ranks by brute-force cosine over every stored vector: what a perfect index would return."""
    import numpy as np
    got = memory.collection.get(include=["embeddings", "documents"])
    vectors, documents = np.asarray(got["embeddings"], dtype=np.float32), got["documents"]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query_vectors = np.asarray(memory.embedder([q["question"] for q in questions]), dtype=np.float32)
    out = []
    for q, vector in zip(questions, query_vectors):
        top = np.argsort(-(vectors @ vector))[:k]
        out.append(next((i for i, j in enumerate(top, 1) if q["key"] in documents[j]), None))
    return out


def recall(found: list[int | None], k: int) -> float:
    return sum(1 for r in found if r is not None and r <= k) / len(found)


def mrr(found: list[int | None]) -> float:
    return sum(1 / r for r in found if r) / len(found)


def scores(found: list[int | None]) -> dict[str, float]:
    return {"recall@1": recall(found, 1), "recall@5": recall(found, 5), "recall@10": recall(found, 10),
            "MRR@10": mrr(found)}


def timed_index(memory: Any, directory: Path) -> tuple[Any, dict[str, float]]:
    """`index(directory, memory)` with its wall and CPU time, and the load average meanwhile."""
    from coditect_magics.memory import index
    t0, c0 = time.perf_counter(), time.process_time()
    report = index(directory, memory, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return report, {"items": report.items, "new": report.added, "seconds": wall, "items/s": report.items / wall,
                    "items/CPU-s": report.items / cpu, "load": os.getloadavg()[0]}


def cached_load(name: str, cache: Path) -> float:
    """Seconds a fresh process takes to make the embedder answer once (imports, model file from the cache)."""
    code = ("import time, os; t = time.perf_counter(); from coditect_magics.memory.embedders import get; "
            f"get({name!r})(['warm']); print(time.perf_counter() - t)")
    env = {**os.environ, "CODITECT_MODEL_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def embedder_of(name: str) -> Any:
    """The embedder of a name; NAME@N: the local ONNX one reading at most N word pieces of a text."""
    from coditect_magics.memory import get_embedder
    base, _, tokens = name.partition("@")
    embedder = get_embedder(base)
    if tokens:
        embedder.max_tokens = int(tokens)
    return embedder


def run(name: str, tmp: Path, corpus: Any, agents: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure for one embedder."""
    from coditect_magics.memory import Memory
    out: dict[str, Any] = {}
    memory = Memory(tmp / f"store-{name}", embedder=embedder_of(name))
    memory.count()  # opens the store and creates the collection
    t0 = time.perf_counter()
    memory.embedder.load()  # a fresh model dir: an ONNX embedder builds its model file here
    out["first load"] = time.perf_counter() - t0
    out["cached load"] = cached_load(name.partition("@")[0], tmp / "models")
    _, out["index: messages"] = timed_index(memory, corpus.directory)
    top_up(memory, args.items, args.seed)
    out["count"] = memory.count()
    out["latency"] = latencies(memory, memory_corpus.queries(args.queries + WARMUP, args.seed))
    questions = memory_corpus.questions()
    by_key = {q["question"]: q["key"] for q in questions} | {q["hard"]: q["key"] for q in questions}
    found = ranks([q["question"] for q in questions], lambda q, h: by_key[q] in h.text,
                  lambda q: memory.search(q, k=10))
    out["recall: messages"] = scores(found)
    out["recall: messages, hard"] = scores(ranks([q["hard"] for q in questions], lambda q, h: by_key[q] in h.text,
                                                 lambda q: memory.search(q, k=10)))
    out["recall: messages, exact kNN"] = scores(ranks_exact(memory, questions, 10))
    files = Memory(tmp / f"agents-{name}", embedder=embedder_of(name))
    report, out["index: agent files"] = timed_index(files, agents)
    out["index: agent files"]["files"] = report.files
    wanted = dict(agent_corpus.queries(args.agents, args.seed))
    out["recall: agent files"] = scores(ranks(list(wanted), lambda q, h: wanted[q] in {Path(s).name for s in h.sources},
                                              lambda q: files.search(q, k=10)))
    out["agent latency"] = latencies(files, list(wanted)[:args.queries + WARMUP])
    return out


def show(names: list[str], figures: dict[str, dict[str, Any]]) -> None:
    """The figures side by side, the last embedder's ratio to the first beside them."""
    first, last = names[0], names[-1]
    print(f"\n{'':<34}" + "".join(f"{n:>14}" for n in names) + f"{last + ' / ' + first:>22}")

    def row(label: str, get: Callable[[dict[str, Any]], float], fmt: str = "{:14.1f}") -> None:
        values = [get(figures[n]) for n in names]
        ratio = values[-1] / values[0] if values[0] else float("nan")
        print(f"{label:<34}" + "".join(fmt.format(v) for v in values) + f"{ratio:21.2f}x")

    for part in ("messages", "agent files"):
        row(f"index {part}: items/s", lambda f: f[f"index: {part}"]["items/s"])
        row(f"index {part}: items/CPU-s", lambda f: f[f"index: {part}"]["items/CPU-s"])
        row(f"index {part}: seconds", lambda f: f[f"index: {part}"]["seconds"])
    for key, label in (("latency", "query @10k"), ("agent latency", "query @agents")):
        for q in ("p50", "p95", "embed p50", "repeat p50"):
            row(f"{label} {q} (ms)", lambda f: f[key][q], "{:14.2f}")
    for part in ("messages", "messages, hard", "messages, exact kNN", "agent files"):
        for m in ("recall@1", "recall@5", "recall@10", "MRR@10"):
            row(f"{part} {m}", lambda f: f[f"recall: {part}"][m], "{:14.3f}")
    row("first load, s (ONNX: build)", lambda f: f["first load"], "{:14.2f}")
    row("load in a fresh process, s", lambda f: f["cached load"], "{:14.2f}")


def goals(name: str, f: dict[str, Any]) -> None:
    print(f"\ngoals, embedder {name!r}:")
    for part in ("messages", "agent files"):
        table.line(f"   index {part} ({f[f'index: {part}']['items']:,} items)", f[f"index: {part}"]["items/s"],
                   "items/s", 200, sign=">=")
    table.line(f"   query p95 at {f['count']:,} items", f["latency"]["p95"], "ms", 25, sign="<=")
    table.line("   recall@5, planted facts", f["recall: messages"]["recall@5"], "", 0.9, sign=">=")
    table.line("   recall@5, agent files", f["recall: agent files"]["recall@5"], "", 0.9, sign=">=")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items in the store when queried (default 10000)")
    parser.add_argument("--queries", type=int, default=200, help="timed queries (default 200)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--agents", type=int, default=336, help="agent files (default 336)")
    parser.add_argument("--embedders", default="local-torch,local:fp32,local",
                        help="embedder names, the baseline first (default local-torch,local:fp32,local)")
    args = parser.parse_args()
    names = [n.strip() for n in args.embedders.split(",") if n.strip()]
    os.environ["HF_HUB_OFFLINE"] = "1"
    import chromadb
    import onnxruntime
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        os.environ["CODITECT_MODEL_DIR"] = str(tmp / "models")  # a fresh cache: the first load builds
        corpus = memory_corpus.build(tmp / "corpus", args.seed)
        agents = tmp / "agents"
        agent_corpus.write(agents, args.agents, args.seed)
        print(f"memory benchmark: chromadb {chromadb.__version__}, onnxruntime {onnxruntime.__version__}, "
              f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}")
        print(f"corpora: {corpus.messages:,} messages and {corpus.cells:,} cells ({corpus.facts} planted facts), "
              f"topped up to {args.items:,} items; {args.agents} agent files")
        figures = {}
        for name in names:
            figures[name] = run(name, tmp, corpus, agents, args)
            f = figures[name]
            print(f"  {name}: messages {f['index: messages']['items']:,} items in {f['index: messages']['seconds']:.1f}"
                  f" s (load {f['index: messages']['load']:.1f}); agent files {f['index: agent files']['items']:,} "
                  f"items ({f['index: agent files']['new']:,} distinct) in {f['index: agent files']['seconds']:.1f} s "
                  f"(load {f['index: agent files']['load']:.1f})", flush=True)
        show(names, figures)
        goals(names[-1], figures[names[-1]])
    print(f"load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores "
          "(other work on the machine slows every embedder alike; the ratios hold)")


if __name__ == "__main__":
    main()
