"""Words beside meaning: a BM25 index (`bm25s`, words stemmed by PyStemmer) over the memory's texts, so a search
also finds the item that shares an exact name with the question (a table, a project, a model) when the embedding
ranks a look-alike above it. Built from the store when first needed and again after the store changes."""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence


class LexicalIndex:
    """`ranked(query, n)`: the ids of the `n` best BM25 matches, best first. `documents()` returns the store's
    (ids, texts) and `version(total)` a value that changes with them (given the store's count when the caller has
    it); the index is rebuilt when it has."""

    def __init__(self, documents: Callable[[], tuple[Sequence[str], Sequence[str]]],
                 version: Callable[[int | None], Any]) -> None:
        self._documents, self._version = documents, version
        self._lock = threading.Lock()
        self._built: Any = None  # the version it was built at
        self._ids: list[str] = []
        self._retriever: Any = None
        self._stemmer: Any = None

    def refresh(self, total: int | None = None) -> None:
        """Rebuild if the store changed since the last build (about 0.3 s for 10,000 items on 2 cores); `total`,
        the store's count when the caller has just read it, spares reading it again."""
        import bm25s
        import Stemmer
        with self._lock:
            version = self._version(total)
            if self._built == version:
                return
            ids, texts = self._documents()
            self._stemmer = self._stemmer or Stemmer.Stemmer("english")
            retriever = None
            if texts:
                retriever = bm25s.BM25()
                retriever.index(bm25s.tokenize(list(texts), stopwords="en", stemmer=self._stemmer,
                                               show_progress=False), show_progress=False)
            self._ids, self._retriever, self._built = list(ids), retriever, version

    def ranked(self, query: str, n: int, total: int | None = None) -> list[str]:
        import bm25s
        self.refresh(total)
        with self._lock:
            if self._retriever is None:
                return []
            tokens = bm25s.tokenize(query, stopwords="en", stemmer=self._stemmer, show_progress=False,
                                    return_ids=False)[0]
            scores = self._retriever.get_scores(tokens)
            if len(scores) > n:  # the n best without sorting all of them
                best = scores.argpartition(-n)[-n:]
                order = best[scores[best].argsort()[::-1]]
            else:
                order = scores.argsort()[::-1]
            return [self._ids[i] for i in order if scores[i] > 0]


def fuse(*rankings: Sequence[str], k: int = 60) -> list[str]:
    """Reciprocal rank fusion: ids ordered by the sum of 1/(k + rank) over the rankings they appear in."""
    score: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            score[item] = score.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(score, key=lambda item: -score[item])
