"""A search path of Markdown files (agents or commands), read lazily and again only when a file changes.

- Directories are searched in order; a name found in an earlier directory wins, a later file of the same name is
  not used (and noted in `warnings`). Within a directory files are taken in name order.
- Relative directories and `~` are resolved at each scan, so `./.claude/agents` follows the kernel's working
  directory.
- Each access (`items`, `get`, `errors`, ...) lists the directories and stats the `*.md` files (one `scandir` per
  directory). Nothing is re-read unless the set of files or one file's (mtime, size) changed, and then only the
  changed files are parsed again. `refresh(force=True)` re-reads everything. Parsed files are kept per process by
  (kind of library, path, mtime, size), so a library built afresh (its directories reconfigured, another session)
  parses only what it has not seen; `snapshot()` gives items, errors and warnings from one scan.
- One bad file becomes a FileError in `errors` (`path:line: message`); the others still load. `README.md` and
  hidden files are skipped: agent collections often carry a README beside the agents.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, Iterable, Iterator, Mapping, NamedTuple, TypeVar

from .errors import FileError, UnknownName

T = TypeVar("T")
_SKIPPED = {"readme.md"}
File = tuple[str, int, int]  # path, mtime (ns), size
# (library class, path) -> ((mtime, size), the parsed item or its FileError), shared by every library of the process
_PARSED: dict[tuple[type, str], tuple[tuple[int, int], Any]] = {}
_PARSED_LOCK = threading.Lock()


class Snapshot(NamedTuple):
    """What one scan found: name → item, the files that could not be read, the warnings."""

    items: Mapping[str, Any]
    errors: list[FileError]
    warnings: list[str]


class MarkdownLibrary(Generic[T]):
    """Base of AgentLibrary and CommandLibrary: subclasses say how to load one file and what it is called."""

    kind = "item"
    unknown: type[UnknownName] = UnknownName
    file_error: type[FileError] = FileError

    def __init__(self, dirs: Iterable[Path | str]) -> None:
        self.dirs: tuple[Path | str, ...] = tuple(dirs)
        self._lock = threading.RLock()
        self._signature: tuple | None = None
        self._items: dict[str, T] = {}
        self._errors: list[FileError] = []
        self._warnings: list[str] = []

    # -- what subclasses provide
    def load(self, path: Path) -> T:
        raise NotImplementedError

    def name_of(self, item: T) -> str:
        return str(getattr(item, "name"))

    def warnings_of(self, item: T) -> Iterable[str]:
        return getattr(item, "warnings", ())

    # -- the search path
    @property
    def search_path(self) -> list[Path]:
        """The directories, absolute, in search order, without repeats (missing ones included)."""
        seen: list[Path] = []
        for d in self.dirs:
            path = Path(d).expanduser().absolute()
            if path not in seen:
                seen.append(path)
        return seen

    def _files(self) -> list[File]:
        """(path, mtime, size) of each `*.md` file on the search path, directory by directory, in name order."""
        files = []
        for directory in self.search_path:
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if not entry.name.endswith(".md") or entry.name.startswith(".") or entry.name.lower() in _SKIPPED:
                    continue
                try:
                    info = entry.stat()
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    files.append((entry.path, info.st_mtime_ns, info.st_size))
        return files

    def refresh(self, force: bool = False) -> None:
        """Read the files again if any was added, removed or changed (all of them with force=True)."""
        with self._lock:
            files = self._files()
            signature = tuple(files)
            if signature == self._signature and not force:
                return
            items: dict[str, T] = {}
            origin: dict[str, str] = {}
            errors: list[FileError] = []
            warnings: list[str] = []
            for path, mtime, size in files:
                result = self._parsed(path, (mtime, size), force)
                if isinstance(result, FileError):
                    errors.append(result)
                    continue
                warnings.extend(f"{path}: {w}" for w in self.warnings_of(result))
                name = self.name_of(result)
                if name in items:
                    warnings.append(f"{path}: {self.kind} {name!r} is already defined by {origin[name]}; "
                                    "this file is not used")
                    continue
                items[name], origin[name] = result, path
            self._items, self._errors, self._warnings = items, errors, warnings
            self._signature = signature

    def _parsed(self, path: str, stamp: tuple[int, int], force: bool) -> T | FileError:
        """The file parsed, from the process's cache when its (mtime, size) has not changed."""
        key = (type(self), path)
        hit = _PARSED.get(key)
        if hit is not None and hit[0] == stamp and not force:
            return hit[1]
        result = self._load_one(Path(path))
        with _PARSED_LOCK:
            _PARSED[key] = (stamp, result)
        return result

    def _load_one(self, path: Path) -> T | FileError:
        try:
            return self.load(path)
        except FileError as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the others
            return self.file_error(path, 1, f"cannot read it: {type(exc).__name__}: {exc}")

    # -- the public face
    @property
    def items(self) -> Mapping[str, T]:
        """Name → item (read-only view), current with the files."""
        self.refresh()
        return MappingProxyType(self._items)

    @property
    def errors(self) -> list[FileError]:
        """The files that could not be read, each as `path:line: message`."""
        self.refresh()
        return list(self._errors)

    @property
    def warnings(self) -> list[str]:
        """`path: message` for what was read leniently, and for files shadowed by an earlier one of the same name."""
        self.refresh()
        return list(self._warnings)

    def snapshot(self) -> Snapshot:
        """Items, errors and warnings as one scan found them (a listing reads all three without scanning thrice)."""
        with self._lock:
            self.refresh()
            return Snapshot(MappingProxyType(self._items), list(self._errors), list(self._warnings))

    def names(self) -> list[str]:
        return sorted(self.items)

    def get(self, name: str) -> T:
        """The item of that name; UnknownAgent / UnknownCommand (a LookupError) lists the known names."""
        items = self.items
        if name not in items:
            raise self.unknown(name, items, self.search_path)
        return items[name]

    def __contains__(self, name: object) -> bool:
        return name in self.items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[str(d) for d in self.dirs]!r})"
