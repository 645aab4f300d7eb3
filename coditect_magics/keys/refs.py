"""Key values that point at a secret manager instead of holding the key: `env:NAME`, `keyring:SERVICE/USER` and
`cmd:COMMAND` (what `op read …` or `gcloud secrets versions access …` prints, run once per session with a timeout).
A team uses its secret manager without the kit depending on one. A failure is one line naming the key, never the
command's output."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading

PREFIXES = ("env:", "keyring:", "cmd:")


class ReferenceFailed(Exception):
    """A reference gave no key; the message is one line and holds no secret."""


def is_reference(value: str) -> bool:
    return value.startswith(PREFIXES)


def program(command: str) -> str:
    """The program a command runs (its first word), for messages that must not repeat the whole command."""
    try:
        words = shlex.split(command)
    except ValueError:  # unbalanced quotes: the shell will say so when it runs
        words = command.split()
    return os.path.basename(words[0]) if words else ""


def describe(value: str) -> str:
    """What `keys list` shows for a value: the reference's kind and target, or the last four characters only."""
    if value.startswith("cmd:"):
        return f"cmd: {program(value[4:])} …"
    if is_reference(value):
        return value
    return f"…{value[-4:]}" if len(value) >= 8 else "…"


class References:
    """Resolves references, each once per session (a command is not run again, nor its failure retried)."""

    def __init__(self, command_timeout: float = 10.0) -> None:
        self.command_timeout = command_timeout
        self._done: dict[str, str | ReferenceFailed] = {}
        self._lock = threading.Lock()

    def resolve(self, value: str, label: str) -> str:
        """The key a value stands for (the value itself when it is no reference); ReferenceFailed otherwise."""
        if not is_reference(value):
            return value
        with self._lock:
            done = self._done.get(value)
            if done is None:
                try:
                    done = self._resolve(value, label)
                except ReferenceFailed as exc:
                    done = exc
                self._done[value] = done
        if isinstance(done, ReferenceFailed):
            raise done
        return done

    def _resolve(self, value: str, label: str) -> str:
        kind, _, target = value.partition(":")
        if kind == "env":
            found = os.environ.get(target.strip())
            if not found:
                raise ReferenceFailed(f"{label}: the variable {target.strip()} it names is not set")
            return found.strip()
        if kind == "keyring":
            service, _, user = target.partition("/")
            if not service or not user:
                raise ReferenceFailed(f"{label}: write keyring:SERVICE/USER")
            import keyring
            found = keyring.get_password(service, user)
            if not found:
                raise ReferenceFailed(f"{label}: the keyring has nothing for {service}/{user}")
            return found.strip()
        return self._run(target, label)

    def _run(self, command: str, label: str) -> str:
        """A command's standard output, stripped; its own process group, killed whole when it overruns."""
        if not command.strip():
            raise ReferenceFailed(f"{label}: write cmd:COMMAND")
        name = program(command)
        process = subprocess.Popen(command, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            out, _ = process.communicate(timeout=self.command_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the shell's children too, which hold the pipe open
            process.communicate()
            raise ReferenceFailed(f"{label}: `{name}` did not finish within {self.command_timeout:g} s "
                                  "(key_command_timeout)") from None
        if process.returncode != 0:
            raise ReferenceFailed(f"{label}: `{name}` failed (exit status {process.returncode})")
        key = out.decode(errors="replace").strip()
        if not key:
            raise ReferenceFailed(f"{label}: `{name}` printed nothing")
        return key
