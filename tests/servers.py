"""Real servers for the scale-out tests, started on 127.0.0.1 in temp dirs and stopped by the test that started
them: redis-server and PostgreSQL from Debian's packages, and chromadb's `chroma run`. Where a binary is absent a test
skips saying why, or fails in CI (tests/parts.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests import parts


def free_port() -> int:
    """A loopback port free at the time of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(directory: Path) -> tuple[str, subprocess.Popen]:
    """A redis-server with no persistence on a free loopback port; returns its URL and process."""
    binary = parts.redis_server()
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


def start_postgres() -> tuple[str, Callable[[], None]]:
    """A PostgreSQL server (Debian's package, any version) on a free loopback port in a fresh temp dir, trusting user
    `test`; returns its URL (database `postgres`) and a function that stops it and removes the dir. PostgreSQL
    refuses to run as root, so as root it runs as the `postgres` user, in a dir that user owns."""
    bindir = parts.postgres_bin()
    initdb, pg_ctl = bindir / "initdb", bindir / "pg_ctl"
    as_user = parts.postgres_user()
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


def start_chroma(directory: Path) -> Iterator[str]:
    """`chroma run` on a free loopback port with its data in `directory`: yields its `host:port`, then stops it."""
    exe = parts.chroma_command()
    port = free_port()
    log = open(directory / "server.log", "wb")
    process = subprocess.Popen([exe, "run", "--path", str(directory / "db"), "--host", "127.0.0.1", "--port",
                                str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://{url}/api/v2/heartbeat", timeout=1) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log.close()
            pytest.fail(f"chroma run did not answer: {(directory / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
