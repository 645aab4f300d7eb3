"""An agent over many rows: each row's text is one task, run with bounded concurrency (LLM calls wait on the
network, so many run at once; the executor's rate limits still pace them). One row's failure is its row's status,
never the end of the others. The same code runs the rows in the kernel and a chunk of them in a worker.

    results = await map_rows(runner, agent, [(0, "first text"), (1, "second")], concurrency=16)
    frame = with_answers(df, results, "answer")     # adds answer and answer_status columns
    frame = with_fields(df, results, schema)        # with a schema: a column per field, and `error`"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from coditect_magics.executor import CallContext
from coditect_magics.providers import Message

from .resolve import ResolvedAgent


@dataclass(frozen=True)
class RowResult:
    """One row's answer: `status` is "ok" or "error" (then `error` says why, and `text` is empty)."""

    index: Any
    text: str = ""
    status: str = "ok"
    error: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    parsed: Any = None   # the validated answer, when the rows were asked for a schema


async def plain_call(executor: Any, agent: ResolvedAgent, messages: Sequence[Any], *, run_id: str | None = None,
                     memory_items: int = 0, schema: Any = None) -> Any:
    """One whole call of an agent without tools, attributed to it in the ledger; the finished Execution
    (`.reply`, `.row`, `.call_id`); with `schema`, the validated call (`structured.Structured`, `.parsed`)."""
    context = CallContext(agent=agent.name or None, run_id=run_id, agent_budget_usd=agent.budget_usd,
                          memory_items=memory_items)
    if schema is not None:
        from coditect_magics.structured import Structured
        execution = Structured(executor, agent.model_id, list(messages), schema, fallbacks=agent.fallbacks,
                               stream=False, context=context, **agent.params)
    else:
        execution = executor.stream(agent.model_id, list(messages), fallbacks=agent.fallbacks, stream=False,
                                    context=context, **agent.params)
    async for _ in execution:
        pass
    return execution


async def answer_row(runner: Any, agent: ResolvedAgent, index: Any, task: str, *, tools: Any = (),
                     run_id: str | None = None, schema: Any = None) -> RowResult:
    """One row: a plain call when the agent has no tools (`tools=()`), else a run through the runner's tool loop;
    with `schema` the answer is validated (asked again with the errors), and a row that never fits is an error."""
    messages = [Message("system", agent.system_prompt)] if agent.system_prompt else []
    messages.append(Message("user", task))
    try:
        if tools == ():
            execution = await plain_call(runner.executor, agent, messages, run_id=run_id, schema=schema)
            usage = execution.reply.usage
            return RowResult(index, execution.reply.text, "ok", "", usage.input_tokens, usage.output_tokens,
                             execution.row.cost_usd if execution.row is not None else None,
                             getattr(execution, "parsed", None))
        if schema is not None:
            from coditect_magics.structured import with_instructions
            messages = with_instructions(messages, schema)
        done = await runner.run(agent, messages, tools=tools, run_id=run_id)
        trace = done.trace
        if done.status != "done":
            return RowResult(index, done.text, "error", f"{done.status}: {trace.note}", *trace.total_tokens,
                             trace.total_cost_usd)
        parsed = schema.validate(done.text) if schema is not None else None
        return RowResult(index, done.text, "ok", "", *trace.total_tokens, trace.total_cost_usd, parsed)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a row's failure is its status
        from coditect_magics.providers.secrets import redact
        return RowResult(index, "", "error", f"{type(exc).__name__}: {redact(str(exc))}")


async def map_rows(runner: Any, agent: ResolvedAgent, rows: Sequence[tuple[Any, str]], *, tools: Any = (),
                   concurrency: int = 16, run_id: str | None = None,
                   on_row: Callable[[RowResult], Any] | None = None, schema: Any = None) -> list[RowResult]:
    """Every row's result, in the order of `rows`; `on_row` hears each as it finishes (a progress bar); with
    `schema` (a structured.Schema) each answer is validated into `parsed`."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    run_id = run_id or uuid.uuid4().hex
    gate = asyncio.Semaphore(concurrency)

    async def one(index: Any, task: str) -> RowResult:
        async with gate:
            result = await answer_row(runner, agent, index, task, tools=tools, run_id=run_id, schema=schema)
        if on_row is not None:
            on_row(result)
        return result

    return list(await asyncio.gather(*(one(index, task) for index, task in rows)))


def with_answers(frame: Any, results: Sequence[RowResult], column: str) -> Any:
    """A copy of `frame` with the answers in `column` (None where a row failed, so `.isna()` finds them) and each
    row's status in `{column}_status` ("ok" or the error), matched by index."""
    import pandas as pd
    out = frame.copy()
    by_index = {r.index: r for r in results}
    answers = [by_index[i].text if i in by_index and by_index[i].status == "ok" else None for i in out.index]
    out[column] = pd.Series(answers, index=out.index, dtype=object)
    out[f"{column}_status"] = [("ok" if by_index[i].status == "ok" else by_index[i].error) if i in by_index
                               else "not run" for i in out.index]
    return out


def with_fields(frame: Any, results: Sequence[RowResult], schema: Any) -> Any:
    """A copy of `frame` with a column per field of the schema (None where a row failed) and an `error` column
    (None where the row's answer fitted), matched by index."""
    import pandas as pd
    out = frame.copy()
    by_index = {r.index: r for r in results}
    values = [schema.row(by_index[i].parsed) if i in by_index and by_index[i].status == "ok" else {}
              for i in out.index]
    for name in schema.fields:
        out[name] = pd.Series([row.get(name) for row in values], index=out.index, dtype=object)
    out["error"] = pd.Series([None if i in by_index and by_index[i].status == "ok" else
                              (by_index[i].error if i in by_index else "not run") for i in out.index],
                             index=out.index, dtype=object)
    return out
