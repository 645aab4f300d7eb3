"""A search path of Markdown files (agents or commands): earlier directories win, one bad file is reported and
skipped, and the files are read again when the directory listing or a file's mtime changes."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Generic, Iterable, TypeVar

from .frontmatter_text import FrontMatterError

T = TypeVar("T")


class UnknownName(LookupError):
    """No agent or command of that name; the message lists the known ones."""


class Library(Generic[T]):
    def __init__(self, kind: str, dirs: Iterable[Path | str], load: Callable[[Path], T],
                 name_of: Callable[[T], str]) -> None:
        self.kind = kind
        self.dirs = [Path(d).expanduser() for d in dirs]
        self._load, self._name_of = load, name_of
        self._items: dict[str, T] = {}
        self.errors: list[FrontMatterError] = []
        self._seen: tuple = ()

    def _files(self) -> list[Path]:
        return [f for d in self.dirs if d.is_dir() for f in sorted(d.glob("*.md"))]

    @property
    def items(self) -> dict[str, T]:
        """Name → item, read again only when a file was added, removed or changed."""
        files = self._files()
        seen = tuple((str(f), f.stat().st_mtime_ns) for f in files)
        if seen != self._seen:
            self._seen = seen
            self._items, self.errors = {}, []
            for path in files:
                try:
                    item = self._load(path)
                except FrontMatterError as exc:
                    self.errors.append(exc)
                    continue
                except OSError as exc:
                    self.errors.append(FrontMatterError(path, 1, f"cannot read it: {exc.strerror}"))
                    continue
                self._items.setdefault(self._name_of(item), item)
        return self._items

    def get(self, name: str) -> T:
        items = self.items
        if name not in items:
            known = ", ".join(sorted(items)) or "none"
            where = ", ".join(str(d) for d in self.dirs)
            raise UnknownName(f"no {self.kind} named {name!r}; known: {known} (searched {where})")
        return items[name]
