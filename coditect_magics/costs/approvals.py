"""Decisions on tools that act, kept on the ledger row of the model call that asked for them: a JSON list of
{tool, call, verdict, by, reason}, so "what did this run do, and who let it" is a query over the same table as
what it cost. The row exists already when its tool calls run, so this is an update of that row."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ledger import Ledger


def note(ledger: "Ledger", call_id: str, decisions: list[dict[str, Any]]) -> None:
    """Add `decisions` to the approvals of call `call_id` (its answered attempt), keeping earlier ones."""
    from sqlalchemy import and_, select, update

    from ..providers.secrets import redact
    from .schema import calls
    where = and_(calls.c.call_id == call_id, calls.c.status != "error")
    _, found = ledger.fetch(select(calls.c.approvals).where(where))
    if not found:
        return
    kept = json.loads(found[-1][0]) if found[-1][0] else []
    value = redact(json.dumps([*kept, *decisions], ensure_ascii=False, default=str))
    writer = ledger._engines()[1]   # the ledger's own write engine: one short transaction, as its inserts
    with writer.begin() as conn:
        conn.execute(update(calls).where(where).values(approvals=value))
