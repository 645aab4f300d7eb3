"""What a magic shows: a reply streamed into one display handle (updates coalesced), the reply object kept as a
Python value with rich reprs, and errors as one clear line."""

from __future__ import annotations

import html
import json
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from coditect_magics.providers import Reply, Usage
from coditect_magics.text import usd

_FENCE = re.compile(r"```[\w+-]*\n(.*?)\n?```", re.S)


@dataclass
class LLMResult:
    """A reply as the notebook keeps it: `.text`, `.usage`, `.cost`, `.model`, shown in the chosen format; with a
    schema, `.parsed` holds the validated object, which is what shows once the reply is complete."""

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    status: str = "ok"
    format: str = "markdown"
    cached: bool = False
    note: str = ""
    reply: Reply | None = field(default=None, repr=False)
    shown_in: int | None = field(default=None, repr=False)  # the cell whose output already shows this reply
    show_footer: bool = field(default=True, repr=False)
    finished_at: float | None = field(default=None, repr=False)
    parsed: Any = None

    def __str__(self) -> str:
        return self.text

    @property
    def footer(self) -> str:
        """One line: model, tokens, cost, time — what each call costs, where the user looks."""
        cost = "cost unknown" if self.cost is None else usd(self.cost)
        parts = [self.model, f"{self.usage.input_tokens} in / {self.usage.output_tokens} out", cost]
        if self.latency_s is not None:
            parts.append(f"{self.latency_s:.2f} s")
        if self.cached:
            parts.append("cached")
        if self.status != "ok":
            parts.append(self.status)
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)

    def take(self, execution: Any) -> None:
        """Fill in what a finished (or stopped) execution says: text, model, usage, times, cost."""
        reply, row = execution.reply, execution.row
        self.text = execution.text
        self.model = execution.model or self.model
        if reply is not None:
            self.usage, self.latency_s, self.ttft_s = reply.usage, reply.latency_s, reply.ttft_s
            self.cached, self.note, self.reply = reply.cached, reply.note, reply
            self.model = f"{reply.provider}:{reply.model}" if reply.provider else self.model
            self.parsed = reply.parsed
        self.cost = getattr(row, "cost_usd", None) if row is not None else None

    def bundle(self, text: str | None = None, final: bool = True) -> dict[str, Any]:
        """The MIME bundle for the current text (and the footer once final, unless switched off); the parsed
        object instead of the text once final."""
        footer = self.footer if final and self.show_footer else ""
        if final and self.parsed is not None:
            import pprint
            return render(pprint.pformat(self.parsed, width=100, sort_dicts=False), "code", footer)
        return render(self.text if text is None else text, self.format, footer)

    def metadata(self) -> dict[str, Any]:
        """Provenance kept with the output in the saved notebook: what produced this reply, at what cost."""
        provider, _, model = self.model.partition(":")
        return {"coditect": {
            "provider": provider, "model": model, "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens, "cached_tokens": self.usage.cached_tokens,
            "cost_usd": self.cost, "latency_s": self.latency_s, "ttft_s": self.ttft_s, "status": self.status,
            "cached": self.cached, "finish_reason": self.reply.finish_reason if self.reply else None,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.finished_at or time.time()))}}

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import publish_display_data
        shell = get_ipython()
        if shell is not None and self.shown_in == shell.execution_count:
            return  # streamed into this very cell already: the Out echo would repeat it
        publish_display_data(self.bundle(), metadata=self.metadata())


def render(text: str, fmt: str, footer: str = "") -> dict[str, Any]:
    """A MIME bundle for `text` in a format; the plain-text entry is always there."""
    small = f"\n\n<sub>{html.escape(footer)}</sub>" if footer else ""
    plain = f"{text}\n\n[{footer}]" if footer else text
    if fmt == "markdown":
        return {"text/markdown": text + small, "text/plain": plain}
    if fmt == "code":
        match = _FENCE.search(text)  # the first fenced block, when the model wrapped its code in prose
        code = match.group(1) if match else text
        return {"text/markdown": f"```\n{code}\n```" + small, "text/plain": code}
    if fmt == "html":
        return {"text/html": text + (f"<div><small>{html.escape(footer)}</small></div>" if footer else ""),
                "text/plain": plain}
    if fmt == "json":
        match = _FENCE.search(text)
        try:
            data = json.loads(match.group(1) if match else text)
        except json.JSONDecodeError:
            return {"text/plain": plain}
        return {"application/json": data, "text/plain": json.dumps(data, indent=2)}
    return {"text/plain": plain}


class StreamView:
    """One display handle that a stream updates in place, at most every `interval` seconds."""

    def __init__(self, result: LLMResult, interval: float = 0.05) -> None:
        from IPython.display import display
        self.result = result
        self.interval = interval
        self.text = ""
        self._last = 0.0
        self.handle = display({"text/plain": ""}, raw=True, display_id=True)

    def add(self, text: str) -> None:
        self.text += text
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.handle.update(self.result.bundle(self.text, final=False), raw=True)

    def restart(self) -> None:
        """A new answer replaces the one shown (a structured call asking again)."""
        self.text = ""
        self.handle.update({"text/plain": ""}, raw=True)

    def finish(self) -> None:
        from IPython import get_ipython
        shell = get_ipython()
        self.result.shown_in = shell.execution_count if shell is not None else None
        self.result.finished_at = time.time()
        self.handle.update(self.result.bundle(), raw=True, metadata=self.result.metadata())


def show_error(message: str, error: BaseException | None = None) -> None:
    """One line on stderr, no traceback; in a notebook, what the SDK said goes under it in a collapsed section."""
    print(f"coditect: {message}", file=sys.stderr)
    detail = getattr(error, "detail", "")
    if detail and _rich_frontend():
        from IPython.display import display
        display({"text/html": f"<details><summary>details</summary><pre>{html.escape(detail)}</pre></details>",
                 "text/plain": ""}, raw=True)


def library_table(columns: list[str], rows: list[list[Any]], errors: Any = ()) -> Any:
    """A library listing as Markdown: one row per item (pipes in cells made safe), then the files not loaded."""
    from IPython.display import Markdown
    lines = [f"| {' | '.join(columns)} |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell).replace("|", "/") for cell in row) + " |" for row in rows]
    lines += [f"\n**Not loaded:** `{error}`" for error in errors]
    return Markdown("\n".join(lines))


def current_shell() -> Any:
    """The running IPython shell (None outside IPython)."""
    from IPython import get_ipython
    return get_ipython()


def say_notices(session: Any) -> None:
    """Show what the session queued for the user (a model chosen for them, turns left out...), one line each."""
    for notice in session.notices():
        show_error(notice)


def _rich_frontend() -> bool:
    """A kernel talking to Jupyter (HTML shows), not the terminal IPython (which would print it all)."""
    from IPython import get_ipython
    return type(get_ipython()).__name__ == "ZMQInteractiveShell"
