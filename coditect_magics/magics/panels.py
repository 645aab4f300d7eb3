"""The magics' doors to the widget panels: `%llm panel`, `%llm compare-panel`, `%llm costs --panel`, `%memory panel`,
`%agent panel`. Each panel gets this kernel's services (executor, threads, memory, settings) so it works on the same
ledger, threads and endpoints as the magics."""

from __future__ import annotations

from typing import Any

from . import conversation


def services(magics: Any) -> Any:
    """The services a panel calls, taken from the magics' own settings and stores."""
    from coditect_magics.widgets.shared import Services

    from .memory import settled
    return Services(magics.executor, conversation.store(magics), conversation.notebook_of(magics),
                    memory=lambda: settled(magics), namespace=magics.shell.user_ns,
                    default_model=magics.default_model, aliases=dict(magics.aliases),
                    provider_settings={p: {"base_url": url} for p, url in magics.base_urls.items()},
                    agent_dirs=tuple(magics.agent_dirs), bindings_path=magics.bindings_path,
                    max_history_tokens=magics.max_history_tokens)


def chat(magics: Any, words: list[str]) -> Any:
    from coditect_magics import widgets
    return widgets.chat(services(magics), thread=magics.current_thread or conversation.MAIN)


def compare(magics: Any, words: list[str]) -> Any:
    from coditect_magics import widgets
    return widgets.compare(services(magics))


def costs(magics: Any) -> Any:
    from coditect_magics import widgets
    return widgets.costs(services(magics))


def memory(magics: Any) -> Any:
    from coditect_magics import widgets
    return widgets.memory(services(magics))


def runs(magics: Any) -> Any:
    """The runs panel on this kernel's agent traces (tool calls, delegations) and the ledger's other runs."""
    from coditect_magics import widgets
    from coditect_magics.widgets.runs_panel import from_ledger, from_traces, merged
    kit = services(magics)
    return widgets.runs(kit, source=lambda: merged(from_traces(getattr(magics, "_traces", [])),
                                                    from_ledger(kit.executor.ledger)))
