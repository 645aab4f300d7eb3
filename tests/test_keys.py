"""`%llm keys` in a real IPython shell: keys stored in a keyring (keyrings.alt's file backend in a temp dir) or, with
no usable keyring, in a 0600 file; listed by their last four characters; used by calls; references to secret
managers (env:, keyring:, cmd:); and never shown: not in outputs, history, errors, the ledger or a saved notebook."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

from coditect_magics.session import current
from tests.fakes import Script
from tests.queue_support import team, workers  # noqa: F401 - fixtures

STORED = "sk-stored-SECRET-9f3e7a1c4d2b"
MODEL = "openai:gpt-4.1-mini"


@pytest.fixture
def config_dir(tmp_path, monkeypatch) -> Path:
    """The kit's config dir (index and fallback file) in the test's temp dir, and no OPENAI_API_KEY."""
    folder = tmp_path / "config"
    monkeypatch.setenv("CODITECT_CONFIG_DIR", str(folder))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return folder


def use_backend(backend):
    """Make `backend` keyring's choice; returns the one to restore."""
    import keyring
    before = keyring.get_keyring()
    keyring.set_keyring(backend)
    return before


@pytest.fixture
def file_keyring(tmp_path, config_dir):
    """keyrings.alt's file backend, its file in the temp dir, as the system keyring."""
    from keyrings.alt.file import PlaintextKeyring
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    before = use_backend(backend)
    yield backend
    use_backend(before)


@pytest.fixture
def no_keyring(config_dir):
    """A machine with no usable keyring backend (keyring's fail backend, as on headless Linux)."""
    from keyring.backends import fail
    before = use_backend(fail.Keyring())
    yield config_dir
    use_backend(before)


def typed(monkeypatch, *values: str) -> list[str]:
    """getpass answers with `values` in turn (what a person types, unseen); the prompts asked are returned."""
    import getpass
    asked: list[str] = []
    answers = list(values)

    def ask(prompt: str = "") -> str:
        asked.append(prompt)
        return answers.pop(0)

    monkeypatch.setattr(getpass, "getpass", ask)
    return asked


def everything_shown(shell, captured) -> str:
    """Every byte the user could see or that IPython kept: outputs, stdout, stderr and the input history."""
    outputs = [json.dumps(o.data, default=str) for o in captured.outputs]
    history = [source for _, _, source in shell.history_manager.get_range(raw=True)]
    return "\n".join([captured.stdout, captured.stderr, *outputs, *history, repr(shell.user_ns.get("_llm"))])


def test_set_list_remove_with_a_keyring(shell, thread_server, file_keyring, config_dir, monkeypatch):
    asked = typed(monkeypatch, STORED, "sk-second-SECRET-5555aaaa")
    with capture_output() as captured:
        shell.run_line_magic("llm", "keys set openai")
        shell.run_line_magic("llm", "keys set openai --name team-b")
        table = shell.run_line_magic("llm", "keys list")
    assert "openai" in asked[0] and "default" in asked[0] and "team-b" in asked[1]
    assert "stored openai key 'default' in the keyring (keyrings.alt.file.PlaintextKeyring)" in captured.stdout
    rows = table[table.provider == "openai"]
    assert rows[["name", "ends with", "in use"]].values.tolist() == [["default", "…4d2b", True],
                                                                    ["team-b", "…aaaa", True]]
    assert rows["stored in"].str.startswith("keyring").all()
    assert STORED not in everything_shown(shell, captured) + table.to_string()
    index = (config_dir / "key-names.json").read_text()
    assert "default" in index and STORED not in index, "the index holds names, never values"
    assert Path(file_keyring.file_path).is_file(), "the values went to the keyring backend"
    assert not (config_dir / "keys.json").exists(), "not to the fallback file"

    shell.run_line_magic("llm", f"{MODEL} Say hello")
    assert thread_server.last.credential in (STORED, "sk-second-SECRET-5555aaaa")
    listing = shell.run_line_magic("llm", "list").data
    assert "| openai | yes |" in listing and "key from the keyring (default, team-b)" in listing

    with capture_output() as captured:
        shell.run_line_magic("llm", "keys remove openai --name team-b")
        shell.run_line_magic("llm", "keys remove openai --name team-b")
    assert "removed the openai key 'team-b'" in captured.stdout
    assert captured.stderr.strip() == "coditect: no stored openai key named 'team-b': %llm keys list shows them"
    table = shell.run_line_magic("llm", "keys list")
    assert table[table.provider == "openai"].name.tolist() == ["default"]
    import keyring
    assert keyring.get_password("coditect-magics", "openai/team-b") is None


def test_without_a_keyring_the_file_is_0600_and_said_once(shell, thread_server, no_keyring, monkeypatch):
    typed(monkeypatch, STORED, "sk-other-SECRET-0000bbbb")
    with capture_output() as captured:
        shell.run_line_magic("llm", "keys set openai")
        shell.run_line_magic("llm", "keys set anthropic --name work")
    kept = no_keyring / "keys.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE((no_keyring / "key-names.json").stat().st_mode) == 0o600
    assert json.loads(kept.read_text()) == {"openai": {"default": STORED},
                                            "anthropic": {"work": "sk-other-SECRET-0000bbbb"}}
    said = [line for line in captured.stderr.splitlines() if "no usable keyring" in line]
    assert said == [f"coditect: no usable keyring here: keys are kept in {kept} (mode 0600)"], "said once"
    assert STORED not in everything_shown(shell, captured)
    table = shell.run_line_magic("llm", "keys list")
    assert table.set_index("provider").loc["openai", "stored in"] == f"file {kept}"
    shell.run_line_magic("llm", f"{MODEL} Say hello")
    assert thread_server.last.credential == STORED
    with capture_output() as captured:
        shell.run_line_magic("llm", "keys path")
    assert f"file (where no keyring works, mode 0600): {kept}" in captured.stdout


def test_the_environment_comes_before_stored_keys(shell, thread_server, file_keyring, monkeypatch):
    typed(monkeypatch, STORED)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-SECRET-1111")
    with capture_output() as captured:
        shell.run_line_magic("llm", "keys set openai")
    assert "OPENAI_API_KEY is set and comes first" in captured.stderr
    shell.run_line_magic("llm", f"{MODEL} Say hello")
    assert thread_server.last.credential == "sk-env-SECRET-1111"
    table = shell.run_line_magic("llm", "keys list").set_index("name")
    assert table.loc["OPENAI_API_KEY", "in use"] and not table.loc["default", "in use"]
    assert table.loc["OPENAI_API_KEY", "stored in"] == "env" and table.loc["OPENAI_API_KEY", "ends with"] == "…1111"


def test_bad_input_is_one_line(shell, file_keyring, monkeypatch):
    typed(monkeypatch, "   ")
    with capture_output() as captured:
        shell.run_line_magic("llm", "keys set openai")
        shell.run_line_magic("llm", "keys set nosuch")
        shell.run_line_magic("llm", "keys set openai --name 'bad name'")
        shell.run_line_magic("llm", "keys remove openai extra")
    lines = captured.stderr.strip().splitlines()
    assert lines[0] == "coditect: no key entered: nothing stored"
    assert lines[1].startswith("coditect: unknown provider 'nosuch'")
    assert lines[2].startswith("coditect: write %llm keys set PROVIDER [--name NAME]")
    assert lines[3].startswith("coditect: write %llm keys set PROVIDER [--name NAME]")
    assert len(lines) == 4 and "Traceback" not in captured.stderr


def test_a_cmd_reference_runs_once_and_gives_the_key(shell, thread_server, file_keyring, tmp_path, monkeypatch):
    runs = tmp_path / "runs.txt"
    script = f"echo run >> {runs}; printf '%s\\n' sk-from-cmd-SECRET-77aa"
    typed(monkeypatch, f"cmd:{script}")
    shell.run_line_magic("llm", "keys set openai")
    with capture_output() as captured:
        shell.run_line_magic("llm", f"{MODEL} one")
        shell.run_line_magic("llm", f"{MODEL} two")
    assert [r.credential for r in thread_server.requests] == ["sk-from-cmd-SECRET-77aa"] * 2
    assert runs.read_text() == "run\n", "the command runs once per session"
    table = shell.run_line_magic("llm", "keys list")
    assert table.set_index("provider").loc["openai", "ends with"] == "cmd: echo …"
    assert "sk-from-cmd" not in captured.stdout + captured.stderr


@pytest.mark.parametrize("command, says", [
    ("exit 3", "`exit` failed (exit status 3)"),
    ("sleep 30; echo sk-never-SECRET-1234", "`sleep` did not finish within 0.5 s (key_command_timeout)"),
    ("true", "`true` printed nothing"),
])
def test_a_cmd_reference_that_fails_is_one_line(shell, thread_server, file_keyring, monkeypatch, command, says):
    shell.run_line_magic("config", "CoditectMagics.key_command_timeout = 0.5")
    typed(monkeypatch, f"cmd:{command}")
    shell.run_line_magic("llm", "keys set openai")
    started = time.monotonic()
    with capture_output() as captured:
        shell.run_line_magic("llm", f"{MODEL} Say hello")
    assert time.monotonic() - started < 20, "a hanging command is cut at its timeout"
    lines = captured.stderr.strip().splitlines()
    assert f"coditect: openai key default: {says}" in lines
    assert any("OPENAI_API_KEY not set" in line for line in lines), "then the usual missing-key line"
    assert "Traceback" not in captured.stderr and not thread_server.requests


def test_env_and_keyring_references(shell, thread_server, file_keyring, monkeypatch):
    import keyring
    keyring.set_password("team-vault", "openai", "sk-vault-SECRET-3333")
    monkeypatch.setenv("MY_OPENAI", "sk-indirect-SECRET-2222")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    typed(monkeypatch, "env:MY_OPENAI", "keyring:team-vault/openai")
    shell.run_line_magic("llm", "keys set openai")
    shell.run_line_magic("llm", "keys set anthropic")
    shell.run_line_magic("llm", f"{MODEL} hello")
    shell.run_line_magic("llm", "anthropic:claude-sonnet-4-6 hello")
    assert [r.credential for r in thread_server.requests] == ["sk-indirect-SECRET-2222", "sk-vault-SECRET-3333"]


def test_a_stored_key_echoed_by_the_server_is_redacted(shell, thread_server, file_keyring, monkeypatch, tmp_path):
    typed(monkeypatch, STORED)
    shell.run_line_magic("llm", "keys set openai")
    thread_server.script(Script(status=400, error_message="bad request for", echo_key=True))
    with capture_output() as captured:
        shell.run_line_magic("llm", f"{MODEL} Say hello")
    assert thread_server.last.credential == STORED
    assert "bad request" in captured.stderr and "***" in captured.stderr
    from coditect_magics.costs import Ledger
    rows = Ledger(tmp_path / "ledger.sqlite3").rows()
    assert rows and STORED not in repr(rows) and any("***" in (r.error_message or "") for r in rows)
    assert STORED not in everything_shown(shell, captured)
    assert STORED not in repr(current().keys.keys("openai"))
    thread_server.script(Script(text="Fine."))
    shell.run_line_magic("llm", f"{MODEL} Say hello again")  # a thread turn, a ledger row, a cache entry...
    assert thread_server.last.credential == STORED
    kept_elsewhere = [path for path in tmp_path.rglob("*") if path.is_file()
                      and not path.is_relative_to(tmp_path / "keyring") and STORED.encode() in path.read_bytes()]
    assert kept_elsewhere == [], "only the key store holds the key"


def test_keys_never_travel_in_a_queued_job(shell, file_keyring, monkeypatch):
    import pickle
    from coditect_magics.workers.spec import kit_of
    typed(monkeypatch, STORED)
    shell.run_line_magic("llm", "keys set openai")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-SECRET-4444")
    session = current()
    session.configure(base_urls={"openai": "http://127.0.0.1:9/v1"})
    shell.run_line_magic("llm", "list")  # the keys are looked up (and resolved) before the job is made
    kit = pickle.dumps(kit_of(session))
    assert STORED.encode() not in kit and b"sk-ant-env-SECRET-4444" not in kit
    assert b"127.0.0.1:9" in kit, "the endpoint travels, the key does not"


def test_load_ext_imports_no_keyring():
    import subprocess
    code = ("import sys; from IPython.core.interactiveshell import InteractiveShell\n"
            "InteractiveShell.instance().run_line_magic('load_ext', 'coditect_magics')\n"
            "print(sorted(m for m in sys.modules if m.startswith(('keyring', 'coditect_magics.keys'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "CODITECT_CONFIG_DIR": "/nonexistent"})
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.timeout(180)
def test_a_worker_spends_its_own_stored_key(team, workers, thread_server, tmp_path, monkeypatch):
    from keyring.backends import fail
    from coditect_magics.keys import KeyStore
    theirs = tmp_path / "worker-config"
    KeyStore(theirs, backend=fail.Keyring()).set("openai", "worker", "sk-worker-SECRET-6666")
    assert stat.S_IMODE((theirs / "keys.json").stat().st_mode) == 0o600
    monkeypatch.setenv("CODITECT_CONFIG_DIR", str(theirs))           # the worker's machine: its own config dir,
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")  # no keyring, no variable
    workers.start("own-key", key=False)
    team.run_cell_magic("agent", "helper --queue", "Anything.")
    run = team.user_ns["_run"]
    assert run.wait(60) and run.state()["status"] == "done", run.state()
    assert [r.credential for r in thread_server.requests] == ["sk-worker-SECRET-6666"]
