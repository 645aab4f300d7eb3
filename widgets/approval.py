"""The approval card: a tool call that acts, put to the person at the notebook in the cell that asked for it.

    decision = ask_in_cell(request)     # shows the card, waits for a button, returns the Decision

The card shows the tool, its full arguments (code syntax-highlighted; for `Write` and `Edit` a unified diff against
the file on disk) and why the model asked (the text it wrote before the call). Approve runs the call; Deny sends
the optional reason back to the model; Edit changes the arguments (RunPython's code, other tools' JSON) and runs the
edited call; Always approves this tool for the rest of the run. Then the card gives way to one line saying what was
decided, which the saved notebook keeps. Interrupting the kernel while the card waits denies the call and ends the
run.

Why the run stays in the cell and the card is answered by polling widget events, rather than the run going to the
background as the panels' replies do: the run belongs to its cell. The cell's result, `_llm` and `_trace` are the
run's, a later cell (which may read what RunPython set) waits for it as for any cell, RunPython runs on the kernel's
main thread as a cell would, and the kernel's interrupt stops it. A background run would return the cell at once
with none of that, and leave code running in the notebook's namespace under the next cell. The cost of staying:
while the card waits, the cell is busy and other cells queue behind it, as they would behind `input()`. Widget
events reach the card through `kernel_events.wait_for` (jupyter-ui-poll where the kernel still supports it)."""

from __future__ import annotations

import difflib
import functools
import html
import json
import os
from pathlib import Path
from typing import Any, Mapping

import ipywidgets as w

from coditect_magics.tools.approval import ApprovalRequest, Decision

MAX_DIFF_LINES = 400          # a longer diff is cut, saying how much more there is
MAX_FILE_BYTES = 2_000_000    # a bigger file on disk is not read for the diff
MAX_REASON_CHARS = 2000
STYLE = """<style>
.cm-approval { border: 1px solid var(--jp-warn-color1, #f0ad4e); border-radius: 4px; padding: 6px 8px;
  gap: 4px; font-family: var(--jp-ui-font-family); font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1); max-width: 100%; box-sizing: border-box; }
.cm-approval .cm-why { color: var(--jp-ui-font-color2); white-space: pre-wrap; border-left: 3px solid
  var(--jp-border-color1); padding-left: 6px; }
.cm-approval .cm-code { max-height: 420px; overflow: auto; border: 1px solid var(--jp-border-color2); }
.cm-approval .cm-code pre { margin: 0; padding: 4px 6px; font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size); }
.cm-approval .cm-row { flex-wrap: wrap; gap: 4px; align-items: center; }
.cm-approval .cm-status { color: var(--jp-error-color1); }
.cm-approval .cm-edit-code textarea { font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size); }
</style>"""
MARKS = {"approved": "✓", "edited": "✎", "denied": "✗"}


def ask_in_cell(request: ApprovalRequest) -> Decision:
    """Show the card in the running cell's output and wait for the person's decision; the card then collapses to
    one line. KeyboardInterrupt (the kernel's interrupt) denies the call, then propagates."""
    from IPython.display import display

    from .kernel_events import wait_for
    card = Card(request)
    bundle = dict(card.box._repr_mimebundle_() or {})  # the widget view, with words where no widget renders
    bundle["text/plain"] = (f"coditect: {request.tool} waits for your approval in a card; where none shows (no "
                            f"widget renderer), interrupt the kernel to deny it")
    handle = display(bundle, raw=True, display_id=True)
    try:
        decision = wait_for(lambda: card.decision)
    except KeyboardInterrupt:
        card.finish(handle, Decision("denied", "user", reason="interrupted: the run was stopped", stop=True))
        raise
    card.finish(handle, decision)
    return decision


def warm() -> None:
    """Load what the first card needs (ipywidgets is imported with this module; pygments' lexers here), so that it
    shows as fast as the next: a front calls this on a thread when a run that may ask starts."""
    for language in ("python", "json", "bash", "diff"):
        highlight("x", language)


def decision_line(request: ApprovalRequest, decision: Decision) -> str:
    """What was decided, in one line."""
    what = {"approved": "approved", "edited": "edited, then run", "denied": "denied"}[decision.verdict]
    when = " for the rest of this run" if decision.always else ""
    by = "" if decision.by == "user" else f" by {decision.by}"
    why = f": {decision.reason}" if decision.reason else ""
    return f"{MARKS[decision.verdict]} {request.tool} {what}{by}{when}{why}"


class Card:
    """The card's widgets; `decision` stays None until a button decides. Few widgets, shared layout and style
    models: each is a comm message and a model the browser builds before the card shows; the editor is made only
    when Edit is clicked."""

    def __init__(self, request: ApprovalRequest) -> None:
        self.request = request
        self.decision: Decision | None = None
        self.editor: Any = None
        self.status: Any = None
        who = html.escape(request.agent or "The model")
        why = request.reason.strip()
        view = w.HTML(f"{STYLE}<div><b>⚠ {who} asks to run <code>{html.escape(request.tool)}</code></b> "
                      f"<span class='cm-muted'>(needs “{html.escape(request.permission)}”; interrupt the kernel "
                      f"to deny and stop)</span></div>"
                      + (f"<div class='cm-why'>{html.escape(_cut(why, MAX_REASON_CHARS))}</div>" if why else "")
                      + f"<div class='cm-code'>{arguments_html(request.tool, request.arguments)}</div>")
        self.auto, self.look = w.Layout(width="auto"), w.ButtonStyle()
        self.reason = classed(w.Text(placeholder="reason for denying (optional; the model reads it)",
                                     layout=w.Layout(flex="1 1 240px")), "cm-reason")
        buttons = [self._button("Approve", "cm-approve", self._approve, "success"),
                   self._button("Deny", "cm-deny", self._deny, "danger"), self.reason,
                   self._button("Edit", "cm-edit", self._open_editor),
                   self._button(f"Always for this run ({request.tool})", "cm-always", self._always)]
        self.box = classed(w.VBox([view, classed(w.HBox(buttons), "cm-row")]), "cm-approval")

    def _button(self, label: str, css: str, act: Any, kind: str = "") -> w.Button:
        button = classed(w.Button(description=label, button_style=kind, layout=self.auto, style=self.look), css)
        button.on_click(lambda _: act())
        return button

    def _approve(self) -> None:
        self.decision = Decision("approved", "user", self.request.arguments)

    def _always(self) -> None:
        self.decision = Decision("approved", "user", self.request.arguments, always=True)

    def _deny(self) -> None:
        self.decision = Decision("denied", "user", reason=" ".join(self.reason.value.split()))

    def _open_editor(self) -> None:
        """Edit: the arguments in a text area (RunPython's code, other tools' JSON), run with "Run edited"."""
        if self.editor is not None:
            return
        self.editor = classed(w.Textarea(value=editable(self.request.tool, self.request.arguments),
                                         layout=w.Layout(width="100%", height="180px")), "cm-edit-code")
        run = classed(w.HBox([self._button("Run edited", "cm-run-edited", self._edited, "warning")]), "cm-row")
        self.box.children = (*self.box.children, self.editor, run)

    def _edited(self) -> None:
        try:
            arguments = edited(self.request.tool, self.request.arguments, self.editor.value)
        except ValueError as exc:
            self._say(str(exc))
            return
        verdict = "approved" if arguments == dict(self.request.arguments) else "edited"
        self.decision = Decision(verdict, "user", arguments)

    def _say(self, problem: str) -> None:
        """A problem with the person's input, under the card (the card keeps waiting)."""
        if self.status is None:
            self.status = classed(w.HTML(), "cm-status")
            self.box.children = (*self.box.children, self.status)
        self.status.value = html.escape(problem)

    def finish(self, handle: Any, decision: Decision) -> None:
        """Put the one-line decision where the card was (the saved notebook keeps it), and close the widgets."""
        line = decision_line(self.request, decision)
        css = "cm-approval cm-decided" + (" cm-denied" if decision.verdict == "denied" else "")
        if handle is not None:
            handle.update({"text/html": f"<div class='{css}'>{html.escape(line)}</div>",
                           "text/plain": f"coditect: {line}"}, raw=True)
        for widget in _models(self.box):
            widget.close()


def classed(widget: Any, css: str) -> Any:
    """The widget with a CSS class (what the browser tests and the theme select it by)."""
    widget.add_class(css)
    return widget


def _models(box: Any) -> list[Any]:
    """The box, every widget in it and their layout and style models, each once."""
    found: dict[int, Any] = {}
    stack = [box]
    while stack:
        widget = stack.pop()
        if widget is None or id(widget) in found:
            continue
        found[id(widget)] = widget
        stack += [*getattr(widget, "children", ()), getattr(widget, "layout", None), getattr(widget, "style", None)]
    return list(found.values())


def arguments_html(tool: str, arguments: Mapping[str, Any]) -> str:
    """A call's arguments for a person to judge: code highlighted, a file change as a diff, the rest as JSON; the
    whole arguments follow, folded, so nothing the call will use is hidden."""
    rest = dict(arguments)
    shown = ""
    if tool == "RunPython" and isinstance(rest.get("code"), str):
        shown = highlight(rest.pop("code"), "python")
    elif tool == "Bash" and isinstance(rest.get("command"), str):
        shown = highlight(rest.pop("command"), "bash")
    elif tool in ("Write", "Edit") and isinstance(arguments.get("file_path"), str):
        shown = (f"<div><code>{html.escape(str(arguments['file_path']))}</code></div>"
                 + highlight(file_diff(tool, arguments), "diff"))
        rest = {}
    if rest or not shown:
        shown += highlight(json.dumps(rest, indent=2, ensure_ascii=False, default=str), "json")
    whole = html.escape(json.dumps(dict(arguments), indent=2, ensure_ascii=False, default=str))
    return f"{shown}<details><summary>all arguments (JSON)</summary><pre>{whole}</pre></details>"


def highlight(text: str, language: str) -> str:
    """`text` as syntax-highlighted HTML with inline styles (pygments; no stylesheet needed)."""
    from pygments import highlight as colour
    return colour(text, *_pygments(language))


@functools.lru_cache(maxsize=8)
def _pygments(language: str) -> tuple[Any, Any]:
    """The lexer and the formatter for `language`, made once."""
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    return get_lexer_by_name(language), HtmlFormatter(noclasses=True, nobackground=True)


def file_diff(tool: str, arguments: Mapping[str, Any]) -> str:
    """What `Write` or `Edit` would change, as a unified diff against the file on disk (relative paths from the
    working directory, as the file tools take them)."""
    path = Path(os.path.expanduser(str(arguments["file_path"])))
    before = _read(path)
    if tool == "Write":
        after = str(arguments.get("content", ""))
    elif before is None:
        return f"(no file at {path}: Edit will fail)"
    else:
        old, new = str(arguments.get("old_string", "")), str(arguments.get("new_string", ""))
        if old not in before:
            return "(old_string is not in the file: Edit will fail)\n" + f"- {old}\n+ {new}"
        after = before.replace(old, new) if arguments.get("replace_all") else before.replace(old, new, 1)
    label = str(arguments["file_path"])
    lines = list(difflib.unified_diff((before or "").splitlines(keepends=True), after.splitlines(keepends=True),
                                      "/dev/null" if before is None else f"a/{label}", f"b/{label}"))
    if not lines:
        return "(no change)"
    cut = f"\n… ({len(lines) - MAX_DIFF_LINES} more lines)" if len(lines) > MAX_DIFF_LINES else ""
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines[:MAX_DIFF_LINES]) + cut


def _read(path: Path) -> str | None:
    """The file's text, or None when there is none (or it is too big or not text)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def editable(tool: str, arguments: Mapping[str, Any]) -> str:
    """What the editor starts with: RunPython's code, or the arguments as JSON."""
    if tool == "RunPython" and isinstance(arguments.get("code"), str):
        return str(arguments["code"])
    return json.dumps(dict(arguments), indent=2, ensure_ascii=False, default=str)


def edited(tool: str, arguments: Mapping[str, Any], text: str) -> dict[str, Any]:
    """The arguments after the edit; ValueError says what is wrong with the edited JSON."""
    if tool == "RunPython" and isinstance(arguments.get("code"), str):
        return {**dict(arguments), "code": text}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the edited arguments are not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("the edited arguments must be a JSON object: {\"name\": value, ...}")
    return value


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f" … ({len(text) - limit} more characters)"
