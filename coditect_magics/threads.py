"""Conversation threads: the turns of a conversation, kept in SQLite beside the ledger so that a notebook can
continue a conversation after a kernel restart.

    store = ThreadStore()                       # $CODITECT_THREADS or the user data dir
    thread = store.thread("analysis.ipynb", "main")
    thread.add(Message("user", "Which table holds revenue?"))
    thread.add(Message("assistant", "orders_2025."), model="openai:gpt-4.1")
    history, dropped = fit(thread.messages(), budget_tokens=8000)

Turns are provider-neutral `Message`s (text, images, tool calls and results), so a thread can switch models
mid-way; each assistant turn records which model said it."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from coditect_magics.providers.secrets import redact
from coditect_magics.providers.types import ImagePart, Message, TextPart, ToolCall, ToolResult
from coditect_magics.sqlite_file import connect

ENV = "CODITECT_THREADS"
CHARS_PER_TOKEN = 4      # no tokenizer offline (tiktoken downloads its files): a rough, cautious estimate
IMAGE_TOKENS = 1000      # what an image costs in context, roughly, on the big providers

SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notebook TEXT NOT NULL,
    thread TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    model TEXT,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_thread ON turns (notebook, thread, id);
"""


def default_path() -> Path:
    """$CODITECT_THREADS, else beside the ledger ($CODITECT_LEDGER's directory or the user data dir)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    from coditect_magics.costs.ledger import default_path as ledger_path
    return ledger_path().with_name("threads.sqlite3")


def notebook_key(namespace: dict[str, Any] | None = None) -> str:
    """The key a notebook's threads are kept under: its path when Jupyter says it (`__session__` in the user
    namespace, or $JPY_SESSION_NAME), else "ipython"."""
    return str((namespace or {}).get("__session__") or os.environ.get("JPY_SESSION_NAME") or "ipython")


@dataclass(frozen=True)
class Turn:
    """One stored turn: the message, the model that said it (assistant turns) and when."""

    message: Message
    model: str | None
    ts: float


def encode(message: Message) -> str:
    """A message as JSON: text stays a string; parts become tagged objects (image bytes in base64)."""
    if isinstance(message.content, str):
        return json.dumps(message.content)
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            parts.append({"image": part.media_type, "data": base64.b64encode(part.data).decode()})
        elif isinstance(part, ToolCall):
            parts.append({"tool_call": part.name, "id": part.id, "arguments": dict(part.arguments)})
        elif isinstance(part, ToolResult):
            parts.append({"tool_result": part.content, "id": part.id, "is_error": part.is_error, "name": part.name})
    return json.dumps(parts)


def decode(role: str, content: str) -> Message:
    value = json.loads(content)
    if isinstance(value, str):
        return Message(role, value)  # type: ignore[arg-type]
    parts: list[Any] = []
    for part in value:
        if "text" in part:
            parts.append(TextPart(part["text"]))
        elif "image" in part:
            parts.append(ImagePart(part["image"], base64.b64decode(part["data"])))
        elif "tool_call" in part:
            parts.append(ToolCall(part["id"], part["tool_call"], part["arguments"]))
        elif "tool_result" in part:
            parts.append(ToolResult(part["id"], part["tool_result"], part["is_error"], part.get("name", "")))
    return Message(role, tuple(parts))  # type: ignore[arg-type]


def estimate_tokens(message: Message) -> int:
    """A cautious token estimate: characters / 4, plus a flat cost per image."""
    size = 0
    for part in message.parts:
        if isinstance(part, ImagePart):
            size += IMAGE_TOKENS
        elif isinstance(part, TextPart):
            size += len(part.text) // CHARS_PER_TOKEN + 1
        elif isinstance(part, ToolCall):
            size += len(json.dumps(dict(part.arguments))) // CHARS_PER_TOKEN + 8
        elif isinstance(part, ToolResult):
            size += len(part.content) // CHARS_PER_TOKEN + 8
    return size + 4


def fit(history: Sequence[Message], budget_tokens: int) -> tuple[list[Message], int]:
    """The newest turns of `history` that fit `budget_tokens`, and how many older turns were dropped. System
    messages are never dropped; the kept part starts at a user turn, so no reply (or tool result) loses the turn
    that asked for it."""
    system = [m for m in history if m.role == "system"]
    turns = [m for m in history if m.role != "system"]
    room = budget_tokens - sum(estimate_tokens(m) for m in system)
    start = len(turns)
    while start > 0 and room - estimate_tokens(turns[start - 1]) >= 0:
        start -= 1
        room -= estimate_tokens(turns[start])
    while start < len(turns) and turns[start].role != "user":
        start += 1
    if start == len(turns) and turns:  # even the last exchange is too big: keep it whole rather than send nothing
        start = max(i for i, m in enumerate(turns) if m.role == "user") if any(m.role == "user" for m in turns) \
            else len(turns) - 1
    return system + turns[start:], start


class Thread:
    """The turns of one named conversation in one notebook."""

    def __init__(self, store: "ThreadStore", notebook: str, name: str) -> None:
        self.store, self.notebook, self.name = store, notebook, name

    def __repr__(self) -> str:
        return f"Thread({self.notebook!r}, {self.name!r}, turns={len(self.turns())})"

    def turns(self) -> list[Turn]:
        rows = self.store._query("SELECT role, content, model, ts FROM turns WHERE notebook = ? AND thread = ? "
                                 "ORDER BY id", (self.notebook, self.name))
        return [Turn(decode(role, content), model, ts) for role, content, model, ts in rows]

    def messages(self) -> list[Message]:
        return [turn.message for turn in self.turns()]

    def add(self, message: Message | dict[str, Any], *, model: str | None = None) -> None:
        """Append a turn (its text redacted: a key pasted into a prompt is not kept)."""
        message = Message.coerce(message)
        if isinstance(message.content, str):
            message = Message(message.role, redact(message.content))
        else:
            message = Message(message.role, tuple(TextPart(redact(p.text)) if isinstance(p, TextPart) else p
                                                  for p in message.content))
        self.store._execute("INSERT INTO turns (notebook, thread, role, content, model, ts) VALUES (?, ?, ?, ?, ?, ?)",
                            (self.notebook, self.name, message.role, encode(message), model, time.time()))

    def extend(self, messages: Iterable[Message | dict[str, Any]], *, model: str | None = None) -> None:
        for message in messages:
            self.add(message, model=model if Message.coerce(message).role == "assistant" else None)

    def reset(self) -> int:
        """Forget every turn; returns how many there were."""
        return self.store._execute("DELETE FROM turns WHERE notebook = ? AND thread = ?", (self.notebook, self.name))

    def to_markdown(self) -> str:
        lines = [f"# Thread {self.name} ({self.notebook})", ""]
        for turn in self.turns():
            said = f"{turn.message.role}" + (f" ({turn.model})" if turn.model else "")
            images = sum(isinstance(p, ImagePart) for p in turn.message.parts)
            lines += [f"## {said}", "", turn.message.text + (f"\n\n[{images} image(s)]" if images else ""), ""]
        return "\n".join(lines)

    def to_jsonl(self) -> str:
        """One `{"role", "content", ...}` line per turn: the format the memory indexer reads."""
        return "".join(json.dumps({"role": t.message.role, "content": t.message.text, "model": t.model,
                                   "timestamp": t.ts, "thread": self.name, "session": self.notebook}) + "\n"
                       for t in self.turns())

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write the thread to `path`: `.md` as Markdown, `.jsonl` as message lines."""
        path = Path(path)
        if path.suffix.lower() not in (".md", ".jsonl"):
            raise ValueError(f"export writes .md or .jsonl, not {path.suffix or 'a file without a suffix'}")
        path.write_text(self.to_markdown() if path.suffix.lower() == ".md" else self.to_jsonl(), encoding="utf-8")
        return path


    def import_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Append the turns of a JSONL file (as `export` writes them, or any `{"role", "content"}` lines); returns
        how many. A line that is not such a message raises ValueError naming the file and line."""
        turns: list[tuple[Message, str | None]] = []
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                message = Message.coerce(record)
            except (json.JSONDecodeError, ValueError, TypeError) as exc:
                raise ValueError(f"{path}, line {number}: not a message ({exc})") from None
            turns.append((message, record.get("model")))
        for message, model in turns:
            self.add(message, model=model)
        return len(turns)


class ThreadStore:
    """The SQLite file of every thread; safe across threads of one process and across processes (WAL)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path, SCHEMA)
        return self._conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db().execute(sql, params).fetchall()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._db().execute(sql, params).rowcount

    def thread(self, notebook: str, name: str) -> Thread:
        return Thread(self, notebook, name)

    def names(self, notebook: str) -> list[str]:
        """The threads of a notebook that hold turns, most recently used first."""
        rows = self._query("SELECT thread FROM turns WHERE notebook = ? GROUP BY thread ORDER BY MAX(id) DESC",
                           (notebook,))
        return [name for (name,) in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
