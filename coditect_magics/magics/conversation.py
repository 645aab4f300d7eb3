"""Threads in the magics: which thread a call continues, its history trimmed to the budget, the new turns kept;
and `%llm reset | history | export | import`."""

from __future__ import annotations

import os
from typing import Any, Sequence

from coditect_magics.providers.types import Message

from .args import UsageError
from .output import show_error

MAIN = "main"


def notebook_of(magics: Any) -> str:
    from coditect_magics.threads import notebook_key
    return notebook_key(magics.shell.user_ns)


def store(magics: Any) -> Any:
    """The thread store: CoditectMagics.threads_path, else $CODITECT_THREADS, else beside the ledger."""
    from pathlib import Path

    from coditect_magics.costs.ledger import is_url
    from coditect_magics.threads import ENV, ThreadStore
    beside_ledger = magics.ledger_path and not is_url(magics.ledger_path)  # a team ledger's URL has no directory
    path = magics.threads_path or os.environ.get(ENV) or (
        Path(magics.ledger_path).with_name("threads.sqlite3") if beside_ledger else None)
    current = getattr(magics, "_threads", None)
    if current is None or (path is not None and str(current.path) != str(Path(path).expanduser())):
        current = magics._threads = ThreadStore(path)
    return current


def pick(magics: Any, *, name: str | None, continued: bool) -> Any:
    """The thread a `%llm` call belongs to: `--thread NAME` (which becomes current), `-c` (the current one), or
    none given: a one-shot call that starts the main thread afresh, so `-c` can follow it."""
    if name:
        magics.current_thread = name
    elif continued:
        name = magics.current_thread or MAIN
    else:
        name = magics.current_thread = MAIN
        store(magics).thread(notebook_of(magics), name).reset()
    return store(magics).thread(notebook_of(magics), name)


def budget(magics: Any, model: str | None, reply_tokens: int | None = None) -> tuple[int, str]:
    """How many tokens a prompt with its history may take, and why: `max_history_tokens`, or less when the
    model's context window (genai-prices' data; the embedded model's n_ctx) leaves less room beside the reply."""
    limit, why = magics.max_history_tokens, "CoditectMagics.max_history_tokens"
    window = _window(magics, model) if model else None
    if window:
        room = window - (reply_tokens or 1024)
        if room < limit:
            limit, why = max(room, 256), f"the context window of {model}"
    return limit, why


def _window(magics: Any, model: str) -> int | None:
    from coditect_magics.providers import errors, registry
    try:
        provider, name = registry.resolve(magics.aliases.get(model, model))
    except errors.ProviderError:
        return None
    if provider == "local":
        from coditect_magics.providers.local import DEFAULT_CONTEXT
        return int(os.environ.get("CODITECT_LOCAL_N_CTX") or DEFAULT_CONTEXT)
    from coditect_magics.costs.prices import context_window
    return context_window(provider, name)


def with_history(magics: Any, thread: Any, system: Sequence[Message], ask: Message, *, model: str | None = None,
                 reply_tokens: int | None = None) -> list[Message]:
    """System messages, as much of the thread's history as fits the budget (see `budget`), then the new turn;
    says when older turns were left out."""
    from coditect_magics.threads import fit
    history = [m for m in thread.messages() if m.role != "system"]
    limit, why = budget(magics, model, reply_tokens)
    kept, dropped = fit([*system, *history, ask], limit)
    if dropped:
        show_error(f"{dropped} earlier turns left out of thread {thread.name!r} to stay within {limit} tokens ({why})")
    return kept


def keep(thread: Any, ask: Message, result: Any) -> None:
    """Add the exchange to the thread once the model has answered (a partial answer counts)."""
    if thread is not None and result is not None and result.text:
        thread.add(ask)
        thread.add(Message("assistant", result.text), model=result.model)


# subcommands: %llm reset [--thread NAME] | history [--thread NAME] | export --thread NAME --to FILE
def _options(words: list[str], allowed: tuple[str, ...], usage: str) -> dict[str, str]:
    if len(words) % 2 or any(w not in allowed for w in words[::2]):
        raise UsageError(f"write {usage}")
    return {key.lstrip("-"): value for key, value in zip(words[::2], words[1::2])}


def reset(magics: Any, words: list[str]) -> None:
    name = _options(words, ("--thread",), "%llm reset [--thread NAME]").get("thread") or magics.current_thread or MAIN
    gone = store(magics).thread(notebook_of(magics), name).reset()
    print(f"coditect: thread {name!r} cleared ({gone} turns)")


def history(magics: Any, words: list[str]) -> Any:
    """The thread's turns as a DataFrame: role, text, model, time (local)."""
    from datetime import datetime

    import pandas as pd
    name = _options(words, ("--thread",), "%llm history [--thread NAME]").get("thread") or magics.current_thread or MAIN
    turns = store(magics).thread(notebook_of(magics), name).turns()
    return pd.DataFrame([{"role": t.message.role, "text": t.message.text, "model": t.model,
                          "time": datetime.fromtimestamp(t.ts)} for t in turns],
                        columns=["role", "text", "model", "time"])


def _thread_and_file(magics: Any, words: list[str], flag: str, usage: str) -> tuple[Any, str]:
    """The thread named by --thread (else the current one) and the file named by `flag`, which is required."""
    options = _options(words, ("--thread", flag), usage)
    if flag.lstrip("-") not in options:
        raise UsageError(f"name the file with {flag}: {usage}")
    name = options.get("thread") or magics.current_thread or MAIN
    return store(magics).thread(notebook_of(magics), name), options[flag.lstrip("-")]


def export(magics: Any, words: list[str]) -> Any:
    usage = "%llm export --thread NAME --to FILE.md|FILE.jsonl"
    thread, target = _thread_and_file(magics, words, "--to", usage)
    try:
        path = thread.export(target)
    except ValueError as exc:
        raise UsageError(f"{exc}: {usage}") from None
    print(f"coditect: thread {thread.name!r} written to {path}")
    return path


def import_(magics: Any, words: list[str]) -> int:
    thread, source = _thread_and_file(magics, words, "--from", "%llm import --thread NAME --from FILE.jsonl")
    try:
        count = thread.import_jsonl(source)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(f"coditect: {count} turns added to thread {thread.name!r}")
    return count


SUBCOMMANDS = {"reset": reset, "history": history, "export": export, "import": import_}
