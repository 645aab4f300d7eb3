"""Where `%llm keys set` keeps a key: the system keyring (service "coditect-magics") through `keyring`, or, where no
keyring backend is usable (headless Linux, CI), a JSON file in the user config dir with mode 0600. An index of key
NAMES (never values) beside it lets `list` work, since a keyring cannot enumerate its entries."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coditect_magics.errors import UsageError

SERVICE = "coditect-magics"
DIR_ENV = "CODITECT_CONFIG_DIR"   # where the index and the fallback file live (default: the user config dir)
DEFAULT_NAME = "default"
KEYRING, FILE = "keyring", "file"


@dataclass(frozen=True)
class StoredName:
    """One stored key as the index knows it: never its value."""

    provider: str
    name: str
    where: str   # KEYRING or FILE


def config_dir() -> Path:
    """$CODITECT_CONFIG_DIR, else platformdirs' user config dir for the kit."""
    given = os.environ.get(DIR_ENV)
    if given:
        return Path(given).expanduser()
    from platformdirs import user_config_dir
    return Path(user_config_dir("coditect-magics"))


def usable(backend: Any) -> bool:
    """Whether a keyring backend can really keep a secret: not keyring's fail or null backend, nor a chainer that
    chains nothing."""
    from keyring.backends import chainer, fail, null
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return False
    return not (isinstance(backend, chainer.ChainerBackend) and not backend.backends)


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Write JSON readable by the owner only (0600 from its creation, then moved into place)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=1, sort_keys=True)
    os.chmod(temporary, 0o600)  # an umask cannot widen it, but a pre-existing temp file could have another mode
    os.replace(temporary, path)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} cannot be read ({type(exc).__name__}); fix or delete it") from None
    return data if isinstance(data, dict) else {}


class KeyStore:
    """`set`, `get`, `remove` and `names` of stored keys. `backend`: a keyring backend to use instead of keyring's
    choice (tests); `directory`: where the index and the fallback file live."""

    def __init__(self, directory: str | Path | None = None, *, backend: Any = None) -> None:
        self.directory = Path(directory) if directory is not None else config_dir()
        self._backend = backend
        self._checked = backend is not None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"KeyStore({str(self.directory)!r})"

    @property
    def index_path(self) -> Path:
        return self.directory / "key-names.json"

    @property
    def file_path(self) -> Path:
        """The fallback file (mode 0600) for where no keyring backend is usable."""
        return self.directory / "keys.json"

    def backend(self) -> Any | None:
        """The keyring backend keys go to, None when there is none usable (or `keyring` is not installed)."""
        with self._lock:
            if not self._checked:
                self._checked = True
                try:
                    import keyring
                    found = keyring.get_keyring()
                    self._backend = found if usable(found) else None
                except ImportError:
                    self._backend = None
            return self._backend

    def where(self, kind: str | None = None) -> str:
        """Where a key of this kind (default: the one `set` uses now) is kept, in words."""
        kind = kind or (KEYRING if self.backend() is not None else FILE)
        if kind == KEYRING:
            backend = self.backend()
            return f"keyring ({type(backend).__module__}.{type(backend).__name__})" if backend else "keyring"
        return f"file {self.file_path}"

    def set(self, provider: str, name: str, value: str) -> str:
        """Keep a key; returns the kind of place it went to (KEYRING, or FILE where no keyring works)."""
        backend, kind = self.backend(), FILE
        if backend is not None:
            from keyring.errors import KeyringError
            try:
                backend.set_password(SERVICE, f"{provider}/{name}", value)
                kind = KEYRING
            except KeyringError:  # a locked or absent secret service: the file keeps it instead
                kind = FILE
        with self._lock:
            if kind == FILE:
                data = _read(self.file_path)
                data.setdefault(provider, {})[name] = value
                write_private(self.file_path, data)
            index = _read(self.index_path)
            old = index.setdefault(provider, {}).get(name)
            index[provider][name] = kind
            write_private(self.index_path, index)
        if old and old != kind:
            self._forget_value(provider, name, old)
        return kind

    def get(self, provider: str, name: str) -> str | None:
        """A stored key's value (or reference), None when there is none."""
        kind = _read(self.index_path).get(provider, {}).get(name)
        if kind == KEYRING:
            backend = self.backend()
            return backend.get_password(SERVICE, f"{provider}/{name}") if backend is not None else None
        if kind == FILE:
            value = _read(self.file_path).get(provider, {}).get(name)
            return value if isinstance(value, str) else None
        return None

    def remove(self, provider: str, name: str) -> bool:
        """Forget a key; False when none was stored under that name."""
        with self._lock:
            index = _read(self.index_path)
            kind = index.get(provider, {}).pop(name, None)
            if kind is None:
                return False
            if not index[provider]:
                del index[provider]
            write_private(self.index_path, index)
        self._forget_value(provider, name, kind)
        return True

    def names(self, provider: str | None = None) -> list[StoredName]:
        """The stored keys' names (one provider's, or all), in the order they were first stored."""
        index = _read(self.index_path)
        return [StoredName(p, name, kind) for p, names in index.items() if provider in (None, p)
                for name, kind in names.items()]

    def _forget_value(self, provider: str, name: str, kind: str) -> None:
        if kind == FILE:
            with self._lock:
                data = _read(self.file_path)
                if data.get(provider, {}).pop(name, None) is not None:
                    write_private(self.file_path, {p: v for p, v in data.items() if v})
            return
        backend = self.backend()
        if backend is not None:
            from keyring.errors import PasswordDeleteError
            try:
                backend.delete_password(SERVICE, f"{provider}/{name}")
            except PasswordDeleteError:  # already gone from the keyring: the index was all that remained
                pass
