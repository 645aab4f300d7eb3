"""The magics' doors to the widget panels: `%llm panel`, `%llm compare-panel`, `%llm costs --panel`, `%memory panel`,
`%agent panel`. Each panel gets this kernel's session, so it works on the same ledger, threads, memory, aliases
and endpoints as the magics."""

from __future__ import annotations

from typing import Any

from coditect_magics.session import MAIN, Session


def chat(session: Session, words: list[str]) -> Any:
    from coditect_magics import widgets
    return widgets.chat(session, thread=session.current_thread or MAIN)


def compare(session: Session, words: list[str]) -> Any:
    from coditect_magics import widgets
    return widgets.compare(session)


def costs(session: Session, words: list[str]) -> Any:
    from coditect_magics import widgets
    return widgets.costs(session)


def memory(session: Session, words: list[str]) -> Any:
    from coditect_magics import widgets
    return widgets.memory(session)


def runs(session: Session, words: list[str]) -> Any:
    """The runs panel on this kernel's agent traces (tool calls, delegations) and the ledger's other runs."""
    from coditect_magics import widgets
    return widgets.runs(session)
