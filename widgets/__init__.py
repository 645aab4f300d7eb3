"""Widget panels (chat, compare, costs, memory, runs); ipywidgets is imported only when a panel opens.

    from coditect_magics import widgets
    widgets.chat()          # or %llm panel
    widgets.compare()       # or %llm compare-panel
    widgets.costs()         # or %llm costs --panel
    widgets.memory()        # or %memory panel
    widgets.runs()          # or %agent panel

Each takes an optional `Session` (coditect_magics.session): by default the kernel's, the one the magics run on, so a
panel works on the same ledger, threads, memory, aliases and endpoints."""

from __future__ import annotations

from typing import Any


def chat(session: Any = None, **options: Any) -> Any:
    """A chat with any model or agent, on the magics' threads."""
    from .chat_panel import chat as open_
    return open_(session, **options)


def compare(session: Any = None, **options: Any) -> Any:
    """One prompt to several models, side by side as they stream."""
    from .compare_panel import compare as open_
    return open_(session, **options)


def costs(session: Any = None, **options: Any) -> Any:
    """The ledger: filters, totals, a chart of spend and the budgets."""
    from .costs_panel import costs as open_
    return open_(session, **options)


def memory(session: Any = None, **options: Any) -> Any:
    """Search, add to and forget from memory."""
    from .memory_panel import memory as open_
    return open_(session, **options)


def runs(session: Any = None, **options: Any) -> Any:
    """Agent runs from the ledger, with their calls."""
    from .runs_panel import runs as open_
    return open_(session, **options)


__all__ = ["chat", "compare", "costs", "memory", "runs"]
