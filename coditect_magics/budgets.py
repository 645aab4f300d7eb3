"""Spend limits in USD: per session, per agent and overall. A call that would start past a limit is refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


class BudgetExceeded(Exception):
    """Raised before a call starts when spend has reached a limit; names the limit and the spend so far."""

    def __init__(self, scope: str, limit: float, spent: float) -> None:
        self.scope, self.limit, self.spent = scope, limit, spent
        super().__init__(f"{scope} budget of ${limit:.4f} reached: ${spent:.4f} spent so far; "
                         f"raise the limit or start a new session")


@dataclass(frozen=True)
class Budgets:
    session_usd: float | None = None
    agent_usd: float | None = None
    total_usd: float | None = None

    def check(self, spend: Callable[..., float], session_id: str, agent: str | None,
              agent_limit: float | None = None) -> None:
        """Raise BudgetExceeded if any configured limit is already reached. `spend(session=, agent=)` sums the ledger;
        `agent_limit` (an agent's own budget, from its binding) replaces the general per-agent one."""
        if self.session_usd is not None:
            spent = spend(session=session_id)
            if spent >= self.session_usd:
                raise BudgetExceeded("session", self.session_usd, spent)
        limit = agent_limit if agent_limit is not None else self.agent_usd
        if limit is not None and agent:
            spent = spend(agent=agent)
            if spent >= limit:
                raise BudgetExceeded(f"agent {agent!r}", limit, spent)
        if self.total_usd is not None:
            spent = spend()
            if spent >= self.total_usd:
                raise BudgetExceeded("overall", self.total_usd, spent)
