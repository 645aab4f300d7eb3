"""Tab completion for the magics through IPython's matcher API: model ids and aliases after `%llm` and after
`--model` / `--compare` / `--fallback`, agent names after `%%agent`, command names after `%cmd`, thread names after
`--thread`, skill names after `%skill show|run`. Everything comes from memory or local files: nothing is fetched at completion time."""

from __future__ import annotations

import functools
import re
import threading
from typing import Any, Callable, Iterable

from IPython.core.completer import CompletionContext, SimpleCompletion, completion_matcher

_MAGIC = re.compile(r"^\s*(%%?)(llm|agent|cmd|skill)\b(.*)$", re.DOTALL)
MODEL_OPTIONS = ("--model", "-m", "--compare", "--fallback")
LLM_SUBCOMMANDS = ("list", "alias", "default", "costs", "error", "explain", "help", "reset", "history", "export",
                   "import")
AGENT_SUBCOMMANDS = ("list", "show", "find", "runs", "result", "cancel", "map")


def model_ids(magics: Any) -> list[str]:
    """Every id a user can name: provider:model for each provider's known models, bare providers, aliases."""
    return sorted({*_provider_models(), *magics.aliases})


@functools.lru_cache(maxsize=1)
def _provider_models() -> tuple[str, ...]:
    """Providers, their known models and the kit's aliases (imports every adapter module: done once, early)."""
    from coditect_magics.providers import registry
    ids = list(registry.names()) + list(registry.ALIASES)
    for name in registry.names():
        spec = registry.entry(name).spec
        ids += [f"{name}:{model}" for model in (spec.default_model, *spec.models) if model]
    return tuple(ids)


def thread_names(magics: Any) -> list[str]:
    """This notebook's threads, the current one and main (which always exists to be started)."""
    from . import conversation
    stored = conversation.store(magics).names(conversation.notebook_of(magics))
    return [*stored, *(n for n in (magics.current_thread, conversation.MAIN) if n and n not in stored)]


def candidates(magics: Any, magic: str, before: list[str], current: str) -> tuple[list[str], str]:
    """What fits the word being typed (`current`) given the magic and the words before it; and the kind."""
    previous = before[-1] if before else ""
    if previous in MODEL_OPTIONS:
        return model_ids(magics), "model"
    if previous == "--thread":
        return thread_names(magics), "thread"
    if current.startswith("-"):
        return [], ""
    positional = [w for i, w in enumerate(before)
                  if not w.startswith("-") and (i == 0 or not before[i - 1].startswith("-"))]
    if magic == "llm" and not positional:
        return [*LLM_SUBCOMMANDS, *model_ids(magics)], "model"
    from . import agent  # only here: agents pull in the executor
    if magic == "agent" and (not positional or positional in (["show"], ["map"])):
        names = agent.agents(magics).names()
        return ([*AGENT_SUBCOMMANDS, *names] if not positional else names), "agent"
    if magic == "cmd" and not positional:
        return ["list", *agent.commands(magics).names()], "command"
    if magic == "skill" and positional in ([], ["show"], ["run"]):
        from .skill import skills
        return ([] if positional else ["list", "show", "run"]) + (skills(magics).names() if positional else []), \
            "skill"
    return [], ""


def matcher_for(magics: Any) -> Callable[[CompletionContext], Any]:
    """An IPython v2 matcher bound to this kernel's magics."""

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
            options, kind = candidates(magics, found[2], before, current)
        except Exception:  # a broken agent file or store must never break typing
            return {"completions": [], "suppress": False}
        # IPython's token stops at ':' and ',': hand back only the part of each candidate after it
        cut = len(word) - len(context.token)
        matches = [SimpleCompletion(option[cut:], type=kind) for option in _starting(options, word)]
        return {"completions": matches, "suppress": bool(kind)}  # in our positions nothing else fits

    return complete


def _starting(options: Iterable[str], prefix: str) -> list[str]:
    return sorted({option for option in options if option.startswith(prefix)})


def install(shell: Any, magics: Any) -> None:
    completer = getattr(shell, "Completer", None)
    if completer is not None:
        magics._matcher = matcher_for(magics)
        completer.custom_matchers.append(magics._matcher)
        # the first Tab would pay for imports (providers, agents, threads: ~0.3 s here): do them off the kernel's
        # thread right after load, with the ledger's (SQLAlchemy, pandas: ~1 s), which readies the first %llm
        # A short delay keeps it out of `%load_ext`'s own time (a thread started at once takes the GIL from it).
        warm = threading.Timer(0.2, _warm_up)
        warm.name, warm.daemon = "coditect-warm-up", True
        warm.start()


def _warm_up() -> None:
    _provider_models()
    from . import agent, conversation  # noqa: F401 - what a Tab needs first
    from coditect_magics.costs import engine, frame  # noqa: F401 - SQLAlchemy and pandas, for the first call's row


def uninstall(shell: Any, magics: Any) -> None:
    completer = getattr(shell, "Completer", None)
    matcher = getattr(magics, "_matcher", None)
    if completer is not None and matcher in completer.custom_matchers:
        completer.custom_matchers.remove(matcher)
