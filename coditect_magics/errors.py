"""The kit's user-facing failure above the providers: what was asked cannot be done, and the message says what to
write or set instead. Services raise it; the fronts show it as one line."""

from __future__ import annotations


class UsageError(ValueError):
    """A request that cannot be carried out as written; the message says what is wrong and how to write it."""
