"""The errors memory raises: each one says what went wrong and which setting changes it."""

from __future__ import annotations


class MemoryError_(RuntimeError):
    """Base of memory's errors (named so it does not shadow the builtin MemoryError)."""


class EmbedderError(MemoryError_):
    """The chosen embedder cannot load or cannot embed. Memory never falls back to another one silently."""


class UnknownEmbedder(EmbedderError, ValueError):
    """An embedder name memory does not know."""


class StoreError(MemoryError_):
    """The Chroma store cannot be opened or used as asked (missing package, server down, wrong collection)."""
