"""The `%llm eval` front: parse the line, find the data in the notebook, call `evals.evaluate`, show the judge's
rubric (when there is a judge), the chart of score against cost and the summary; `_eval` (and `-o VAR`) keep the
EvalResult (`.summary`, `.rows`, `.run_id`, `.chart_png`)."""

from __future__ import annotations

import shlex
from typing import Any, Sequence

from coditect_magics.session import Session

from .args import UsageError, _Parser

USAGE = ("%llm eval DATA --models a,b [--agents x,y] [--input COL] [--expected COL] "
         "[--scorer exact|contains|regex:PATTERN|json|schema:NAME|judge:MODEL] [--repeat N] [--rubric TEXT_OR_VAR] "
         "[--concurrency N] [-o VAR]")


def names_contestants(session: Session, words: Sequence[str]) -> bool:
    """Whether an `%llm eval ...` line is this subcommand (it names models or agents), not a prompt about eval."""
    return any(word.split("=", 1)[0] in ("--models", "--agents") for word in words)


def run_eval(session: Session, words: Sequence[str]) -> Any:
    """`%llm eval DATA --models a,b ...`: the EvalResult (shown as its summary), after the rubric and chart."""
    from IPython.display import Image, Markdown, display

    from coditect_magics.context import lookup
    from coditect_magics.evals import evaluate

    from .output import show_error
    args = _parse(words[0] if words else "")
    try:
        data = lookup(args.data, session.namespace)
    except LookupError:
        raise UsageError(f"no variable {args.data!r} in the notebook: give a DataFrame or a list of dicts") from None
    result = evaluate(session, data, args.data, models=_names(args.models), agents=_names(args.agents),
                      input_column=args.input, expected_column=args.expected, scorer=args.scorer,
                      repeat=args.repeat, rubric=args.rubric, concurrency=args.concurrency)
    if result.rubric is not None:
        display(Markdown(f"**judge** `{result.scorer.partition(':')[2]}` · {result.judge_calls} calls · "
                         f"${result.judge_cost_usd:.4f} (agent `eval:judge`, not in the costs below) · rubric "
                         f"(change it with `--rubric TEXT_OR_VAR`):\n\n> {result.rubric}"))
    display(Image(data=result.chart_png, format="png"))
    errors = int(result.summary["errors"].sum())
    if errors:
        show_error(f"{errors} of {len(result.rows)} answers failed; `_eval.rows[_eval.rows.error.notna()]` "
                   "shows why")
    session.namespace["_eval"] = result
    if args.out:
        session.namespace[args.out] = result
    return result


def _names(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _parse(line: str) -> Any:
    from coditect_magics.evals.notebook import DEFAULT_INPUT
    parser = _Parser(prog="%llm eval", add_help=False)
    parser.add_argument("data")
    parser.add_argument("--models")
    parser.add_argument("--agents")
    parser.add_argument("--input", default=DEFAULT_INPUT)
    parser.add_argument("--expected")
    parser.add_argument("--scorer")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--rubric")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("-o", "--out")
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split, lexer.escape = True, ""   # a backslash stays: regex:\d+ means what it says
    try:
        return parser.parse_args(list(lexer))
    except UsageError as exc:
        raise UsageError(f"{exc}; write {USAGE}") from None
    except ValueError as exc:
        raise UsageError(f"cannot read the line ({exc}); write {USAGE}") from None
