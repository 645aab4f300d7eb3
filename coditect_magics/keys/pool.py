"""A provider's keys and what this session learned about them. Sources in order, the first that has any wins: an
explicit `api_key=`, then the environment (`OPENAI_API_KEY`, `OPENAI_API_KEY_2`, ...), then the stored keys (the
keyring or the 0600 file). Each value is resolved once (references included) and registered for redaction; a key a
server refused is bad for the rest of the session, one that was rate limited cools for its own Retry-After."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

from coditect_magics.providers import errors, registry
from coditect_magics.providers.secrets import remember
from coditect_magics.settings import DEFAULTS

from .refs import ReferenceFailed, References, describe
from .store import FILE, KeyStore

EXPLICIT, ENV = "explicit", "env"


@dataclass(frozen=True)
class Key:
    """One usable key: its name (a variable, a stored name, or `api_key=`) and where it came from; the value is
    never in the repr."""

    provider: str
    name: str
    source: str                      # explicit, env, keyring or file
    value: str = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        """A short hash of the value: what rate-limit windows are counted under (shared through Redis)."""
        return hashlib.sha256(self.value.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        return f"{self.provider} key {self.name}"


@dataclass(frozen=True)
class Candidate:
    """A key before its value is resolved: `raw` may be a reference (env:, keyring:, cmd:)."""

    provider: str
    name: str
    source: str
    raw: str = field(repr=False, compare=False)


@dataclass(frozen=True)
class Listed:
    """A row of `%llm keys list`: never more of the key than its last four characters."""

    provider: str
    name: str
    stored_in: str
    ends_with: str      # "…abcd", or the reference (env:NAME, keyring:S/U, cmd: PROGRAM …)
    in_use: bool        # its source is the one calls take keys from, and no server refused it


def env_names(variable: str) -> list[str]:
    """`VAR`, then `VAR_2`, `VAR_3`, ... as set in the environment, in number order."""
    numbered = re.compile(rf"^{re.escape(variable)}_(\d+)$")
    found = sorted((int(m.group(1)), name) for name in os.environ if (m := numbered.match(name)))
    return [variable, *(name for _, name in found)]


class KeyPool:
    """The keys of every provider for one session. `warn` shows a one-line warning (a session's notice; else a
    Python warning)."""

    def __init__(self, store: KeyStore | None = None, *, command_timeout: float = DEFAULTS.key_command_timeout,
                 warn: Callable[[str], None] | None = None) -> None:
        self._store = store
        self.references = References(command_timeout)
        self.warn = warn or (lambda line: warnings.warn(line, stacklevel=3))
        self._bad: set[tuple[str, str]] = set()          # (provider, name) of the keys a server refused
        self._cool: dict[tuple[str, str], float] = {}    # (provider, name) -> monotonic time it may be used again
        self._failed: set[tuple[str, str]] = set()       # references that gave no key (said once)
        self._stored: dict[str, list[Candidate]] = {}    # provider -> its stored keys, read once (a keyring is slow)
        self._lock = threading.Lock()

    @property
    def store(self) -> KeyStore:
        if self._store is None:
            self._store = KeyStore()
        return self._store

    def candidates(self, provider: str, explicit: str | None = None) -> list[Candidate]:
        """The provider's keys from the first source that has any, values unresolved."""
        if explicit:
            return [Candidate(provider, "api_key=", EXPLICIT, explicit)]
        return self._env_keys(provider) or self._stored_keys(provider)

    def inventory(self) -> list[Listed]:
        """Every key of every provider, from the environment and the store, shown by its last four characters."""
        rows = []
        for provider in registry.names():
            used = {c.name for c in self.candidates(provider)}
            for c in (*self._env_keys(provider), *self._stored_keys(provider)):
                where = "env" if c.source == ENV else self.store.where(c.source)
                rows.append(Listed(provider, c.name, where, describe(c.raw),
                                   c.name in used and (provider, c.name) not in self._bad))
        return rows

    def _env_keys(self, provider: str) -> list[Candidate]:
        seen: set[str] = set()
        found = []
        for variable in registry.entry(provider).spec.key_env:
            for name in env_names(variable):
                raw = os.environ.get(name, "").strip()
                if raw and raw not in seen:  # GEMINI_API_KEY and GOOGLE_API_KEY often hold the same key
                    seen.add(raw)
                    found.append(Candidate(provider, name, ENV, raw))
        return found

    def _stored_keys(self, provider: str) -> list[Candidate]:
        with self._lock:
            known = self._stored.get(provider)
        if known is None:
            known = [Candidate(provider, entry.name, entry.where, raw) for entry in self.store.names(provider)
                     if (raw := self.store.get(provider, entry.name))]
            with self._lock:
                self._stored[provider] = known
        return known

    def set(self, provider: str, name: str, value: str) -> str:
        """Store a key (registered for redaction first) and use it from the next call; returns where it went."""
        remember(value)
        where = self.store.set(provider, name, value)
        self._changed(provider, name)
        return where

    def remove(self, provider: str, name: str) -> bool:
        """Forget a stored key; False when there was none of that name."""
        removed = self.store.remove(provider, name)
        self._changed(provider, name)
        return removed

    def _changed(self, provider: str, name: str) -> None:
        with self._lock:
            self._stored.pop(provider, None)
            self._bad.discard((provider, name))
            self._cool.pop((provider, name), None)
            self._failed.discard((provider, name))

    def keys(self, provider: str, explicit: str | None = None) -> list[Key]:
        """The provider's keys with their values (a reference that fails is said once and left out)."""
        keys = []
        for candidate in self.candidates(provider, explicit):
            try:
                value = self.references.resolve(candidate.raw, f"{provider} key {candidate.name}")
            except ReferenceFailed as exc:
                self._once((provider, candidate.name), str(exc))
                continue
            remember(value)
            keys.append(Key(provider, candidate.name, candidate.source, value))
        return keys

    def usable(self, provider: str, explicit: str | None = None) -> list[Key]:
        """The keys not refused this session; AuthenticationFailed when every key was."""
        keys = self.keys(provider, explicit)
        good = [key for key in keys if (provider, key.name) not in self._bad]
        if keys and not good:
            names = ", ".join(key.name for key in keys)
            raise errors.AuthenticationFailed(
                f"every {provider} key was refused this session ({names}); store a valid one with %llm keys set "
                f"{provider} (or fix the variables and restart the kernel)", provider=provider)
        return good

    def refused(self, key: Key, why: BaseException) -> None:
        """A server refused the key (401/403). One of several is skipped for the rest of the session, said once by
        name while the call goes on with another (the last one's refusal is the call's own error line); a lone
        key is left as it was, each call then saying the refusal itself."""
        others = [k for k in self.keys(key.provider) if k.name != key.name]
        if not others:
            return
        with self._lock:
            self._bad.add((key.provider, key.name))
            going_on = any((k.provider, k.name) not in self._bad for k in others)
        if going_on:
            self.warn(f"{key.label} was refused ({_status(why)}); it is skipped for the rest of this session")

    def cool(self, key: Key, seconds: float) -> None:
        """A 429 on this key: leave it alone for `seconds` (its own Retry-After; the other keys are not held)."""
        with self._lock:
            self._cool[(key.provider, key.name)] = time.monotonic() + max(seconds, 0.0)

    def cooling(self, key: Key) -> float:
        """Seconds until the key may be used again (0: now)."""
        return max(self._cool.get((key.provider, key.name), 0.0) - time.monotonic(), 0.0)

    def source(self, provider: str) -> tuple[str, str] | None:
        """(the first key's value, where the keys come from in words) for `%llm list` and doctor; None without."""
        keys = self.keys(provider)
        if not keys:
            return None
        kinds = {key.source for key in keys}
        if kinds == {ENV}:
            where = ", ".join(key.name for key in keys)
        else:
            place = f"the file {self.store.file_path}" if kinds == {FILE} else ("the keyring" if FILE not in kinds
                                                                                else "the keyring and file")
            where = f"{place} ({', '.join(key.name for key in keys)})"
        return keys[0].value, where

    def _once(self, key: tuple[str, str], line: str) -> None:
        with self._lock:
            if key in self._failed:
                return
            self._failed.add(key)
        self.warn(line)


def _status(exc: BaseException) -> str:
    found = re.search(r"HTTP (\d{3})", str(exc))
    return f"HTTP {found.group(1)}" if found else type(exc).__name__
