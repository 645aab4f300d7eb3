"""API keys stored safely, several per provider, rotated, never shown: the store (the system keyring, or a 0600 file
where there is none), references to secret managers (env:, keyring:, cmd:), each session's pool of keys and the
rotation the executor spends them by. Nothing here imports `keyring` until a stored key is asked for."""

from .pool import Key, KeyPool, env_names
from .refs import ReferenceFailed, References, describe, is_reference
from .rotation import Rotation, retrying
from .store import SERVICE, KeyStore, StoredName, config_dir

__all__ = ["SERVICE", "Key", "KeyPool", "KeyStore", "ReferenceFailed", "References", "Rotation", "StoredName",
           "config_dir", "describe", "env_names", "is_reference", "retrying"]
