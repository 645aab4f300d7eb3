"""Each magic's subcommands, declared once: name, the words it takes, what its first word completes to, its help
and its handler. Dispatch, tab completion, `%llm help` and `%magic?` all read these tables. Handlers are named as
"module:function" within this package and imported on use, so declaring them costs nothing at `%load_ext`."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Subcommand:
    """`%MAGIC NAME USAGE`: `words` lists how many words may follow the name (None: any number)."""

    name: str
    usage: str
    help: str
    handler: str                       # "module:function", called as function(session, words)
    words: tuple[int, ...] | None = (0,)
    completes: str = ""                # what its first word completes to: model, agent, skill, thread...
    then: str = ""                     # what its second word completes to (`%llm keys set PROVIDER`)
    guard: str = ""                    # "module:function"(session, words) -> bool: it is this subcommand at all
    verbatim: bool = False             # the handler takes the rest of the line as it is (a note, a path, a query)

    def fits(self, session: Any, words: list[str]) -> bool:
        """Whether `words` (after the name) call this subcommand rather than being, say, a prompt."""
        if self.words is not None and len(words) not in self.words:
            return False
        return not self.guard or _function(self.guard)(session, words)

    def bind(self, session: Any, line: str) -> Callable[[], Any]:
        """The call of this subcommand for a magic line (its name first)."""
        rest = line.strip().partition(" ")[2].strip()
        return functools.partial(_function(self.handler), session, [rest] if self.verbatim else rest.split())


@dataclass(frozen=True)
class Subcommands:
    """One magic's table."""

    magic: str
    entries: tuple[Subcommand, ...]

    def find(self, session: Any, line: str) -> Callable[[], Any] | None:
        """The call of the subcommand a magic line names, if it names one (else the line is, say, a prompt)."""
        words = line.split()
        found = next((s for s in self.entries if words and s.name == words[0]), None)
        return found.bind(session, line) if found is not None and found.fits(session, words[1:]) else None

    def names(self) -> list[str]:
        return [s.name for s in self.entries]

    def get(self, name: str) -> Subcommand | None:
        return next((s for s in self.entries if s.name == name), None)

    def help(self) -> str:
        """One line per subcommand: how to write it and what it does."""
        width = max(len(f"%{self.magic} {s.name} {s.usage}".rstrip()) for s in self.entries)
        return "\n".join(f"  {f'%{self.magic} {s.name} {s.usage}'.rstrip():<{width}}  {s.help}"
                         for s in self.entries)

    def document(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """Append the table to a magic method's docstring (before IPython's magic_arguments adds the options), so
        `%magic?` lists the subcommands too."""
        method.__doc__ = f"{method.__doc__ or ''}\n\n        Subcommands:\n{_indent(self.help())}\n"
        return method


def _indent(text: str) -> str:
    return "\n".join(f"        {line}" for line in text.splitlines())


def _function(reference: str) -> Callable[..., Any]:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


S = Subcommand
LLM = Subcommands("llm", (
    S("list", "", "providers, whether each is usable, the endpoint it calls, aliases", "llm:listing"),
    S("alias", "NAME ID", "name a model (or another alias)", "llm:alias", (2,), "model"),
    S("default", "ID", "the model %llm uses when none is named", "llm:default", (1,), "model"),
    S("batch", "MODEL PROMPTS [-o VAR] [-s SYSTEM] [--wait]",
      "a list (or Series) of prompts through the provider's batch API, at about half price",
      "batches:llm_batch", None, "model", guard="batches:names_prompts", verbatim=True),
    S("costs", "[--by provider|model|agent|day] [--panel]", "the ledger as a DataFrame (or its panel)",
      "llm:costs", (0, 1, 2)),
    S("error", "[MODEL]", "explain the last exception raised in this kernel", "llm:explain_error", (0, 1), "model"),
    S("explain", "VAR [MODEL]", "explain a value of the notebook (a figure as an image)", "llm:explain", (1, 2),
      guard="llm:names_value"),
    S("eval", "DATA --models a,b [--agents x,y] [--scorer S] [--repeat N] [-o VAR]",
      "every model and agent on every row, scored: a summary per contestant, costs from the ledger, a chart",
      "evaluate:run_eval", None, guard="evaluate:names_contestants", verbatim=True),
    S("help", "", "every magic, with its options and examples", "llm:show_help"),
    S("keys", "set|remove PROVIDER [--name NAME] | list | path",
      "API keys: store one (asked, never shown), list them (last four characters), remove one, where they are kept",
      "keys:keys", None, "key-action", guard="keys:names_action", then="provider"),
    S("reset", "[--thread NAME]", "clear a thread", "conversation:reset", (0, 2)),
    S("history", "[--thread NAME]", "a thread's turns as a DataFrame", "conversation:history", (0, 2)),
    S("export", "[--thread NAME] --to FILE.md|FILE.jsonl", "write a thread to a file", "conversation:export",
      (2, 4)),
    S("import", "[--thread NAME] --from FILE.jsonl", "add a file's turns to a thread", "conversation:import_",
      (2, 4)),
    S("panel", "", "the chat panel", "panels:chat"),
    S("compare-panel", "", "the compare panel", "panels:compare"),
))
AGENT = Subcommands("agent", (
    S("list", "", "agents on the search path, their models and files", "agent:listing"),
    S("show", "NAME", "one agent: description, model, tools, system prompt", "agent:show", (1,), "agent"),
    S("find", "WHAT IT SHOULD DO", "the agents best suited to a task", "acting:find_agents", None, verbatim=True),
    S("runs", "", "queued runs: status, steps, tokens, cost", "queued:listing"),
    S("batches", "", "batch jobs: provider, model, status, counts", "batches:listing"),
    S("result", "RUN_ID|BATCH_ID [--wait [S]]", "a queued run's answer or a batch job's (the DataFrame filled), "
      "also after a restart", "batches:result", None, "batch-job"),
    S("cancel", "RUN_ID|BATCH_ID", "stop a queued run at its next call, or cancel a batch job", "batches:cancel",
      None, "batch-job"),
    S("map", "NAME DF --column COL [--out NEWCOL | --schema NAME] [--queue | --batch]",
      "the agent over every row of a DataFrame (--schema: a column per field)",
      "queued:map_rows", None, "agent", verbatim=True),
    S("panel", "", "the runs panel", "panels:runs"),
))
CMD = Subcommands("cmd", (
    S("list", "", "command templates on the search path", "agent:command_listing"),
))
SKILL = Subcommands("skill", (
    S("list", "", "skills on the search path", "skill:listing"),
    S("show", "NAME", "one skill: instructions, agent, tools, folder", "skill:show", (1,), "skill"),
    S("run", "NAME TASK...", "the skill's agent (or model) with its instructions and tools", "skill:run_skill",
      None, "skill", verbatim=True),
))
MEMORY = Subcommands("memory", (
    S("search", "[-k N] [--kind K] [--source S] [--since 7d] QUERY", "a DataFrame of hits", "memory:search",
      None, verbatim=True),
    S("add", "TEXT", "keep a note", "memory:add", None, verbatim=True),
    S("index", "PATH", "Markdown, text, .ipynb, JSONL message logs", "memory:index_path", None, verbatim=True),
    S("forget", "ID... | --id ID | [--kind K] [--source S] [--since T]", "remove items", "memory:forget", None, verbatim=True),
    S("stats", "", "what the store holds", "memory:stats"),
    S("panel", "", "the memory panel", "panels:memory"),
))
ORCHESTRATE = Subcommands("orchestrate", (
    S("run", "VAR", "run a plan kept by --plan-only (edited or not)", "orchestrate:execute", (1,)),
))
MCP = Subcommands("mcp", (
    S("list", "", "MCP servers: transport, what runs, scope, status, tool count", "mcp:listing"),
    S("tools", "[NAME]", "tool names and descriptions (starts the servers)", "mcp:tools", (0, 1), "mcp-server"),
    S("call", "NAME TOOL {json}", "one call of a tool, yours (no approval asked)", "mcp:call", None, "mcp-server",
      verbatim=True),
    S("add", "NAME -- command args... | NAME --url URL", "write a server into ./.mcp.json", "mcp:add", None,
      verbatim=True),
    S("restart", "NAME", "stop a server and start it afresh", "mcp:restart", (1,), "mcp-server"),
))
TABLES = {table.magic: table for table in (LLM, AGENT, CMD, SKILL, MEMORY, ORCHESTRATE, MCP)}
