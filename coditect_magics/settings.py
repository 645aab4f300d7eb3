"""Every setting of the kit with its default, declared once. The magics' traitlets take their defaults from
`DEFAULTS`, the executor's settings are derived from it (`executor_settings`), and a worker or a panel without
magics starts from it too. A leaf module: it imports nothing of the kit, so any floor may read it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

FORMATS = ("markdown", "code", "text", "json", "html")
CACHE_MODES = ("auto", "on", "off")
BINDINGS_PATH = ".claude/config/agent-llm-bindings.yaml"


@dataclass(frozen=True)
class Settings:
    """A session's settings; `replace(**changes)` makes the next one (the magics' `%config` does)."""

    default_model: str = ""
    aliases: Mapping[str, str] = field(default_factory=dict)          # your names -> provider:model
    model_aliases: Mapping[str, str] = field(default_factory=dict)    # agent model names (sonnet...) -> id
    temperature: float | None = None
    max_tokens: int | None = None
    format: str = "markdown"
    base_urls: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0             # seconds a call (or the gap between stream events) may take
    attempts: int = 4                 # tries per provider, the first included
    max_wait: float = 30.0            # seconds of backoff a provider may cost before falling back
    rate_limits: Mapping[str, str] = field(default_factory=dict)
    cache: str = "auto"
    budget_session_usd: float | None = None
    budget_agent_usd: float | None = None
    budget_total_usd: float | None = None
    ledger_path: str = ""
    cache_path: str = ""
    redis_url: str = ""
    log_prompts: bool = False
    agent_dirs: tuple[str, ...] = ()
    agent_limits: Mapping[str, Any] = field(default_factory=dict)
    auto_approve: str = ""            # permissions whose tools run without asking: run, write, bash, mcp or all
    command_dirs: tuple[str, ...] = ()
    skill_dirs: tuple[str, ...] = ()
    bindings_path: str = BINDINGS_PATH
    memory_dir: str = ""
    chroma_url: str = ""
    embedder: str = ""
    memory_context: int = 3           # memories added to a prompt's context (0: off)
    memory_min_score: float = 0.3     # all-MiniLM cosine: below this a "hit" is mostly noise
    remember: bool = True
    max_history_tokens: int = 8000
    threads_path: str = ""
    footer: bool = True
    stream_interval: float = 0.05
    mcp_config: str = ""              # a JSON file of MCP servers, over .mcp.json and ~/.claude.json
    mcp_connect_timeout: float = 30.0     # seconds an MCP server may take to start and list its tools
    mcp_call_timeout: float = 120.0       # seconds one MCP tool call may take
    key_command_timeout: float = 10.0     # seconds a `cmd:` key reference (a secret manager's CLI) may take
    schema_retries: int = 1           # times an answer that does not match its --schema is asked for again
    batches_path: str = ""            # the batch jobs' file (default: batches.sqlite3 beside the ledger)
    batch_poll_s: float = 5.0         # first wait between polls of a batch job (it doubles each poll)
    batch_poll_max_s: float = 300.0   # longest wait between polls: a batch runs for minutes to hours

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The names of every setting (what `%config CoditectMagics` mirrors)."""
        return tuple(f.name for f in fields(cls))

    def replace(self, **changes: Any) -> "Settings":
        """These settings with `changes` applied; lists become tuples and maps plain dicts, so values compare."""
        from dataclasses import replace
        unknown = set(changes) - set(self.names())
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(sorted(unknown))}")
        return replace(self, **{k: _frozen(v) for k, v in changes.items()})

    @property
    def redis(self) -> str | None:
        """The Redis a team shares (this setting, else CODITECT_REDIS_URL)."""
        return self.redis_url or os.environ.get("CODITECT_REDIS_URL") or None

    def provider_options(self) -> dict[str, dict[str, Any]]:
        """Per-provider options the executor passes to each handle (the endpoints set here)."""
        return {provider: {"base_url": url} for provider, url in self.base_urls.items()}

    def params(self) -> dict[str, Any]:
        """The default sampling settings, where set (the provider's own defaults stand for the rest)."""
        return {k: v for k, v in {"temperature": self.temperature, "max_tokens": self.max_tokens}.items()
                if v is not None}


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


DEFAULTS = Settings()
