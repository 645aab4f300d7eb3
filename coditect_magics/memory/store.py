"""The memory store: texts with metadata in a Chroma collection, searched by meaning.

Embedded by default (a `chromadb.PersistentClient` in the user data dir, or `path=` / $CODITECT_MEMORY_DIR); against
a Chroma server when `url=` or $CODITECT_CHROMA_URL (host:port) is set. Chroma and the embedder are imported on first
use. Ids are content hashes, so adding the same text again adds nothing. Texts and metadata pass through
`providers.secrets.redact` before they are embedded or stored."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from ..providers.secrets import redact
from . import embedders
from .errors import EmbedderError, StoreError
from .sources import merged, source_fields, sources_of, where_source

DIR_ENV = "CODITECT_MEMORY_DIR"
URL_ENV = "CODITECT_CHROMA_URL"
KINDS = ("message", "note", "file")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Hit:
    """One search result: score is the cosine similarity clamped to 0..1 (higher is closer)."""

    id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The first place the text was found ("" for none)."""
        return str(self.metadata.get("source", "") or "")

    @property
    def sources(self) -> list[str]:
        """Every place the text was found (the same chunk in several files keeps them all), first first."""
        return sources_of(self.metadata)


def normalise(text: str) -> str:
    """Whitespace collapsed and trimmed: what the content hash is taken over."""
    return _SPACE.sub(" ", text).strip()


def item_id(text: str, kind: str = "note") -> str:
    """The stable id of a text of a kind: sha256 of the kind and the normalised text."""
    return hashlib.sha256(f"{kind}\0{normalise(text)}".encode("utf-8")).hexdigest()


def default_dir() -> str:
    """$CODITECT_MEMORY_DIR, else `platformdirs.user_data_dir("coditect-magics")/memory`."""
    env = os.environ.get(DIR_ENV)
    if env:
        return os.path.expanduser(env)
    import platformdirs
    return os.path.join(platformdirs.user_data_dir("coditect-magics"), "memory")


def _metadata(meta: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """Chroma takes str, int, float and bool values: None is dropped, other values become redacted strings."""
    out: dict[str, Any] = {"kind": kind}
    for key, value in meta.items():
        if value is None or key in ("text", "kind", "sources"):
            continue
        if isinstance(value, str):
            value = redact(value)
        elif not isinstance(value, (bool, int, float)):
            value = redact(str(value))
        out[str(key)] = value
    out.setdefault("timestamp", time.time())
    given = meta.get("sources")
    many = [redact(str(s)) for s in given] if isinstance(given, (list, tuple)) else []
    sources = merged([out["source"]] if out.get("source") not in (None, "") else [], many)
    if sources:
        out.update(source_fields(sources))
    return out


class Memory:
    """`Memory(path=None, *, url=None, embedder=None, collection="coditect")`.

    embedder: a name (see `embedders.known()`), an Embedder, or None for $CODITECT_EMBEDDER else "local". A collection
    remembers the embedder that built it; opening it with another one is an error (vectors would not compare)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, url: str | None = None,
                 embedder: str | embedders.Embedder | None = None, collection: str = "coditect") -> None:
        self.url = url or os.environ.get(URL_ENV) or None
        self.path = None if self.url else os.fspath(path) if path is not None else default_dir()
        self.embedder = embedders.get(embedder)
        self.collection_name = collection
        self._client: Any = None
        self._collection: Any = None
        self._lock = threading.RLock()
        self._changes = 0  # bumped by add and forget: the word index rebuilds when it moves
        self._words: Any = None

    def __repr__(self) -> str:
        where = f"url={self.url}" if self.url else f"path={self.path}"
        return f"Memory({where}, embedder={self.embedder.name}, collection={self.collection_name})"

    # -- the Chroma side, opened on first use -------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    import chromadb
                    from chromadb.config import Settings
                except ImportError:
                    raise StoreError("chromadb is not installed: pip install 'coditect-magics[memory]'") from None
                settings = Settings(anonymized_telemetry=False)
                if self.url:
                    parts = urlsplit(self.url if "://" in self.url else f"http://{self.url}")
                    try:
                        self._client = chromadb.HttpClient(host=parts.hostname or "127.0.0.1", port=parts.port or 8000,
                                                           ssl=parts.scheme == "https", settings=settings)
                    except Exception as exc:
                        raise StoreError(f"cannot reach the Chroma server at {self.url} ({type(exc).__name__}: {exc});"
                                         f" unset {URL_ENV} to use the embedded store") from exc
                else:
                    os.makedirs(self.path, exist_ok=True)
                    self._client = chromadb.PersistentClient(path=self.path, settings=settings)
            return self._client

    @property
    def collection(self) -> Any:
        with self._lock:
            if self._collection is None:
                # embeddings are always computed here and passed in, so Chroma's own default is never invoked
                coll = self.client.get_or_create_collection(
                    self.collection_name, embedding_function=None,
                    metadata={"hnsw:space": "cosine", "hnsw:search_ef": 200, "hnsw:construction_ef": 200,
                              "embedder": self.embedder.name})
                built_with = (coll.metadata or {}).get("embedder")
                if built_with and not embedders.compatible(built_with, self.embedder):
                    raise StoreError(f"collection {self.collection_name!r} was built with embedder {built_with!r}, "
                                     f"not {self.embedder.name!r}: open it with embedder={built_with!r} or use "
                                     "another collection=")
                self._collection = coll
            return self._collection

    # -- writing ------------------------------------------------------------------------------------------------------
    def add(self, text: str, **meta: Any) -> str:
        """Remember one text; returns its id (the same id, and nothing added, if it is already there)."""
        return self.add_many([{"text": text, **meta}])[0]

    def add_many(self, items: Iterable[str | Mapping[str, Any]]) -> list[str]:
        """Remember many: each a text or a mapping with "text" and metadata. Returns the ids in order."""
        ids, fresh = self._prepare(items)
        if fresh:
            with self._lock:
                new = self._unstored(fresh)
                if new:
                    self._write(new, self.embedder([t for _, t, _ in new]), checked=True)
        return ids

    def _prepare(self, items: Iterable[str | Mapping[str, Any]]) -> tuple[list[str], dict[str, tuple[str, dict]]]:
        """The ids of `items` in order, and each distinct item once (id -> redacted text, metadata), the sources of
        a text given several times merged. Nothing is read or written."""
        ids: list[str] = []
        fresh: dict[str, tuple[str, dict[str, Any]]] = {}
        for item in items:
            meta: Mapping[str, Any] = {} if isinstance(item, str) else item
            text = item if isinstance(item, str) else item.get("text")
            if not isinstance(text, str) or not normalise(text):
                raise ValueError(f"an item needs non-empty text, got {item!r:.80}")
            kind = str(meta.get("kind") or "note")
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
            text = redact(text)
            ids.append(item_id(text, kind))
            metadata = _metadata(meta, kind)
            if ids[-1] in fresh:  # the same text twice in one batch: one item, both sources
                first, more = fresh[ids[-1]][1], sources_of(metadata)
                if more:
                    first.update(source_fields(merged(sources_of(first), more)))
            else:
                fresh[ids[-1]] = (text, metadata)
        return ids, fresh

    def _unstored(self, fresh: Mapping[str, tuple[str, dict[str, Any]]]) -> list[tuple[str, str, dict[str, Any]]]:
        """The prepared items not stored yet, as (id, text, metadata); those stored get their new sources."""
        if not fresh:
            return []
        with self._lock:
            got = self.collection.get(ids=list(fresh), include=["metadatas"])
            self._add_sources(fresh, dict(zip(got["ids"], got["metadatas"])))
            stored = set(got["ids"])
        return [(i, t, m) for i, (t, m) in fresh.items() if i not in stored]

    def _write(self, new: Sequence[tuple[str, str, dict[str, Any]]], vectors: Sequence[Sequence[float]],
              checked: bool = False) -> None:
        """Store `_unstored` items with their vectors. Unless `checked` under the same hold of the lock, those another
        thread stored meanwhile only get their sources."""
        if not new:
            return
        with self._lock:
            if not checked:
                rest = {i for i, _, _ in self._unstored({i: (t, m) for i, t, m in new})}
                vectors = [v for (i, _, _), v in zip(new, vectors) if i in rest]
                new = [n for n in new if n[0] in rest]
            if new:
                self.collection.add(ids=[i for i, _, _ in new], documents=[t for _, t, _ in new],
                                    metadatas=[m for _, _, m in new], embeddings=vectors)
                self._changes += 1

    def _add_sources(self, fresh: Mapping[str, tuple[str, dict[str, Any]]],
                     stored: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Record the new sources of texts already stored (their vectors and other metadata stay)."""
        ids, updates = [], []
        for i, meta in stored.items():
            have = sources_of(meta or {})
            sources = merged(have, sources_of(fresh[i][1]))
            if sources != have:
                ids.append(i)
                updates.append(source_fields(sources))
        if ids:
            self.collection.update(ids=ids, metadatas=updates)

    def forget(self, id: str | Iterable[str] | None = None, *, where: Mapping[str, Any] | None = None,
               kind: str | None = None, source: str | Iterable[str] | None = None, since: Any = None) -> int:
        """Drop items by id (one or many; a unique prefix of at least 8 characters will do) or by filters as in
        `search`; returns how many were there. With `source`, an item found in other places too keeps them and
        loses only that source (it is counted: it is no longer remembered from there)."""
        where = filters(where, kind=kind, source=source, since=since)
        if id is None and not where:
            raise ValueError("forget needs an id or a filter (kind, source, since, where)")
        ids = None if id is None else [id] if isinstance(id, str) else list(id)
        if ids is not None:
            ids = [i if len(i) == 64 else self._full_id(i) for i in ids]
        dropped = set() if source is None else {source} if isinstance(source, str) else set(source)
        with self._lock:
            found = self.collection.get(ids=ids, where=_where(where), include=["metadatas"])
            keep = {i: [s for s in sources_of(m or {}) if s not in dropped]
                    for i, m in zip(found["ids"], found["metadatas"]) if dropped}
            keep = {i: rest for i, rest in keep.items() if rest}
            gone = [i for i in found["ids"] if i not in keep]
            if keep:
                self.collection.update(ids=list(keep), metadatas=[source_fields(rest) for rest in keep.values()])
            if gone:
                self.collection.delete(ids=gone)
            if found["ids"]:
                self._changes += 1
        return len(found["ids"])

    def _full_id(self, prefix: str) -> str:
        """The id that starts with `prefix` (as `%memory search` shows them, shortened)."""
        if len(prefix) < 8:
            raise ValueError(f"an id prefix needs at least 8 characters, got {prefix!r}")
        with self._lock:
            ids = [i for i in self.collection.get(include=[])["ids"] if i.startswith(prefix)]
        if len(ids) > 1:
            raise ValueError(f"{len(ids)} memories start with {prefix!r}: give more of the id")
        return ids[0] if ids else prefix

    # -- reading ------------------------------------------------------------------------------------------------------
    def count(self) -> int:
        return self.collection.count()

    def get(self, id: str) -> Hit | None:
        got = self.collection.get(ids=[id], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return Hit(got["ids"][0], got["documents"][0], 1.0, dict(got["metadatas"][0] or {}))

    def search(self, query: str, k: int = 5, where: Mapping[str, Any] | None = None, *, kind: str | None = None,
               source: str | Iterable[str] | None = None, since: Any = None) -> list[Hit]:
        """The k items that best answer `query`, best first: the closest in meaning fused (reciprocal rank) with the
        best word matches (BM25), so an exact name in the question counts too. `score` is the cosine similarity.
        Filters: `kind` (message, note, file), `source` (one or several, exact), `since` (a datetime, ISO date,
        epoch seconds or a span such as "7d"), and `where`, a Chroma metadata filter (e.g. {"agent": "reviewer"})."""
        if not query.strip() or k < 1:
            return []
        from .lexical import fuse
        where = _where(filters(where, kind=kind, source=source, since=since))
        with self._lock:
            total = self.collection.count()
            if not total:
                return []
            vector = [self.embedder.query(query)]
            pool = min(total, max(4 * k, 40))  # fusion needs more candidates than it returns
            result = self.collection.query(query_embeddings=vector, n_results=pool, where=where,
                                           include=["documents", "metadatas", "distances"])
            by_meaning = result["ids"][0]
            hits = {i: Hit(i, doc, _similarity(1.0 - dist), dict(meta or {}))
                    for i, doc, meta, dist in zip(by_meaning, result["documents"][0], result["metadatas"][0],
                                                  result["distances"][0])}
            index = self.word_index()
            by_words = index.ranked(query, pool, total) if index is not None else []
            if where is None:  # every word match qualifies: only those that can make the top k need fetching
                wanted = fuse(by_meaning, by_words)[:k]
            else:  # the filter decides which word matches count: fetch them all through it
                wanted = by_words
            hits.update(self._by_ids([i for i in wanted if i not in hits], where, vector[0]))
        return [hits[i] for i in fuse(by_meaning, [i for i in by_words if i in hits])[:k]]

    def word_index(self) -> Any:
        """The BM25 index over the stored texts (None when bm25s is not installed: meaning alone then)."""
        if self._words is None:
            try:
                import bm25s  # noqa: F401
                import Stemmer  # noqa: F401
            except ImportError:
                return None
            from .lexical import LexicalIndex

            def documents() -> tuple[list[str], list[str]]:
                got = self.collection.get(include=["documents"])
                return got["ids"], got["documents"]

            # the count catches items another process added to a shared (server) store
            self._words = LexicalIndex(documents, lambda total=None: (
                self._changes, self.collection.count() if total is None else total))
        return self._words

    def _by_ids(self, ids: list[str], where: dict[str, Any] | None, vector: Sequence[float]) -> dict[str, Hit]:
        """Hits for items found by words alone, with the filter applied and their cosine to the query."""
        if not ids:
            return {}
        import numpy as np  # Chroma's own dependency
        got = self.collection.get(ids=ids, where=where, include=["documents", "metadatas", "embeddings"])
        if not got["ids"]:
            return {}
        stored, query = np.asarray(got["embeddings"], dtype=float), np.asarray(vector, dtype=float)
        cosines = stored @ query / (np.linalg.norm(stored, axis=1) * np.linalg.norm(query) + 1e-12)
        return {i: Hit(i, doc, _similarity(c), dict(meta or {}))
                for i, doc, meta, c in zip(got["ids"], got["documents"], got["metadatas"], cosines)}

    def stats(self) -> dict[str, Any]:
        return {"items": self.count(), "embedder": self.embedder.name, "collection": self.collection_name,
                "where": self.url or self.path}


def filters(where: Mapping[str, Any] | None = None, *, kind: str | None = None,
            source: str | Iterable[str] | None = None, since: Any = None) -> dict[str, Any]:
    """One metadata filter from the named ones and a Chroma `where`."""
    out = dict(where or {})
    if kind is not None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        out["kind"] = kind
    if source is not None:
        sources = [source] if isinstance(source, str) else list(source)
        condition = where_source(sources)  # any of an item's sources, not only its first
        if "$or" in out:
            out["$and"] = [*out.get("$and", []), condition]
        else:
            out.update(condition)
    if since is not None:
        from ..when import epoch
        out["timestamp"] = {"$gte": epoch(since)}
    return out


def _similarity(cosine: float) -> float:
    return max(0.0, min(1.0, float(cosine)))


def _where(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Chroma wants several conditions joined by $and: {"kind": "note", "$or": [...]} is turned into that."""
    if not where:
        return None
    if len(where) > 1:
        return {"$and": [{k: v} for k, v in where.items()]}
    return dict(where)


__all__ = ["Memory", "Hit", "filters", "item_id", "normalise", "default_dir", "EmbedderError", "StoreError"]
