"""Index files into memory: Markdown and text (overlapping chunks at paragraph and sentence boundaries), notebooks
(each cell, with notebook and cell id), JSONL message logs (one `{"role", "content", ...}` per line; malformed lines
are reported with their line numbers and skipped). A directory is walked for those. A tqdm.auto progress bar shows
when indexing takes more than a moment. A text found in several places is embedded once and stored with every
source; each batch is written to Chroma while the next one is embedded."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from .store import Memory

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".rst"}
NOTEBOOK_SUFFIXES = {".ipynb"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUFFIXES = TEXT_SUFFIXES | NOTEBOOK_SUFFIXES | JSONL_SUFFIXES
CHUNK_SIZE = 800      # characters; all-MiniLM-L6-v2 reads about 256 word pieces
CHUNK_OVERLAP = 150
BATCH = 256
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")
_PARAGRAPH = re.compile(r"\n\s*\n")
_MESSAGE_META = ("timestamp", "agent", "session", "thread", "model", "name", "id")


@dataclass
class BadLine:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class IndexReport:
    """What `index` did: files read, items seen, items new (the rest were already there), lines skipped, failures."""

    files: int = 0
    items: int = 0
    added: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.items - self.added

    def __str__(self) -> str:
        text = (f"{self.files} file(s), {self.items} item(s), {self.added} new, {self.duplicates} already there, "
                f"{len(self.bad_lines)} bad line(s) skipped")
        lines = [text] + [f"  {b}" for b in self.bad_lines[:20]] + [f"  {f}: {why}" for f, why in self.failed]
        return "\n".join(lines)


# -- chunking ---------------------------------------------------------------------------------------------------------
def _units(text: str, size: int) -> list[str]:
    """Paragraphs; a paragraph longer than `size` becomes sentences; a sentence longer than `size` becomes pieces
    cut at spaces."""
    units: list[str] = []
    for para in _PARAGRAPH.split(text):
        para = para.strip()
        if not para:
            continue
        if len(para) <= size:
            units.append(para)
            continue
        for sentence in _SENTENCE.split(para):
            while len(sentence) > size:
                cut = sentence.rfind(" ", 0, size)
                cut = cut if cut > size // 2 else size
                units.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            if sentence:
                units.append(sentence)
    return units


def chunk(text: str, size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Split `text` into chunks of at most ~`size` characters at paragraph or sentence boundaries; each chunk after
    the first starts with the last units of the one before, up to `overlap` characters."""
    text = text.strip()
    if len(text) <= size:
        return [text] if text else []
    chunks: list[str] = []
    current: list[str] = []
    for unit in _units(text, size):
        if current and sum(len(u) + 1 for u in current) + len(unit) > size:
            chunks.append("\n\n".join(current))
            carry: list[str] = []
            for prev in reversed(current):
                if sum(len(u) + 1 for u in carry) + len(prev) > overlap:
                    break
                carry.insert(0, prev)
            current = carry if sum(len(u) + 1 for u in carry) + len(unit) <= size else []
        current.append(unit)
    if current:
        chunks.append("\n\n".join(current))
    return chunks


# -- readers: each yields items (dicts with text and metadata) -------------------------------------------------------
def _text_items(path: Path, report: IndexReport) -> Iterator[dict[str, Any]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    mtime = path.stat().st_mtime
    for i, piece in enumerate(chunk(text)):
        yield {"text": piece, "kind": "file", "source": str(path), "chunk": i, "timestamp": mtime}


def _cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _notebook_items(path: Path, report: IndexReport) -> Iterator[dict[str, Any]]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    mtime = path.stat().st_mtime
    for n, cell in enumerate(notebook.get("cells", [])):
        cell_id = str(cell.get("id") or f"cell-{n}")
        for i, piece in enumerate(chunk(_cell_source(cell))):
            yield {"text": piece, "kind": "file", "source": f"{path}#{cell_id}", "notebook": str(path),
                   "cell": cell_id, "cell_index": n, "cell_type": cell.get("cell_type", ""), "chunk": i,
                   "timestamp": mtime}


def _content_text(content: Any) -> str | None:
    """A message's content as text: a string, or a list of parts whose text parts are joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p if isinstance(p, str) else p.get("text") for p in content if isinstance(p, (str, dict))]
        texts = [t for t in texts if isinstance(t, str)]
        return "\n".join(texts) if texts else None
    return None


def _jsonl_items(path: Path, report: IndexReport) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                report.bad_lines.append(BadLine(str(path), number, f"not JSON ({exc.msg})"))
                continue
            if not isinstance(record, dict):
                report.bad_lines.append(BadLine(str(path), number, "not a JSON object"))
                continue
            missing = [k for k in ("role", "content") if k not in record]
            if missing:
                report.bad_lines.append(BadLine(str(path), number, f"no {' or '.join(missing)}"))
                continue
            text = _content_text(record["content"])
            if text is None:
                report.bad_lines.append(BadLine(str(path), number, "content is not text"))
                continue
            meta = {k: record[k] for k in _MESSAGE_META if isinstance(record.get(k), (str, int, float))}
            if "id" in meta:
                meta["message_id"] = meta.pop("id")
            for i, piece in enumerate(chunk(text)):
                yield {**meta, "text": piece, "kind": "message", "role": str(record["role"]),
                       "source": str(path), "line": number, "chunk": i}


READERS = {**{s: _text_items for s in TEXT_SUFFIXES}, **{s: _notebook_items for s in NOTEBOOK_SUFFIXES},
           **{s: _jsonl_items for s in JSONL_SUFFIXES}}


def files(path: str | os.PathLike[str]) -> list[Path]:
    """The indexable files at `path`: itself, or those under it (hidden folders and checkpoints skipped)."""
    root = Path(path).expanduser()
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"no such file or directory: {root}")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in ("__pycache__", "node_modules"))
        found += [Path(dirpath, f) for f in sorted(filenames) if Path(f).suffix.lower() in SUFFIXES]
    return found


def index(path: str | os.PathLike[str], memory: Memory | None = None, *, progress: bool | None = None) -> IndexReport:
    """Index a file or a directory into `memory` (a default `Memory()` when None). progress: None shows a bar when
    indexing takes longer than half a second, False never, True always."""
    if memory is None:
        from .store import Memory
        memory = Memory()
    report = IndexReport()
    items: list[dict[str, Any]] = []
    for file in files(path):
        reader = READERS.get(file.suffix.lower())
        if reader is None:
            report.failed.append((str(file), f"unsupported file type (indexable: {', '.join(sorted(SUFFIXES))})"))
            continue
        try:
            items += list(reader(file, report))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            report.failed.append((str(file), f"{type(exc).__name__}: {exc}"))
            continue
        report.files += 1
    report.items = len(items)
    from tqdm.auto import tqdm
    before = memory.count()
    with tqdm(total=len(items), desc="indexing", unit="item", disable=progress is False,
              delay=0 if progress else 0.5) as bar:
        _, fresh = memory._prepare(items)  # a text found in several files once, with every source
        bar.update(len(items) - len(fresh))
        _store(memory, list(fresh.items()), bar.update)
    report.added = memory.count() - before
    return report


def _store(memory: Memory, entries: list[tuple[str, tuple[str, dict[str, Any]]]], done: Any) -> None:
    """Embed and store prepared items BATCH at a time, each batch's Chroma write running on a thread of its own while
    the next batch is embedded (Chroma's work no longer waits for the embedder's, nor the embedder's for Chroma's).
    `done(n)` is told of each batch written."""
    import concurrent.futures
    held: tuple[Any, Any, int] | None = None  # a batch embedded, not written yet
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="coditect-index") as writer:
        for start in range(0, len(entries), BATCH):
            batch = dict(entries[start:start + BATCH])
            new = memory._unstored(batch)  # before the write below starts: it holds the store's lock
            job = writer.submit(memory._write, held[0], held[1]) if held else None
            vectors = memory.embedder([text for _, text, _ in new]) if new else []
            if job is not None:
                job.result()
                done(held[2])
            held = (new, vectors, len(batch))
    if held:
        memory._write(held[0], held[1])
        done(held[2])
