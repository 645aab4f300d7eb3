"""Memory: what the user said, wrote and decided, in ChromaDB, searched by meaning.

    from coditect_magics.memory import Memory, index
    memory = Memory()                       # embedded store, local embedder
    memory.add("Reverse a string with s[::-1]", source="tips.md")
    memory.search("how do I reverse a string", k=3)   # -> [Hit(id, text, score, metadata), ...]
    index("notes/", memory)                 # Markdown, text, .ipynb, JSONL message logs

Importing this package is cheap: Chroma, torch and sentence-transformers load on first use."""

from __future__ import annotations

from typing import Any

from .errors import EmbedderError, MemoryError_, StoreError, UnknownEmbedder

_LAZY = {
    "Memory": "store", "Hit": "store", "item_id": "store", "default_dir": "store",
    "index": "indexing", "IndexReport": "indexing", "BadLine": "indexing", "chunk": "indexing",
    "context_block": "context", "relevant": "context", "Journal": "journal",
    "Embedder": "embedders", "get_embedder": ("embedders", "get"), "known_embedders": ("embedders", "known"),
}

__all__ = ["EmbedderError", "MemoryError_", "StoreError", "UnknownEmbedder", *_LAZY]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, attr = (target, name) if isinstance(target, str) else target
    import importlib
    value = getattr(importlib.import_module(f".{module_name}", __name__), attr)
    globals()[name] = value
    return value
