"""`NewCell`: the model proposes a code cell; it goes below the cell that is running, unrun: the person runs it.
It needs no permission (it changes nothing but the notebook's text) and is offered only when named.

How the cell gets there: IPython's `set_next_input(code, replace=False)`, the kernel protocol's own way, which
JupyterLab, Notebook 7 and VS Code answer by inserting a code cell right below the executed one (terminal IPython
pre-fills the next prompt). It lands when the running cell finishes, which costs nothing: the kernel is busy with the
run until then, so the cell could not be run sooner. Proposals made in one cell's run are joined into that one cell
(the protocol carries one per execution).

ipylab (JupyterLab commands from the kernel) was weighed and left out: its commands act on the notebook's active
cell, which after Shift+Enter or Run All is not the running one, and `notebook:select-last-run-cell` finds the
running cell only when JupyterLab records cell timing (off by default); the cell would land in the wrong place.

Like RunPython, the insertion runs on the kernel's main thread (through the `main_thread` runner a front sets)."""

from __future__ import annotations

from typing import Any, Mapping

from .errors import ToolError
from .kernel import running_shell
from .python import main_thread
from .schema import Tool

_proposed: dict[str, Any] = {"cell": None, "codes": []}   # the running cell's proposals so far


def new_cell_tool(namespace: Mapping[str, Any]) -> Tool:
    """`NewCell` for the notebook whose namespace is `namespace`."""
    async def NewCell(code: str, run: bool = False) -> str:  # noqa: N802 - Claude-Code-style tool name
        """Propose a new code cell, put below the cell that is running, for the user to read, change and run. It
        is never run by you: the user runs it. Use it for code the user should keep in the notebook, such as a
        chart or a cleaning step.

        Args:
            code: The cell's Python code.
            run: Must be false: proposed cells are run by the user, never by the tool.
        """
        if run:
            raise ToolError("NewCell never runs a cell: the user runs proposed cells. Call it with run false (or "
                            "leave run out); to run code now, use RunPython")
        if not code.strip():
            raise ToolError("the proposed cell is empty: give its code")
        on_main = main_thread.get()
        if on_main is not None:
            return await on_main(lambda: propose(code, namespace))
        return propose(code, namespace)

    return Tool.from_function(NewCell)


def propose(code: str, namespace: Mapping[str, Any]) -> str:
    """Put `code` below the running cell as a new, unrun cell; what the model is told."""
    shell = running_shell(namespace)
    if shell is None:
        raise ToolError("there is no notebook here to put a cell in (this run has no IPython shell); give the code "
                        "in your answer instead")
    if not someone_sees(shell):
        raise ToolError("this notebook runs headless (nobody is at it to see a proposed cell); give the code in "
                        "your answer instead")
    cell = getattr(shell, "execution_count", None)
    if _proposed["cell"] != cell:
        _proposed.update(cell=cell, codes=[])
    _proposed["codes"].append(code.rstrip("\n"))
    shell.set_next_input("\n\n".join(_proposed["codes"]), replace=False)
    joined = f" (joined with the {len(_proposed['codes']) - 1} proposed before it)" if len(_proposed["codes"]) > 1 \
        else ""
    return (f"Proposed a new cell below the running one{joined}, not run: it appears when this cell finishes, and "
            f"the user decides whether to run it.")


def someone_sees(shell: Any) -> bool:
    """Whether a person's frontend will show the cell: terminal IPython, or a Jupyter kernel whose current request
    came from a frontend that takes input (nbclient and other headless runs do not)."""
    if type(shell).__name__ == "TerminalInteractiveShell":
        return True
    kernel = getattr(shell, "kernel", None)
    parent = kernel.get_parent() if kernel is not None and hasattr(kernel, "get_parent") else {}
    return bool((parent or {}).get("content", {}).get("allow_stdin"))
