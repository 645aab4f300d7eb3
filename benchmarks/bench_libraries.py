"""Libraries benchmark: `%skill list` over 1,000 skill folders and `%agent list` over 300 agent files, through the
whole magic in a real InteractiveShell. Goals (issue 16): skills ≤ 0.5 s cold and ≤ 50 ms warm, agents ≤ 0.3 s cold.

    /work/venv/bin/python benchmarks/bench_libraries.py [--skills 1000] [--agents 300] [--runs 5]

The corpus is written by `library_corpus.py` into a temp dir (SKILL.md bodies to 72k characters with `---` rules,
scripts/, references/, assets/, LICENSE files; agent files with unquoted multi-line descriptions). Each cold figure
is a fresh process (median of --runs) with nothing parsed in memory and a new user cache dir: the kit loaded
(`%load_ext` is measured by bench_load.py) and its warm-up imports done, as in a kernel where the listing is the
next cell; the import of the listing's own modules is included. "Right after %load_ext" runs it while the warm-up
(SQLAlchemy, pandas) still shares the CPU. Warm is the same listing again in that process (best of two)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from library_corpus import write  # noqa: E402
from report import Report  # noqa: E402

PROBE = """
import json, sys, threading, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "coditect_magics")
magic, directory, settle = sys.argv[1], sys.argv[2], sys.argv[3] == "settled"
ip.run_line_magic("config", f"CoditectMagics.{magic}_dirs = [{directory!r}]")
for thread in threading.enumerate() if settle else ():
    if thread.name == "coditect-warm-up":  # the imports the kit does off the kernel's thread after a load
        thread.join()
walls, cpus = [], []
for _ in range(3):
    start, cpu = time.perf_counter(), time.thread_time()
    shown = ip.run_line_magic(magic, "list")
    text = shown._repr_markdown_() if hasattr(shown, "_repr_markdown_") else shown.data
    walls.append(time.perf_counter() - start)
    cpus.append(time.thread_time() - cpu)
rows = sum(1 for line in text.splitlines() if line.startswith("| ")) - 1
print(json.dumps({"cold": walls[0], "cold_cpu": cpus[0], "warm": min(walls[1:]), "rows": rows,
                  "not_loaded": text.count("Not loaded")}))
"""


def probe(magic: str, directory: Path, home: Path, cache: Path, settle: bool = True) -> dict:
    """One fresh process: the listing three times; its cold and best warm time, the rows it showed."""
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(cache), "IPYTHONDIR": str(home / ".ipython")}
    done = subprocess.run([sys.executable, "-c", PROBE, magic, str(directory), "settled" if settle else "busy"],
                          capture_output=True, text=True, env=env, cwd=home, check=False)
    if done.returncode:
        raise SystemExit(f"the probe failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(magic: str, directory: Path, root: Path, runs: int) -> dict:
    """`runs` fresh processes with the kernel settled (each with a new cache dir, so nothing kept on disk helps),
    then `runs` run right after `%load_ext`, while the kit's warm-up imports share the CPU."""
    home = root / "home"
    home.mkdir(exist_ok=True)
    settled = [probe(magic, directory, home, root / f"cache-{magic}-{i}") for i in range(runs)]
    busy = [probe(magic, directory, home, root / f"cache-busy-{magic}-{i}", settle=False) for i in range(runs)]
    return {"cold": statistics.median(r["cold"] for r in settled),
            "cold_cpu": statistics.median(r["cold_cpu"] for r in settled),
            "warm": statistics.median(r["warm"] for r in settled), "busy": statistics.median(r["cold"] for r in busy),
            "rows": settled[-1]["rows"], "not_loaded": settled[-1]["not_loaded"]}


def main() -> None:
    """Write the corpus, measure both listings, print each figure beside its goal."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skills", type=int, default=1_000)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    table = Report(width=56)
    with tempfile.TemporaryDirectory(prefix="bench-libraries-") as tmp:
        root = write(Path(tmp) / "corpus", options.skills, options.agents)
        skills = measure("skill", root / "skills", Path(tmp), options.runs)
        agents = measure("agent", root / "agents", Path(tmp), options.runs)
    ok = table.line(f"%skill list, {options.skills} folders, cold", skills["cold"], "s", 0.5, sign="≤")
    ok &= table.line(f"%skill list, {options.skills} folders, warm", skills["warm"] * 1000, "ms", 50, sign="≤")
    table.info("skills, cold: CPU time of the kernel's thread", f"{skills['cold_cpu']:.3f} s")
    table.info("skills, cold right after %load_ext", f"{skills['busy']:.3f} s")
    table.info("skills listed / not loaded", f"{skills['rows']} / {skills['not_loaded']}")
    ok &= table.line(f"%agent list, {options.agents} files, cold", agents["cold"], "s", 0.3, sign="≤")
    table.info("agents, warm", f"{agents['warm'] * 1000:.1f} ms")
    table.info("agents, cold: CPU time of the kernel's thread", f"{agents['cold_cpu']:.3f} s")
    table.info("agents, cold right after %load_ext", f"{agents['busy']:.3f} s")
    table.info("agents listed / not loaded", f"{agents['rows']} / {agents['not_loaded']}")
    print("all goals met" if ok else "some goals missed")


if __name__ == "__main__":
    main()
