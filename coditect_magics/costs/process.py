"""What one process says about the calls it records: the session they belong to (one per process unless named,
a new one in a forked child) and whether prompt text is kept."""

from __future__ import annotations

import os
import uuid

TRUTHY = ("1", "true", "yes", "on")

# --- the session: one per process unless set ------------------------------------------------------------------

_session: str = uuid.uuid4().hex
_session_set = False


def session_id() -> str:
    """This process's session id (a uuid hex, new in each process unless `set_session` named one)."""
    return _session


def set_session(value: str | None = None) -> str:
    """Name the session the following calls belong to; None starts a fresh one. Returns the id."""
    global _session, _session_set
    _session, _session_set = (value, True) if value else (uuid.uuid4().hex, False)
    return _session


def _new_session_in_child() -> None:
    global _session
    if not _session_set:
        _session = uuid.uuid4().hex


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_session_in_child)

# --- prompt logging -------------------------------------------------------------------------------------------

_log_prompts: bool | None = None


def set_log_prompts(on: bool) -> None:
    """Store (redacted) prompt text in the ledger from now on, or stop. Default: env CODITECT_LOG_PROMPTS, else off."""
    global _log_prompts
    _log_prompts = bool(on)


def log_prompts() -> bool:
    if _log_prompts is not None:
        return _log_prompts
    return os.environ.get("CODITECT_LOG_PROMPTS", "").strip().lower() in TRUTHY
