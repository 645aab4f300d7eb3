"""Costs: what each call cost, kept in a local ledger and shown as a DataFrame.

    from coditect_magics import costs
    costs.price("anthropic", "claude-sonnet-4-5", usage)     # PriceResult(usd=0.0105, known=True, ...)
    costs.record_call("openai", "gpt-4o", reply.usage, latency_s=reply.latency_s)
    costs.costs(by="model", since=timedelta(days=7))         # a DataFrame, USD-formatted inline with a totals row

Prices come from genai-prices' bundled data (offline); local providers cost 0; an unknown price is NaN with a
flag, never a guess. `set_price` overrides a price. The ledger is SQLite (WAL) at CODITECT_LEDGER or in the user
data dir, or a team's PostgreSQL database when CODITECT_LEDGER is a postgresql:// URL; it never holds an API key
(every text passes `secrets.redact`) nor the prompt unless `set_log_prompts`.

Importing this package is cheap: genai-prices, platformdirs and pandas are imported on first use."""

from __future__ import annotations

from typing import Any, Sequence

from .ledger import (COLUMNS, STATUSES, CallRecord, Ledger, LedgerError, default_ledger, default_path, log_prompts,
                     record_call, session_id, set_ledger, set_log_prompts, set_session)
from .prices import LOCAL_PROVIDERS, PriceResult, clear_prices, price, set_price


def costs(by: str | Sequence[str] | None = None, session: str | None = None, since: Any = None, until: Any = None,
          ledger: "Ledger | str | None" = None, columns: "str | Sequence[str] | None" = None,
          **equals: str | None):
    """The ledger as a pandas DataFrame (a `CostFrame`).

    - `by=None`: one row per call attempt, oldest first: ts (UTC), provider, model, agent, status, input/output/
      cached tokens, cost_usd (float, NaN when the price is unknown), price_known, latency_s, ttft_s,
      error_class, attempt. `columns="all"` adds error_message, session_id, run_id, call_id, parent_call_id, id
      and prompt; `columns=[...]` picks columns.
    - `by="provider" | "model" | "agent" | "day"` (also "session", "status", "run", or a list of keys): one row
      per group with calls, input/output/cached tokens, cost_usd (sum of known costs; NaN when none is known),
      unknown_price (calls with no price), errors, mean_latency_s, mean_ttft_s. "model" groups by the
      `provider:model` id; "day" is the UTC day.
    - Filters: `session` (an id, or "current" for this process's), `since` (inclusive) / `until` (exclusive) as
      datetime (naive = local time), date, ISO text, epoch seconds or a timedelta meaning "that long ago", and
      exact values such as `provider="openai"`, `status="error"`, `run_id=...`.
    - `ledger`: a Ledger, a path or a database URL; default the one `default_ledger()` gives.

    Display: the frame is a DataFrame subclass whose `_repr_html_`/`repr` (so plain `display(df)` and the
    notebook's last-line echo) show costs as USD text ("$0.0105", "unknown") and end with a totals row that also
    counts unknown prices. No Styler or jinja2 is needed. The data itself stays numeric without that row, and
    frames derived from it are plain DataFrames (`pd.DataFrame(df)` gives one too)."""
    from .frame import costs as _costs  # pandas: ~0.3 s, on first use only
    return _costs(by, session, since, until, ledger, columns, **equals)


def __getattr__(name: str) -> Any:
    if name == "CostFrame":
        from .frame import CostFrame
        return CostFrame
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["COLUMNS", "LOCAL_PROVIDERS", "STATUSES", "CallRecord", "CostFrame", "Ledger", "LedgerError", "PriceResult",
           "clear_prices", "costs", "default_ledger", "default_path", "log_prompts", "price", "record_call",
           "session_id", "set_ledger", "set_log_prompts", "set_price", "set_session"]
