"""`NotebookRead`'s text: the cells run so far, each with its In[n] source and its text output, and the notebook's
Markdown cells when the kernel knows its file.

What is available, and from where:
- sources: `_ih` / `In` in the namespace (IPython's raw input when a shell runs on it: `%%llm` rather than
  `get_ipython().run_cell_magic(...)`);
- values: `_oh` / `Out` in the namespace;
- printed output, displays and errors: IPython's history manager (`outputs`, `exceptions`; IPython 9 and later keeps
  them for cells it runs), read only when a shell runs on this namespace;
- Markdown cells: the saved .ipynb that `__session__` or $JPY_SESSION_NAME names (JupyterLab sets them), as last
  saved, placed after the code cell they follow there."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from coditect_magics.render import Limits, is_a, render

from .kernel import running_shell, snapshot

MAX_NOTEBOOK_BYTES = 50_000_000  # a bigger .ipynb is mostly embedded outputs: not worth parsing for its Markdown
_SAVED: dict[Path, tuple[tuple[int, int], list[tuple[int, str]]]] = {}  # path → ((mtime_ns, size), markdown)


@dataclass(frozen=True)
class CellBounds:
    """How much `NotebookRead` says: characters of a source, of an output, in all; cells when `last` is not given."""

    source_chars: int = 2000
    output_chars: int = 1500
    chars: int = 12_000
    last: int = 10


BOUNDS = CellBounds()


@dataclass(frozen=True)
class Entry:
    """A code cell run in the kernel (`number` is its n in In[n]) or a saved Markdown cell (`number`: the In[n] it
    follows in the file, 0 at the top); `outputs` are (label, text) pairs."""

    kind: str
    number: int
    source: str
    outputs: tuple[tuple[str, str], ...] = ()
    running: bool = False
    position: int = 0  # a Markdown cell's place in the file, to keep several after one code cell in order

    @property
    def key(self) -> tuple[int, int, int]:
        """Where it sits: after In[number], code before the Markdown that follows it, in file order."""
        return (self.number, 0 if self.kind == "code" else 1, self.position)

    def matches(self, text: str) -> bool:
        """Whether its source or an output holds `text` (case-insensitive)."""
        needle = text.lower()
        return needle in self.source.lower() or any(needle in out.lower() for _, out in self.outputs)

    def text(self) -> str:
        """How the model reads it: In[n], the source, each output under its label; or the Markdown."""
        if self.kind == "markdown":
            return f"Markdown cell:\n{self.source}"
        head = f"In[{self.number}]:" + (" (this cell, running now)" if self.running else "")
        return "\n".join([head, self.source, *(f"{label}:\n{out}" for label, out in self.outputs)])


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how many more there were."""
    return text if len(text) <= limit else f"{text[:limit]}\n… ({len(text) - limit:,} more characters)"


def kernel_cells(namespace: Mapping[str, Any], bounds: CellBounds = BOUNDS) -> tuple[list[Entry], str]:
    """The code cells run in this kernel, and a line saying where printed output comes from (or that none does)."""
    names = snapshot(namespace)
    shell = running_shell(namespace)
    sources = names.get("_ih") or names.get("In") or []
    history = getattr(shell, "history_manager", None)
    raw = getattr(history, "input_hist_raw", None)
    if isinstance(raw, list) and len(raw) == len(sources):
        sources = raw
    values = names.get("_oh") or names.get("Out") or {}
    kept = getattr(history, "outputs", None)
    errors = getattr(history, "exceptions", None) or {}
    running = running_cell(shell, len(sources) - 1)
    entries = []
    for number in range(1, len(sources)):
        source = str(sources[number] or "").rstrip()
        outputs = _outputs(number, values, (kept or {}).get(number, ()), errors.get(number), bounds)
        if source or outputs:
            entries.append(Entry("code", number, cut(source, bounds.source_chars), outputs, number == running))
    note = ("printed output, displays and errors as IPython kept them" if kept is not None else
            "printed output is not available (IPython keeps it only from version 9, and only where a shell runs "
            "this namespace); Out[n] values are shown")
    return entries, note


def running_cell(shell: Any, last: int) -> int | None:
    """The number of the cell running now, if one is: the newest input whose run has not finished (IPython sets
    `last_execution_result` when a run ends; its own counter moves at the start in IPython 9, at the end before)."""
    if shell is None or last < 1:
        return None
    finished = getattr(getattr(shell, "last_execution_result", None), "execution_count", None)
    return last if finished is None or finished < last else None


def _outputs(number: int, values: Mapping[int, Any], kept: Any, error: Any,
             bounds: CellBounds) -> tuple[tuple[str, str], ...]:
    """A cell's text outputs: printed, displayed, Out[n], the error; each bounded."""
    found: list[tuple[str, str]] = []
    shown_as = ""  # the text/plain IPython showed for Out[n]
    for output in kept:
        kind, bundle = getattr(output, "output_type", ""), getattr(output, "bundle", {}) or {}
        if kind in ("out_stream", "err_stream"):
            found.append(("printed" if kind == "out_stream" else "stderr", "".join(bundle.get("stream", ()))))
        elif kind == "execute_result":
            shown_as = _joined(bundle.get("text/plain"))
        elif kind == "display_data":
            images = [m for m in bundle if m.startswith("image/")]
            text = _joined(bundle.get("text/markdown") or bundle.get("text/plain"))
            found.append(("displayed", text + (f" [an image: {', '.join(images)}]" if images else "")))
    if number in values:
        value = values[number]
        # a table reads better in the kit's compact form; anything else as the user saw it
        tabular = is_a(value, "pandas", "DataFrame") or is_a(value, "pandas", "Series") or not shown_as
        found.append((f"Out[{number}]", render(value, Limits(rows=10, columns=10, chars=bounds.output_chars))
                      if tabular else shown_as))
    elif shown_as:
        found.append((f"Out[{number}]", shown_as))
    if isinstance(error, Mapping):
        found.append(("error", f"{error.get('ename', 'Error')}: {error.get('evalue', '')}"))
    return tuple((label, cut(text.rstrip(), bounds.output_chars)) for label, text in found if text.strip())


def _joined(text: Any) -> str:
    """A MIME bundle's text (a string, or a list of lines as nbformat keeps it)."""
    return "".join(text) if isinstance(text, list) else str(text or "")


def notebook_path(namespace: Mapping[str, Any]) -> Path | None:
    """The saved notebook this kernel runs, if Jupyter said it (`__session__`, $JPY_SESSION_NAME) and it exists:
    as given, or beside the kernel (its working directory is the notebook's folder)."""
    named = namespace.get("__session__") or os.environ.get("JPY_SESSION_NAME")
    if not named or not str(named).endswith(".ipynb"):
        return None
    given = Path(str(named)).expanduser()
    for candidate in (given, Path.cwd() / given, Path.cwd() / given.name):
        if candidate.is_file():
            return candidate.resolve()
    return None


def saved_markdown(path: Path, bounds: CellBounds = BOUNDS) -> list[Entry]:
    """The Markdown cells of a saved notebook, each after the code cell it follows (read once per save)."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _SAVED.get(path)
    if cached is None or cached[0] != stamp:
        if stat.st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"{path.name} is {stat.st_size / 1e6:.0f} MB, too big to read for its Markdown")
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        found, after = [], 0
        for cell in cells:
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            if cell.get("cell_type") == "code":
                after = cell.get("execution_count") or after
            elif cell.get("cell_type") == "markdown" and source.strip():
                found.append((after, source.strip()))
        _SAVED.clear()  # one notebook per kernel: keep just the latest
        _SAVED[path] = cached = (stamp, found)
    return [Entry("markdown", after, cut(source, bounds.source_chars), position=i)
            for i, (after, source) in enumerate(cached[1])]


def markdown_cells(namespace: Mapping[str, Any], bounds: CellBounds = BOUNDS) -> tuple[list[Entry], str]:
    """The saved notebook's Markdown cells and a line saying where they come from (or why there are none)."""
    path = notebook_path(namespace)
    if path is None:
        return [], ("Markdown cells are not available: the kernel does not know its notebook file (JupyterLab "
                    "sets __session__ / JPY_SESSION_NAME)")
    try:
        found = saved_markdown(path, bounds)
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError: a notebook being written
        return [], f"Markdown cells are not available: {path.name} could not be read ({exc})"
    return found, f"Markdown cells from {path.name} as last saved ({len(found)})"


def select(entries: list[Entry], last: int | None, search: str | None) -> list[Entry]:
    """The matching entries (all, without `search`), then the last `last` code cells with the Markdown among and
    just before them."""
    chosen = [e for e in entries if e.matches(search)] if search else entries
    if last is None:
        return chosen
    code = [i for i, e in enumerate(chosen) if e.kind == "code"]
    if len(code) <= last:
        return chosen
    start = code[-last] if last else len(chosen)
    while start > 0 and chosen[start - 1].kind == "markdown":  # the Markdown that introduces the first cell shown
        start -= 1
    return chosen[start:]


def cells_text(namespace: Mapping[str, Any], last: int | None = None, search: str | None = None,
               bounds: CellBounds = BOUNDS, *, running: bool = True) -> str:
    """What `NotebookRead` returns: the selected cells in notebook order within `bounds.chars` (older ones
    dropped first, and said); `running`: include the cell running now (the prompt itself, in a context block)."""
    code, printed = kernel_cells(namespace, bounds)
    markdown, saved = markdown_cells(namespace, bounds)
    if not running:
        code = [e for e in code if not e.running]
    every = sorted(code + markdown, key=lambda e: e.key)
    chosen = select(every, last if last is not None or search else bounds.last, search)
    texts: list[str] = []
    used = 0
    for entry in reversed(chosen):
        text = entry.text()
        if used + len(text) > bounds.chars and texts:
            break
        texts.append(text)
        used += len(text) + 2
    dropped = len(chosen) - len(texts)
    numbers = [e.number for e in code]
    ran = f"In[{numbers[0]}]–In[{numbers[-1]}]" if numbers else "none yet"
    head = [f"Cells run in this kernel: {len(code)} ({ran}); {printed}. {saved}.",
            f"Showing {len(texts)} cell(s)" + (f" matching {search!r}" if search else "") +
            (f"; {dropped} older left out to stay within {bounds.chars:,} characters" if dropped else "") + "."]
    if not texts:
        head.append("No cells match." if search else "No cells have run yet.")
    return "\n".join(head) + "\n\n" + "\n\n".join(reversed(texts))
