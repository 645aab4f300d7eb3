"""Evaluations across models and agents (`%llm eval`): every contestant answers every row of a dataset through
the executor, pydantic-evals runs the cases and scores them, and the result is a summary per contestant whose
tokens and costs are the ledger rows of the run.

    from coditect_magics.evals import evaluate
    result = evaluate(session, df, "df", models=["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"])
    result.summary, result.rows, result.chart_png

pydantic-evals is imported on first use (extra `eval`), never at `%load_ext`."""

from __future__ import annotations

from typing import Any

__all__ = ["evaluate"]


def evaluate(session: Any, data: Any, name: str, **options: Any) -> Any:
    """Run an evaluation on the session (see `evals.notebook.evaluate` for the options); an EvalResult."""
    from .notebook import evaluate as run
    return run(session, data, name, **options)
