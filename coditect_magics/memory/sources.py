"""Where a memory came from. A text found in several places (the same chunk in two files) is stored once and keeps
every place: metadata `source` holds the first, `sources` (a list) all of them. Items stored before `sources`
existed have `source` alone; both are read and filtered on.

`shown(source)` is a source as a person reads it: relative to the working directory when under it, the home folder
as ~, and when still too long shortened from the left at a folder boundary (`…/agents/rust-pro.md`), never losing
the file name."""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Sequence

ELLIPSIS = "…"
WIDTH = 60        # characters per source shown, cut from the left
SHOWN = 5         # sources shown per item; the rest are counted
JOIN = ", "


def sources_of(metadata: Mapping[str, Any]) -> list[str]:
    """Every source of an item, first first ([] for none)."""
    many = metadata.get("sources")
    if isinstance(many, list) and many:
        return [str(s) for s in many]
    one = metadata.get("source")
    return [str(one)] if one not in (None, "") else []


def merged(first: Iterable[str], more: Iterable[str]) -> list[str]:
    """`first` then the sources of `more` not in it, in order, once each."""
    out = list(dict.fromkeys(first))
    out += [s for s in dict.fromkeys(more) if s not in out]
    return out


def source_fields(sources: list[str]) -> dict[str, Any]:
    """The metadata that records `sources` (Chroma refuses an empty list: none then clears `sources`)."""
    return {"source": sources[0], "sources": sources} if sources else {"source": None, "sources": None}


def where_source(sources: list[str]) -> dict[str, Any]:
    """A Chroma filter for items with any of `sources` among theirs (old items: their `source`)."""
    exact = {"source": sources[0]} if len(sources) == 1 else {"source": {"$in": sources}}
    return {"$or": [exact, *({"sources": {"$contains": s}} for s in sources)]}


def shown(source: str, width: int = WIDTH, cwd: str | None = None) -> str:
    """`source` for the eyes: relative to `cwd` (default: the working directory) when under it, ~ for the home
    folder, then shortened from the left to about `width` characters at a folder boundary. The file name (and a
    notebook's #cell) is never cut."""
    if not source:
        return ""
    path, mark, anchor = source.partition("#")
    path = _relative(path, cwd)
    text = path + mark + anchor
    if len(text) <= width:
        return text
    parts = path.replace(os.sep, "/").split("/")
    kept = parts[-1] + mark + anchor
    for part in reversed(parts[:-1]):
        if len(part) + 1 + len(kept) + 2 > width:
            break
        kept = f"{part}/{kept}"
    return f"{ELLIPSIS}/{kept}"


def _relative(path: str, cwd: str | None) -> str:
    if not os.path.isabs(path):
        return path
    base = os.path.abspath(cwd or os.getcwd())
    try:
        if os.path.commonpath([base, path]) == base:
            return os.path.relpath(path, base)
    except ValueError:  # another drive
        return path
    home = os.path.expanduser("~")
    if home not in ("", "/") and os.path.commonpath([home, path]) == home:
        return "~/" + os.path.relpath(path, home)
    return path


def shown_sources(sources: Sequence[str], width: int = WIDTH, most: int = SHOWN) -> str:
    """Sources for the eye: each `shown`, the first `most`, then how many more."""
    parts = [shown(s, width) for s in sources[:most]]
    if len(sources) > most:
        parts.append(f"+{len(sources) - most} more")
    return JOIN.join(parts)
