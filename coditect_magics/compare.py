"""Compare: the same messages to several models at once, each streaming, as one stream of events.

    comparing = Comparing(executor, "Name a prime.", ["openai:gpt-4o", "ollama:llama3.2"])
    async for event in comparing:      # Progress (a model's text so far) or Comparison (a model's final record)
        ...
    comparing.results                  # model -> Comparison, also after a cancel (status "cancelled")
    table(comparing.results.values())  # a DataFrame, one row per model

With `schema=` (a pydantic model, TypedDict or JSON-schema dict) each model's answer is validated (asked again with
the errors when it does not fit), `Comparison.parsed` holds it and the table has a column per field.

`%llm --compare` (through `Executor.compare_table`) and the compare panel both run this one path."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterable, Sequence

from coditect_magics.providers.secrets import redact


@dataclass(frozen=True)
class Comparison:
    """One model's outcome in a compare: its text (partial when cut off), status ok | error | cancelled, times
    from the start of the compare, tokens and cost from its ledger row (rows: a schema's retries count too), the
    call id that row carries, and the validated answer when the compare has a schema."""

    model: str
    text: str = ""
    status: str = "ok"
    error: str | None = None
    ttft_s: float | None = None
    latency_s: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    call_id: str | None = None
    parsed: Any = None


@dataclass(frozen=True)
class Progress:
    """A model's text so far, sent on each chunk; `ttft_s` is when its first chunk came."""

    model: str
    text: str
    ttft_s: float


class Comparing:
    """A compare under way: iterate for `Progress` and `Comparison` events (one `Comparison` per model, as each
    ends). `results` holds the final records; cancelling the iterating task cancels every model, and each keeps
    its partial text there with status "cancelled"."""

    def __init__(self, executor: Any, messages: Any, ids: Sequence[str], *, schema: Any = None,
                 **params: Any) -> None:
        self.executor, self.messages, self.params = executor, messages, params
        self.schema: Any = None
        if schema is not None:
            from coditect_magics.structured import Schema
            self.schema = Schema.of(schema)
        self.ids = tuple(ids)
        self.results: dict[str, Comparison] = {}
        self._events: asyncio.Queue[Progress | Comparison] = asyncio.Queue()
        self._start = 0.0

    def __aiter__(self) -> AsyncIterator[Progress | Comparison]:
        return self._run()

    async def records(self) -> list[Comparison]:
        """Run to the end; the final records in the order the ids were given."""
        async for _ in self:
            pass
        return [self.results[i] for i in self.ids]

    async def _run(self) -> AsyncIterator[Progress | Comparison]:
        self._start = time.perf_counter()
        tasks = [asyncio.ensure_future(self._one(model)) for model in self.ids]
        try:
            finished = 0
            while finished < len(tasks):
                event = await self._events.get()
                finished += isinstance(event, Comparison)
                yield event
        finally:
            # a cancel (or an abandoned iteration) stops every model; each records what it has before it ends
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, model: str) -> None:
        """Stream one model, sending its progress; whatever happens, its final record goes to `results`."""
        execution, ttft, status, error = None, None, "ok", None
        try:
            if self.schema is not None:
                from coditect_magics.structured import Structured
                execution = Structured(self.executor, model, self.messages, self.schema, **self.params)
            else:
                execution = self.executor.stream(model, self.messages, **self.params)
            async for _ in execution:
                ttft = ttft if ttft is not None else time.perf_counter() - self._start
                self._events.put_nowait(Progress(model, execution.text, ttft))
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        except Exception as exc:  # one model's failure must not stop the others
            status, error = "error", f"{type(exc).__name__}: {redact(str(exc))}"
        finally:
            row = execution.row if execution is not None else None
            result = Comparison(
                model, execution.text if execution is not None else "", status, error, ttft,
                time.perf_counter() - self._start, getattr(row, "input_tokens", 0), getattr(row, "output_tokens", 0),
                getattr(row, "cost_usd", None), execution.call_id if execution is not None else None,
                getattr(execution, "parsed", None))
            self.results[model] = result
            self._events.put_nowait(result)


def table(records: Iterable[Comparison], schema: Any = None) -> Any:
    """Comparison records as a pandas DataFrame, one row each, columns in the record's field order; with a
    schema (structured.Schema) a column per field after `model` (None where the answer did not fit), without
    one no `parsed` column."""
    import pandas as pd
    records = list(records)
    columns = [name for name in Comparison.__dataclass_fields__ if name != "parsed"]
    frame = pd.DataFrame([{name: getattr(r, name) for name in columns} for r in records], columns=columns)
    if schema is not None:
        values = [schema.row(r.parsed) if r.parsed is not None else {} for r in records]
        for position, name in enumerate(schema.fields, start=1):
            frame.insert(position, name, pd.Series([v.get(name) for v in values], dtype=object), allow_duplicates=True)
    return frame
