"""A notebook run in a real kernel that stores a key with `%llm keys set` (getpass answered over the kernel's stdin
channel, as Jupyter's front end answers it), lists it, makes a call the server refuses by echoing the key back, and
one that works: saved to .ipynb, the file's bytes hold no trace of the key, nor do the ledger's."""

from __future__ import annotations

import nbformat
import pytest

from tests.fakes import Script
from tests.notebook_stdin import Typing

KEY = "sk-notebook-SECRET-5e1f0a9b7c3d"
CELLS = [
    "%load_ext coditect_magics",
    "%llm keys set openai --name team",
    "%llm keys list",
    "%llm openai:gpt-4.1-mini Say hello",
    "%llm openai:gpt-4.1-mini Say hello again",
    "%llm list",
]


@pytest.mark.timeout(180)
def test_a_saved_notebook_holds_no_trace_of_the_key(thread_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", f"{thread_server.url}/v1")
    monkeypatch.setenv("CODITECT_CONFIG_DIR", str(tmp_path / "config"))
    thread_server.script(Script(status=400, error_message="this request was refused for", echo_key=True),
                         Script(text="Hello from the loopback server."))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    client = Typing(notebook, [KEY], timeout=120, kernel_name="python3",
                    resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    assert client.asked and client.asked[0]["password"] is True, "getpass asked, with echo off"
    assert [r.credential for r in thread_server.requests] == [KEY, KEY], "the stored key was spent"
    saved = tmp_path / "keys.ipynb"
    nbformat.write(notebook, saved)
    data = saved.read_bytes()
    assert KEY.encode() not in data and KEY[-12:].encode() not in data
    text = data.decode()
    assert "stored openai key 'team' in the keyring" in text
    assert "…7c3d" in text, "the listing shows the last four characters"
    assert "bad request (HTTP 400)" in text and "***" in text, "the echoed key is masked in the error"
    assert "Hello from the loopback server." in text
    assert "key from the keyring (team)" in text
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    ledger = sorted(tmp_path.glob("ledger.sqlite3*"))  # CODITECT_LEDGER (conftest), with any journal beside it
    assert ledger and all(KEY.encode() not in path.read_bytes() for path in ledger)
    from coditect_magics.costs import Ledger
    rows = Ledger(tmp_path / "ledger.sqlite3").rows()
    assert [(r.status, r.key_name) for r in rows] == [("error", "team"), ("ok", "team")]
