"""The ledger as a pandas DataFrame that reads well inline (imports pandas, so it is imported on first use)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from coditect_magics.text import usd

from .ledger import Ledger

# Raw rows in reading order: what happened first, identifiers last. READING_COLUMNS is what `costs()` shows
# unless asked for `columns="all"`: what a person reads inline (and each column fetched costs time).
ALL_COLUMNS = ("ts", "provider", "model", "agent", "status", "input_tokens", "output_tokens", "cached_tokens",
               "cost_usd", "price_known", "latency_s", "ttft_s", "error_class", "attempt", "memory_items",
               "key_name",  # which of the provider's keys the call spent (its name, never the key)
               "price_basis",  # "batch" or "batch-discount" for a batch request; empty at the standard rate
               "error_message",
               "session_id", "run_id", "batch_id", "call_id", "parent_call_id", "id", "prompt")
READING_COLUMNS = ALL_COLUMNS[:ALL_COLUMNS.index("error_message")]
INT_COLUMNS = {"input_tokens", "output_tokens", "cached_tokens", "attempt", "memory_items", "calls", "unknown_price", "errors"}
FLOAT_COLUMNS = {"cost_usd", "latency_s", "ttft_s", "mean_latency_s", "mean_ttft_s"}

#: `costs(by=...)` keys. "model" groups by the kit's full `provider:model` id; "day" is the UTC day.
GROUP_KEYS = ("provider", "model", "agent", "day", "session", "status", "run")


def _groups() -> dict[str, Any]:
    """The SQLAlchemy expression each `by=` key groups on (built on use: SQLAlchemy loads with the ledger)."""
    from sqlalchemy import func, literal
    from .schema import calls, utc_day
    c = calls.c
    return {"provider": c.provider, "model": c.provider + literal(":") + c.model,
            "agent": func.coalesce(c.agent, "(none)"), "day": utc_day(c.ts),  # a day number: dates come in pandas
            "session": c.session_id, "status": c.status, "run": func.coalesce(c.run_id, "(none)")}


def _aggregates() -> list[Any]:
    """What each group sums up, in plain SQL functions every database has (no boolean sums, which PostgreSQL lacks)."""
    from sqlalchemy import case, func
    from .schema import calls
    c = calls.c

    def how_many(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return [func.count().label("calls"), func.sum(c.input_tokens).label("input_tokens"),
            func.sum(c.output_tokens).label("output_tokens"), func.sum(c.cached_tokens).label("cached_tokens"),
            func.sum(c.cost_usd).label("cost_usd"), how_many(c.price_known == 0).label("unknown_price"),
            how_many(c.status == "error").label("errors"), func.avg(c.latency_s).label("mean_latency_s"),
            func.count(c.latency_s).label("_latencies"), func.avg(c.ttft_s).label("mean_ttft_s"),
            func.count(c.ttft_s).label("_ttfts")]


class CostFrame(pd.DataFrame):
    """A DataFrame of ledger rows or aggregates whose inline display (HTML and text) formats costs as USD and
    ends with a totals row. The data itself stays numeric with no totals row: `cost_usd` is a float (NaN when
    the price is unknown), so sums and plots work; frames derived from it (filters, sorts) are plain DataFrames."""

    @property
    def _constructor(self):  # derived frames are ordinary DataFrames: the display is for this result only
        return pd.DataFrame

    def totals(self) -> dict[str, Any]:
        """The totals row: sums of counts, tokens and known costs; latency means weighted by calls."""
        out: dict[str, Any] = {}
        for col in self.columns:
            series = self[col]
            if col in INT_COLUMNS and col != "attempt":
                out[col] = int(series.sum())
            elif col == "cost_usd":
                out[col] = float(series.sum(min_count=1)) if series.notna().any() else math.nan
            elif col in ("latency_s", "ttft_s"):
                out[col] = float(series.mean()) if series.notna().any() else math.nan
            elif col in ("mean_latency_s", "mean_ttft_s"):
                weights = self.attrs.get("_counts", {}).get(col)
                w = pd.Series(weights, index=self.index) if weights is not None else pd.Series(1, index=self.index)
                ok = series.notna() & (w > 0)
                out[col] = float((series[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else math.nan
            else:
                out[col] = ""
        if "price_known" in self.columns:  # raw rows: say how many had no price
            unknown = int((~self["price_known"].astype(bool)).sum())
            out["price_known"] = f"{unknown} unknown" if unknown else ""
        return out

    def display_frame(self) -> pd.DataFrame:
        """A copy for the eyes only: USD text, rounded seconds, UTC times, and the totals row. A frame longer than
        pandas' `display.max_rows` shows its first and last `display.min_rows` rows around a "…" row (only
        those rows are formatted, so a 100,000-row frame displays at once)."""
        total = self.totals()
        label = "total" if "calls" in self.columns else f"total ({len(self):,} calls)"
        unknown = int(total.get("unknown_price") or 0)
        if "price_known" in self.columns:
            unknown = int((~self["price_known"].astype(bool)).sum())
        max_rows = pd.get_option("display.max_rows")
        cut = bool(max_rows) and len(self) > max_rows
        if cut:
            half = max(1, (pd.get_option("display.min_rows") or max_rows) // 2)
            frame = pd.DataFrame(pd.concat([self.iloc[:half], self.iloc[-half:]]), copy=True)
        else:
            frame = pd.DataFrame(self, copy=True)
        if "cost_usd" in frame.columns:
            frame["cost_usd"] = [usd(v) for v in frame["cost_usd"].tolist()]
            total["cost_usd"] = usd(total["cost_usd"]) + (f" + {unknown} unknown"
                                                          if unknown and not math.isnan(total["cost_usd"]) else "")
        for col in FLOAT_COLUMNS - {"cost_usd"}:
            if col in frame.columns:
                frame[col] = [("" if math.isnan(v) else f"{v:.3f}") for v in frame[col].tolist()]
                total[col] = "" if math.isnan(total[col]) else f"{total[col]:.3f}"
        if "ts" in frame.columns:
            frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(frame.index, pd.DatetimeIndex):
            frame.index = frame.index.strftime("%Y-%m-%d")
        frame = frame.astype(object).where(frame.notna(), "")
        extra = [pd.DataFrame([total], index=[label], columns=frame.columns).astype(object)]
        if cut:
            extra.insert(0, pd.DataFrame([["…"] * len(frame.columns)], index=["…"], columns=frame.columns))
        if isinstance(frame.index, pd.MultiIndex):
            for part in extra:
                part.index = pd.MultiIndex.from_tuples([(part.index[0],) + ("",) * (frame.index.nlevels - 1)])
        if cut:
            frame = pd.concat([frame.iloc[:half], extra[0], frame.iloc[half:]])
            extra = extra[1:]
        shown = pd.concat([frame, *extra]) if len(frame) else extra[-1]
        shown.index.names = self.index.names
        return shown

    def _repr_html_(self) -> str | None:
        shown = self.display_frame()
        with pd.option_context("display.show_dimensions", False):  # the totals label gives the count
            return shown._repr_html_()

    def __repr__(self) -> str:
        shown = self.display_frame()
        with pd.option_context("display.show_dimensions", False):
            return repr(shown)


def _column(name: str, values: np.ndarray) -> Any:
    """A typed column from an object array of database values."""
    if name in ("ts", "day") or name in FLOAT_COLUMNS:
        return values.astype("float64")  # None -> NaN
    if name in INT_COLUMNS or name.startswith("_"):
        return values.astype("int64")
    if name == "price_known":
        return values.astype(bool)
    return pd.Series(values, dtype="str").array  # None -> NaN


def _frame(names: list[str], rows: list[tuple[Any, ...]]) -> CostFrame:
    table = np.array(rows, dtype=object).reshape(len(rows), len(names))  # one C pass over the row tuples
    data = {name: _column(name, table[:, i]) for i, name in enumerate(names)}
    if "ts" in data:
        ts = data["ts"]
        if len(ts) > 1 and (ts[1:] < ts[:-1]).any():  # rows come in storage order; sort only when needed
            order = np.argsort(ts, kind="stable")
            data = {name: values.take(order) for name, values in data.items()}
        data["ts"] = pd.to_datetime(data["ts"], unit="s", utc=True)
    return CostFrame(data, columns=names)


def _raw_columns(columns: str | Sequence[str] | None) -> tuple[str, ...]:
    if columns is None:
        return READING_COLUMNS
    if columns == "all":
        return ALL_COLUMNS
    chosen = (columns,) if isinstance(columns, str) else tuple(columns)
    unknown = [c for c in chosen if c not in ALL_COLUMNS]
    if unknown or not chosen:
        raise ValueError(f"costs(columns=...) takes None, 'all' or names among {', '.join(ALL_COLUMNS)}; "
                         f"got {columns!r}")
    return chosen


def costs(by: str | Sequence[str] | None = None, session: str | None = None, since: Any = None, until: Any = None,
          ledger: Ledger | str | None = None, columns: str | Sequence[str] | None = None,
          **equals: str | None) -> CostFrame:
    """The ledger as a DataFrame (see `coditect_magics.costs.costs`)."""
    from sqlalchemy import select
    from .ledger import as_ledger
    from .schema import calls, where
    led = as_ledger(ledger)
    conditions = where(session, since, until, **equals)
    if by is None:
        # storage order (≈ time order) then a stable sort in numpy: far cheaper than walking the ts index
        names, rows = led.fetch(select(*(calls.c[c] for c in _raw_columns(columns))).where(*conditions))
        return _frame(names, rows)
    if columns is not None:
        raise ValueError("costs(columns=...) picks raw-row columns; aggregates (by=...) have their own")
    keys = [by] if isinstance(by, str) else list(by)
    unknown = [k for k in keys if k not in GROUP_KEYS]
    if unknown or not keys:
        raise ValueError(f"costs(by=...) takes {', '.join(map(repr, GROUP_KEYS))} (or a list of them), got {by!r}")
    groups = _groups()
    exprs = [groups[k] for k in keys]
    names, rows = led.fetch(select(*(e.label(k) for k, e in zip(keys, exprs)), *_aggregates())
                            .where(*conditions).group_by(*exprs))
    raw = _frame(names, rows)
    if "day" in keys:
        raw["day"] = pd.to_datetime(raw["day"].astype("int64") * 86400, unit="s")
    # sorted here, not in SQL: string order is the same in pandas whatever the database's collation
    raw = raw.sort_values(keys, kind="stable", ignore_index=True)
    counts = {"mean_latency_s": raw.pop("_latencies").tolist(), "mean_ttft_s": raw.pop("_ttfts").tolist()}
    frame = CostFrame(raw.set_index(keys))
    frame.attrs["_counts"] = counts
    return frame
