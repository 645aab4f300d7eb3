"""The tool loop over the executor: model → tool calls → run them (a reply's calls at once) → results back →
model, until the model answers without calling a tool, or a bound is hit (steps, wall time, the executor's budgets).

    loop = ToolLoop(executor, "anthropic:claude-sonnet-4-6", "What is in notes.md?", tools)
    async for event in loop:          # TextDelta, ModelReplied, ToolStarted, ToolFinished, as they happen
        show(event)
    loop.result.text, loop.result.trace, loop.result.usage

`run_tools(...)` does the same with an optional `on_event` callback and returns the result. Every model call goes
through the executor, so each one leaves a ledger row carrying the context's agent, run_id and parent_call_id."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator, Callable, Literal, Mapping, Sequence, Union

from coditect_magics.budgets import BudgetExceeded
from coditect_magics.executor import CallContext, Executor, Target
from coditect_magics.providers import Message, Reply, TextPart, ToolCall, ToolResult, Usage
from coditect_magics.providers.secrets import redact

from .approval import ApprovalRequest, Policy
from .errors import ToolError
from .schema import Tool, ToolOutput

Status = Literal["done", "max_steps", "time_limit", "budget", "error"]
SUMMARY_CHARS = 200


@dataclass(frozen=True)
class TraceEntry:
    """One tool run: which step asked for it, the tool, its arguments, what came back (in short) and how long."""

    step: int
    call_id: str
    tool: str
    arguments: Mapping[str, Any]
    summary: str
    seconds: float
    is_error: bool
    decision: Mapping[str, Any] | None = None   # for a tool that acts: approved or denied, by whom, why


@dataclass(frozen=True)
class TextDelta:
    """Answer text as the model writes it (the whole text at once when not streaming)."""

    step: int
    text: str


@dataclass(frozen=True)
class ModelReplied:
    """A model call finished; `call_id` is its ledger call id."""

    step: int
    reply: Reply
    call_id: str


@dataclass(frozen=True)
class ToolStarted:
    step: int
    call: ToolCall


@dataclass(frozen=True)
class ToolFinished:
    entry: TraceEntry
    result: ToolResult


Event = Union[TextDelta, ModelReplied, ToolStarted, ToolFinished]


@dataclass(frozen=True)
class LoopResult:
    """How a run ended: the answer, every message (the prompt's included), the tool trace and the usage summed.
    `cost_usd` sums the priced calls; `price_known` is False when some call's price is unknown (not counted as 0)."""

    text: str
    status: Status
    messages: tuple[Message, ...]
    trace: tuple[TraceEntry, ...]
    usage: Usage
    steps: int
    run_id: str
    call_ids: tuple[str, ...]
    cost_usd: float
    price_known: bool
    seconds: float
    note: str = ""


class ToolLoop:
    """One run of the loop: iterate it for events, then read `.result` (also set when the run fails)."""

    def __init__(self, executor: Executor, target: Target, messages: Any, tools: Sequence[Tool], *,
                 context: CallContext = CallContext(), max_steps: int = 10, time_limit_s: float | None = None,
                 stream: bool = True, fallbacks: Sequence[str] = (), max_result_chars: int = 50_000,
                 approval: Policy | None = None, **params: Any) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        if "tools" in params:
            raise ValueError("give the tools as ToolLoop's `tools` argument (Tool objects), not as a parameter")
        names = [t.name for t in tools]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"two tools are called {', '.join(repeated)}: give each tool a distinct name")
        self.executor, self.target, self.tools = executor, target, {t.name: t for t in tools}
        self.messages = [Message("user", messages)] if isinstance(messages, str) else \
            [Message.coerce(m) for m in messages]
        self.context = context if context.run_id else replace(context, run_id=uuid.uuid4().hex)
        self.max_steps, self.time_limit_s, self.stream = max_steps, time_limit_s, stream
        self.fallbacks, self.max_result_chars, self.params = tuple(fallbacks), max_result_chars, params
        self.approval = approval if approval is not None else Policy()   # nothing that acts runs unasked
        self.result: LoopResult | None = None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._run()

    async def _run(self) -> AsyncIterator[Event]:
        start = time.perf_counter()
        trace: list[TraceEntry] = []
        call_ids: list[str] = []
        usage, cost, known = Usage(), 0.0, True
        status: Status = "error"
        text, note, step = "", "", 0
        try:
            while True:
                if self.time_limit_s is not None and time.perf_counter() - start >= self.time_limit_s:
                    status, note = "time_limit", f"stopped after {time.perf_counter() - start:.1f} s: the run's " \
                                                 f"time limit is {self.time_limit_s:g} s"
                    break
                step += 1
                specs = tuple(t.spec for t in self.tools.values())  # read each step: a loaded skill adds tools
                execution = self.executor.stream(self.target, self.messages, fallbacks=self.fallbacks,
                                                  context=self.context, stream=self.stream, tools=specs, **self.params)
                try:
                    async for chunk in execution:
                        if chunk.text:
                            yield TextDelta(step, chunk.text)
                except BudgetExceeded as exc:
                    status, note = "budget", str(exc)
                    break
                finally:
                    if execution.row is not None:
                        call_ids.append(execution.call_id)
                        cost += execution.row.cost_usd or 0.0
                        known = known and execution.row.price_known
                reply = execution.reply
                usage = usage + reply.usage
                text = reply.text
                self.messages.append(assistant_message(reply))
                yield ModelReplied(step, reply, execution.call_id)
                if not reply.tool_calls:
                    status = "done"
                    break
                if step >= self.max_steps:
                    status, note = "max_steps", f"stopped after {step} model calls with {len(reply.tool_calls)} " \
                                                f"tool call(s) still pending; raise max_steps to let it go on"
                    break
                results: list[ToolResult] = []
                decided: list[dict[str, Any]] = []
                async for event in self._run_calls(step, reply.tool_calls, start, results, reply.text):
                    if isinstance(event, ToolFinished):
                        trace.append(event.entry)
                        if event.entry.decision is not None:
                            decided.append({"tool": event.entry.tool, "call": event.entry.call_id,
                                            **event.entry.decision})
                    yield event
                if decided:  # on the ledger row of the model call that asked for them
                    await asyncio.to_thread(self.executor.ledger.note_approvals, execution.call_id, decided)
                self.messages.append(Message("tool", tuple(results)))
        finally:
            self.result = LoopResult(text, status, tuple(self.messages), tuple(trace), usage, step,
                                     self.context.run_id or "", tuple(call_ids), cost, known,
                                     time.perf_counter() - start, note)

    async def _run_calls(self, step: int, calls: Sequence[ToolCall], start: float, results: list[ToolResult],
                         reason: str = "") -> AsyncIterator[Event]:
        """Run a reply's calls concurrently; events as each starts and finishes; `results` filled in call order.
        `reason`: the text the model wrote before its calls (an approval card shows it)."""
        left = None if self.time_limit_s is None else max(self.time_limit_s - (time.perf_counter() - start), 0.0)
        tasks = [asyncio.ensure_future(self._call(step, call, left, reason)) for call in calls]
        try:
            for call in calls:
                yield ToolStarted(step, call)
            for finished in asyncio.as_completed(tasks):
                yield await finished
        finally:
            for task in tasks:
                task.cancel()
        results.extend(task.result().result for task in tasks)

    async def _call(self, step: int, call: ToolCall, left: float | None, reason: str = "") -> ToolFinished:
        """One call (put to the approval policy first when the tool acts); whatever goes wrong becomes an error
        result the model can read and recover from."""
        started = time.perf_counter()
        is_error, decision, arguments, images = True, None, call.arguments, ()
        try:
            tool = self.tools.get(call.name)
            if tool is None:
                raise ToolError(f"there is no tool called {call.name!r}; the tools are: "
                                f"{', '.join(self.tools) or 'none'}")
            if tool.permission:
                decision, arguments = await self._consent(tool, call, reason)
            content = await asyncio.wait_for(tool.run(arguments), left)
            if isinstance(content, ToolOutput):
                content, images = self._with_images(content)
            is_error = False
        except Denied as exc:
            content, decision = str(exc), exc.decision
        except ToolError as exc:
            content = str(exc)
        except asyncio.TimeoutError as exc:
            out_of_time = left is not None and time.perf_counter() - started >= left
            content = f"{call.name} did not finish within the run's time limit" if out_of_time \
                else f"TimeoutError: {exc}"
        except Exception as exc:  # the tool's own failure: the model hears it and may try another way
            content = f"{type(exc).__name__}: {exc}"
        content = redact(content)
        if len(content) > self.max_result_chars:
            content = content[:self.max_result_chars] + \
                f"\n... ({len(content) - self.max_result_chars} more characters cut)"
        entry = TraceEntry(step, call.id, call.name, arguments, " ".join(content.split())[:SUMMARY_CHARS],
                           time.perf_counter() - started, is_error, decision)
        return ToolFinished(entry, ToolResult(call.id, content, is_error, call.name, images))

    def _with_images(self, output: ToolOutput) -> tuple[str, tuple[Any, ...]]:
        """The text and images for the model; a model that reads no images gets a note instead of them."""
        from coditect_magics.providers import registry
        model = self.target if isinstance(self.target, str) else getattr(self.target, "model", None)
        if not output.images or not isinstance(model, str) or \
                registry.accepts_images(self.executor.handle(model).id) is not False:
            return output.text, tuple(output.images)
        return (f"{output.text}\n({len(output.images)} image(s) left out: {model} does not read images)", ())

    async def _consent(self, tool: Tool, call: ToolCall, reason: str) -> tuple[dict[str, Any], Any]:
        """The policy's decision on a call that acts, and the arguments to run it with; a denial raises ToolError
        worded for the model (the decision travels on it for the trace)."""
        request = ApprovalRequest(tool.name, call.arguments, tool.permission or "", reason, self.context.agent or "",
                                  call.id)
        decision = await self.approval.decide(request)
        if decision.stop:  # ends the run here, before the denial could be sent to the model and it asked again
            raise asyncio.CancelledError(decision.reason)
        if not decision.approved:
            raise Denied(decision.denial(request), decision.record())
        return decision.record(), decision.arguments if decision.arguments is not None else call.arguments


class Denied(ToolError):
    """A call the approval policy (or the user) refused; the model reads why."""

    def __init__(self, message: str, decision: dict[str, Any]) -> None:
        super().__init__(message)
        self.decision = decision


def assistant_message(reply: Reply) -> Message:
    """The model's turn as the next request must repeat it: its text (if any) and its tool calls."""
    if not reply.tool_calls:
        return Message("assistant", reply.text)
    return Message("assistant", ((TextPart(reply.text),) if reply.text else ()) + tuple(reply.tool_calls))


async def run_tools(executor: Executor, target: Target, messages: Any, tools: Sequence[Tool], *,
                    on_event: Callable[[Event], Any] | None = None, **options: Any) -> LoopResult:
    """Run the tool loop to its end, handing each event to `on_event` (sync or async) as it happens."""
    loop = ToolLoop(executor, target, messages, tools, **options)
    async for event in loop:
        if on_event is not None:
            handled = on_event(event)
            if asyncio.iscoroutine(handled):
                await handled
    assert loop.result is not None
    return loop.result
