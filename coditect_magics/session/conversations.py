"""Conversations as every front keeps them: which thread a call continues, the prompt built with memory and as much
history as fits the model, and the exchange kept once the model has answered."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # imported on first call: a session costs nothing to make at %load_ext
    from coditect_magics.executor import CallContext
    from coditect_magics.providers.types import Message

MAIN = "main"


@dataclass(frozen=True)
class Prepared:
    """A call ready to send: its messages, the thread it continues (None: one-shot), the new user turn and the
    attribution its ledger rows carry."""

    messages: list[Message]
    question: Message
    thread: Any
    context: CallContext


class Conversations:
    """The session's threads (a mixin of Session: it reads `self.settings`, `self.threads`, `self.notebook`)."""

    settings: Any
    threads: Any
    namespace: dict[str, Any]
    notebook: str
    current_thread: str
    notice: Any
    recall: Any
    resolve: Any

    def thread(self, name: str) -> Any:
        """This notebook's thread of that name."""
        return self.threads.thread(self.notebook, name)

    def pick_thread(self, *, name: str | None = None, continued: bool = False) -> Any:
        """The thread a call belongs to: `name` (which becomes current), `continued` (the current one), or
        neither: a one-shot call that starts the main thread afresh, so a continued call can follow it."""
        if name:
            self.current_thread = name
        elif continued:
            name = self.current_thread or MAIN
        else:
            name = self.current_thread = MAIN
            self.thread(name).reset()
        return self.thread(name)

    def agent_thread(self, agent: str, *, new: bool = False) -> Any:
        """The agent's own thread (`new`: started afresh)."""
        thread = self.thread(f"agent:{agent}")
        if new:
            thread.reset()
        return thread

    def history_budget(self, model: str | None, reply_tokens: int | None = None) -> tuple[int, str]:
        """How many tokens a prompt with its history may take, and why: `max_history_tokens`, or less when the
        model's context window leaves less room beside the reply."""
        from coditect_magics.providers import registry
        limit, why = self.settings.max_history_tokens, "CoditectMagics.max_history_tokens"
        window = registry.context_window(self.resolve(model)) if model else None
        if window:
            room = window - (reply_tokens or 1024)
            if room < limit:
                limit, why = max(room, 256), f"the context window of {model}"
        return limit, why

    def with_history(self, thread: Any, system: Sequence[Message], question: Message, *,
                     model: str | None = None, reply_tokens: int | None = None) -> list[Message]:
        """System messages, as much of the thread's history as fits (see `history_budget`), then the question;
        a notice says when older turns were left out."""
        from coditect_magics.threads import fit
        history = [m for m in thread.messages() if m.role != "system"] if thread is not None else []
        limit, why = self.history_budget(model, reply_tokens)
        kept, dropped = fit([*system, *history, question], limit)
        if dropped:
            self.notice(f"{dropped} earlier turns left out of thread {thread.name!r} to stay within {limit} tokens "
                        f"({why})")
        return kept

    def prepare(self, question: Message, *, system: str = "", thread: Any = None, model: str | None = None,
                reply_tokens: int | None = None, memory: tuple[int | None, float | None] | None = None,
                context: CallContext | None = None, notebook: bool = False) -> Prepared:
        """The messages of a call: the system prompt with what memory holds about the question (`memory`: how
        many items and how close; None: no memory) and, with `notebook`, a summary of the notebook's variables and
        last cells; the thread's history that fits, the question."""
        from coditect_magics.executor import CallContext
        from coditect_magics.providers.types import Message
        used = 0
        if memory is not None:
            held = [m.text for m in thread.messages()] if thread is not None else []
            recalled, used = self.recall(question.text, *memory, already=held)
            system = "\n\n".join(part for part in (system, recalled) if part)
        if notebook:
            system = "\n\n".join(part for part in (system, self.notebook_context()) if part)
        messages = self.with_history(thread, [Message("system", system)] if system else [], question, model=model,
                                     reply_tokens=reply_tokens)
        return Prepared(messages, question, thread, replace(context or CallContext(), memory_items=used))

    def notebook_context(self) -> str:
        """The notebook's variables and last cells as a delimited block of data for a system prompt (a notice,
        and "", when the notebook has neither yet)."""
        from coditect_magics.tools.notebook import context_block
        block = context_block(self.namespace)
        if not block:
            self.notice("--notebook: the notebook has no variables or cells yet, so nothing was added")
        return block

    def keep(self, prepared: Prepared, text: str, model: str) -> None:
        """Add the exchange to its thread once the model has answered (a partial answer counts)."""
        if prepared.thread is not None and text:
            from coditect_magics.providers.types import Message
            prepared.thread.add(prepared.question)
            prepared.thread.add(Message("assistant", text), model=model)
