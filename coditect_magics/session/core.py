"""The session: one per kernel (or per worker, per MCP server process). It owns the settings and every service
built from them: the executor, the thread store, memory and its journal, the agent, command and skill libraries,
the runs client and the agent traces. Magics, panels and workers all work on the same one."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from coditect_magics.errors import UsageError
from coditect_magics.settings import DEFAULTS, Settings

from .agents import AgentWork
from .batches import BatchWork
from .conversations import Conversations
from .mcp import McpWork
from .models import Models
from .recall import Recall

# which services a changed setting invalidates (they are rebuilt on next use)
EXECUTOR_SETTINGS = frozenset({"timeout", "attempts", "max_wait", "rate_limits", "cache", "budget_session_usd",
                               "budget_agent_usd", "budget_total_usd", "ledger_path", "cache_path", "log_prompts",
                               "base_urls", "redis_url", "aliases", "model_aliases"})
MEMORY_SETTINGS = frozenset({"memory_dir", "chroma_url", "embedder"})
KEPT_TRACES = 50


class Session(Models, Conversations, Recall, AgentWork, McpWork, BatchWork):
    """`Session(settings, namespace=user_ns)`; `configure(timeout=30)` changes settings. Services are built on
    first use, so making a session costs nothing. Methods return values; what a front should tell the user once
    (a model chosen for it, turns left out of a thread, memory skipped) collects in `notices()`."""

    def __init__(self, settings: Settings = DEFAULTS, *, namespace: dict[str, Any] | None = None,
                 memory: Any = None) -> None:
        self._settings = settings
        self.namespace: dict[str, Any] = namespace if namespace is not None else {}
        self.current_thread = ""
        self.traces: list[tuple[float, Any]] = []    # (started, Trace) of this kernel's agent runs, newest last
        self._executor: Any = None
        self._keys: Any = None
        self._threads: Any = None
        self._memory: Any = memory   # a store opened elsewhere (with an embedder object, say), else on first use
        self._journal: Any = None
        self._runs: Any = None
        self._libraries: dict[str, Any] = {}
        self._said: set[str] = set()
        self._notices: list[str] = []
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Session(notebook={self.notebook!r}, default_model={self.settings.default_model!r})"

    # settings
    @property
    def settings(self) -> Settings:
        return self._settings

    def configure(self, **changes: Any) -> None:
        """Change settings; the services they shape are rebuilt on next use."""
        with self._lock:
            old, self._settings = self._settings, self._settings.replace(**changes)
            changed = {name for name in changes if getattr(old, name) != getattr(self._settings, name)}
            if changed & EXECUTOR_SETTINGS:
                self._executor = None
            if changed & MEMORY_SETTINGS:
                self._memory = self._journal = None

    # notices: what a front shows once, as values
    def notice(self, text: str, *, once: str | None = None) -> None:
        """Queue a line for the front to show (`once`: a key; the line is queued only the first time)."""
        with self._lock:
            if once is not None:
                if once in self._said:
                    return
                self._said.add(once)
            self._notices.append(text)

    def notices(self) -> list[str]:
        """The lines queued since the last call (and forget them)."""
        with self._lock:
            taken, self._notices = self._notices, []
        return taken

    # services built on first use
    @property
    def executor(self) -> Any:
        """The executor built from these settings (rebuilt after a setting it uses changes)."""
        with self._lock:
            if self._executor is None:
                from coditect_magics.executor import Executor
                self._executor = Executor(executor_settings(self.settings, self.aliases), keys=self.keys)
            return self._executor

    @property
    def keys(self) -> Any:
        """This session's API keys (keys.KeyPool): env, stored, references; which were refused or rate limited."""
        with self._lock:
            if self._keys is None:
                from coditect_magics.keys import KeyPool
                self._keys = KeyPool(command_timeout=self.settings.key_command_timeout,
                                     warn=lambda line: self.notice(line, once=line))
            return self._keys

    @property
    def threads(self) -> Any:
        """The thread store: `threads_path`, else $CODITECT_THREADS, else beside a SQLite ledger."""
        from coditect_magics.costs.ledger import is_url
        from coditect_magics.threads import ENV, ThreadStore
        settings = self.settings
        beside = settings.ledger_path and not is_url(settings.ledger_path)  # a team ledger's URL has no directory
        path = settings.threads_path or os.environ.get(ENV) or (
            Path(settings.ledger_path).with_name("threads.sqlite3") if beside else None)
        with self._lock:
            current = self._threads
            if current is None or (path is not None and str(current.path) != str(Path(path).expanduser())):
                current = self._threads = ThreadStore(path)
            return current

    @property
    def notebook(self) -> str:
        """The key this notebook's threads are kept under (its path when Jupyter says it)."""
        from coditect_magics.threads import notebook_key
        return notebook_key(self.namespace)

    def runs(self) -> Any:
        """The client of the team's queue (`redis_url` or CODITECT_REDIS_URL), connected on first use."""
        url = self.settings.redis
        if not url:
            raise UsageError("queued runs need a Redis: set CODITECT_REDIS_URL=redis://HOST:PORT/DB (or %config "
                             "CoditectMagics.redis_url) and start workers with `coditect-magics worker`")
        with self._lock:
            if self._runs is None or self._runs.url != url:
                self._runs = _connect(url)
            return self._runs

    def keep_trace(self, started: float, trace: Any) -> None:
        """Keep an agent run's trace for the runs panel (the newest KEPT_TRACES)."""
        with self._lock:
            self.traces[:] = [*self.traces[-(KEPT_TRACES - 1):], (started, trace)]

    def close(self) -> None:
        """Close the executor's SDK clients (on the kit's loop, where they were used), stop the MCP servers this
        session started and finish memory writes."""
        self.close_mcp()
        self.close_batches()
        if self._executor is not None:
            from coditect_magics import bridge
            bridge.run(self._executor.aclose())
        if self._journal is not None:
            self._journal.close()


def executor_settings(settings: Settings, aliases: dict[str, str]) -> Any:
    """The executor's settings from a session's."""
    from coditect_magics.budgets import Budgets
    from coditect_magics.executor import ExecutorSettings
    return ExecutorSettings(
        attempts=settings.attempts, max_wait_s=settings.max_wait, timeout_s=settings.timeout,
        rate_limits=dict(settings.rate_limits), cache=settings.cache, log_prompts=settings.log_prompts,
        budgets=Budgets(settings.budget_session_usd, settings.budget_agent_usd, settings.budget_total_usd),
        provider_options=settings.provider_options(), ledger_path=settings.ledger_path or None,
        cache_path=settings.cache_path or None, redis_url=settings.redis, aliases=aliases,
        schema_retries=settings.schema_retries)


def _connect(url: str) -> Any:
    from coditect_magics.workers.runs import Runs
    try:
        client = Runs(url)
        client.redis.ping()
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:  # redis-py's ConnectionError and kin: say where, not a traceback
        from coditect_magics.costs.engine import safe_url
        raise UsageError(f"cannot reach the Redis at {safe_url(url)}: {exc}") from None
    return client


_current: Session | None = None


def activate(session: Session | None) -> None:
    """Make `session` the kernel's (the magics do at load), so a panel opened from Python uses it."""
    global _current
    _current = session


def current() -> Session:
    """The kernel's session: the one the magics run on, else one made from the defaults (on IPython's user
    namespace when IPython runs)."""
    global _current
    if _current is None:
        _current = Session(namespace=_user_namespace())
    return _current


def _user_namespace() -> dict[str, Any]:
    import sys
    ipython = sys.modules.get("IPython")  # only when IPython already runs: a service never needs it
    shell = ipython.get_ipython() if ipython is not None else None
    return shell.user_ns if shell is not None else {}
