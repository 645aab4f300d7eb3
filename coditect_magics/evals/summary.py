"""An evaluation's result: a summary DataFrame (one row per contestant: score mean with its 95% interval, passes,
errors, latency and time-to-first-token percentiles, tokens and cost from the ledger rows of the run, cost per
correct answer), the per-answer frame, and a chart of score against cost as PNG bytes (matplotlib's Agg canvas,
offline, leaving pyplot's state alone)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any, Sequence

from .run import Attempt, EvalRun, ledger_totals

Z95 = 1.959963984540054   # the normal quantile of a two-sided 95% interval
ROW_COLUMNS = ["contestant", "row", "repeat", "input", "expected", "output", "score", "passed", "reason", "error",
               "latency_s", "ttft_s", "calls", "input_tokens", "output_tokens", "cost_usd", "run_id"]


@dataclass(frozen=True, eq=False)
class EvalResult:
    """What `%llm eval` keeps in `_eval`: `summary` (indexed by contestant), `rows` (one per answer), the run id
    its ledger rows carry (`run_id/...`), the scorer, the judge's rubric, calls and cost (not in the contestants'
    costs) and the chart's PNG. It shows as its summary."""

    summary: Any
    rows: Any
    run_id: str
    scorer: str
    rubric: str | None
    judge_calls: int
    judge_cost_usd: float
    chart_png: bytes

    def __repr__(self) -> str:
        return self.summary.to_string()

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()


def wilson(passes: float, n: int) -> tuple[float, float]:
    """The Wilson score interval (95%) of a pass rate: sound at 0, 1 and small n, where the normal one is not."""
    if n == 0:
        return math.nan, math.nan
    p, z2 = passes / n, Z95 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize(attempts: Sequence[Attempt], spec: EvalRun, ledger: Any, scorer: str, rubric: str | None) -> EvalResult:
    """The result of a finished evaluation, its costs and tokens read from the ledger rows of its run."""
    import pandas as pd
    totals = ledger_totals(ledger, spec.run_id)
    rows = pd.DataFrame([_row(a, totals.get(a.run_id, (0, 0, 0, 0.0, 0))) for a in attempts], columns=ROW_COLUMNS)
    summary = pd.DataFrame([_line(k, c, rows, totals, spec.run_id) for k, c in enumerate(spec.contestants)])
    summary = summary.set_index("contestant")
    judge = totals.get(spec.judge_run_id, (0, 0, 0, 0.0, 0))
    return EvalResult(summary, rows, spec.run_id, scorer, rubric, judge[0], judge[3], chart(summary))


def _row(attempt: Attempt, total: tuple[int, int, int, float, int]) -> dict[str, Any]:
    calls, tokens_in, tokens_out, usd, unknown = total
    return {**attempt.__dict__, "passed": attempt.score >= 1.0, "calls": calls, "input_tokens": tokens_in,
            "output_tokens": tokens_out, "cost_usd": usd if not unknown else math.nan}


def _line(k: int, contestant: Any, rows: Any, totals: dict[str, Any], run_id: str) -> dict[str, Any]:
    """One contestant's summary; its tokens and cost are the sums of the ledger rows under `run_id/k/`."""
    mine = rows[rows["contestant"] == contestant.name]
    answered = mine[mine["error"].isna()]
    prefix = f"{run_id}/{k}/"
    ledger = [t for rid, t in totals.items() if rid.startswith(prefix)]
    passes = int(mine["passed"].sum())
    low, high = wilson(mine["score"].sum(), len(mine))
    cost = sum(t[3] for t in ledger)
    return {
        "contestant": contestant.name, "kind": contestant.kind, "model": contestant.model, "answers": len(mine),
        "score": mine["score"].mean() if len(mine) else math.nan, "score_low": low, "score_high": high,
        "passes": passes, "errors": int(mine["error"].notna().sum()),
        "latency_p50_s": answered["latency_s"].quantile(0.5), "latency_p95_s": answered["latency_s"].quantile(0.95),
        "ttft_p50_s": answered["ttft_s"].astype(float).median(),
        "input_tokens": sum(t[1] for t in ledger), "output_tokens": sum(t[2] for t in ledger),
        "cost_usd": cost, "unpriced_calls": sum(t[4] for t in ledger),
        "cost_per_correct_usd": cost / passes if passes else math.nan,
    }


def chart(summary: Any) -> bytes:
    """Score (with its 95% interval) against cost, one labelled point per contestant, as PNG bytes."""
    from matplotlib.figure import Figure
    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    axes = figure.subplots()
    costs = summary["cost_usd"].fillna(0.0)
    scores = summary["score"].fillna(0.0)
    below = (scores - summary["score_low"].fillna(scores)).clip(lower=0)
    above = (summary["score_high"].fillna(scores) - scores).clip(lower=0)
    axes.errorbar(costs, scores, yerr=[below, above], fmt="o", capsize=4)
    for name, x, y in zip(summary.index, costs, scores):
        axes.annotate(str(name), (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8)
    axes.set_xlabel("cost (USD, from the ledger)")
    axes.set_ylabel("score (mean, 95% interval)")
    axes.set_ylim(-0.05, 1.1)
    axes.set_title("Score against cost")
    axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
