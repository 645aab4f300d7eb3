"""What the MCP server's tools and resources do, on the server's Session, as plain values (no `mcp` import here):
run an agent or a skill headless, search memory, show the ledger, read an agent's or a skill's file.

Attribution: a call made for an MCP client carries the agent `mcp:<client>/<agent>` in the ledger (a skill with no
agent, `mcp:<client>`), through `executor.CALLER`, so `costs(by="agent")` tells which client spent what through
which agent, delegated agents' calls included. An agent's `budget_usd` counts that client's spend through it."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from pathlib import Path
from typing import Any

from coditect_magics.executor import CALLER

log = logging.getLogger("coditect_magics.mcp")

RAW_COLUMNS = ("ts", "provider", "model", "agent", "status", "input_tokens", "output_tokens", "cost_usd")
GROUPS = ("provider", "model", "agent", "day", "session", "status", "run")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def caller_label(client_name: str | None) -> str:
    """`mcp:<client name>` as the client gave it in its initialize request (`mcp:client` when it gave none);
    characters that could confuse a ledger filter or a log line are replaced."""
    name = _UNSAFE.sub("-", (client_name or "").strip())[:64].strip(" -") or "client"
    return f"mcp:{name}"


async def run_agent(session: Any, name: str, task: str, caller: str) -> str:
    """Run the agent `name` on `task` headless: its binding (model, budget, memory, allow), its memory context, the
    tools its file names (else the default set); tools that act run only where its binding (or the server's
    --allow) allows them, else the model is told they were denied. One-shot: no thread is continued."""
    from coditect_magics.session import tool_names

    def prepare() -> tuple[Any, Any, Any]:
        agent = session.resolve_agent(name)
        tools = session.tools_for(agent, tool_names(None, session.agents.get(name)))
        return agent, tools, _prepared(session, agent, task, memory=True)

    agent, tools, prepared = await asyncio.to_thread(prepare)  # memory may load the embedder: not on the loop
    return await _act(session, agent, prepared, tools, caller, task)


async def run_skill(session: Any, name: str, task: str, caller: str) -> str:
    """Run the skill `name` on `task` as `%skill run` does (its agent, else its model or the default, with its
    instructions and the tools it brings), headless."""
    from coditect_magics.session import skill_work

    def prepare() -> tuple[Any, Any]:
        work = skill_work(session, name)
        return work, _prepared(session, work.agent, task, memory=bool(work.skill.agent))

    work, prepared = await asyncio.to_thread(prepare)
    return await _act(session, work.agent, prepared, list(work.tools), caller, task)


def _prepared(session: Any, agent: Any, task: str, *, memory: bool) -> Any:
    """The call's messages: the system prompt with what memory holds about the task (as the agent's binding says),
    then the task; attributed to the agent and a new run."""
    from coditect_magics.executor import CallContext
    from coditect_magics.providers.types import Message
    context = CallContext(agent=agent.name or None, run_id=uuid.uuid4().hex, agent_budget_usd=agent.budget_usd)
    return session.prepare(Message("user", task), system=agent.system_prompt, model=agent.model_id,
                           reply_tokens=agent.max_tokens,
                           memory=(agent.memory_items, agent.memory_min_score) if memory else None, context=context)


async def _act(session: Any, agent: Any, prepared: Any, tools: Any, caller: str, task: str) -> str:
    """The runner's tool loop on prepared messages, every call attributed to the caller; the answer, with a note
    when the run stopped short."""
    runner = session.runner(allow=agent.allow, stream=False, asks=False)
    token = CALLER.set(caller)
    try:
        done = await runner.run(agent, list(prepared.messages), tools=tools, run_id=prepared.context.run_id,
                                memory_items=prepared.context.memory_items)
    finally:
        CALLER.reset(token)
        for line in [*runner.warnings, *session.notices()]:
            log.warning("%s", line)
    if done.text:
        session.remember(task, done.text, model=done.trace.model, agent=agent.name or None, source=caller)
    if done.status == "done":
        return done.text
    note = done.trace.note or done.status
    return f"{done.text}\n\n[stopped: {note}]" if done.text else f"[stopped: {note}]"


def search_memory(session: Any, query: str, k: int = 5, kind: str | None = None) -> str:
    """The `k` memories that best answer `query` (of one `kind`: message, note or file), best first, as Markdown:
    score, kind, source and time, then the text."""
    from coditect_magics.memory.store import KINDS
    if kind and kind not in KINDS:
        raise ValueError(f"kind is one of {', '.join(KINDS)}, not {kind!r}")
    hits = session.settled_memory().search(query, k=max(1, min(int(k), 50)), kind=kind or None)
    if not hits:
        return f"Nothing in memory matches {query!r}."
    return "\n\n".join(f"{n}. score {hit.score:.2f} · {hit.metadata.get('kind', '')} · {hit.source or 'no source'}"
                       f"{_when(hit.metadata.get('timestamp'))} · id {hit.id[:12]}\n\n{_quoted(hit.text)}"
                       for n, hit in enumerate(hits, 1))


def costs_table(session: Any, by: str | None = None, since: str | None = None) -> str:
    """The ledger as a Markdown table: one row per call (`by` none) or per provider, model, agent, day, session,
    status or run, since a time (ISO date or a span back from now: 30m, 12h, 7d, 2w), with a totals row."""
    from coditect_magics import costs
    from coditect_magics.render import table
    if by and by not in GROUPS:
        raise ValueError(f"by is one of {', '.join(GROUPS)} (or empty for one row per call), not {by!r}")
    frame = costs.costs(by=by or None, since=since or None, ledger=session.executor.ledger,
                        columns=None if by else list(RAW_COLUMNS))
    if not len(frame):
        return "No calls in the ledger" + (f" since {since}." if since else ".")
    if not by:  # rows numbered from 1, oldest first
        frame.index = range(1, len(frame) + 1)
    return table(frame.display_frame())


def agent_file(session: Any, name: str) -> str:
    """The agent's Markdown file as it is on the search path (front matter and system prompt)."""
    definition = session.agents.get(name)
    if definition.source is None:
        return definition.system_prompt
    return Path(definition.source).read_text(encoding="utf-8")


def skill_file(session: Any, name: str) -> str:
    """The skill's SKILL.md, then the names of the Python files whose functions it brings as tools."""
    skill = session.skills.get(name)
    text = (Path(skill.folder) / "SKILL.md").read_text(encoding="utf-8") if skill.folder else skill.instructions
    files = ", ".join(p.name for p in skill.tool_files)
    return f"{text.rstrip()}\n\n<!-- tool files: {files} -->\n" if files else text


def _quoted(text: str) -> str:
    """The text as a Markdown quote."""
    return "\n".join(f"> {line}" for line in text.strip().splitlines()) or ">"


def _when(stamp: Any) -> str:
    """` · YYYY-MM-DD HH:MM UTC` for epoch seconds, "" for anything else."""
    if not isinstance(stamp, (int, float)):
        return ""
    from datetime import datetime, timezone
    return " · " + datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
