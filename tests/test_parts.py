"""The required parts of the test machine (tests/parts.py): a missing one skips a test with how to get it, and fails it
under CI=true naming it; PostgreSQL's binaries are found whatever the version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import parts

REPO = Path(__file__).resolve().parents[1]
SAMPLE = '''
from tests import parts

def test_needs_a_missing_part():
    parts.require("the frobnicator", False, "apt-get install frobnicator")

def test_needs_a_missing_package():
    parts.module("no_such_package_for_coditect", "pip install no-such-package")

def test_has_its_part():
    parts.require("this interpreter", True, "nothing to do")
'''


def run_sample(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    """pytest on SAMPLE in a process of its own, with CI set to `ci` (None: unset)."""
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(REPO)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           str(tmp_path / "test_sample.py")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_missing_part_skips_locally_with_how_to_get_it(tmp_path: Path) -> None:
    done = run_sample(tmp_path, None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 2 skipped" in done.stdout
    assert "the frobnicator is missing: apt-get install frobnicator" in done.stdout
    assert "no_such_package_for_coditect" in done.stdout and "pip install no-such-package" in done.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_a_missing_part_fails_in_ci_naming_it(tmp_path: Path, ci: str) -> None:
    done = run_sample(tmp_path, ci)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 failed, 1 passed" in done.stdout and "skipped" not in done.stdout
    assert "CI needs every part of the test machine; the frobnicator is missing: apt-get install frobnicator" \
        in done.stdout


def test_postgres_is_found_past_a_pg_config_without_the_server(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq-dev's pg_config names a bindir without initdb: the server's own directory is found all the same."""
    found = parts.postgres_bin()
    assert (found / "initdb").exists() and (found / "pg_ctl").exists()
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pg_config").write_text(f"#!/bin/sh\necho {tmp_path / 'client-only'}\n")
    (fake / "pg_config").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    assert parts.postgres_bin() == found
    other = tmp_path / "pg-99" / "bin"  # where pg_config names a server's binaries, they are the ones taken
    other.mkdir(parents=True)
    for name in ("initdb", "pg_ctl"):
        (other / name).write_text("#!/bin/sh\n")
    (fake / "pg_config").write_text(f"#!/bin/sh\necho {other}\n")
    assert parts.postgres_bin() == other
