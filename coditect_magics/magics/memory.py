"""The `%memory` front: remember, index, search and forget, over the memory store."""

from __future__ import annotations

from typing import Any

from .args import UsageError, parser_of, split_options
from .output import show_error

USAGE = "%memory add TEXT | search [-k N] [--kind K] QUERY | index PATH | forget ID | stats"


def store(magics: Any) -> Any:
    """The kernel's memory store, opened on first use from the CoditectMagics settings."""
    if getattr(magics, "_memory", None) is None:
        from coditect_magics.memory import Memory
        magics._memory = Memory(magics.memory_dir or None, url=magics.chroma_url or None,
                                embedder=magics.embedder or None)
    return magics._memory


def in_use(magics: Any) -> bool:
    """Whether this kernel has a memory to draw on: a Chroma server, or a local store that holds something.
    Checked without importing Chroma or the embedder, so agents that never touch memory stay fast."""
    import os
    from coditect_magics.memory.store import URL_ENV, default_dir
    if magics.chroma_url or os.environ.get(URL_ENV):
        return True
    path = magics.memory_dir or default_dir()
    return os.path.isdir(path) and bool(os.listdir(path))


def context_for(magics: Any, prompt: str) -> str:
    """The memory block for an agent's system prompt ("" when memory is off, empty or failing: said in one line)."""
    if magics.memory_context <= 0 or not in_use(magics):
        return ""
    from coditect_magics.memory import MemoryError_, context_block
    try:
        return context_block(store(magics), prompt, k=magics.memory_context)
    except MemoryError_ as exc:
        show_error(f"memory context skipped: {exc}")
        return ""


def run(magics: Any, line: str) -> Any:
    from coditect_magics.memory import MemoryError_
    try:
        verb, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if verb == "add" and rest:
            return store(magics).add(rest, kind="note", source="notebook")
        if verb == "search":
            args, query = split_options(parser_of(type(magics).memory), rest)
            if not query:
                raise UsageError(f"nothing to search for: {USAGE}")
            where = {"kind": args.kind} if args.kind else None
            return hits_table(store(magics).search(query, k=args.k, where=where))
        if verb == "index" and rest:
            from coditect_magics.memory import index
            report = index(rest, store(magics))
            print(report)
            return report
        if verb == "forget" and rest:
            return store(magics).forget(rest)
        if verb == "stats" and not rest:
            return store(magics).stats()
        raise UsageError(f"write {USAGE}")
    except (UsageError, MemoryError_, OSError) as exc:
        show_error(str(exc))
        return None


def hits_table(hits: list[Any]) -> Any:
    """Search results as a Markdown table: score, text (a snippet), kind, source, id."""
    from IPython.display import Markdown
    rows = ["| score | text | kind | source | id |", "|---|---|---|---|---|"]
    for hit in hits:
        snippet = " ".join(hit.text.split())[:160].replace("|", "/")
        rows.append(f"| {hit.score:.2f} | {snippet} | {hit.metadata.get('kind', '')} | {hit.source} | "
                    f"{hit.id[:12]} |")
    return Markdown("\n".join(rows) if hits else "No matching memories.")
