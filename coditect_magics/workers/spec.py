"""What a queued job carries to a worker that may run on another machine: the agent, skill and bindings files as
text, the MCP servers' entries as text (`${VAR}` unexpanded; a key written out in one stays home), the kernel's
settings that are not secrets, the built messages and the tool names; never a path that exists only on the
notebook's machine, and never an API key (a worker reads its own keys from its own environment)."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from coditect_magics.agents import ResolvedAgent
from coditect_magics.providers import Message
from coditect_magics.session import Session
from coditect_magics.settings import DEFAULTS

SKILL_FILES = (".md", ".py", ".txt", ".json", ".yaml", ".yml")
MOST_BYTES = 512 * 1024  # a skill folder's file larger than this stays home (data, not instructions)


class NotPortable(ValueError):
    """The run needs something only the notebook has (a function defined in a cell): it cannot be queued."""


@dataclass(frozen=True)
class Kit:
    """The notebook's agents, skills, bindings and settings, as a worker needs them."""

    agents: tuple[tuple[str, str], ...] = ()      # (file name, text)
    skills: tuple[tuple[str, str], ...] = ()      # (skill/file name, text)
    bindings: str = ""                            # the bindings YAML
    model_aliases: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)   # ExecutorSettings fields that travel
    allow: str | None = None
    limits: Mapping[str, Any] = field(default_factory=dict)
    functions: Mapping[str, str] = field(default_factory=dict)  # tool name -> "module:qualname"
    memory_items: int = DEFAULTS.memory_context   # memories for a delegated agent (its binding may say otherwise)
    memory_min_score: float = DEFAULTS.memory_min_score
    mcp_servers: str = ""                         # {"mcpServers": ...} as JSON text; the worker starts its own
    mcp_timeouts: tuple[float, float] = (DEFAULTS.mcp_connect_timeout, DEFAULTS.mcp_call_timeout)

    @property
    def digest(self) -> str:
        """A hash of the files: a worker writes each kit's files once."""
        body = repr((self.agents, self.skills, self.bindings)).encode()
        return hashlib.sha256(body).hexdigest()[:16]


@dataclass(frozen=True)
class AgentJob:
    """One agent run: the resolved agent, its built messages (system prompt, memory, thread), its tools."""

    kit: Kit
    agent: ResolvedAgent
    messages: tuple[Message, ...] = ()
    tools: Any = None          # names; None: the default set; (): one plain call
    skills: Any = None
    memory_items: int = 0
    concurrency: int = 16      # rows at once (a map chunk)


def kit_of(session: Session, *, allow: str | None = None, tools: Any = None) -> Kit:
    """The kit of this session. `tools` are checked: a notebook function travels as its module and name, and one
    defined in the notebook itself cannot travel (NotPortable says what to do)."""
    agents = tuple((f"{name}.md", Path(d.source).read_text(encoding="utf-8"))
                   for name, d in sorted(session.agents.items.items()) if d.source is not None)
    skills = []
    for name, found in sorted(session.skills.items.items()):
        folder = Path(found.folder) if found.folder else None
        for path in sorted(folder.iterdir()) if folder is not None else ():
            if path.suffix in SKILL_FILES and path.is_file() and path.stat().st_size <= MOST_BYTES:
                skills.append((f"{name}/{path.name}", path.read_text(encoding="utf-8", errors="replace")))
    settings = session.settings
    bindings = Path(settings.bindings_path).expanduser()
    return Kit(agents=agents, skills=tuple(skills),
               bindings=bindings.read_text(encoding="utf-8") if bindings.is_file() else "",
               model_aliases=session.aliases, settings=travelling_settings(session.executor.settings), allow=allow,
               limits=dict(settings.agent_limits), functions=functions_of(tools, session.namespace),
               memory_items=settings.memory_context, memory_min_score=settings.memory_min_score,
               mcp_servers=mcp_servers_of(session),
               mcp_timeouts=(settings.mcp_connect_timeout, settings.mcp_call_timeout))


def mcp_servers_of(session: Session) -> str:
    """The session's MCP servers as JSON text for a worker; what stays home (a key written out) is a notice."""
    from coditect_magics.mcp.config import portable
    entries, left = portable(session.mcp.loaded())
    for line in left:
        session.notice(line, once=line)
    return json.dumps({"mcpServers": entries}) if entries else ""


def travelling_settings(settings: Any) -> dict[str, Any]:
    """The executor settings a worker takes over: retries, timeouts, limits, cache mode, budgets and endpoints.
    Not keys, not local files: a ledger goes along only as a database URL (a SQLite file is the notebook's)."""
    from coditect_magics.costs.ledger import default_target, is_url
    keep = {name: getattr(settings, name) for name in ("attempts", "max_wait_s", "backoff_initial_s",
                                                       "backoff_max_s", "timeout_s", "cache", "budgets",
                                                       "log_prompts")}
    keep["rate_limits"] = dict(settings.rate_limits)
    keep["provider_options"] = {p: {"base_url": o["base_url"]} for p, o in settings.provider_options.items()
                                if o.get("base_url")}
    ledger = str(settings.ledger_path or default_target())
    if is_url(ledger):
        keep["ledger_path"] = ledger
    return keep


def functions_of(tools: Any, namespace: Mapping[str, Any]) -> dict[str, str]:
    """Tool names that are notebook functions → "module:qualname" for a worker to import."""
    from coditect_magics.tools.builtins import NAMES
    found: dict[str, str] = {}
    for name in _names(tools):
        value = namespace.get(name)
        if name in NAMES or value is None or not callable(value):
            continue
        module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
        if module in (None, "__main__", "builtins") or "<locals>" in qualname or not _importable(module):
            where = inspect.getsourcefile(value) if inspect.isfunction(value) else None
            raise NotPortable(
                f"{name} is defined in the notebook{f' ({where})' if where else ''}, so a worker cannot run it: "
                f"put it in a module the workers can import (mytools.py beside them, then `from mytools import "
                f"{name}`), or run without --queue")
        found[name] = f"{module}:{qualname}"
    return found


def _names(tools: Any) -> list[str]:
    if tools is None:
        return []
    if isinstance(tools, str):
        return [n for n in tools.replace(",", " ").split() if n]
    return [t for t in tools if isinstance(t, str)]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def materialize(kit: Kit, root: Path) -> Path:
    """Write the kit's files under `root/<digest>` (once) and return that folder: agents/, skills/, bindings.yaml."""
    folder = root / f"kit-{kit.digest}"
    done = folder / ".complete"
    if done.exists():
        return folder
    for sub, files in (("agents", kit.agents), ("skills", kit.skills)):
        for name, text in files:
            path = folder / sub / name
            if path.resolve().is_relative_to(folder.resolve()):  # a name must not climb out of the kit
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bindings.yaml").write_text(kit.bindings, encoding="utf-8")
    done.touch()
    return folder


def import_functions(functions: Mapping[str, str]) -> dict[str, Any]:
    """The notebook functions a job names, imported on the worker; a module it lacks is a clear error."""
    imported = {}
    for name, where in functions.items():
        module_name, _, qualname = where.partition(":")
        try:
            value: Any = importlib.import_module(module_name)
        except ImportError as exc:
            raise NotPortable(f"tool {name} comes from module {module_name}, which this worker cannot import "
                              f"({exc}); install or copy it where the workers run") from None
        for part in qualname.split("."):
            value = getattr(value, part)
        imported[name] = value
    return imported


def message_tuple(messages: Sequence[Any]) -> tuple[Message, ...]:
    return tuple(Message.coerce(m) for m in messages)
