"""Agents found by what they can do: `find("review Rust code for memory safety", k=5)` ranks the agents on the
search path by their names and descriptions, by meaning with the memory embedder when it is installed, else
lexically with BM25 (`bm25s`, words stemmed by PyStemmer). The result says which ranking was used, and why when it is not the first choice."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Literal, Sequence

Ranking = Literal["auto", "embeddings", "bm25"]


@dataclass(frozen=True)
class Match:
    name: str
    score: float
    description: str


@dataclass(frozen=True)
class Found:
    """The ranked agents (best first), the ranking used and, when it fell back, why."""

    matches: tuple[Match, ...]
    ranking: str
    note: str = ""

    def __iter__(self) -> Iterator[Match]:
        return iter(self.matches)

    def __len__(self) -> int:
        return len(self.matches)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.matches]

    def _repr_markdown_(self) -> str:
        rows = ["| agent | score | description |", "|---|---|---|"]
        rows += [f"| {m.name} | {m.score:.3f} | {' '.join(m.description.split())[:120].replace('|', '/')} |"
                 for m in self.matches]
        return "\n".join(rows) + f"\n\nRanked by {self.ranking}" + (f" ({self.note})" if self.note else "") + "."


def find(query: str, k: int = 5, library: Any = None, *, ranking: Ranking = "auto", embedder: Any = None) -> Found:
    """The `k` agents of `library` (default: the standard search path) best suited to `query`."""
    if library is None:
        from .library import AgentLibrary
        library = AgentLibrary()
    items = library.items  # one scan of the search path (each `.items` looks at every file again)
    agents = [items[name] for name in sorted(items)]
    if not agents or not query.strip() or k < 1:
        return Found((), "none")
    texts = [f"{a.name.replace('-', ' ')}: {a.description}" for a in agents]
    note = ""
    if ranking in ("auto", "embeddings"):
        try:
            scores = _by_meaning(query, texts, embedder)
            return _top(agents, scores, k, "embeddings")
        except Exception as exc:  # noqa: BLE001 - any embedder failure falls back, and says so
            if ranking == "embeddings":
                raise
            note = f"embeddings unavailable: {exc}"
    return _top(agents, _by_words(query, texts), k, "bm25", note)


def _top(agents: Sequence[Any], scores: Sequence[float], k: int, ranking: str, note: str = "") -> Found:
    order = sorted(range(len(agents)), key=lambda i: (-scores[i], agents[i].name))[:k]
    return Found(tuple(Match(agents[i].name, float(scores[i]), agents[i].description) for i in order), ranking, note)


def _by_meaning(query: str, texts: list[str], embedder: Any) -> list[float]:
    if embedder is None:  # one that cannot load says why (EmbedderError) and the words rank instead
        from coditect_magics.memory.embedders import get
        embedder = get()
    vectors = embedder([query, *texts])
    first = vectors[0]
    return [_cosine(first, v) for v in vectors[1:]]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    size = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / size if size else 0.0


def _by_words(query: str, texts: list[str]) -> list[float]:
    try:
        import bm25s
    except ImportError:
        raise ImportError("agent discovery needs bm25s or the local embedder: pip install 'coditect-magics[agents]' "
                          "or 'coditect-magics[local-embeddings]'") from None
    import Stemmer  # "restarting" finds "restart", "pods" finds "pod"
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    query_tokens = bm25s.tokenize(query, stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False)[0]
    return [float(s) for s in retriever.get_scores(query_tokens)]
