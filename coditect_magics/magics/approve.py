"""How a cell answers a tool call that asks for consent, by where the kernel runs: a card in the cell when a
Jupyter frontend is there to click it (a kernel whose request allows input: nbclient and other headless runs do
not); a one-line prompt in terminal IPython; otherwise (nbclient, a script, a plain shell) the call is denied and
the model told why. The cell shows one line for each decision either way."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from coditect_magics.tools.approval import ApprovalRequest, Decision, headless

from .output import current_shell, show_error


def mode() -> str:
    """"card", "prompt" or "headless" for the cell running now."""
    shell = current_shell()
    kind = type(shell).__name__
    if kind == "TerminalInteractiveShell":
        return "prompt"
    if kind == "ZMQInteractiveShell":
        kernel = getattr(shell, "kernel", None)
        parent = kernel.get_parent() if kernel is not None else {}
        if (parent or {}).get("content", {}).get("allow_stdin"):  # a person's frontend sent this cell
            return "card"
    return "headless"


def prepare() -> None:
    """When a run starts where a card would ask: load the card's code on a thread (ipywidgets, pygments), so the
    first card of a kernel shows as fast as the next instead of waiting for the imports."""
    if mode() != "card" or "coditect_magics.widgets.approval" in sys.modules:
        return

    def load() -> None:
        try:
            from coditect_magics.widgets.approval import warm
        except ImportError:  # no ipywidgets: decide() falls back to a prompt
            return
        warm()

    threading.Thread(target=load, name="coditect-card-warmup", daemon=True).start()


def answer(event: Any) -> None:
    """Answer an ApprovalNeeded event; an interrupt while asking denies the call, then ends the run."""
    try:
        decision = decide(event.request)
    except KeyboardInterrupt:
        event.answer(Decision("denied", "user", reason="interrupted: the run was stopped", stop=True))
        raise
    event.answer(decision)


def decide(request: ApprovalRequest) -> Decision:
    """Ask in the way this kernel can, and say the outcome in one line (the card leaves its own line)."""
    how = mode()
    if how == "card":
        try:
            from coditect_magics.widgets.approval import ask_in_cell
        except ImportError:  # no ipywidgets: the frontend still takes input(), one line as in a terminal
            how = "prompt"
        else:
            return ask_in_cell(request)
    if how == "prompt":
        decision = ask_in_terminal(request)
    else:
        decision = headless(request.permission)
    show_error(f"{request.tool} {decision.verdict}" + (f" by {decision.by}" if decision.by != "user" else "")
               + (f": {decision.reason}" if decision.reason else ""))
    return decision


def ask_in_terminal(request: ApprovalRequest) -> Decision:
    """One line: y approves, a approves for the rest of the run, anything else denies (and is the reason)."""
    arguments = json.dumps(dict(request.arguments), ensure_ascii=False, default=str)
    print(f"coditect: {request.agent or 'the model'} wants {request.tool} {arguments}")
    try:
        answer = input("allow? [y = yes, a = always this run, else no (your text is the reason)] ").strip()
    except (EOFError, OSError):
        return headless(request.permission)
    if answer.lower() in ("y", "yes"):
        return Decision("approved", "user", request.arguments)
    if answer.lower() in ("a", "always"):
        return Decision("approved", "user", request.arguments, always=True)
    return Decision("denied", "user", reason=answer if answer.lower() not in ("", "n", "no") else "")


def on_main_thread(event: Any) -> None:
    """Run a tool's function (RunPython) on this thread, as a cell would, and hand back its result."""
    try:
        event.answer(event.function())
    except Exception as exc:  # the function's own failure goes back to the tool
        event.answer(error=exc)
