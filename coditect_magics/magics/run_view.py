"""What a cell shows while an agent acts: each tool call (name, arguments, result in short, time) and each
delegation as it happens, one collapsible line each, then the answer streamed below, then the run's trace as a
collapsed tree. The events come from the runner (or the orchestrator) on the kit's loop through `bridge.iterate`."""

from __future__ import annotations

import html
import json
import time
from typing import Any, Callable, Iterator

from coditect_magics import bridge
from coditect_magics.providers import Usage
from coditect_magics.session import Session
from coditect_magics.text import one_line

from .output import LLMResult, StreamView, say_notices

ARGUMENT_CHARS = 80


class RunView:
    """Two display handles: the log of tool calls and delegations (HTML, collapsible), and the answer."""

    def __init__(self, result: LLMResult, interval: float) -> None:
        from IPython.display import display
        self.lines: list[str] = []
        self.pending: dict[str, int] = {}      # tool call id -> its line, until it finishes
        self.log = display({"text/plain": ""}, raw=True, display_id=True)
        self.answer = StreamView(result, interval)

    def _show(self) -> None:
        body = "".join(self.lines)
        plain = "\n".join(html.unescape(_strip(line)) for line in self.lines)
        self.log.update({"text/html": f"<div class='coditect-run'>{body}</div>", "text/plain": plain}, raw=True)

    def add(self, line: str, key: str | None = None) -> None:
        """Add a line to the log, or replace the pending line of `key` (a tool call that has now finished)."""
        if key is not None and key in self.pending:
            self.lines[self.pending.pop(key)] = line
        else:
            if key is not None:
                self.pending[key] = len(self.lines)
            self.lines.append(line)
        self._show()

    def event(self, item: Any) -> None:
        """Show one runner event: tool calls and delegations in the log, the first agent's text as the answer."""
        from coditect_magics.agents.orchestrate import PlanReady
        from coditect_magics.agents.runner import AgentEvent, RunFinished, RunStarted
        from coditect_magics.tools import ModelReplied, TextDelta, ToolFinished, ToolStarted
        if isinstance(item, PlanReady):
            self.add(f"<div>📋 plan ({len(item.plan.steps)} steps, try {item.attempts}): "
                     f"{html.escape(', '.join(f'{s.id}→{s.agent}' for s in item.plan.steps))}</div>")
        elif isinstance(item, RunStarted) and item.depth > 0:
            self.add(_at(item.depth, f"→ <b>{html.escape(item.agent)}</b> ({html.escape(item.model)}): "
                                     f"{html.escape(one_line(item.task, 120))}"))
        elif isinstance(item, RunFinished) and item.depth > 0:
            node = item.trace
            self.add(_at(item.depth, f"← <b>{html.escape(node.agent)}</b> {html.escape(node.status)}"
                                     f"{': ' + html.escape(node.note) if node.note else ''} · {node.seconds:.2f} s"))
        elif isinstance(item, AgentEvent):
            event, depth = item.event, item.depth
            if isinstance(event, TextDelta) and depth == 0:
                self.answer.add(event.text)
            elif isinstance(event, ModelReplied) and depth == 0 and event.reply.tool_calls:
                if self.answer.text.strip():  # text before tool calls is a step, not the answer
                    self.add(f"<div><em>{html.escape(one_line(self.answer.text, 300))}</em></div>")
                self.answer.text = ""
                self.answer.handle.update({"text/plain": ""}, raw=True)
            elif isinstance(event, ToolStarted):
                self.add(_at(depth, f"⋯ <code>{html.escape(event.call.name)}</code> "
                                    f"{html.escape(_arguments(event.call.arguments))}"),
                         key=f"{item.agent}:{depth}:{event.step}:{event.call.id}")
            elif isinstance(event, ToolFinished):
                entry = event.entry
                self.add(_at(depth, tool_line(entry)), key=f"{item.agent}:{depth}:{entry.step}:{entry.call_id}")


def tool_line(entry: Any) -> str:
    """A finished tool call: one collapsed line opening onto the arguments and the result in short."""
    mark = "✗" if entry.is_error else "✓"
    full = json.dumps(dict(entry.arguments), ensure_ascii=False, default=str)
    return (f"<details><summary>{mark} <code>{html.escape(entry.tool)}</code> "
            f"{html.escape(_arguments(entry.arguments))}"
            f" · {entry.seconds:.2f} s</summary><pre>{html.escape(full)}\n→ {html.escape(entry.summary)}</pre>"
            f"</details>")


def _arguments(arguments: Any) -> str:
    return one_line(json.dumps(dict(arguments), ensure_ascii=False, default=str), ARGUMENT_CHARS)


def _at(depth: int, inner: str) -> str:
    """A log line, indented by how deep in the delegation its agent runs."""
    return f"<div style='margin-left:{1.5 * depth}em'>{inner}</div>" if depth else f"<div>{inner}</div>"


def _strip(line: str) -> str:
    """A log line as plain text: its summary only (the collapsed detail stays in the HTML)."""
    import re
    return re.sub(r"<[^>]+>", "", re.sub(r"</summary>.*?</details>", "", line, flags=re.S))


def show(session: Session, events: Callable[[], Iterator[Any]], *, model: str, fmt: str, stream: bool,
         out: str | None = None) -> tuple[LLMResult, Any]:
    """Run `events` (an async iterator factory ending with the run's result), showing it as it goes; returns the
    reply as the notebook keeps it and the run's result. `_llm` and `_trace` hold the last ones."""
    from IPython.display import display
    result = LLMResult(text="", model=model, format=fmt, show_footer=session.settings.footer)
    say_notices(session)
    view = RunView(result, session.settings.stream_interval if stream else float("inf"))
    from coditect_magics.agents.orchestrate import Orchestration
    from coditect_magics.agents.runner import AgentRun
    from coditect_magics.tools.approval import ApprovalNeeded
    from coditect_magics.tools.python import OnMainThread

    from . import approve
    approve.prepare()
    started, final = time.perf_counter(), None
    try:
        for item in bridge.iterate(events):
            if isinstance(item, (AgentRun, Orchestration)):
                final = item
            elif isinstance(item, ApprovalNeeded):
                approve.answer(item)
            elif isinstance(item, OnMainThread):
                approve.on_main_thread(item)
            else:
                view.event(item)
    except KeyboardInterrupt:
        result.status = "cancelled"
    result.latency_s = time.perf_counter() - started
    if final is not None:
        trace = final.trace
        result.text = final.text
        result.usage = Usage(*trace.total_tokens)
        result.cost = trace.total_cost_usd if trace.all_priced else None
        result.status = "ok" if final.status == "done" else final.status
        if final.status != "done" and trace.note:
            result.note = trace.note
        session.namespace["_trace"] = trace
        session.keep_trace(time.time() - result.latency_s, trace)  # the runs panel shows these
    else:
        result.text = view.answer.text
    view.answer.text = result.text
    view.answer.finish()
    if final is not None:
        display({"text/html": f"<div class='coditect-trace'>{_trace_html(final.trace)}</div>",
                 "text/plain": str(final.trace)}, raw=True)
    session.namespace["_llm"] = result
    if out:
        session.namespace[out] = result
    return result, final


def _trace_html(trace: Any) -> str:
    from coditect_magics.agents.trace import html_tree
    return f"<details><summary>trace</summary>{html_tree(trace, open_=True)}</details>"
