"""Keeps the API keys the kit has used so any text can be scrubbed of them before it is shown or stored."""

from __future__ import annotations

import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
MASK = "***"


def remember(secret: str | None) -> None:
    """Register a key; from now on `redact` hides it. Short values are ignored (too likely to be real text)."""
    global _pattern
    if not secret or len(secret) < 8:
        return
    with _lock:
        if secret in _secrets:
            return
        _secrets.add(secret)
        _pattern = re.compile("|".join(re.escape(s) for s in sorted(_secrets, key=len, reverse=True)))


def redact(text: str) -> str:
    """Return `text` with every remembered key replaced by ***."""
    pattern = _pattern
    return pattern.sub(MASK, text) if pattern else text
