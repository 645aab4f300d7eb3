"""The memory benchmark's agent collection is honest: the promised count of distinct agents, a query per agent that
names its own file and does not quote the rest of its description, bodies the size of real ones, a share of chunks
word for word the same across files (the provenance case), the same bytes for a seed."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import agent_corpus  # noqa: E402

from coditect_magics.memory.indexing import chunk  # noqa: E402


def test_agents_queries_and_files(tmp_path: Path) -> None:
    agents = agent_corpus.agents()
    assert len(agents) == 336 and len({name for name, _, _ in agents}) == 336
    paths = agent_corpus.write(tmp_path / "agents")
    assert sorted(p.name for p in (tmp_path / "agents").iterdir()) == sorted(p.name for p in paths)
    queries = agent_corpus.queries()
    assert len(queries) == 336 and all((tmp_path / "agents" / file).exists() for _, file in queries)
    for (query, file), (_, description, text) in zip(queries, agents):
        assert len(query.split()) == 12 and description.startswith(query) and f"description: {description}" in text
    assert len({q for q, _ in queries}) == 336  # the openings differ


def test_bodies_are_sized_like_real_collections_and_share_chunks() -> None:
    chunks = [piece for _, _, text in agent_corpus.agents() for piece in chunk(text)]
    counts = Counter(chunks)
    assert 2_500 < len(chunks) < 4_500  # the public collection: 3,653 chunks for 336 files
    shared = sum(n - 1 for n in counts.values())
    assert 200 < shared < len(chunks) // 3  # it had 811 stored once


def test_same_seed_same_bytes() -> None:
    assert agent_corpus.agents(20, seed=3) == agent_corpus.agents(20, seed=3)
    assert agent_corpus.agents(20, seed=3) != agent_corpus.agents(20, seed=4)
