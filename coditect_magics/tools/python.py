"""`RunPython`: code run in the notebook's namespace as a cell would run it, for a model that needs a result it
cannot read from the variables. It needs the "run" permission (each call is approved, allowed or denied first).

Where a front reads the run's events (a cell), the code runs on the kernel's main thread, like a cell: the tool
emits `OnMainThread` and the front runs it between events. Elsewhere (a script, a worker) it runs in a thread."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import contextvars
import io
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .approval import answered
from .schema import Tool, ToolOutput

OUTPUT_CHARS = 20_000      # stdout and stderr kept for the model, each
FRAMES = 3                 # traceback frames a failure shows

# set by a runner whose front runs code on the main thread: (function) -> awaitable of its result
main_thread: contextvars.ContextVar[Callable[[Callable[[], Any]], Any] | None] = \
    contextvars.ContextVar("coditect_main_thread", default=None)


@dataclass(frozen=True)
class OnMainThread:
    """An event for the front: call `function` on the kernel's main thread, then `answer` with what it returned."""

    function: Callable[[], Any]
    future: asyncio.Future[Any] = field(repr=False)

    def answer(self, value: Any = None, error: BaseException | None = None) -> None:
        def settle() -> None:
            if not self.future.done():
                self.future.set_exception(error) if error is not None else self.future.set_result(value)
        self.future.get_loop().call_soon_threadsafe(settle)


def through_events(emit: Callable[[Any], Any]) -> Callable[[Callable[[], Any]], Any]:
    """A `main_thread` runner that hands the function to the front as an OnMainThread event."""
    async def on_main(function: Callable[[], Any]) -> Any:
        return await answered(emit, lambda future: OnMainThread(function, future))

    return on_main


def run_code(code: str, namespace: dict[str, Any]) -> ToolOutput:
    """Run `code` in `namespace`; what the model reads: stdout, stderr, the last expression's repr, the error in
    one line and its last frames, and the figures it made as images."""
    out, err = io.StringIO(), io.StringIO()
    before = _figures()
    value, failure = None, ""
    try:
        tree = ast.parse(code, "<RunPython>")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            exec(compile(tree, "<RunPython>", "exec"), namespace)  # noqa: S102 - running it is the tool's job
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<RunPython>", "eval"), namespace)  # noqa: S307
    except BaseException as exc:  # the code's own failure (SyntaxError, SystemExit too) is the model's to read
        frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
        failure = "".join([*frames[-FRAMES - 1:-1][-FRAMES:], frames[-1]]).strip()
    if value is not None:
        namespace["_"] = value
    made = sorted(_figures() - before)
    return ToolOutput(_report(out.getvalue(), err.getvalue(), value, failure, len(made)), _figure_images(made))


def _report(stdout: str, stderr: str, value: Any, failure: str, figures: int) -> str:
    parts = []
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        if text:
            cut = f"\n… ({len(text) - OUTPUT_CHARS} more characters)" if len(text) > OUTPUT_CHARS else ""
            parts.append(f"[{name}]\n{text[:OUTPUT_CHARS]}{cut}")
    if value is not None:
        parts.append(f"[result]\n{repr(value)[:OUTPUT_CHARS]}")
    if failure:
        parts.append(f"[error]\n{failure}")
    if figures:
        parts.append(f"[figures] {figures} made (the images follow)")
    return "\n".join(parts) or "(ran; no output)"


def _figure_images(numbers: list[int]) -> tuple[Any, ...]:
    """The figures as PNG image parts, as a cell would show them."""
    if not numbers:
        return ()
    import matplotlib.pyplot as pyplot

    from coditect_magics.images import image_part
    return tuple(image_part(pyplot.figure(number)) for number in numbers)


def _figures() -> set[int]:
    """The open matplotlib figures, if pyplot is in use (never imported here)."""
    import sys
    pyplot = sys.modules.get("matplotlib.pyplot")
    return set(pyplot.get_fignums()) if pyplot is not None else set()


def python_tool(namespace: Mapping[str, Any] | None) -> Tool:
    """The RunPython tool over the notebook's namespace (a scratch one when there is none)."""
    space: Any = namespace if namespace is not None else {}

    async def RunPython(code: str) -> ToolOutput:  # noqa: N802 - Claude-Code-style tool name
        """Run Python code in the notebook's kernel, as a cell would, and read its printed output, the value of
        its last line, or its error. Variables it sets stay in the notebook.

        Args:
            code: the Python code to run
        """
        on_main = main_thread.get()
        if on_main is not None:
            return await on_main(lambda: run_code(code, space))
        return await asyncio.to_thread(run_code, code, space)

    return Tool.from_function(RunPython)
