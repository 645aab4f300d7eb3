"""The `%memory` front and the memory the other magics draw on: search, add, index, forget; context for a prompt;
the journal that remembers each exchange."""

from __future__ import annotations

import os
from typing import Any, Sequence

from .args import UsageError, parser_of, split_options
from .output import show_error

USAGE = ("%memory search [-k N] [--kind K] [--source S] [--since 7d] QUERY | add TEXT | index PATH | "
         "forget ID | forget [--kind K] [--source S] [--since T] | stats")
SNIPPET = 200


def store(magics: Any) -> Any:
    """The kernel's memory store, opened on first use from the CoditectMagics settings."""
    if getattr(magics, "_memory", None) is None:
        from coditect_magics.memory import Memory
        magics._memory = Memory(magics.memory_dir or None, url=magics.chroma_url or None,
                                embedder=magics.embedder or None)
    return magics._memory


def settled(magics: Any) -> Any:
    """The store once the journal's pending writes have landed, so a search sees the last exchange."""
    journal = getattr(magics, "_journal", None)
    if journal is not None:
        journal.flush()
    return store(magics)


def in_use(magics: Any) -> bool:
    """Whether this kernel has a memory to draw on: a Chroma server, or a local store that holds something.
    Checked without importing Chroma or the embedder, so calls that never touch memory stay fast."""
    from coditect_magics.memory.store import URL_ENV, default_dir
    if magics.chroma_url or os.environ.get(URL_ENV) or getattr(magics, "_journal", None) is not None:
        return True
    path = magics.memory_dir or default_dir()
    return os.path.isdir(path) and bool(os.listdir(path))


def recall(magics: Any, prompt: str, k: int | None = None, min_score: float | None = None,
           already: Sequence[str] = ()) -> tuple[str, int]:
    """The memory block for a system prompt and how many memories it holds (("", 0) when memory is off, empty or
    failing: the failure is said in one line). `k` and `min_score` default to the kernel's settings; memories
    whose text the conversation `already` holds (its history) are left out rather than sent twice."""
    k = magics.memory_context if k is None else k
    if k <= 0 or not in_use(magics):
        return "", 0
    from coditect_magics.memory import MemoryError_, context_block, relevant
    held = [" ".join(text.split()) for text in already]
    try:
        hits = relevant(settled(magics), prompt, k=k + len(held),
                        min_score=magics.memory_min_score if min_score is None else min_score)
    except MemoryError_ as exc:
        show_error(f"memory context skipped: {exc}")
        return "", 0
    fresh = [hit for hit in hits if not any(" ".join(hit.text.split()) in text for text in held)][:k]
    return context_block(fresh), len(fresh)


def remember(magics: Any, prompt: str, result: Any, *, agent: str | None = None) -> None:
    """Keep a finished exchange in memory (in the background) unless `CoditectMagics.remember` is off."""
    if not magics.remember or result.status != "ok" or not result.text.strip() or not prompt.strip():
        return
    from coditect_magics.memory import Journal
    journal = getattr(magics, "_journal", None)
    if journal is None:
        journal = magics._journal = Journal(lambda: store(magics))
    if journal.failure is not None:
        if not getattr(magics, "_journal_said", False):
            magics._journal_said = True
            show_error(f"exchanges are not remembered: {journal.failure} "
                       "(%config CoditectMagics.remember = False turns this off)")
        return
    shell = magics.shell
    notebook = shell.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME") or "ipython"
    from coditect_magics.costs.ledger import session_id
    journal.exchange(prompt, result.text, source=f"{os.path.basename(str(notebook))}#cell{shell.execution_count}",
                     session=session_id(), agent=agent, model=result.model)


def run(magics: Any, line: str) -> Any:
    from coditect_magics.memory import MemoryError_
    try:
        verb, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if verb == "panel" and not rest:
            from .panels import memory as panel
            return panel(magics)
        if verb == "add" and rest:
            return store(magics).add(rest, kind="note", source="notebook")
        if verb == "search":
            args, query = split_options(parser_of(type(magics).memory), rest)
            if args.id:
                raise UsageError("--id names what to forget: %memory forget --id ID")
            if not query:
                raise UsageError(f"nothing to search for: {USAGE}")
            hits = settled(magics).search(query, k=args.k, kind=args.kind, source=_sources(args.source),
                                          since=args.since)
            return hits_frame(hits)
        if verb == "index" and rest:
            from coditect_magics.memory import index
            report = index(rest, store(magics))
            print(report)
            return report
        if verb == "forget" and rest:
            args, ids = split_options(parser_of(type(magics).memory), rest)
            named = ids.split() + (args.id or [])
            if named and (args.kind or args.source or args.since):
                raise UsageError("forget takes ids or filters, not both")
            gone = settled(magics).forget(named or None, kind=args.kind,
                                          source=_sources(args.source), since=args.since)
            print(f"coditect: forgot {gone} memor{'y' if gone == 1 else 'ies'}")
            return gone
        if verb == "stats" and not rest:
            return settled(magics).stats()
        raise UsageError(f"write {USAGE}")
    except (UsageError, MemoryError_, OSError, ValueError, TypeError) as exc:
        show_error(str(exc))
        return None


def _sources(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def hits_frame(hits: list[Any]) -> Any:
    """Search results as a DataFrame: score, text (a snippet), kind, role, source, time, id (the first 12
    characters, enough for `%memory forget`); time is local."""
    from datetime import datetime

    import pandas as pd
    rows = [{"score": round(hit.score, 3), "text": _snippet(hit.text), "kind": hit.metadata.get("kind", ""),
             "role": hit.metadata.get("role", ""), "source": hit.source,
             "time": datetime.fromtimestamp(hit.metadata["timestamp"])
             if isinstance(hit.metadata.get("timestamp"), (int, float)) else pd.NaT,
             "id": hit.id[:12]} for hit in hits]
    return pd.DataFrame(rows, columns=["score", "text", "kind", "role", "source", "time", "id"])


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[:SNIPPET - 1] + "…"
