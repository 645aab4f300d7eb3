"""Which MCP servers a session knows, read as Claude Code reads them: `~/.claude.json`'s `mcpServers` (user scope),
`.mcp.json` in the working directory (project scope), `~/.claude.json`'s `projects[<cwd>].mcpServers` (local scope)
and the `mcp_config` setting's file, each later one winning for a name.

    {"mcpServers": {"time": {"command": "python", "args": ["-m", "mcp_server_time"], "env": {"TZ": "UTC"}},
                    "docs": {"type": "http", "url": "https://example.org/mcp",
                             "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"}}}}

`${VAR}` and `${VAR:-default}` in the command, args, env, url and headers expand from the environment when the
server starts. Header values (and env values named like keys) are never shown: reprs, listings and errors name
them only. A file that is not JSON is one problem line naming it and the line; the other files still count."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from coditect_magics.errors import UsageError

PROJECT_FILE = ".mcp.json"
TRANSPORTS = {"stdio": "stdio", "http": "http", "streamable-http": "http", "streamable_http": "http", "sse": "sse"}
NAME = re.compile(r"^[A-Za-z0-9_-]+$")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|AUTH|CREDENTIAL|COOKIE|SESSION", re.IGNORECASE)
_parsed: dict[tuple[str, int, int], Any] = {}   # (path, mtime_ns, size) -> parsed JSON or the problem line


@dataclass(frozen=True, repr=False)
class ServerConfig:
    """One server as configured (values unexpanded: `expanded()` fills in `${VAR}`)."""

    name: str
    transport: str                                   # stdio, http or sse
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = ""
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    scope: str = ""                                  # user, project, local or config
    source: str = ""                                 # the file it came from, as a person would write it
    entry: Mapping[str, Any] = field(default_factory=dict, compare=False)   # as written in the file

    def __repr__(self) -> str:
        secret = [k for k in self.env if SECRET_NAME.search(k)]
        parts = [repr(self.name), self.transport, self.where]
        parts += [f"headers={sorted(self.headers)} (values hidden)"] if self.headers else []
        parts += [f"env={sorted(self.env)}" + (" (values of keys hidden)" if secret else "")] if self.env else []
        return f"ServerConfig({', '.join(parts)}, {self.scope}: {self.source})"

    @property
    def where(self) -> str:
        """What it runs or reaches, to show: the command line, or the URL (query strings and user info cut)."""
        if self.transport == "stdio":
            return " ".join([self.command, *self.args])
        return re.sub(r"//[^/@]*@", "//", self.url.split("?")[0])

    def expanded(self, environ: Mapping[str, str] | None = None) -> "ServerConfig":
        """The config with `${VAR}` and `${VAR:-default}` filled in from `environ` (default: os.environ); a
        variable that is unset and has no default is a UsageError naming it."""
        environ = os.environ if environ is None else environ
        missing: list[str] = []

        def fill(text: str) -> str:
            """`text` with its ${VAR} references filled in."""
            def one(match: re.Match[str]) -> str:
                """One reference's value, its default, or "" (and the name kept as missing)."""
                value = environ.get(match[1])
                if value is None or (value == "" and match[2] is not None):
                    if match[2] is None:
                        missing.append(match[1])
                        return ""
                    return match[2]
                return value
            return VARIABLE.sub(one, text)

        done = replace(self, command=fill(self.command), args=tuple(fill(a) for a in self.args),
                       env={k: fill(v) for k, v in self.env.items()}, cwd=fill(self.cwd), url=fill(self.url),
                       headers={k: fill(v) for k, v in self.headers.items()})
        if missing:
            names = ", ".join(f"${{{n}}}" for n in dict.fromkeys(missing))
            raise UsageError(f"MCP server {self.name} ({self.source}) uses {names}, which is not set: set it in the "
                             f"environment or write ${{NAME:-default}}")
        return done

    def secrets(self) -> list[str]:
        """The values that must never be shown: every header value, env values whose names say key or token."""
        return [*self.headers.values(), *(v for k, v in self.env.items() if SECRET_NAME.search(k))]


@dataclass(frozen=True)
class Loaded:
    """The servers by name (the winning scope's entry) and a line for each file or entry that could not be read."""

    servers: Mapping[str, ServerConfig] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def load(config_path: str = "", *, cwd: str | os.PathLike[str] | None = None,
         home: str | os.PathLike[str] | None = None) -> Loaded:
    """Every configured server: user scope, then the project's `.mcp.json`, then the local scope, then the
    `config_path` file (the `mcp_config` setting), a later entry replacing an earlier one of the same name."""
    folder = Path(cwd) if cwd is not None else Path.cwd()
    home_dir = Path(home) if home is not None else Path.home()
    servers: dict[str, ServerConfig] = {}
    problems: list[str] = []
    claude = home_dir / ".claude.json"
    user = _read(claude, problems)
    if isinstance(user, dict):
        _add(servers, problems, user.get("mcpServers"), "user", "~/.claude.json")
    _add(servers, problems, _servers_of(_read(folder / PROJECT_FILE, problems), PROJECT_FILE, problems),
         "project", PROJECT_FILE)
    if isinstance(user, dict) and isinstance(user.get("projects"), dict):
        local = user["projects"].get(str(folder.resolve())) or user["projects"].get(str(folder))
        if isinstance(local, dict):
            _add(servers, problems, local.get("mcpServers"), "local", "~/.claude.json (this project)")
    if config_path:
        path = Path(config_path).expanduser()
        if not path.is_file():
            problems.append(f"{config_path} (CoditectMagics.mcp_config) does not exist; no MCP servers read from it")
        else:
            _add(servers, problems, _servers_of(_read(path, problems), config_path, problems), "config",
                 config_path)
    return Loaded(servers, tuple(problems))


def from_entries(entries: Mapping[str, Any], source: str = "the job's kit") -> Loaded:
    """Servers from `mcpServers`-shaped entries (what a queued job carries)."""
    servers: dict[str, ServerConfig] = {}
    problems: list[str] = []
    _add(servers, problems, dict(entries), "kit", source)
    return Loaded(servers, tuple(problems))


def parse_entry(name: str, entry: Any, scope: str, source: str) -> ServerConfig:
    """One `mcpServers` entry as a ServerConfig; a UsageError says what is wrong with it."""
    where = f"MCP server {name!r} in {source}"
    if not NAME.match(name):
        raise UsageError(f"{where}: a server name takes letters, digits, _ and - only")
    if not isinstance(entry, dict):
        raise UsageError(f"{where} is not an object with a command or a url")
    kind = str(entry.get("type") or ("stdio" if entry.get("command") else "http" if entry.get("url") else ""))
    transport = TRANSPORTS.get(kind.lower())
    if transport is None:
        raise UsageError(f"{where}: type {kind!r} is not one of stdio, http, sse" if kind else
                         f"{where} has neither a \"command\" (stdio) nor a \"url\" (http)")
    if transport == "stdio" and not entry.get("command"):
        raise UsageError(f"{where} is stdio but has no \"command\"")
    if transport != "stdio" and not entry.get("url"):
        raise UsageError(f"{where} is {transport} but has no \"url\"")
    return ServerConfig(name, transport, command=str(entry.get("command") or ""),
                        args=tuple(str(a) for a in _list(entry.get("args"), where, "args")),
                        env=_strings(entry.get("env"), where, "env"), cwd=str(entry.get("cwd") or ""),
                        url=str(entry.get("url") or ""), headers=_strings(entry.get("headers"), where, "headers"),
                        scope=scope, source=source, entry=dict(entry))


def _add(servers: dict[str, ServerConfig], problems: list[str], entries: Any, scope: str, source: str) -> None:
    """Parse `entries` (an `mcpServers` object) into `servers`, a line in `problems` for each one refused."""
    if entries is None:
        return
    if not isinstance(entries, dict):
        problems.append(f"{source}: \"mcpServers\" is not an object; its MCP servers are left out")
        return
    for name, entry in entries.items():
        try:
            servers[name] = parse_entry(str(name), entry, scope, source)
        except UsageError as exc:
            problems.append(str(exc))


def _servers_of(document: Any, source: str, problems: list[str]) -> Any:
    """The `mcpServers` of a parsed file (None, with a problem line, when the file is not an object)."""
    if document is None:
        return None
    if not isinstance(document, dict):
        problems.append(f"{source}: expected an object with \"mcpServers\"; no MCP servers read from it")
        return None
    return document.get("mcpServers")


def _read(path: Path, problems: list[str]) -> Any:
    """The file's JSON (None when absent); a malformed file adds one line naming it and where it broke."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _parsed:
        try:
            _parsed[key] = json.loads(path.read_text(encoding="utf-8") or "{}")
        except json.JSONDecodeError as exc:
            _parsed[key] = Problem(f"{_shown(path)} line {exc.lineno}: {exc.msg} (column {exc.colno}); no MCP "
                                   f"servers read from it")
        except (OSError, UnicodeDecodeError) as exc:
            _parsed[key] = Problem(f"{_shown(path)}: cannot be read ({exc}); no MCP servers read from it")
    found = _parsed[key]
    if isinstance(found, Problem):
        problems.append(found.line)
        return None
    return found


@dataclass(frozen=True)
class Problem:
    """A file that could not be read, as its one line (kept in the parse cache like a result)."""

    line: str


def _shown(path: Path) -> str:
    """The path as a person would write it: relative in the working directory, ~ for the home."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        home = str(Path.home())
        return "~" + str(path)[len(home):] if str(path).startswith(home) else str(path)


def _list(value: Any, where: str, key: str) -> list[Any]:
    """An entry's list value (`args`), or a UsageError saying it must be one."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise UsageError(f"{where}: \"{key}\" must be a list of strings")
    return value


def _strings(value: Any, where: str, key: str) -> dict[str, str]:
    """An entry's object of strings (`env`, `headers`), or a UsageError saying it must be one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{where}: \"{key}\" must be an object of strings")
    return {str(k): str(v) for k, v in value.items()}


def add_server(name: str, *, command: str = "", args: Any = (), url: str = "", transport: str = "",
               env: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
               path: str | os.PathLike[str] = PROJECT_FILE) -> ServerConfig:
    """Write a server into the project's `.mcp.json` (made when absent; other servers and keys kept) and return
    it as read back. A file that is not JSON is left alone: the UsageError says where it broke."""
    target = Path(path)
    document: Any = {}
    if target.exists():
        problems: list[str] = []
        document = _read(target, problems)
        if problems:
            raise UsageError(f"{problems[0].split('; no MCP')[0]}: fix it before adding a server to it")
        if not isinstance(document, dict):
            raise UsageError(f"{_shown(target)} is not a JSON object: fix it before adding a server to it")
    entry: dict[str, Any] = {"type": transport or "http", "url": url} if url else \
        {"command": command, "args": list(args)}
    if env:
        entry["env"] = dict(env)
    if headers:
        entry["headers"] = dict(headers)
    made = parse_entry(name, entry, "project", _shown(target))   # refuse a bad entry before writing it
    servers = document.get("mcpServers")
    document["mcpServers"] = {**(servers if isinstance(servers, dict) else {}), name: entry}
    target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return made


def portable(loaded: Loaded) -> tuple[dict[str, Any], list[str]]:
    """The entries a queued job carries to a worker, as written (`${VAR}` unexpanded: the worker fills them from
    its own environment), without a secret: a header or a key-named env value that is written out literally stays
    home (written as ${VAR}, it travels as the reference). Returns the entries and a line per value left out."""
    entries: dict[str, Any] = {}
    left: list[str] = []
    for name, server in loaded.servers.items():
        entry = dict(server.entry)
        for key, secret in (("headers", lambda _: True), ("env", lambda k: bool(SECRET_NAME.search(k)))):
            values = entry.get(key)
            if not isinstance(values, dict):
                continue
            kept = {k: v for k, v in values.items() if not secret(k) or _reference_only(str(v))}
            left += [f"MCP server {name}: {key[:-1] if key == 'headers' else key} {k} stays home (written out, "
                     f"not as ${{VAR}}): the worker's server goes without it" for k in values if k not in kept]
            entry[key] = kept
        entries[name] = entry
    return entries, left


def _reference_only(value: str) -> bool:
    """True when every part of the value that could be a secret is a ${VAR} reference without a written-out
    default (`Bearer ${TOKEN}`)."""
    found = list(VARIABLE.finditer(value))
    rest = VARIABLE.sub("", value).strip()
    return bool(found) and not any(m[2] for m in found) and (not rest or rest.lower() in ("bearer", "token", "basic"))
