"""The chat panel: a conversation with any model or agent, kept in the same threads the magics keep, so a chat goes
on from a cell with `%%llm --thread NAME` (or `%%agent NAME`) and the other way round."""

from __future__ import annotations

import asyncio
import html
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

import ipywidgets as w

from coditect_magics.providers.types import Message
from coditect_magics.session import MAIN, Prepared, Session, current
from coditect_magics.text import usd

from .shared import Coalescer, labelled, markdown, model_choices, panel, row, submit

TEMPERATURES = [("model default", None), *((str(t), t) for t in (0.0, 0.2, 0.5, 0.7, 1.0, 1.5))]


@dataclass(frozen=True)
class Target:
    """What one send calls: the model, its prepared messages (system prompt, memory, history, question) and
    sampling settings."""

    model: str
    prepared: Prepared
    params: dict[str, Any]


class ChatPanel:
    """`ChatPanel(session).widget`; `send(text)` is what Enter and the Send button do, `stop()` what Stop does."""

    def __init__(self, session: Session, thread: str = MAIN) -> None:
        self.session = session
        choices = model_choices(session)
        self.model = labelled("Model", w.Dropdown(options=[(c.label, c.id) for c in choices]), "320px")
        self.agent = labelled("Agent", w.Dropdown(options=[("(none)", "")] + [(n, n) for n in self._agent_names()]),
                              "220px")
        self.thread = labelled("Thread", w.Combobox(value=thread, options=session.threads.names(session.notebook),
                                                    ensure_option=False, continuous_update=False), "220px")
        self.system = w.Textarea(placeholder="System prompt (optional)", rows=2, layout=w.Layout(width="100%"))
        self.temperature = labelled("Temperature", w.Dropdown(options=TEMPERATURES, value=None), "180px")
        self.max_tokens = labelled("Max tokens", w.BoundedIntText(value=0, min=0, max=1_000_000), "160px")
        self.messages = w.VBox(layout=w.Layout(width="100%", max_height="480px", overflow="auto"))
        self.messages.add_class("cm-messages")
        self.input = w.Text(placeholder="Message — Enter sends", layout=w.Layout(flex="1 1 300px"))
        self.input.add_class("cm-input")
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane")
        self.send_button.add_class("cm-send")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.stop_button.add_class("cm-stop")
        self.status = w.HTML()
        self.status.add_class("cm-status")
        self.totals = {"calls": 0, "input": 0, "output": 0, "cost": 0.0, "unknown": 0}
        self.running: Future[None] | None = None
        self.last_reply: w.Output | None = None

        self.input.on_msg(lambda _, content, __: content.get("event") == "submit" and self.send())
        self.send_button.on_click(lambda _: self.send())
        self.stop_button.on_click(lambda _: self.stop())
        self.agent.observe(self._agent_chosen, "value")
        self.thread.observe(lambda _: self._show_thread(), "value")
        self.widget = panel("Chat", row(self.model, self.agent, self.thread), self.system,
                            row(self.temperature, self.max_tokens), self.messages,
                            row(self.input, self.send_button, self.stop_button), self.status, name="chat")
        self._show_thread()

    # what the user does
    def send(self, text: str | None = None) -> Future[None] | None:
        """Send the box's text (or `text`); the reply streams in on the kit's loop. Returns its future."""
        text = (self.input.value if text is None else text).strip()
        if not text or self.running is not None:
            return None
        self.input.value = ""
        try:
            target = self._target(text)
        except Exception as exc:  # an unknown agent or a broken binding: said in the panel, nothing sent
            self._say(f"{type(exc).__name__}: {exc}", error=True)
            return None
        self._bubble("user", text)
        reply = self.last_reply = self._bubble("assistant", "")
        self._busy(True)
        self.running = submit(self._reply(target, reply))
        return self.running

    def stop(self) -> None:
        """Cancel the call under way: the text so far stays, and its ledger row says `cancelled`."""
        if self.running is not None:
            self.running.cancel()

    # the call
    def _target(self, text: str) -> Target:
        """The call a send makes, prepared by the session as the magics prepare theirs: an agent with its binding
        (a broken one refused), memory and its own thread; else the chosen model on the chosen thread."""
        params: dict[str, Any] = {}
        if self.temperature.value is not None:
            params["temperature"] = self.temperature.value
        if self.max_tokens.value:
            params["max_tokens"] = self.max_tokens.value
        system = self.system.value.strip()
        if not self.agent.value:
            thread = self.session.thread(self.thread.value.strip() or MAIN)
            prepared = self.session.prepare(Message("user", text), system=system, thread=thread,
                                            model=self.model.value, reply_tokens=params.get("max_tokens"))
            return Target(self.model.value, prepared, params)
        agent = self.session.resolve_agent(self.agent.value, default=self.model.value)
        if system:
            agent = replace(agent, system_prompt="\n\n".join(p for p in (agent.system_prompt, system) if p))
        return Target(agent.model_id or self.model.value, self.session.prepare_agent(agent, text),
                      agent.params or params)

    async def _reply(self, target: Target, out: w.Output) -> None:
        execution = None
        status, note = "ok", ""
        view = Coalescer(lambda shown: markdown(out, shown))
        try:
            execution = self.session.executor.stream(target.model, target.prepared.messages,
                                                     context=target.prepared.context, **target.params)
            async for _ in execution:
                view.push(execution.text)
        except asyncio.CancelledError:
            status, note = "cancelled", "stopped"
        except Exception as exc:  # the failure is said in the panel; the partial reply stays
            status, note = "error", f"{type(exc).__name__}: {exc}"
        finally:
            view.flush()
            self._finish(target, execution, status, note, out)

    def _finish(self, target: Target, execution: Any, status: str, note: str, out: w.Output) -> None:
        partial = execution.text if execution is not None else ""
        markdown(out, partial or ("*(no reply)*" if status != "error" else ""))
        if execution is not None:  # a partial answer counts, as in the magics; only a whole one is remembered
            self.session.keep(target.prepared, partial, execution.model)
            if status == "ok":
                self.session.remember(target.prepared.question.text, partial, model=execution.model,
                                      agent=target.prepared.context.agent, source="chat panel")
        note = "; ".join([*self.session.notices(), *([note] if note else [])])
        row_ = execution.row if execution is not None else None
        if row_ is not None:
            self.totals["calls"] += 1
            self.totals["input"] += row_.input_tokens
            self.totals["output"] += row_.output_tokens
            if row_.cost_usd is None:
                self.totals["unknown"] += 1
            else:
                self.totals["cost"] += row_.cost_usd
        self.running = None
        self._busy(False)
        self._say(note, error=status == "error")

    # the view
    def _bubble(self, role: str, text: str) -> w.Output:
        out = w.Output()
        out.add_class("cm-msg")
        out.add_class(f"cm-msg-{role}")
        markdown(out, text)
        self.messages.children = (*self.messages.children, out)
        return out

    def _busy(self, busy: bool) -> None:
        self.send_button.disabled = busy
        self.stop_button.disabled = not busy

    def _say(self, note: str = "", error: bool = False) -> None:
        """The thread's running totals, and a note (an error in the error colour)."""
        t = self.totals
        unknown = f" + {t['unknown']} unknown" if t["unknown"] else ""
        line = (f"thread <b>{self.thread.value or MAIN}</b> · {t['calls']} calls · {t['input']} in / "
                f"{t['output']} out · {usd(t['cost'])}{unknown}")
        if note:
            line += f' · <span class="{"cm-error" if error else "cm-muted"}">{html.escape(note)}</span>'
        self.status.value = f'<span class="cm-muted">{line}</span>'

    def _show_thread(self) -> None:
        """Show the turns the thread already holds (from cells or an earlier chat)."""
        thread = self.session.thread(self.thread.value.strip() or MAIN)
        self.messages.children = ()
        for message in thread.messages():
            if message.role in ("user", "assistant"):
                self._bubble(message.role, message.text)
        self._say()

    def _agent_chosen(self, change: dict[str, Any]) -> None:
        self.thread.value = f"agent:{change['new']}" if change["new"] else MAIN

    def _agent_names(self) -> list[str]:
        return sorted(self.session.agents.names())

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)


def chat(session: Session | None = None, thread: str = MAIN) -> ChatPanel:
    """Open a chat panel on a session (default: the kernel's) and `thread` (the magics' `main` by default)."""
    return ChatPanel(session or current(), thread)
