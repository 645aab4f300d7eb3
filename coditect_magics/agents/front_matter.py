"""Markdown files with YAML front matter, read as they are found in the wild.

- The front matter is the block between a first line `---` and the next line `---`; the file is never split on
  every `---`, so bodies keep their Markdown rules.
- Values are read as text (YAML's BaseLoader): `on`, `yes`, `3000` stay strings; lists and maps keep their shape
  with text leaves.
- Many real agent files are not strict YAML (unquoted multi-line descriptions holding `<example>` blocks and
  `Context:` / `user:` lines). When strict YAML fails, a line-based reader takes over: a line `key: value` at the
  left margin (key starting with a lower-case letter or `_`, not seen before) starts a key; indented lines, lines
  that do not look like keys (`Context: ...`, `Examples:`) and lines inside an open `<tag>` block (one that is
  closed somewhere in the front matter) continue the previous value, except that a Claude Code key such as
  `model:` or `tools:` ends a block whose closing tag was forgotten; `- item` lines make a list; `|` and `>` block
  scalars are honoured.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FileError

_RULE = re.compile(r"^---[^\S\n]*$", re.M)  # the line that closes the front matter
_KEY = re.compile(r"^([a-z_][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
_BLOCK_SCALAR = re.compile(r"^([|>])[-+0-9]*[ \t]*(#.*)?$")
_OPEN_TAG = re.compile(r"<([A-Za-z][\w-]*)(?:\s[^<>]*)?>")
_CLOSE_TAG = re.compile(r"</([A-Za-z][\w-]*)\s*>")
# Keys that start a new value even inside an open `<example>` block (an author may forget its closing tag).
_STRONG_KEYS = {"name", "description", "tools", "model", "color", "permissionMode", "maxTurns", "disallowedTools",
                "mcpServers", "allowed-tools", "argument-hint"}


@dataclass(frozen=True)
class FrontMatter:
    """One file, split. `data` maps keys to text (or lists / maps of text); `lines` maps each key to the 1-based
    line it is on; `raw` maps each key to the text written after `key:` on that line (e.g. `[name]`)."""

    data: dict[str, Any]
    body: str
    body_line: int
    lines: dict[str, int] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    present: bool = False
    lenient: bool = False
    problem: str = ""


def read_markdown(path: Path | str, error: type[FileError] = FileError) -> FrontMatter:
    """Split one Markdown file into front matter and body. Raises `error(path, line, message)` for a file that is
    not text (NUL bytes, not UTF-8), cannot be opened, or opens a front matter it never closes. A file without
    front matter gives `present=False` and the whole text as body."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(path, 1, f"cannot read the file: {exc.strerror or exc}") from None
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise error(path, line, "binary file (NUL byte), not Markdown text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
    return split_markdown(text, path, error)


def split_markdown(text: str, path: Path | str = "<text>", error: type[FileError] = FileError) -> FrontMatter:
    """`read_markdown` for text already in memory (e.g. an agent definition shipped to a worker). Only the front
    matter is split into lines: a 72k-character body is sliced off whole."""
    path = Path(path)
    text = text[1:] if text.startswith("\ufeff") else text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    first_end = text.find("\n")
    if (text if first_end < 0 else text[:first_end]).rstrip() != "---":
        return FrontMatter(data={}, body=text, body_line=1)
    close = _RULE.search(text, first_end + 1)
    if close is None:
        raise error(path, 1, "the front matter opened with --- on line 1 is never closed by a --- line")
    front = text[first_end + 1:close.start()].split("\n")[:-1] if close.start() > first_end + 1 else []
    body_start = close.end() + 1
    body, body_line = text[body_start:] if body_start <= len(text) else "", len(front) + 3
    raw = _raw_values(front)
    if not "".join(front).strip():
        return FrontMatter(data={}, body=body, body_line=body_line, present=True)
    strict = _strict(front)
    if isinstance(strict, tuple):
        values, key_lines = strict
        return FrontMatter(values, body, body_line, key_lines, raw, present=True)
    values, key_lines = _lenient(front)
    return FrontMatter(values, body, body_line, key_lines, raw, present=True, lenient=True, problem=strict)


def _raw_values(front: list[str]) -> dict[str, str]:
    raw: dict[str, str] = {}
    for line in front:
        match = _KEY.match(line)
        if match:
            raw.setdefault(match.group(1), (match.group(2) or "").strip())
    return raw


def _strict(front: list[str]) -> tuple[dict[str, Any], dict[str, int]] | str:
    """(values, key lines) with YAML's BaseLoader, or the reason strict YAML failed."""
    import yaml

    loader = _loader()("\n".join(front))
    try:
        node = loader.get_single_node()
        if not isinstance(node, yaml.MappingNode):
            return "the front matter is not a mapping of keys to values"
        values: dict[str, Any] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(loader.construct_document(key_node))
            values[key] = loader.construct_document(value_node)
            key_lines.setdefault(key, key_node.start_mark.line + 2)  # the front matter starts on line 2
        return values, key_lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        return f"{getattr(exc, 'problem', None) or exc}{where}"
    finally:
        loader.dispose()


def _loader() -> Any:
    """YAML's BaseLoader (every value as text), in libyaml's C build when PyYAML has it: about 10x faster."""
    import yaml
    return getattr(yaml, "CBaseLoader", yaml.BaseLoader)


class _Value:
    """The lines of one key's value while the lenient reader collects them."""

    def __init__(self, first: str, closing_tags: set[str]) -> None:
        block = _BLOCK_SCALAR.match(first)
        self.style = block.group(1) if block else "plain"
        self.parts: list[str] = [] if block or not first else [first]
        self.closing_tags = closing_tags
        self.depth = 0
        self._track(first)

    def _track(self, text: str) -> None:
        opened = sum(1 for tag in _OPEN_TAG.findall(text) if tag in self.closing_tags)
        closed = sum(1 for tag in _CLOSE_TAG.findall(text) if tag in self.closing_tags)
        self.depth = max(0, self.depth + opened - closed)

    def add(self, line: str) -> None:
        item = line.strip()
        if self.style in ("plain", "list") and self.depth == 0 and (item == "-" or item.startswith("- ")) \
                and (self.style == "list" or not any(self.parts)):
            self.style = "list"
            self.parts = [p for p in self.parts if p] + [item[1:].strip()]
            return
        self.parts.append(line if self.style in ("|", ">") else item)
        self._track(line)

    def value(self) -> Any:
        if self.style == "list":
            return [unquote(p) for p in self.parts if p]
        if self.style == "|":
            return textwrap.dedent("\n".join(self.parts)).strip("\n")
        if self.style == ">":
            paragraphs = textwrap.dedent("\n".join(self.parts)).strip("\n").split("\n\n")
            return "\n".join(" ".join(line.strip() for line in p.split("\n")) for p in paragraphs)
        text = "\n".join(self.parts).strip()
        if text.startswith("[") and text.endswith("]"):
            import yaml

            try:
                flow = yaml.load(text, Loader=_loader())
            except yaml.YAMLError:
                return text
            return flow if isinstance(flow, list) else text
        return unquote(text)


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        import yaml

        try:
            value = yaml.load(text, Loader=_loader())
        except yaml.YAMLError:
            return text[1:-1]
        return value if isinstance(value, str) else text[1:-1]
    return text


def _lenient(front: list[str]) -> tuple[dict[str, Any], dict[str, int]]:
    """The line-based reader for front matter that strict YAML rejects (see the module's docstring)."""
    closing_tags = set(_CLOSE_TAG.findall("\n".join(front)))
    values: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    key: str | None = None
    current: _Value | None = None
    for number, line in enumerate(front, start=2):
        at_margin = line[:1] not in (" ", "\t")
        inside = current is not None and (current.depth > 0 or (current.style in ("|", ">") and not at_margin))
        match = _KEY.match(line) if at_margin else None
        if match and inside and not (current.depth > 0 and match.group(1) in _STRONG_KEYS):
            match = None
        if match and match.group(1) not in values:
            if key is not None and current is not None:
                values[key] = current.value()
            key, current = match.group(1), _Value((match.group(2) or "").strip(), closing_tags)
            key_lines[key] = number
            values[key] = ""
        elif current is None:
            continue  # a comment or stray text before the first key
        elif not line.strip():
            current.parts.append("")
        elif at_margin and not inside and line.startswith("#"):
            continue  # a YAML comment
        else:
            current.add(line)
    if key is not None and current is not None:
        values[key] = current.value()
    return values, key_lines


def as_text(value: Any) -> str:
    """A front matter value as one string: lists joined with `, `."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(v) for v in value)
    return str(value)


def as_list(value: Any) -> tuple[str, ...]:
    """Tool names from a comma string (`Read, Grep`), a space string (`Read Grep`), a YAML list or `[]`. Commas and
    spaces inside parentheses stay (`Bash(git diff:*)`)."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(t for t in (as_text(v).strip() for v in value) if t)
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    separator = "," if _split_top(text, ",")[1:] else None
    parts = _split_top(text, separator)
    return tuple(t for t in (unquote(p.strip()) for p in parts) if t)


def _split_top(text: str, separator: str | None) -> list[str]:
    """Split on `separator` (None: whitespace) outside parentheses and brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and (char == separator or (separator is None and char.isspace())):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def first_line(text: str, width: int = 80) -> str:
    """The first non-empty line (a literal `\\n` counts as a line end), Markdown heading marks removed, cut to
    `width` characters with an ellipsis (width 0: not cut)."""
    for line in text.replace("\\n", "\n").splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            if not width or len(line) <= width:
                return line
            cut = line[: width - 1]
            if " " in cut[width // 2:]:  # end on a word when one ends in the second half
                cut = cut.rsplit(" ", 1)[0]
            return cut.rstrip(" ,;:") + "…"
    return ""
