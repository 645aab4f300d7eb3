"""The approval card without a browser (click its buttons, read what it shows and what it decided), widget events
handled while a cell waits in a real kernel, and `NewCell` where nobody is at the notebook."""

from __future__ import annotations

import html
import queue
import re
import time

import pytest

from tests import parts

parts.module("ipywidgets", "pip install -e '.[dev]' (the widgets extra)")

from coditect_magics.tools.approval import ApprovalRequest, Decision  # noqa: E402
from coditect_magics.widgets.approval import Card, decision_line  # noqa: E402
from tests.fakes import Script  # noqa: E402


def request(tool: str = "RunPython", **arguments) -> ApprovalRequest:
    return ApprovalRequest(tool, arguments or {"code": "total = sum(range(10))\nprint(total)"}, "run",
                           reason="I will add the numbers up.", agent="analyst")


def shown(card: Card) -> str:
    """The card's text as a person reads it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", card.box.children[0].value))


def button(card: Card, css: str):
    found = [b for b in _all(card.box) if css in getattr(b, "_dom_classes", ())]
    assert len(found) == 1, f"one .{css} expected"
    return found[0]


def _all(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _all(child)


def test_the_card_shows_who_asks_why_and_the_whole_code():
    card = Card(request())
    text = shown(card)
    assert "analyst asks to run RunPython" in text and "I will add the numbers up." in text
    assert "total = sum(range(10))\nprint(total)" in text
    assert "<span" in card.box.children[0].value, "the code is highlighted"
    assert card.decision is None


@pytest.mark.parametrize("css, verdict, always", [("cm-approve", "approved", False), ("cm-always", "approved", True)])
def test_approve_and_always_approve_the_call_as_asked(css, verdict, always):
    card = Card(request())
    button(card, css).click()
    assert card.decision == Decision(verdict, "user", card.request.arguments, always=always)


def test_deny_sends_the_reason_typed():
    card = Card(request())
    button(card, "cm-reason").value = "  not on the\nproduction data "
    button(card, "cm-deny").click()
    assert card.decision == Decision("denied", "user", reason="not on the production data")
    assert decision_line(card.request, card.decision) == "✗ RunPython denied: not on the production data"


def test_edit_runs_the_edited_code_and_an_unchanged_edit_is_an_approval():
    card = Card(request())
    button(card, "cm-edit").click()
    editor = button(card, "cm-edit-code")
    assert editor.value == "total = sum(range(10))\nprint(total)"
    editor.value = "print('edited')"
    button(card, "cm-run-edited").click()
    assert card.decision == Decision("edited", "user", {"code": "print('edited')"})
    same = Card(request())
    button(same, "cm-edit").click()
    button(same, "cm-run-edited").click()
    assert same.decision.verdict == "approved"


def test_editing_json_arguments_says_what_is_wrong_and_keeps_waiting(tmp_path):
    card = Card(request("Write", file_path=str(tmp_path / "a.txt"), content="one\n"))
    button(card, "cm-edit").click()
    editor = button(card, "cm-edit-code")
    editor.value = "{not json"
    button(card, "cm-run-edited").click()
    assert card.decision is None and "not JSON" in button(card, "cm-status").value
    editor.value = '{"file_path": "b.txt", "content": "two"}'
    button(card, "cm-run-edited").click()
    assert card.decision == Decision("edited", "user", {"file_path": "b.txt", "content": "two"})


def test_write_and_edit_show_a_diff_against_the_file_on_disk(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("alpha\nbeta\ngamma\n")
    edit = shown(Card(request("Edit", file_path=str(target), old_string="beta", new_string="BETA")))
    assert "-beta\n+BETA\n" in edit and " alpha\n" in edit
    new = shown(Card(request("Write", file_path=str(tmp_path / "new.txt"), content="hello\n")))
    assert "--- /dev/null" in new and "+hello" in new
    gone = shown(Card(request("Edit", file_path=str(target), old_string="delta", new_string="x")))
    assert "old_string is not in the file: Edit will fail" in gone


def test_widget_events_reach_a_cell_that_waits_and_requests_sent_meanwhile_run_after_it():
    """In a real kernel: a cell waits on a widget's value while the client changes it over the comm channel; a cell
    sent meanwhile runs after the waiting one, and the kernel still takes cells afterwards."""
    manager = parts.module("jupyter_client.manager", "pip install -e '.[dev]' (ipykernel brings jupyter_client)")
    kernel, client = manager.start_new_kernel(kernel_name="python3")
    try:
        run(client, "import ipywidgets\nvalue = ipywidgets.IntText()")
        model = run(client, "print(value.model_id)").strip()
        waiting = client.execute("from coditect_magics.widgets.kernel_events import wait_for\n"
                                 "print('seen', wait_for(lambda: value.value if value.value >= 3 else None))")
        time.sleep(0.5)
        for number in (1, 2, 3):
            client.shell_channel.send(client.session.msg("comm_msg", {"comm_id": model, "data": {
                "method": "update", "state": {"value": number}, "buffer_paths": []}}))
            if number == 1:
                meanwhile = client.execute("print('meanwhile')")
        printed = outputs(client, [waiting, meanwhile])
        assert printed == ["seen 3\n", "meanwhile\n"]
        assert run(client, "print('still taking cells')") == "still taking cells\n"
    finally:
        client.stop_channels()
        kernel.shutdown_kernel(now=True)


def run(client, code: str) -> str:
    return "".join(outputs(client, [client.execute(code)]))


def outputs(client, ids: list[str], timeout: float = 30) -> list[str]:
    """What the cells `ids` printed, in the order printed, once the last of them is done."""
    printed, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = client.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        parent = message["parent_header"].get("msg_id")
        if message["msg_type"] == "stream" and parent in ids:
            printed.append(message["content"]["text"])
        if message["msg_type"] == "error" and parent in ids:
            raise AssertionError(message["content"]["evalue"])
        if message["msg_type"] == "status" and parent == ids[-1] and message["content"]["execution_state"] == "idle":
            return printed
    raise AssertionError(f"the cells did not finish within {timeout} s: {printed}")


def test_new_cell_is_never_run_and_is_offered_only_when_named(shell, thread_server):
    from coditect_magics.tools.toolbox import Toolbox
    assert "NewCell" not in Toolbox().names and "NewCell" in {t.name for t in Toolbox().resolve("NewCell")}
    thread_server.script(Script(tool_calls=[{"id": "c1", "name": "NewCell", "arguments": {"code": "x = 1",
                                                                                         "run": True}}]),
                         Script(text="I will leave it to you."))
    shell.run_cell_magic("llm", "openai:gpt-4o --tools NewCell", "Propose a cell and run it.")
    told = next(m["content"] for m in thread_server.last.body["messages"] if m["role"] == "tool")
    assert "NewCell never runs a cell: the user runs proposed cells" in told


def test_new_cell_where_nobody_sees_the_notebook_tells_the_model_so(shell, thread_server):
    thread_server.script(Script(tool_calls=[{"id": "c1", "name": "NewCell", "arguments": {"code": "x = 1"}}]),
                         Script(text="Here is the code instead."))
    shell.run_cell_magic("llm", "openai:gpt-4o --tools NewCell", "Propose a cell.")
    told = next(m["content"] for m in thread_server.last.body["messages"] if m["role"] == "tool")
    assert "this notebook runs headless" in told
