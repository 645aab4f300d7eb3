"""Widget panels (chat, compare, costs, memory, runs); ipywidgets is imported only when a panel opens.

    from coditect_magics import widgets
    widgets.chat()          # or %llm panel
    widgets.compare()       # or %llm compare-panel
    widgets.costs()         # or %llm costs --panel
    widgets.memory()        # or %memory panel
    widgets.runs()          # or %agent panel

Each takes an optional `Services` (what a magic passes: its executor, thread store, memory and settings)."""

from __future__ import annotations

from typing import Any


def chat(services: Any = None, **options: Any) -> Any:
    """A chat with any model or agent, on the magics' threads."""
    from .chat_panel import chat as open_
    return open_(services, **options)


def compare(services: Any = None, **options: Any) -> Any:
    """One prompt to several models, side by side as they stream."""
    from .compare_panel import compare as open_
    return open_(services, **options)


def costs(services: Any = None, **options: Any) -> Any:
    """The ledger: filters, totals, a chart of spend and the budgets."""
    from .costs_panel import costs as open_
    return open_(services, **options)


def memory(services: Any = None, **options: Any) -> Any:
    """Search, add to and forget from memory."""
    from .memory_panel import memory as open_
    return open_(services, **options)


def runs(services: Any = None, **options: Any) -> Any:
    """Agent runs from the ledger, with their calls."""
    from .runs_panel import runs as open_
    return open_(services, **options)


def services(**overrides: Any) -> Any:
    """The defaults panels use (the kernel's executor, thread store, memory), with `overrides` applied."""
    from dataclasses import replace

    from .shared import Services
    return replace(Services.default(), **overrides)


__all__ = ["chat", "compare", "costs", "memory", "runs", "services"]
