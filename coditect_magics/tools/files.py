"""The file tools, named and shaped as Claude Code's: `Read`, `Grep`, `Glob` (read-only) and `Write`, `Edit`
(only when the user allows writing). Every path is confined to a root directory: a path that leaves it through `..`,
an absolute path or a symlink is refused."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from .errors import ToolError
from .schema import Tool

log = logging.getLogger("coditect_magics.tools")

MAX_LINE_CHARS = 2000
MAX_GREP_FILE_BYTES = 5_000_000
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Root:
    """The directory the file tools may see; `locate` refuses anything outside it, symlinks resolved."""

    path: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str] | None = None) -> "Root":
        """A root at `path` (default: the working directory), resolved once so later checks compare real paths."""
        resolved = Path(path if path is not None else os.getcwd()).expanduser().resolve()
        if not resolved.is_dir():
            raise ValueError(f"the tools' root {str(resolved)!r} is not a directory: give an existing directory")
        return cls(resolved)

    def locate(self, given: str) -> Path:
        """The real path `given` names (relative to the root, or absolute); ToolError if it lies outside the root."""
        resolved = (self.path / given).resolve()  # an absolute `given` replaces the root, as it should
        if not self.holds(resolved):
            raise ToolError(f"{given!r} is outside the working directory {str(self.path)!r}; "
                            f"only paths under it can be used")
        return resolved

    def holds(self, resolved: Path) -> bool:
        return resolved == self.path or resolved.is_relative_to(self.path)

    def show(self, path: Path) -> str:
        """A path as the model should write it back: relative to the root."""
        return path.relative_to(self.path).as_posix() if path != self.path else "."


def is_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\0" in handle.read(SNIFF_BYTES)


def read_tool(root: Root) -> Tool:
    def read(file_path: str, offset: Annotated[int, Field(ge=1)] = 1,
             limit: Annotated[int, Field(ge=1, le=10_000)] = 2000) -> str:
        """Read a text file under the working directory, with line numbers.

        Args:
            file_path: The file's path, relative to the working directory or absolute.
            offset: The line number to start from (1 is the first line).
            limit: How many lines to read at most.
        """
        path = root.locate(file_path)
        if not path.is_file():
            hint = " (it is a directory: use Glob)" if path.is_dir() else ""
            raise ToolError(f"{file_path!r} is not a file{hint}")
        if is_binary(path):
            raise ToolError(f"{file_path!r} is a binary file; Read shows text files only")
        lines = []
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if number >= offset + limit:
                    lines.append(f"... (more lines follow; read on with offset={number})")
                    break
                if number >= offset:
                    lines.append(f"{number:6}\t{line.rstrip(chr(10))[:MAX_LINE_CHARS]}")
        return "\n".join(lines) if lines else f"({root.show(path)} has no lines from {offset} on)"

    return Tool.from_function(read, name="Read")


def walk(root: Root, start: Path) -> list[Path]:
    """Files under `start` (itself if it is a file) that really lie under the root; hidden folders skipped."""
    if start.is_file():
        return [start]
    found = []
    for folder, dirs, files in os.walk(start):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder, name)
            real = path.resolve()
            if root.holds(real) and real.is_file():
                found.append(path)
    return found


def grep_tool(root: Root) -> Tool:
    def grep(pattern: str, path: str = ".", glob: str | None = None,
             output_mode: Literal["files_with_matches", "content", "count"] = "files_with_matches",
             case_insensitive: bool = False, head_limit: Annotated[int, Field(ge=1, le=1000)] = 100) -> str:
        """Search file contents under the working directory with a regular expression (Python syntax).

        Args:
            pattern: The regular expression to look for.
            path: A file or folder to search, relative to the working directory.
            glob: Only files whose name (or relative path, if it has a slash) matches this, e.g. "*.py".
            output_mode: "files_with_matches" lists files, "content" shows matching lines, "count" counts per file.
            case_insensitive: Ignore case.
            head_limit: The most lines of output to return.
        """
        try:
            regex = re.compile(pattern, re.IGNORECASE if case_insensitive else 0)
        except re.error as exc:
            raise ToolError(f"the pattern {pattern!r} is not a valid regular expression: {exc}") from None
        start = root.locate(path)
        if not start.exists():
            raise ToolError(f"{path!r} does not exist")
        out: list[str] = []
        for file in walk(root, start):
            shown = root.show(file)
            if glob and not fnmatch.fnmatch(shown if "/" in glob else file.name, glob):
                continue
            if file.stat().st_size > MAX_GREP_FILE_BYTES or is_binary(file):
                continue
            with file.open(encoding="utf-8", errors="replace") as handle:
                hits = [(n, line.rstrip("\n")) for n, line in enumerate(handle, 1) if regex.search(line)]
            if not hits:
                continue
            if output_mode == "files_with_matches":
                out.append(shown)
            elif output_mode == "count":
                out.append(f"{shown}:{len(hits)}")
            else:
                out.extend(f"{shown}:{n}:{line[:MAX_LINE_CHARS]}" for n, line in hits)
            if len(out) >= head_limit:
                return "\n".join(out[:head_limit]) + f"\n... (stopped at head_limit={head_limit})"
        return "\n".join(out) if out else "No matches found."

    return Tool.from_function(grep, name="Grep")


def glob_tool(root: Root) -> Tool:
    def glob(pattern: str, path: str = ".") -> str:
        """Find files under the working directory by name pattern, newest first.

        Args:
            pattern: A glob pattern such as "**/*.py" or "data/*.csv".
            path: The folder to search from, relative to the working directory.
        """
        start = root.locate(path)
        if not start.is_dir():
            raise ToolError(f"{path!r} is not a folder")
        try:
            matches = [p for p in start.glob(pattern) if root.holds(p.resolve()) and p.is_file()]
        except (NotImplementedError, ValueError) as exc:  # absolute or malformed patterns
            raise ToolError(f"the pattern {pattern!r} cannot be used ({exc}); give one relative to the folder")
        matches.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        shown = [root.show(p.resolve()) for p in matches[:200]]
        more = f"\n... ({len(matches) - 200} more)" if len(matches) > 200 else ""
        return "\n".join(shown) + more if shown else "No files found."

    return Tool.from_function(glob, name="Glob")


def write_tool(root: Root) -> Tool:
    def write(file_path: str, content: str) -> str:
        """Write a text file under the working directory, replacing it if it exists.

        Args:
            file_path: The file's path, relative to the working directory or absolute.
            content: The whole text to write.
        """
        path = root.locate(file_path)
        if path.is_dir():
            raise ToolError(f"{file_path!r} is a directory")
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8")
        path.write_bytes(data)
        log.info("Write: %s bytes to %s", len(data), path)
        return f"{'Replaced' if existed else 'Created'} {root.show(path)} ({len(data)} bytes)."

    return Tool.from_function(write, name="Write")


def edit_tool(root: Root) -> Tool:
    def edit(file_path: str, old_string: str, new_string: str, replace_all: bool = False) -> str:
        """Replace exact text in a file under the working directory.

        Args:
            file_path: The file's path, relative to the working directory or absolute.
            old_string: The text to replace; it must occur exactly once unless replace_all is true.
            new_string: The text to put in its place.
            replace_all: Replace every occurrence.
        """
        path = root.locate(file_path)
        if not path.is_file():
            raise ToolError(f"{file_path!r} is not a file; use Write to create one")
        if old_string == new_string:
            raise ToolError("old_string and new_string are the same: nothing to change")
        text = path.read_text(encoding="utf-8")
        count = text.count(old_string)
        if count == 0:
            raise ToolError(f"old_string was not found in {file_path!r}; Read the file and copy the text exactly")
        if count > 1 and not replace_all:
            raise ToolError(f"old_string occurs {count} times in {file_path!r}; include more surrounding text to "
                            f"make it unique, or set replace_all")
        path.write_text(text.replace(old_string, new_string), encoding="utf-8")
        log.info("Edit: %s replacement(s) in %s", count, path)
        return f"Replaced {count} occurrence(s) in {root.show(path)}."

    return Tool.from_function(edit, name="Edit")
