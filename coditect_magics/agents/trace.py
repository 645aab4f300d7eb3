"""A run's trace as data: one node per agent run (a tool loop, a delegated agent, a plan step), children for the
runs it started. Kept as a frozen dataclass tree (`_trace`), flattened by `to_frame()`, shown inline as nested
HTML `<details>` so a deep delegation stays readable.

Costs roll up without counting twice: a node's `cost_usd` is its own model calls only; `total_cost_usd` adds the
children's. Unknown prices stay unknown (`price_known` False somewhere in the tree), never 0."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping


@dataclass(frozen=True)
class ToolRun:
    """One tool call as the trace shows it."""

    tool: str
    arguments: Mapping[str, Any]
    summary: str
    seconds: float
    is_error: bool
    call_id: str = ""
    decision: Mapping[str, Any] | None = None   # a tool that acts: approved, edited or denied, by whom, why

    @property
    def server(self) -> str:
        """The MCP server an `mcp__SERVER__TOOL` call went to ("" for the kit's own tools)."""
        return self.tool[len("mcp__"):].partition("__")[0] if self.tool.startswith("mcp__") else ""


@dataclass(frozen=True)
class Trace:
    """One agent run and the runs it started (`children`, in the order they were started)."""

    agent: str
    model: str
    status: str
    messages: int = 0
    steps: int = 0
    tool_calls: tuple[ToolRun, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    price_known: bool = True
    seconds: float = 0.0
    task: str = ""
    note: str = ""
    run_id: str = ""
    parent_call_id: str | None = None
    call_ids: tuple[str, ...] = ()
    children: tuple["Trace", ...] = field(default=())

    def walk(self, depth: int = 0) -> Iterator[tuple[int, "Trace"]]:
        """Every node with its depth, parents before children."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)

    @property
    def total_cost_usd(self) -> float:
        """This run's known cost with everything it delegated."""
        return sum(node.cost_usd for _, node in self.walk())

    @property
    def total_tokens(self) -> tuple[int, int]:
        nodes = [node for _, node in self.walk()]
        return sum(n.input_tokens for n in nodes), sum(n.output_tokens for n in nodes)

    @property
    def all_priced(self) -> bool:
        return all(node.price_known for _, node in self.walk())

    def to_frame(self) -> Any:
        """One row per node (depth, agent, model, status, messages, steps, tool calls, tokens, own cost, seconds,
        the parent's call id): what a DataFrame user filters and sums."""
        import pandas as pd
        rows = [{"depth": depth, "agent": n.agent, "model": n.model, "status": n.status, "messages": n.messages,
                 "steps": n.steps, "tool_calls": len(n.tool_calls), "input_tokens": n.input_tokens,
                 "output_tokens": n.output_tokens, "cost_usd": n.cost_usd if n.price_known else float("nan"),
                 "seconds": round(n.seconds, 3), "task": n.task, "note": n.note, "run_id": n.run_id,
                 "parent_call_id": n.parent_call_id}
                for depth, n in self.walk()]
        return pd.DataFrame(rows)

    def line(self) -> str:
        """The node in one line: agent, model, status, counts, tokens, cost, time."""
        cost = f"${self.cost_usd:.4f}" if self.price_known else f"${self.cost_usd:.4f} + unknown"
        parts = [self.agent, self.model, self.status, f"{self.messages} messages", f"{len(self.tool_calls)} tool calls",
                 f"{self.input_tokens} in / {self.output_tokens} out", cost, f"{self.seconds:.2f} s"]
        if self.children:
            parts.append(f"total ${self.total_cost_usd:.4f}")
        return " · ".join(parts)

    def __str__(self) -> str:
        return "\n".join("  " * depth + node.line() + (f" — {node.note}" if node.note else "")
                         for depth, node in self.walk())

    def _repr_html_(self) -> str:
        return f"<div class='coditect-trace'>{html_tree(self, open_=True)}</div>"


def tool_html(run: ToolRun) -> str:
    """A tool call as a collapsed line (name, arguments in short, time, ok or error) opening onto its detail."""
    mark = "✗" if run.is_error else "✓"
    arguments = json.dumps(dict(run.arguments), ensure_ascii=False, default=str)
    short = arguments if len(arguments) <= 80 else arguments[:77] + "..."
    return (f"<details><summary><code>{html.escape(run.tool)}</code> {html.escape(short)} · {run.seconds:.2f} s "
            f"{mark}</summary><pre>{html.escape(arguments)}\n→ {html.escape(run.summary)}</pre></details>")


def html_tree(node: Trace, open_: bool = False) -> str:
    """The node as nested `<details>`: its line, a note, its tool calls, then its children."""
    inner = "".join(tool_html(run) for run in node.tool_calls)
    inner += "".join(html_tree(child) for child in node.children)
    note = f"<div><em>{html.escape(node.note)}</em></div>" if node.note else ""
    task = f"<div><small>{html.escape(node.task[:300])}</small></div>" if node.task else ""
    return (f"<details{' open' if open_ else ''} style='margin-left:1em'><summary>{html.escape(node.line())}"
            f"</summary>{task}{note}{inner}</details>")
