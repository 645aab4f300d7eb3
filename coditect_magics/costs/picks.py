"""A choice among compared answers, kept in the ledger: a zero-cost row whose `agent` is `compare:pick` and whose
`parent_call_id` is the chosen call, so "which model won" is a query over the same table as what it cost."""

from __future__ import annotations

from typing import Any

from .ledger import CallRecord

PICK_AGENT = "compare:pick"   # the ledger's `agent` on the row that records a choice


def pick_row(call_id: str, *, provider: str, model: str, **fields_: Any) -> CallRecord:
    """The row recording that call `call_id` (by `provider`/`model`) gave the best answer; other CallRecord fields
    (session_id, run_id, latency_s, ttft_s…) as given."""
    return CallRecord(provider=provider, model=model, agent=PICK_AGENT, cost_usd=0.0, price_known=True,
                      parent_call_id=call_id, **fields_)
