"""The session under every front: one per kernel (or worker), owning the settings and the services built from them.

    from coditect_magics.session import Session, current
    session = current()                     # the kernel's: the magics' own once they are loaded
    session.configure(default_model="openai:gpt-4.1-mini")
    prepared = session.prepare(Message("user", "Hi"), thread=session.pick_thread(continued=True))
    execution = session.executor.stream(model, prepared.messages, context=prepared.context)

Making a session imports no SDK, store or IPython: each service is built on first use."""

from .conversations import MAIN, Prepared
from .core import Session, activate, current
from .agents import tool_names
from .skills import SkillWork, skill_work

__all__ = ["MAIN", "Prepared", "Session", "SkillWork", "activate", "current", "skill_work", "tool_names"]
