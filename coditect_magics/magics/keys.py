"""`%llm keys`: store a provider's API key, asked with getpass so it is never in the cell, its history or its
output; list the keys (name, where kept, the last four characters only); remove one; say where they are kept."""

from __future__ import annotations

import getpass
import re
from typing import Any

from coditect_magics.providers import registry
from coditect_magics.session import Session

from .args import UsageError

USAGE = "write %llm keys set PROVIDER [--name NAME], %llm keys list, %llm keys remove PROVIDER [--name NAME] or " \
        "%llm keys path"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def names_action(session: Session, words: list[str]) -> bool:
    """`%llm keys ...` is this subcommand only when an action follows (`%llm keys of a dict?` stays a prompt)."""
    return bool(words) and words[0] in ("set", "list", "remove", "path")


def keys(session: Session, words: list[str]) -> Any:
    """Dispatch `%llm keys ACTION ...`."""
    action, rest = (words[0], words[1:]) if words else ("", [])
    if action == "list" and not rest:
        return listing(session)
    if action == "path" and not rest:
        return path(session)
    if action in ("set", "remove"):
        provider, name = _provider_and_name(rest)
        return store(session, provider, name) if action == "set" else remove(session, provider, name)
    raise UsageError(USAGE)


def _provider_and_name(words: list[str]) -> tuple[str, str]:
    if len(words) == 1:
        provider, name = words[0], "default"
    elif len(words) == 3 and words[1] == "--name":
        provider, name = words[0], words[2]
    else:
        raise UsageError(USAGE)
    registry.entry(provider)  # an unknown provider is one line naming the known ones
    if not NAME.match(name):
        raise UsageError(f"a key name is letters, digits, '.', '_' or '-' (up to 64), not {name!r}")
    return provider, name


def store(session: Session, provider: str, name: str) -> None:
    """Ask for the key (never echoed) and keep it in the keyring, or the 0600 file where there is none."""
    try:
        value = getpass.getpass(f"{provider} API key '{name}' (or env:NAME, keyring:SERVICE/USER, cmd:COMMAND): ")
    except Exception as exc:  # ipykernel's StdinNotImplementedError where the front end cannot ask
        raise UsageError(f"this front end cannot ask for a key ({type(exc).__name__}): run %llm keys set in Jupyter "
                         f"or IPython, or set the provider's variable where the kernel starts") from None
    value = value.strip()
    if not value:
        raise UsageError("no key entered: nothing stored")
    pool = session.keys
    kind = pool.set(provider, name, value)
    print(f"coditect: stored {provider} key {name!r} in the {pool.store.where(kind)}")
    if kind == "file":
        session.notice(f"no usable keyring here: keys are kept in {pool.store.file_path} (mode 0600)",
                       once="keys-file")
    shadowed = [c.name for c in pool.candidates(provider) if c.source == "env"]
    if shadowed:
        session.notice(f"{', '.join(shadowed)} is set and comes first: stored {provider} keys are used when it "
                       "is not", once=f"keys-env-{provider}")


def listing(session: Session) -> Any:
    """Every key: provider, name, where it is kept, its last four characters, whether calls use it."""
    import pandas as pd
    rows = session.keys.inventory()
    columns = ["provider", "name", "stored in", "ends with", "in use"]
    return pd.DataFrame([(r.provider, r.name, r.stored_in, r.ends_with, r.in_use) for r in rows], columns=columns)


def remove(session: Session, provider: str, name: str) -> None:
    if not session.keys.remove(provider, name):
        raise UsageError(f"no stored {provider} key named {name!r}: %llm keys list shows them")
    print(f"coditect: removed the {provider} key {name!r}")


def path(session: Session) -> None:
    """Where keys are kept now, and where their names are listed."""
    store = session.keys.store
    print(f"keys: {store.where()}\nfile (where no keyring works, mode 0600): {store.file_path}\n"
          f"names: {store.index_path}")
