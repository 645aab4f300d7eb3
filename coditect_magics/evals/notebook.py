"""An evaluation from what a notebook holds: the data (a DataFrame or a list of dicts), its input and expected
columns, model ids and agent names checked against the session, the scorer and the judge's rubric. Bad input is a
UsageError that says what to write; `evaluate` then runs it on the kit's loop and returns the EvalResult."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from coditect_magics.errors import UsageError

from .run import Contestant, EvalCase

DEFAULT_INPUT, DEFAULT_EXPECTED = "input", "expected"


def cases_of(data: Any, name: str, input_column: str, expected_column: str | None,
             needs_expected: bool) -> tuple[EvalCase, ...]:
    """The rows of a DataFrame (labelled by its index) or of a list of dicts (by position) as cases; a missing
    column says which columns there are. `expected_column` None: the default column, used when present."""
    records, columns = _records(data, name)
    if not records:
        raise UsageError(f"{name} has no rows to evaluate")
    if input_column not in columns:
        raise UsageError(f"{name} has no column {input_column!r} (columns: {', '.join(map(str, columns))}); "
                         f"name the prompts' column with --input COL")
    expected = expected_column or DEFAULT_EXPECTED
    if expected not in columns:
        if expected_column is not None or needs_expected:
            raise UsageError(f"{name} has no column {expected!r} (columns: {', '.join(map(str, columns))}); name "
                             f"the answers' column with --expected COL")
        expected = None
    return tuple(EvalCase(label, str(record[input_column]), _text(record.get(expected)) if expected else None)
                 for label, record in records)


def _records(data: Any, name: str) -> tuple[list[tuple[Any, Mapping[str, Any]]], list[Any]]:
    if hasattr(data, "columns") and hasattr(data, "to_dict"):
        return list(zip(data.index, data.to_dict("records"))), list(data.columns)
    if isinstance(data, (list, tuple)) and all(isinstance(r, Mapping) for r in data):
        columns = list(dict.fromkeys(key for record in data for key in record))
        return list(enumerate(data)), columns
    raise UsageError(f"{name} is a {type(data).__name__}: give a DataFrame or a list of dicts")


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def contestants(session: Any, models: Sequence[str], agents: Sequence[str]) -> tuple[Contestant, ...]:
    """Models (aliases resolved, an unknown provider refused) and agents (with their binding, tools and skills)."""
    from coditect_magics.session import tool_names
    found = [Contestant(m, "model", checked_model(session, m)) for m in models]
    for name in agents:
        try:
            agent = session.resolve_agent(name)
            definition = session.agents.get(name)
        except LookupError as exc:
            raise UsageError(f"{str(exc).splitlines()[0]}; `%agent list` shows the agents") from None
        found.append(Contestant(name, "agent", agent.model_id, agent,
                                session.tools_for(agent, tool_names(None, definition))))
    if not found:
        raise UsageError("nothing to evaluate: name models with --models a,b and/or agents with --agents x,y")
    names = [c.name for c in found]
    if len(set(names)) < len(names):
        raise UsageError(f"a contestant is named twice in {', '.join(names)}")
    return tuple(found)


def checked_model(session: Any, model: str) -> str:
    """The model id a name resolves to; an unknown one says how to list the known ones."""
    from coditect_magics.providers import errors
    try:
        return session.check(model)
    except errors.ProviderError as exc:
        raise UsageError(f"unknown model {model!r} ({exc}); `%llm list` shows the providers") from None


def rubric_of(value: str | None, namespace: Mapping[str, Any]) -> str:
    """--rubric: a notebook variable holding text, else the text itself; none: the default rubric."""
    from .scorers import RUBRIC
    if value is None:
        return RUBRIC
    held = namespace.get(value.strip())
    return held if isinstance(held, str) else value


def evaluate(session: Any, data: Any, name: str, *, models: Sequence[str] = (), agents: Sequence[str] = (),
             input_column: str = DEFAULT_INPUT, expected_column: str | None = None, scorer: str | None = None,
             repeat: int = 1, rubric: str | None = None, concurrency: int = 8) -> Any:
    """Run the evaluation on the session (its executor, ledger and agents); the EvalResult. `scorer` None:
    exact, which needs the expected column."""
    from coditect_magics import bridge

    from . import run as running
    from .scorers import evaluator, parse_scorer
    from .summary import summarize
    if repeat < 1 or concurrency < 1:
        raise UsageError("--repeat and --concurrency must be at least 1")
    spec = parse_scorer(scorer or "exact")
    cases = cases_of(data, name, input_column, expected_column, spec.needs_expected)
    chosen = contestants(session, models, agents)
    executor, params, run_id = session.executor, dict(session.settings.params()), running.new_run_id()
    text = rubric_of(rubric, session.namespace) if spec.kind == "judge" else None
    ask = None
    if spec.kind == "judge":
        judge = checked_model(session, spec.argument)
        ask = running.judge_asker(executor, judge, running.judge_run_id(run_id), params)
    schema = _schema(spec.argument, session.namespace) if spec.kind == "schema" else None
    # repeats are samples: with --repeat the cache is off, so a repeat is never the first answer again
    plan = running.EvalRun(cases, chosen, evaluator(spec, schema=schema, rubric=text or "", ask=ask), repeat,
                           concurrency, params, False if repeat > 1 else None, run_id)
    runner = session.runner(stream=True) if agents else None
    attempts = bridge.run(running.run_eval(executor, plan, runner=runner))
    return summarize(attempts, plan, executor.ledger, str(spec), text)


def _schema(name: str, namespace: Mapping[str, Any]) -> Any:
    """The schema a `schema:NAME` scorer validates against: a pydantic model, TypedDict or JSON-schema dict."""
    from coditect_magics.structured import resolve_schema
    return resolve_schema(name, namespace)
