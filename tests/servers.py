"""Real servers for the scale-out tests, started on 127.0.0.1 in temp dirs and stopped by the test that started
them: redis-server and PostgreSQL from Debian's packages. A test skips, saying why, where a binary is absent."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(directory: Path) -> tuple[str, subprocess.Popen]:
    """A redis-server with no persistence on a free loopback port; returns its URL and process."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0", process
        except OSError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("redis-server did not answer PING within 10 s")


POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def start_postgres() -> tuple[str, Callable[[], None]]:
    """A PostgreSQL 15 server (Debian's package) on a free loopback port in a fresh temp dir, trusting user `test`;
    returns its URL (database `postgres`) and a function that stops it and removes the dir. PostgreSQL refuses to
    run as root, so as root it runs as the `postgres` user, in a dir that user owns."""
    initdb, pg_ctl = POSTGRES_BIN / "initdb", POSTGRES_BIN / "pg_ctl"
    if not initdb.exists():
        pytest.skip(f"PostgreSQL 15 is not installed ({initdb} missing; apt-get install postgresql; .ci/run does)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        as_user = ["runuser", "-u", "postgres", "--"]
    # not under pytest's tmp_path: its parents are private to root, and the server's user must reach its dir
    data = Path(tempfile.mkdtemp(prefix="coditect-pg-"))
    if as_user:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    try:
        subprocess.run([*as_user, str(initdb), "-D", str(data), "-A", "trust", "-U", "test"], check=True,
                       capture_output=True, timeout=120)
        subprocess.run([*as_user, str(pg_ctl), "-D", str(data), "-o", f"-k {data} -p {port} -h 127.0.0.1",
                        "-l", str(data / "server.log"), "-w", "-t", "60", "start"], check=True, capture_output=True,
                       timeout=90)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(data, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')[-2000:]}")

    def stop() -> None:
        subprocess.run([*as_user, str(pg_ctl), "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(data, ignore_errors=True)

    return f"postgresql://test@127.0.0.1:{port}/postgres", stop
