"""`MemorySearch`: the memory store searched by meaning, opened on the first search (Chroma and the embedder load
then, not when the tool is offered)."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any, Callable

from pydantic import Field

from .errors import ToolError
from .schema import Tool


def open_default_memory() -> Any:
    """The user's default memory store."""
    try:
        from coditect_magics.memory import Memory
        return Memory()
    except ImportError as exc:
        raise ToolError(f"MemorySearch needs the memory extra ({exc.name} is missing): "
                        f"pip install 'coditect-magics[memory]'") from None


def memory_tool(memory: Any = None) -> Tool:
    """`memory` is a Memory, a function that opens one, or None for the user's default store."""
    is_store = memory is not None and hasattr(memory, "search")
    opened: list[Any] = [memory] if is_store else []
    opener: Callable[[], Any] = memory if memory is not None and not is_store else open_default_memory
    lock = threading.Lock()

    def store() -> Any:
        with lock:  # concurrent first searches must not open two stores
            if not opened:
                opened.append(opener())
            return opened[0]

    async def memory_search(query: str, k: Annotated[int, Field(ge=1, le=20)] = 5) -> str:
        """Search the user's memory (past exchanges, notes and indexed files) by meaning.

        Args:
            query: What to look for, in plain words.
            k: How many memories to return at most.
        """
        from coditect_magics.memory.context import context_block
        hits = await asyncio.to_thread(lambda: store().search(query, k=k))
        return context_block(hits) or f"No memories match {query!r}."

    return Tool.from_function(memory_search, name="MemorySearch")
