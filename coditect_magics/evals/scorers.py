"""The scorers of `%llm eval` as pydantic-evals evaluators: `exact`, `contains`, `regex:PATTERN`, `json`,
`schema:NAME` and `judge:MODEL` (an LLM grading each answer by a rubric, its calls in the ledger under agent
`eval:judge`). Each gives a score of 0 or 1 with a reason; an answer that failed scores 0 without being judged."""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from pydantic_evals.evaluators import EvaluationReason, Evaluator, EvaluatorContext

from coditect_magics.errors import UsageError
from coditect_magics.structured import unfenced

JUDGE_AGENT = "eval:judge"
KINDS = ("exact", "contains", "regex:PATTERN", "json", "schema:NAME", "judge:MODEL")
# what the judge is told; shown with the results and replaced with --rubric
RUBRIC = ("You grade one answer to a question. Judge whether the answer is correct and answers the question; "
          "when a reference answer is given, the answer must agree with it in substance (wording may differ). "
          "Reply with PASS or FAIL as your first word, then one sentence saying why.")
SCORE = "score"   # the name the score carries in pydantic-evals' report


def _verdict(ok: bool, why: str) -> EvaluationReason:
    return EvaluationReason(1.0 if ok else 0.0, why)


@dataclass(repr=False)
class Scorer(Evaluator):
    """Base of the kit's scorers: an answer that errored scores 0 (and costs no judge call); the others are scored
    by `score(ctx)`, and every score is reported under one name."""

    async def evaluate(self, ctx: EvaluatorContext) -> EvaluationReason:
        error = ctx.attributes.get("error")
        if error:
            return EvaluationReason(0.0, f"no answer: {error}")
        scored = self.score(ctx)
        return await scored if inspect.isawaitable(scored) else scored

    def score(self, ctx: EvaluatorContext) -> EvaluationReason | Awaitable[EvaluationReason]:
        raise NotImplementedError

    def get_default_evaluation_name(self) -> str:
        return SCORE


@dataclass(repr=False)
class Exact(Scorer):
    """The answer equals the expected text once surrounding whitespace is stripped (case counts)."""

    def score(self, ctx: EvaluatorContext) -> EvaluationReason:
        ok = str(ctx.output).strip() == str(ctx.expected_output).strip()
        return _verdict(ok, "equal" if ok else "differs from the expected text")


@dataclass(repr=False)
class Contains(Scorer):
    """The expected text occurs in the answer, ignoring case."""

    def score(self, ctx: EvaluatorContext) -> EvaluationReason:
        ok = str(ctx.expected_output).strip().casefold() in str(ctx.output).casefold()
        return _verdict(ok, "contains the expected text" if ok else "the expected text is missing")


@dataclass(repr=False)
class Matches(Scorer):
    """The pattern is found in the answer (re.search)."""

    pattern: str = ""

    def score(self, ctx: EvaluatorContext) -> EvaluationReason:
        ok = re.search(self.pattern, str(ctx.output)) is not None
        return _verdict(ok, f"matches {self.pattern!r}" if ok else f"no match for {self.pattern!r}")


@dataclass(repr=False)
class ParsesAsJson(Scorer):
    """The answer is JSON (a Markdown code fence around it is allowed, as models often add one)."""

    def score(self, ctx: EvaluatorContext) -> EvaluationReason:
        try:
            json.loads(unfenced(str(ctx.output)))
        except ValueError as exc:
            return _verdict(False, f"not JSON: {exc}")
        return _verdict(True, "parses as JSON")


@dataclass(repr=False)
class FitsSchema(Scorer):
    """The answer validates against a schema (`validate(text)` raises when it does not)."""

    name: str = ""
    validate: Callable[[str], Any] = field(default=lambda text: None)

    def score(self, ctx: EvaluatorContext) -> EvaluationReason:
        try:
            self.validate(unfenced(str(ctx.output)))
        except Exception as exc:  # noqa: BLE001 - any validation failure is the row's reason
            return _verdict(False, f"does not fit {self.name}: {' '.join(str(exc).split())[:200]}")
        return _verdict(True, f"fits {self.name}")


@dataclass(repr=False)
class Judge(Scorer):
    """A model grades the answer by the rubric: PASS scores 1, anything else 0; the judge's one sentence is the
    reason. `ask(messages)` makes the call (through the executor, attributed to `eval:judge`)."""

    model: str = ""
    rubric: str = RUBRIC
    ask: Callable[[list[Any]], Any] | None = None

    async def score(self, ctx: EvaluatorContext) -> EvaluationReason:
        from coditect_magics.providers.types import Message
        reference = f"Reference answer:\n{ctx.expected_output}\n\n" if ctx.expected_output is not None else ""
        question = f"Question:\n{ctx.inputs}\n\n{reference}Answer to grade:\n{ctx.output}"
        assert self.ask is not None, "a judge needs its ask function"
        verdict = (await self.ask([Message("system", self.rubric), Message("user", question)])).strip()
        ok = verdict.split(maxsplit=1)[0].strip("*:.,").upper() == "PASS" if verdict else False
        return _verdict(ok, verdict[:300] or "the judge said nothing")


@dataclass(frozen=True)
class ScorerSpec:
    """A parsed `--scorer`: its kind and its argument (the pattern, schema name or judge model)."""

    kind: str
    argument: str = ""

    @property
    def needs_expected(self) -> bool:
        return self.kind in ("exact", "contains")

    def __str__(self) -> str:
        return f"{self.kind}:{self.argument}" if self.argument else self.kind


def parse_scorer(text: str) -> ScorerSpec:
    """`exact`, `contains`, `json`, `regex:PATTERN`, `schema:NAME` or `judge:MODEL` (MODEL may hold colons)."""
    kind, colon, argument = text.strip().partition(":")
    if kind in ("exact", "contains", "json") and not colon:
        return ScorerSpec(kind)
    if kind in ("regex", "schema", "judge") and argument:
        if kind == "regex":
            try:
                re.compile(argument)
            except re.error as exc:
                raise UsageError(f"--scorer regex:{argument} is not a valid pattern ({exc})") from None
        return ScorerSpec(kind, argument)
    raise UsageError(f"unknown scorer {text!r}; use one of {', '.join(KINDS)}")


def evaluator(spec: ScorerSpec, *, schema: Any = None, rubric: str = RUBRIC,
              ask: Callable[[list[Any]], Any] | None = None) -> Evaluator:
    """The evaluator for a scorer; `schema` (with `.validate(text)`) for schema:NAME, `ask` for judge:MODEL."""
    if spec.kind == "exact":
        return Exact()
    if spec.kind == "contains":
        return Contains()
    if spec.kind == "regex":
        return Matches(spec.argument)
    if spec.kind == "json":
        return ParsesAsJson()
    if spec.kind == "schema":
        return FitsSchema(spec.argument, schema.validate)
    return Judge(spec.argument, rubric, ask)
