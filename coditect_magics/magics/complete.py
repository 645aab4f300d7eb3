"""Tab completion for the magics through IPython's matcher API: each magic's subcommands (as `subcommands.py`
declares them), model ids and aliases after `%llm` and after `--model` / `--compare` / `--fallback`, agent names
after `%agent`, command names after `%cmd`, skill names after `%skill show|run`, thread names after `--thread`, MCP
server names after `%mcp tools|call|restart` and the tools of a running server after `%mcp call NAME`, and
the built-ins, `mcp__SERVER` and `mcp__SERVER__TOOL` after `--tools`.
Everything comes from memory or local files: nothing is fetched at completion time."""

from __future__ import annotations

import functools
import re
import threading
from typing import Any, Callable, Iterable

from IPython.core.completer import CompletionContext, SimpleCompletion, completion_matcher

from coditect_magics.session import MAIN, Session

from .subcommands import TABLES

_MAGIC = re.compile(r"^\s*(%%?)(llm|agent|cmd|skill|memory|orchestrate|mcp)\b(.*)$", re.DOTALL)
MODEL_OPTIONS = ("--model", "-m", "--compare", "--fallback")


def model_ids(session: Session) -> list[str]:
    """Every id a user can name: provider:model for each provider's known models, bare providers, aliases."""
    return sorted({*_provider_models(), *session.alias_table()})


@functools.lru_cache(maxsize=1)
def _provider_models() -> tuple[str, ...]:
    """Providers, their known models and the kit's aliases (imports every adapter module: done once, early)."""
    from coditect_magics.providers import registry
    ids = list(registry.names()) + list(registry.ALIASES)
    for name in registry.names():
        spec = registry.entry(name).spec
        ids += [f"{name}:{model}" for model in (spec.default_model, *spec.models) if model]
    return tuple(ids)


def thread_names(session: Session) -> list[str]:
    """This notebook's threads, the current one and main (which always exists to be started)."""
    stored = session.threads.names(session.notebook)
    return [*stored, *(n for n in (session.current_thread, MAIN) if n and n not in stored)]


def candidates(session: Session, magic: str, before: list[str], current: str) -> tuple[list[str], str]:
    """What fits the word being typed (`current`) given the magic and the words before it; and the kind."""
    previous = before[-1] if before else ""
    if previous in MODEL_OPTIONS:
        return model_ids(session), "model"
    if previous == "--thread":
        return thread_names(session), "thread"
    if previous == "--tools":
        from coditect_magics.tools.builtins import NAMES
        return [*NAMES, *mcp_tool_names(session)], "tool"
    if current.startswith("-"):
        return [], ""
    positional = [w for i, w in enumerate(before)
                  if not w.startswith("-") and (i == 0 or not before[i - 1].startswith("-"))]
    table = TABLES[magic]
    if not positional:  # a subcommand, or what the magic itself takes first
        first = {"llm": ("model", model_ids), "agent": ("agent", _names("agents")),
                 "cmd": ("command", _names("commands")), "skill": ("skill", lambda _: [])}.get(magic)
        kind, more = first if first else ("", lambda _: [])
        return [*table.names(), *more(session)], kind or "subcommand"
    chosen = table.get(positional[0])
    if len(positional) == 1 and chosen is not None and chosen.completes:
        return COMPLETES[chosen.completes](session), chosen.completes
    if len(positional) == 2 and chosen is not None and chosen.then:
        return COMPLETES[chosen.then](session), chosen.then
    if magic == "mcp" and len(positional) == 2 and positional[0] == "call":
        return [getattr(t, "remote_name", t.name) for t in session.mcp.cached(positional[1])], "tool"
    return [], ""


def mcp_tool_names(session: Session) -> list[str]:
    """`mcp__SERVER` for each configured MCP server and `mcp__SERVER__TOOL` for the tools of running ones."""
    servers = session.mcp.names()
    return [*(f"mcp__{name}" for name in servers), *(t.name for name in servers for t in session.mcp.cached(name))]


def _names(library: str) -> Callable[[Session], list[str]]:
    return lambda session: getattr(session, library).names()


COMPLETES: dict[str, Callable[[Session], list[str]]] = {
    "model": lambda session: model_ids(session), "agent": _names("agents"), "skill": _names("skills"),
    "command": _names("commands"), "thread": lambda session: thread_names(session),
    "mcp-server": lambda session: session.mcp.names(),
    "key-action": lambda session: ["list", "path", "remove", "set"], "provider": lambda session: _providers(),
    "batch-job": lambda session: [job.id for job in session.batches.jobs()]}


def _providers() -> list[str]:
    """The providers a key can be stored for."""
    from coditect_magics.providers import registry
    return registry.names()


def matcher_for(session: Session) -> Callable[[CompletionContext], Any]:
    """An IPython v2 matcher bound to this kernel's session."""

    @completion_matcher(identifier="coditect_magics", priority=50, api_version=2)
    def complete(context: CompletionContext) -> Any:
        line = context.text_until_cursor
        found = _MAGIC.match(line)
        if found is None or (found[1] == "%%" and context.cursor_line != 0):  # a cell magic is only on line one
            return {"completions": [], "suppress": False}
        words = found[3].split(" ")
        before, current = [w for w in words[:-1] if w], words[-1]
        word = current.rsplit(",", 1)[-1]  # --compare a,b,<here>
        try:
            options, kind = candidates(session, found[2], before, current)
        except Exception:  # a broken agent file or store must never break typing
            return {"completions": [], "suppress": False}
        # IPython's token stops at ':' and ',': hand back only the part of each candidate after it
        cut = len(word) - len(context.token)
        matches = [SimpleCompletion(option[cut:], type=kind) for option in _starting(options, word)]
        return {"completions": matches, "suppress": bool(kind)}  # in our positions nothing else fits

    return complete


def _starting(options: Iterable[str], prefix: str) -> list[str]:
    return sorted({option for option in options if option.startswith(prefix)})


def install(shell: Any, session: Session) -> Any:
    """Add this session's matcher to the shell's completer; returns it (for `uninstall`)."""
    completer = getattr(shell, "Completer", None)
    if completer is None:
        return None
    matcher = matcher_for(session)
    completer.custom_matchers.append(matcher)
    # the first Tab would pay for imports (providers, agents, threads: ~0.3 s here): do them off the kernel's
    # thread right after load, with the ledger's (SQLAlchemy, pandas: ~1 s), which readies the first %llm
    # A short delay keeps it out of `%load_ext`'s own time (a thread started at once takes the GIL from it).
    global _warming
    _warming = threading.Timer(0.2, _warm_up)
    _warming.name, _warming.daemon = "coditect-warm-up", True
    _warming.start()
    shell.events.register("pre_run_cell", _settle_before_cell)
    return matcher


_warming: threading.Timer | None = None
_warmed = threading.Event()


def _warm_up() -> None:
    _provider_models()
    from coditect_magics import threads  # noqa: F401 - what a Tab needs first
    from coditect_magics.agents import library, search_path  # noqa: F401
    from coditect_magics.costs import engine, frame  # noqa: F401 - SQLAlchemy and pandas, for the first call's row
    _warmed.set()


def settle(timeout: float = 60.0) -> None:
    """Let the warm-up finish (or, if it has not begun, do it here) before this thread imports the kit's modules: a
    package being initialised by two threads at once can fail in both ("partially initialized module"). Done on
    this thread, numpy and pandas are whole before any of the kit's threads (a run's watcher, the memory journal)
    can import them beside a cell."""
    warming = _warming
    if warming is not None and warming is not threading.current_thread():
        warming.cancel()
        warming.join(timeout)
        if not _warmed.is_set():
            _warm_up()


def settled(magic: Callable[..., Any]) -> Callable[..., Any]:
    """A magic that settles the warm-up first (a script may call it right after `%load_ext`)."""
    @functools.wraps(magic)
    def run(*args: Any, **kwargs: Any) -> Any:
        settle()
        return magic(*args, **kwargs)

    return run


def _settle_before_cell(info: Any = None) -> None:
    """A cell right after `%load_ext` (Run All) may import the kit itself: it waits for the warm-up."""
    settle()


def uninstall(shell: Any, matcher: Any) -> None:
    completer = getattr(shell, "Completer", None)
    if completer is not None and matcher in completer.custom_matchers:
        completer.custom_matchers.remove(matcher)
    if _settle_before_cell in shell.events.callbacks.get("pre_run_cell", []):
        shell.events.unregister("pre_run_cell", _settle_before_cell)
