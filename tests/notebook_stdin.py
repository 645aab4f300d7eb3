"""nbclient with a person at the keyboard, for notebooks that ask for input (`%llm keys set` asks with getpass):
each input request is answered over the kernel's stdin channel, as a Jupyter front end answers it. nbclient itself
turns stdin off, so such a cell would otherwise fail with StdinNotImplementedError."""

from __future__ import annotations

import asyncio

import nbformat
from nbclient import NotebookClient


class Typing(NotebookClient):
    """nbclient with a person at the keyboard: the kernel may ask for input (getpass), and each request is
    answered with the next of `typed` over the stdin channel, as a Jupyter front end answers it."""

    def __init__(self, notebook: nbformat.NotebookNode, typed: list[str], **kw) -> None:
        super().__init__(notebook, **kw)
        self.typed = list(typed)
        self.asked: list[dict] = []

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        self.kc.allow_stdin = True
        answering = asyncio.ensure_future(self._answer())
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            answering.cancel()

    async def _answer(self) -> None:
        while True:
            message = await self.kc.get_stdin_msg()
            if message["header"]["msg_type"] == "input_request":
                self.asked.append(message["content"])
                self.kc.input(self.typed.pop(0))
