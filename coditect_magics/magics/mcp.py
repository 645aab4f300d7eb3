"""The `%mcp` front: list the session's MCP servers and their tools, call one tool yourself, add a server to
`.mcp.json`, restart one. Everything goes through `session.mcp` (coditect_magics.mcp.Manager); a server that fails
is one line naming it and its stderr's last lines."""

from __future__ import annotations

import json
import shlex
from typing import Any

from coditect_magics import bridge
from coditect_magics.session import Session

from .args import UsageError
from .output import library_table, say_notices, show_error
from .subcommands import MCP

USAGE = ("write %mcp list | tools [NAME] | call NAME TOOL {json} | add NAME -- command args... | "
         "add NAME --url URL | restart NAME")


def run(session: Session, line: str) -> Any:
    """Entry point of the magic: every expected failure is one line, never a traceback."""
    try:
        call = MCP.find(session, line.strip() or "list")
        if call is None:
            raise UsageError(f"{line.split()[0]!r} is not an %mcp subcommand: {USAGE}")
        return call()
    except UsageError as exc:
        show_error(str(exc), exc)
        return None
    finally:
        say_notices(session)


def listing(session: Session, words: list[str]) -> Any:
    """`%mcp list`: every configured server, how it is reached, its status and tool count (none is started)."""
    rows = session.mcp.rows()
    loaded = session.mcp.loaded()
    table = [[r.name, r.transport, f"`{r.where}`", f"{r.scope}", r.status + (f": {r.problem}" if r.problem else ""),
              "" if r.tools is None else r.tools] for r in rows]
    if not rows and not loaded.problems:
        print("coditect: no MCP servers: write them in ./.mcp.json ({\"mcpServers\": {...}}, as Claude Code reads "
              "it) or add one with %mcp add NAME -- command args")
        return None
    return library_table(["server", "transport", "runs", "scope", "status", "tools"], table, loaded.problems)


def tools(session: Session, words: list[str]) -> Any:
    """`%mcp tools [NAME]`: the tools of one server (or of every configured one), started if need be."""
    names = words or session.mcp.names()
    rows = []
    for name in names:
        try:
            found = bridge.run(session.mcp.tools(name))
        except UsageError as exc:
            show_error(str(exc), exc)
            continue
        rows += [[f"`{t.name}`", t.remote_name, name, (t.description or "").split("\n")[0]] for t in found]
    if not rows:
        return None
    return library_table(["tool", "as the server names it", "server", "description"], rows)


def call(session: Session, words: list[str]) -> Any:
    """`%mcp call NAME TOOL {json}`: one call, yours (so no approval is asked); its result (text and images)."""
    name, _, rest = words[0].strip().partition(" ")
    tool, _, arguments = rest.strip().partition(" ")
    if not name or not tool:
        raise UsageError("write %mcp call NAME TOOL {\"argument\": \"value\"}, e.g. "
                         "%mcp call time get_current_time {\"timezone\": \"Europe/Paris\"}")
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        raise UsageError(f"the arguments are not JSON ({exc.msg} at column {exc.colno}): write them as "
                         f"{{\"name\": \"value\"}}") from None
    if not isinstance(parsed, dict):
        raise UsageError("the arguments must be a JSON object: {\"name\": \"value\"}")
    result = bridge.run(session.mcp.call(name, tool, parsed))
    session.namespace["_mcp"] = result
    if result.is_error:
        show_error(f"{name} {tool} answered with an error: {result.text}")
        return None
    return result


def add(session: Session, words: list[str]) -> None:
    """`%mcp add NAME -- command args...` or `%mcp add NAME --url URL [--transport sse]`, with `--env K=V` and
    `--header 'Name: value'` (both repeatable; write ${VAR} for a key): written into ./.mcp.json."""
    from coditect_magics.mcp.config import add_server
    try:
        parts = shlex.split(words[0])
    except ValueError as exc:
        raise UsageError(f"cannot read the line: {exc}") from None
    command = parts[parts.index("--") + 1:] if "--" in parts else []
    head = parts[:parts.index("--")] if "--" in parts else parts
    if not head:
        raise UsageError(USAGE)
    name, options = head[0], _options(head[1:])
    if bool(command) == bool(options.get("url")):
        raise UsageError("give either a command after -- (%mcp add NAME -- command args) or --url URL")
    made = add_server(name, command=command[0] if command else "", args=command[1:], url=options.get("url", ""),
                      transport=options.get("transport", ""), env=options.get("env"),
                      headers=options.get("header"))
    print(f"coditect: MCP server {name} ({made.transport}: {made.where}) written to {made.source}; "
          f"%mcp tools {name} starts it")


def _options(words: list[str]) -> dict[str, Any]:
    """--url, --transport, --env K=V and --header 'Name: value' of `%mcp add`."""
    found: dict[str, Any] = {"env": {}, "header": {}}
    for option, value in zip(words[::2], words[1::2] + [None] * (len(words) % 2)):
        if value is None or option not in ("--url", "--transport", "--env", "-e", "--header", "-H"):
            raise UsageError(f"unexpected {option!r}: {USAGE} (options: --url, --transport, --env K=V, "
                             f"--header 'Name: value')")
        if option in ("--env", "-e"):
            key, sep, val = value.partition("=")
            if not sep:
                raise UsageError(f"--env takes KEY=VALUE, got {value!r}")
            found["env"][key] = val
        elif option in ("--header", "-H"):
            key, sep, val = value.partition(":")
            if not sep:
                raise UsageError(f"--header takes 'Name: value', got {value!r}")
            found["header"][key.strip()] = val.strip()
        else:
            found[option[2:]] = value
    return found


def restart(session: Session, words: list[str]) -> None:
    """`%mcp restart NAME`: stop the server and start it afresh."""
    found = bridge.run(session.mcp.restart(words[0]))
    print(f"coditect: MCP server {words[0]} restarted: {len(found)} tools")


def server_names(session: Session) -> list[str]:
    """The configured servers' names (for completion: nothing is started)."""
    return session.mcp.names()
