"""The `%memory` front: search, add, index, forget and stats on the session's memory store."""

from __future__ import annotations

from typing import Any

from coditect_magics.session import Session

from .args import UsageError, parser_of, split_options
from .output import show_error
from .subcommands import MEMORY


def run(session: Session, line: str) -> Any:
    """`%memory VERB ...` (see subcommands.MEMORY); a failure is one line."""
    from coditect_magics.memory import MemoryError_
    try:
        call = MEMORY.find(session, line)
        if call is None or (line.split()[0] in ("add", "index", "forget") and len(line.split()) < 2):
            raise UsageError("write " + " | ".join(f"%memory {s.name} {s.usage}".rstrip() for s in MEMORY.entries))
        return call()
    except (UsageError, MemoryError_, OSError, ValueError, TypeError) as exc:
        show_error(str(exc))
        return None


def _parsed(words: list[str]) -> tuple[Any, str]:
    from .core import CoditectMagics
    return split_options(parser_of(CoditectMagics.memory), " ".join(words))


def search(session: Session, words: list[str]) -> Any:
    args, query = _parsed(words)
    if args.id:
        raise UsageError("--id names what to forget: %memory forget --id ID")
    if not query:
        raise UsageError("nothing to search for: %memory search [-k N] [--kind K] [--source S] [--since 7d] QUERY")
    hits = session.settled_memory().search(query, k=args.k, kind=args.kind, source=_sources(args.source),
                                           since=args.since)
    return hits_frame(hits)


def add(session: Session, words: list[str]) -> Any:
    return session.memory.add(words[0], kind="note", source="notebook")


def index_path(session: Session, words: list[str]) -> Any:
    from coditect_magics.memory import index
    report = index(words[0], session.memory)
    print(report)
    return report


def forget(session: Session, words: list[str]) -> int:
    args, ids = _parsed(words)
    named = ids.split() + (args.id or [])
    if named and (args.kind or args.source or args.since):
        raise UsageError("forget takes ids or filters, not both")
    gone = session.settled_memory().forget(named or None, kind=args.kind, source=_sources(args.source),
                                           since=args.since)
    print(f"coditect: forgot {gone} memor{'y' if gone == 1 else 'ies'}")
    return gone


def stats(session: Session, words: list[str]) -> Any:
    return session.settled_memory().stats()


def _sources(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def hits_frame(hits: list[Any]) -> Any:
    """Search results as a DataFrame: score, text (a snippet), kind, role, source (every source), time, id (the
    first 12 characters, enough for `%memory forget`); time is local. Its display shows a line of text and the
    sources relative to the working directory, shortened from the left (memory.frame.HitsFrame)."""
    from coditect_magics.memory.frame import hits_frame as frame
    return frame(hits)


