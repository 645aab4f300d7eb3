"""`%llm reset | history | export | import`: a notebook's threads as the user manages them (the session picks,
fits and keeps them for every call)."""

from __future__ import annotations

from typing import Any

from coditect_magics.session import MAIN, Session

from .args import UsageError


def _options(words: list[str], allowed: tuple[str, ...], usage: str) -> dict[str, str]:
    if len(words) % 2 or any(w not in allowed for w in words[::2]):
        raise UsageError(f"write {usage}")
    return {key.lstrip("-"): value for key, value in zip(words[::2], words[1::2])}


def _thread_name(session: Session, words: list[str], usage: str) -> str:
    return _options(words, ("--thread",), usage).get("thread") or session.current_thread or MAIN


def reset(session: Session, words: list[str]) -> None:
    name = _thread_name(session, words, "%llm reset [--thread NAME]")
    gone = session.thread(name).reset()
    print(f"coditect: thread {name!r} cleared ({gone} turns)")


def history(session: Session, words: list[str]) -> Any:
    """The thread's turns as a DataFrame: role, text, model, time (local)."""
    from datetime import datetime

    import pandas as pd
    name = _thread_name(session, words, "%llm history [--thread NAME]")
    turns = session.thread(name).turns()
    return pd.DataFrame([{"role": t.message.role, "text": t.message.text, "model": t.model,
                          "time": datetime.fromtimestamp(t.ts)} for t in turns],
                        columns=["role", "text", "model", "time"])


def _thread_and_file(session: Session, words: list[str], flag: str, usage: str) -> tuple[Any, str]:
    """The thread named by --thread (else the current one) and the file named by `flag`, which is required."""
    options = _options(words, ("--thread", flag), usage)
    if flag.lstrip("-") not in options:
        raise UsageError(f"name the file with {flag}: {usage}")
    name = options.get("thread") or session.current_thread or MAIN
    return session.thread(name), options[flag.lstrip("-")]


def export(session: Session, words: list[str]) -> Any:
    usage = "%llm export --thread NAME --to FILE.md|FILE.jsonl"
    thread, target = _thread_and_file(session, words, "--to", usage)
    try:
        path = thread.export(target)
    except ValueError as exc:
        raise UsageError(f"{exc}: {usage}") from None
    print(f"coditect: thread {thread.name!r} written to {path}")
    return path


def import_(session: Session, words: list[str]) -> int:
    thread, source = _thread_and_file(session, words, "--from", "%llm import --thread NAME --from FILE.jsonl")
    try:
        count = thread.import_jsonl(source)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(f"coditect: {count} turns added to thread {thread.name!r}")
    return count

