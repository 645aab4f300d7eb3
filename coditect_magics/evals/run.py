"""Running an evaluation: every contestant (a model, or an agent with its tools and skills) answers every case
`repeat` times, concurrently, through the executor (fan-out, cache, budgets, rate limits, a ledger row per
call). pydantic-evals' Dataset runs the cases, their repeats and the scorer; each answer's calls carry a run id
under the evaluation's own (`EVAL/k/ATTEMPT`), so the ledger rows of the whole evaluation, of a contestant and of
one answer can be summed."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from coditect_magics.executor import CallContext
from coditect_magics.providers.types import Message


@dataclass(frozen=True)
class Contestant:
    """Who answers: a model id (`kind` "model") or a resolved agent run with `tools` (None: its default set)."""

    name: str
    kind: str
    model: str
    agent: Any = None
    tools: Any = None


@dataclass(frozen=True)
class EvalCase:
    """One row of the data: its label (the DataFrame index, or the position in a list), input and expected."""

    label: Any
    input: str
    expected: str | None = None


@dataclass(frozen=True)
class Attempt:
    """One answer of one contestant to one case (of `repeat` tries), scored; times in seconds."""

    contestant: str
    row: Any
    repeat: int
    input: str
    expected: str | None
    output: str
    score: float
    reason: str
    error: str | None
    latency_s: float
    ttft_s: float | None
    run_id: str


@dataclass(frozen=True)
class EvalRun:
    """What an evaluation asked for: the cases, the contestants, the scorer (a pydantic-evals Evaluator), how
    often and how many at once, the sampling parameters and the cache override (None: the executor's policy)."""

    cases: tuple[EvalCase, ...]
    contestants: tuple[Contestant, ...]
    evaluator: Any
    repeat: int = 1
    concurrency: int = 8
    params: Mapping[str, Any] = field(default_factory=dict)
    cache: bool | None = None
    run_id: str = field(default_factory=lambda: new_run_id())

    @property
    def judge_run_id(self) -> str:
        """The run id the judge's calls carry."""
        return judge_run_id(self.run_id)


def new_run_id() -> str:
    """An evaluation's own run id; its answers' calls carry ids under it."""
    return f"eval-{uuid.uuid4().hex[:16]}"


def judge_run_id(run_id: str) -> str:
    """The run id of an evaluation's judge calls: under the evaluation's, beside its contestants' `run_id/k/...`."""
    return f"{run_id}/judge"


async def run_eval(executor: Any, spec: EvalRun, *, runner: Any = None) -> list[Attempt]:
    """Every attempt of every contestant, contestants in the order given (each one's cases in order)."""
    from pydantic_evals import Case, Dataset
    cases = [Case(name=str(i), inputs=case.input, expected_output=case.expected, metadata={"position": i})
             for i, case in enumerate(spec.cases)]
    dataset = Dataset(name=spec.run_id, cases=cases, evaluators=[spec.evaluator])

    async def one(k: int, contestant: Contestant) -> list[Attempt]:
        task = _Answer(executor, runner, contestant, f"{spec.run_id}/{k}", spec)
        report = await dataset.evaluate(task, name=contestant.name, max_concurrency=spec.concurrency,
                                        progress=False, repeat=spec.repeat)
        return _attempts(report, contestant.name, spec)

    # each SDK is imported before the clock runs, so a first answer's latency is not its SDK's import (a failure
    # here, a missing SDK say, comes again as each of its answers' error)
    await asyncio.gather(*(executor.handle(c.model).ready_adapter() for c in spec.contestants),
                         return_exceptions=True)
    found = await asyncio.gather(*(one(k, c) for k, c in enumerate(spec.contestants)))
    return [attempt for attempts in found for attempt in attempts]


@dataclass
class _Answer:
    """The task pydantic-evals runs per case: one answer, its run id, time to first text and any error kept as
    attributes of the case (an error is the row's, never the end of the evaluation)."""

    executor: Any
    runner: Any
    contestant: Contestant
    prefix: str
    spec: EvalRun

    async def __call__(self, text: str) -> str:
        from pydantic_evals.dataset import set_eval_attribute

        from coditect_magics.providers.secrets import redact
        run_id = f"{self.prefix}/{uuid.uuid4().hex[:12]}"
        set_eval_attribute("run_id", run_id)
        started = time.perf_counter()
        first: list[float] = []

        def heard(piece: str) -> None:
            if piece and not first:
                first.append(time.perf_counter() - started)
                set_eval_attribute("ttft_s", first[0])

        try:
            output, error = await (self._agent(text, run_id, heard) if self.contestant.kind == "agent"
                                   else self._model(text, run_id, heard))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one answer's failure is its row's error
            output, error = "", f"{type(exc).__name__}: {redact(str(exc))}"
        if error:
            set_eval_attribute("error", error)
        return output

    async def _model(self, text: str, run_id: str, heard: Any) -> tuple[str, str | None]:
        execution = self.executor.stream(self.contestant.model, [Message("user", text)],
                                         context=CallContext(run_id=run_id), cache=self.spec.cache,
                                         **self.spec.params)
        async for chunk in execution:
            heard(chunk.text)
        return execution.text, None

    async def _agent(self, text: str, run_id: str, heard: Any) -> tuple[str, str | None]:
        from coditect_magics.agents.runner import AgentEvent
        from coditect_magics.tools.loop import TextDelta
        agent = self.contestant.agent
        messages = [Message("system", agent.system_prompt)] if agent.system_prompt else []
        messages.append(Message("user", text))

        def on_event(event: Any) -> None:
            if isinstance(event, AgentEvent) and event.depth == 0 and isinstance(event.event, TextDelta):
                heard(event.event.text)

        done = await self.runner.run(agent, messages, tools=self.contestant.tools, run_id=run_id,
                                     on_event=on_event)
        error = None if done.status == "done" else f"{done.status}: {done.trace.note}"
        return done.text, error


def _attempts(report: Any, contestant: str, spec: EvalRun) -> list[Attempt]:
    """The report's cases as attempts, in case then repeat order."""
    made: list[tuple[int, int, Attempt]] = []
    for case in report.cases:
        position = case.metadata["position"]
        source = spec.cases[position]
        result = case.scores.get("score")
        repeat = int(case.name.rsplit("[", 1)[1].split("/")[0]) if case.source_case_name else 1
        made.append((position, repeat, Attempt(
            contestant, source.label, repeat, source.input, source.expected, str(case.output),
            float(result.value) if result else 0.0, (result.reason or "") if result else _evaluator_failure(case),
            case.attributes.get("error"), case.task_duration, case.attributes.get("ttft_s"),
            case.attributes["run_id"])))
    for failure in report.failures:  # the task never raises; a failure here is pydantic-evals' own
        position = failure.metadata["position"]
        source = spec.cases[position]
        made.append((position, 0, Attempt(contestant, source.label, 1, source.input, source.expected, "", 0.0, "",
                                          failure.error_message, 0.0, None, "")))
    return [attempt for _, _, attempt in sorted(made, key=lambda item: item[:2])]


def _evaluator_failure(case: Any) -> str:
    """Why a case has no score: the scorer itself failed (a judge that could not be reached, say)."""
    failures = getattr(case, "evaluator_failures", None) or []
    return "; ".join(f"scorer failed: {f.error_message}" for f in failures) or "not scored"


def ledger_totals(ledger: Any, run_id: str) -> dict[str, tuple[int, int, int, float, int]]:
    """The ledger rows of an evaluation by run id: (calls, input tokens, output tokens, known USD, calls with no
    known price)."""
    _, rows = ledger.query("SELECT run_id, COUNT(*), COALESCE(SUM(input_tokens), 0), "
                           "COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_usd), 0), "
                           "COALESCE(SUM(1 - price_known), 0) FROM calls WHERE run_id LIKE ? GROUP BY run_id",
                           [f"{run_id}/%"])
    return {r[0]: (int(r[1]), int(r[2]), int(r[3]), float(r[4]), int(r[5])) for r in rows}


def judge_asker(executor: Any, model: str, run_id: str, params: Mapping[str, Any]) -> Any:
    """The judge's call: whole, through the executor, attributed to agent `eval:judge` under `run_id`."""
    from .scorers import JUDGE_AGENT

    async def ask(messages: Sequence[Message]) -> str:
        reply = await executor.run(model, list(messages), context=CallContext(agent=JUDGE_AGENT, run_id=run_id),
                                   **params)
        return reply.text

    return ask
