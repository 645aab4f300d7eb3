"""What the queue tests share (tests/test_queue.py, test_team_ledger.py, test_notebooks.py): real `coditect-magics
worker` processes on the test's redis-server, and a shell in a project with agents pointed at that Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.agent_support import agent_file, write_agents

MODEL = "openai:gpt-4o-mini"
KEY = "sk-test-magics-openai"


class Workers:
    """`coditect-magics worker` processes for a test; each in its own session so that it can be killed whole."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url, self.tmp_path = url, tmp_path
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *, key: bool = True) -> subprocess.Popen:
        """Start worker `name` (without OPENAI_API_KEY when not `key`) and wait until it has registered."""
        env = dict(os.environ)
        if not key:
            env.pop("OPENAI_API_KEY", None)
        log = open(self.tmp_path / f"{name}.log", "w")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "coditect_magics", "worker", "--url", self.url, "--name", name,
             "--abandon-after", "6"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=self.tmp_path)
        deadline = time.monotonic() + 60
        from rq import Worker
        import redis
        connection = redis.Redis.from_url(self.url)
        while not any(w.name == name for w in Worker.all(connection=connection)):
            assert self.processes[name].poll() is None, (self.tmp_path / f"{name}.log").read_text()
            assert time.monotonic() < deadline, f"worker {name} did not register"
            time.sleep(0.1)
        return self.processes[name]

    def kill(self, name: str) -> None:
        """SIGKILL the worker (it runs its jobs itself), as a machine dying would."""
        process = self.processes[name]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        """Stop every worker started (terminate, then kill what does not stop within 15 s)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def workers(redis_url, tmp_path):
    """Workers on the test's redis-server, stopped when the test ends."""
    made = Workers(redis_url, tmp_path)
    yield made
    made.stop()


@pytest.fixture
def team(shell, tmp_path, monkeypatch, redis_url):
    """The shell in a project with agents, pointed at the Redis."""
    monkeypatch.chdir(tmp_path)
    write_agents(tmp_path / ".claude" / "agents", {
        "helper": agent_file("helper", MODEL, "[]", "You help."),
        "tagger": agent_file("tagger", MODEL, "[]", "You tag rows."),
        "finder": agent_file("finder", MODEL, "[]", "You find facts."),
        "scribe": agent_file("scribe", MODEL, "[]", "You write."),
        "orchestrator": agent_file("orchestrator", MODEL, "Agent", "You coordinate.")})
    shell.run_line_magic("config", f"CoditectMagics.redis_url = '{redis_url}'")
    return shell
