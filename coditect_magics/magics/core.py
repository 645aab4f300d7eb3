"""`CoditectMagics`: the configurable (traitlets) magics class. `%config CoditectMagics.default_model = "..."`
or `c.CoditectMagics.default_model` in ipython_config.py; keys and endpoints also come from environment variables.
Each magic parses its line and hands over to a front module; nothing heavy is imported at load."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode, observe

from coditect_magics.settings import CACHE_MODES, FORMATS, Settings
from coditect_magics.settings import DEFAULTS as D

from .complete import settled
from .subcommands import AGENT, CMD, LLM, MCP, MEMORY, ORCHESTRATE, SKILL


@magics_class
class CoditectMagics(Magics):
    """LLMs in the notebook: `%llm`/`%%llm`, `%agent`/`%%agent`, `%orchestrate`/`%%orchestrate`, `%cmd`, `%skill`,
    `%memory`, `%mcp`. Its settings live in one Session (`self.session`), which the panels and workers use too."""

    default_model = Unicode(D.default_model, help="Model for %llm when none is named: provider:model or an alias.").tag(config=True)
    aliases = Dict(dict(D.aliases), help="Your model aliases: name -> provider:model (added to the kit's own).").tag(config=True)
    model_aliases = Dict(dict(D.model_aliases), help="Agent model names (sonnet, opus, haiku...) -> provider:model; adds to the "
                                  "kit's table.").tag(config=True)
    temperature = Float(D.temperature, allow_none=True, help="Default temperature (None: the provider's).").tag(config=True)
    max_tokens = Int(D.max_tokens, allow_none=True, help="Default max output tokens.").tag(config=True)
    format = Enum(FORMATS, default_value=D.format, help="How replies are shown.").tag(config=True)
    base_urls = Dict(dict(D.base_urls), help="Endpoint per provider, e.g. {'ollama': 'http://127.0.0.1:11434'}.").tag(config=True)
    timeout = Float(D.timeout, help="Seconds a call (or the gap between stream events) may take.").tag(config=True)
    attempts = Int(D.attempts, help="Tries per provider on rate limits, 5xx, timeouts and connection errors.").tag(config=True)
    max_wait = Float(D.max_wait, help="Seconds of backoff a provider may cost before falling back.").tag(config=True)
    rate_limits = Dict(dict(D.rate_limits), help="Requests per period per provider, e.g. {'openai': '60/minute'}.").tag(config=True)
    cache = Enum(CACHE_MODES, default_value=D.cache,
                 help="Response cache: auto answers repeated temperature-0 requests from the cache.").tag(config=True)
    budget_session_usd = Float(D.budget_session_usd, allow_none=True, help="Spend limit for this session (USD).").tag(config=True)
    budget_agent_usd = Float(D.budget_agent_usd, allow_none=True, help="Spend limit per agent (USD).").tag(config=True)
    budget_total_usd = Float(D.budget_total_usd, allow_none=True, help="Spend limit over the whole ledger (USD).").tag(config=True)
    ledger_path = Unicode(D.ledger_path, help="Ledger: a SQLite file or a postgresql:// URL for a team (default: CODITECT_LEDGER "
                                   "or the user data dir).").tag(config=True)
    cache_path = Unicode(D.cache_path, help="Cache file (default: CODITECT_CACHE or the user data dir).").tag(config=True)
    redis_url = Unicode(D.redis_url, help="A Redis (redis://host:port/db) that shares rate limits and the response cache with "
                                 "a team's kernels and workers (default: CODITECT_REDIS_URL).").tag(config=True)
    log_prompts = Bool(D.log_prompts, help="Keep prompt text in the ledger.").tag(config=True)
    agent_dirs = List(Unicode(), list(D.agent_dirs), help="More directories of agent files (*.md).").tag(config=True)
    agent_limits = Dict(dict(D.agent_limits), help="Bounds on an agent run and all it delegates: depth (3), steps per agent (10), "
                                 "total_steps (50), time_s, budget_usd.").tag(config=True)
    auto_approve = Unicode(D.auto_approve, help="Tools that act and run without asking, in every run: run, write, "
                                                "bash, mcp (a comma list) or all; others ask in the cell (denied "
                                                "where nobody can answer).").tag(config=True)
    command_dirs = List(Unicode(), list(D.command_dirs), help="More directories of command templates (*.md).").tag(config=True)
    skill_dirs = List(Unicode(), list(D.skill_dirs), help="More directories of skills (NAME/SKILL.md folders).").tag(config=True)
    bindings_path = Unicode(D.bindings_path,
                            help="YAML file binding agents to provider, model and settings.").tag(config=True)
    memory_dir = Unicode(D.memory_dir, help="Memory store directory (default: CODITECT_MEMORY_DIR or the user data dir).").tag(
        config=True)
    chroma_url = Unicode(D.chroma_url, help="A Chroma server (host:port) for memory instead of the local store.").tag(config=True)
    embedder = Unicode(D.embedder, help="Memory embedder: local, chroma-default, openai[:model], ollama[:model], ... "
                                "(default: CODITECT_EMBEDDER or local).").tag(config=True)
    memory_context = Int(D.memory_context, help="Memories added to an agent's system prompt (and %llm --memory's) when they match "
                                 "its task (0: off); an agent's binding may set its own (memory_items).").tag(config=True)
    memory_min_score = Float(D.memory_min_score, help="How close (0..1) a memory must be to join a prompt's context.").tag(config=True)
    remember = Bool(D.remember, help="Keep every %llm / %%agent exchange in memory (written in the background).").tag(
        config=True)
    max_history_tokens = Int(D.max_history_tokens, help="Most tokens of earlier turns a thread sends with a prompt (oldest "
                                        "dropped first; the system prompt always goes).").tag(config=True)
    threads_path = Unicode(D.threads_path, help="Threads file (default: CODITECT_THREADS, else beside the ledger).").tag(
        config=True)
    footer = Bool(D.footer, help="Show the line under each reply: model, tokens, cost, time (the saved notebook keeps "
                             "the same in the output's metadata either way).").tag(config=True)
    stream_interval = Float(D.stream_interval, help="Seconds between display updates while a reply streams.").tag(config=True)
    mcp_config = Unicode(D.mcp_config, help="A JSON file of MCP servers ({\"mcpServers\": {...}}, as .mcp.json) read "
                                            "over ./.mcp.json and ~/.claude.json.").tag(config=True)
    mcp_connect_timeout = Float(D.mcp_connect_timeout, help="Seconds an MCP server may take to start and list its "
                                                            "tools.").tag(config=True)
    mcp_call_timeout = Float(D.mcp_call_timeout, help="Seconds one MCP tool call may take.").tag(config=True)
    key_command_timeout = Float(D.key_command_timeout, help="Seconds a cmd: key reference (op read ..., gcloud "
                                "secrets ...) may take; it runs once per session.").tag(config=True)
    schema_retries = Int(D.schema_retries, help="Times an answer that does not match its --schema is asked for "
                                                "again, with the validation errors (0: never).").tag(config=True)
    batches_path = Unicode(D.batches_path, help="Batch jobs file (default: batches.sqlite3 beside the "
                                                "ledger).").tag(config=True)
    batch_poll_s = Float(D.batch_poll_s, help="Seconds before a batch job is polled again (doubling each poll up "
                                              "to batch_poll_max_s).").tag(config=True)
    batch_poll_max_s = Float(D.batch_poll_max_s, help="Longest wait between polls of a batch job.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        from coditect_magics.session import Session
        namespace = shell.user_ns if shell is not None else {}
        self.session = Session(Settings().replace(**{name: getattr(self, name) for name in Settings.names()}),
                               namespace=namespace)

    @observe(*Settings.names())
    def _setting_changed(self, change: Any) -> None:
        """`%config CoditectMagics.NAME = VALUE` reaches the session (set during __init__: not made yet)."""
        session = self.__dict__.get("session")
        if session is not None:
            session.configure(**{change["name"]: change["new"]})

    @line_cell_magic
    @no_var_expand
    @magic_arguments()
    @argument("-f", "--format", choices=FORMATS, help="How to show the reply (default: markdown).")
    @argument("-s", "--system", help="System prompt.")
    @argument("-t", "--temperature", type=float, help="Sampling temperature.")
    @argument("--max-tokens", type=int, help="Most output tokens.")
    @argument("-o", "--out", help="Also store the reply in this variable.")
    @argument("--no-stream", action="store_true", help="Show the reply when it is complete.")
    @argument("--no-cache", action="store_true", help="Do not answer from (or write to) the response cache.")
    @argument("--fallback", help="Comma-separated ids to try in order if the model fails.")
    @argument("--compare", help="Comma-separated ids, or all (every usable provider): ask each, side by side.")
    @argument("--memory", action="store_true", help="Add what memory holds about the prompt to the context.")
    @argument("--notebook", action="store_true", help="Add a short summary of the notebook (its variables and last "
                                                      "cells) to the system prompt, as data.")
    @argument("--image", action="append", metavar="VAR_OR_PATH",
              help="Send an image with the prompt (repeatable): a figure, PIL or IPython image variable, an image "
                   "file, or _ for the last figure shown.")
    @argument("-c", "--continue", dest="continue_thread", action="store_true",
              help="Continue the current thread (the one named last, else main) instead of a one-shot call.")
    @argument("--thread", help="Continue (or start) the thread of this name; it becomes the current one.")
    @argument("--tools", help="Comma-separated tools the model may call: notebook functions by name and built-ins "
                              "(Read, Grep, Glob, WebSearch, WebFetch, MemorySearch, Variables, Inspect, "
                              "NotebookRead; Write, Edit, Bash with --allow); `default`: the read-only built-ins, "
                              "Task and Skill, as for an agent without `tools:`.")
    @argument("--allow", help="What tools may do without asking: run, write, bash, mcp (a comma list) or all.")
    @argument("--schema", metavar="NAME", help="Answer as data: a pydantic model, TypedDict or JSON-schema dict in "
                                               "the notebook; _llm.parsed (and -o VAR) holds the validated object.")
    @LLM.document
    @settled
    def llm(self, line: str, cell: str | None = None) -> Any:
        """Prompt any model: `%llm [model] prompt` or `%%llm [model] [options]` with the cell as the prompt.

        The model is provider:model (anthropic:claude-sonnet-4-6, openai:gpt-4.1-mini, gemini, ollama:llama3.2,
        lmstudio:..., huggingface:..., search:openai:gpt-4.1-mini), an alias, or omitted for the default.
        {name} in the prompt is replaced by that variable's value ({{ for a literal brace); unknown names
        and JSON are left alone. The reply streams in as Markdown and is kept in `_llm` (and -o VAR).

        Threads: a plain %llm is a one-shot call that starts the main thread afresh; `%%llm -c` continues the
        current thread, `--thread NAME` picks or starts a named one. Threads persist beside the ledger, per notebook.

        Values render by type: a DataFrame as a compact table, a dict or list as JSON, an exception as its
        traceback. --image sends pictures to models that read them (Anthropic, OpenAI, Gemini, Ollama vision models).

        Examples:
          %llm What is a closure in Python?
          %llm -t 0 -o answer gemini Summarize {report} in three bullets
          %%llm anthropic:claude-sonnet-4-6 --thread review -s "You review code."
          %%llm -c                         (the cell continues the conversation)
          %llm --compare openai:gpt-4.1-mini,ollama:llama3.2 Name one use of asyncio
          %llm --memory What did we decide about the schema?
          %%llm --notebook                 (the notebook's variables and last cells go along, as data)
          %llm --image _ What does this chart show?       (_: the last figure shown; or --image fig, --image plot.png)
          %llm explain df
          %llm costs --by model
          %%llm anthropic:claude-sonnet-4-6 --tools Read,my_function      (the model may call them; _trace: what ran)
          %%llm openai:gpt-4.1-mini --schema City -o city   (the answer validated into a City; asked again once
                                                            with the errors when it does not fit: schema_retries)
        """
        from . import llm
        return llm.run(self.session, line, cell)

    @line_cell_magic
    @no_var_expand
    @magic_arguments()
    @argument("-m", "--model", help="Model for this run (over the binding and the agent file).")
    @argument("-t", "--temperature", type=float, help="Sampling temperature.")
    @argument("--max-tokens", type=int, help="Most output tokens.")
    @argument("-f", "--format", choices=FORMATS, help="How to show the reply.")
    @argument("-o", "--out", help="Also store the reply in this variable.")
    @argument("--fallback", help="Comma-separated ids to try in order if the model fails.")
    @argument("--search", action="store_true", help="Wrap the model in web search.")
    @argument("--no-stream", action="store_true", help="Show the reply when it is complete.")
    @argument("--no-cache", action="store_true", help="Do not answer from the response cache.")
    @argument("--new", action="store_true", help="Start the agent's thread afresh instead of continuing it.")
    @argument("--notebook", action="store_true", help="Add a short summary of the notebook (its variables and last "
                                                      "cells) to the system prompt, as data.")
    @argument("--tools", help="Comma-separated tools for this run instead of the agent file's `tools:`.")
    @argument("--allow", help="What its tools may do without asking: run, write, bash, mcp (a comma list) or all.")
    @argument("--queue", action="store_true", help="Run it on a worker (RQ over CODITECT_REDIS_URL): the cell returns "
                                                   "at once and follows the run; %agent result RUN_ID fetches it.")
    @argument("--schema", metavar="NAME", help="The final answer as data: a pydantic model, TypedDict or JSON-schema "
                                               "dict in the notebook (validated; -o VAR gets the object).")
    @AGENT.document
    @settled
    def agent(self, line: str, cell: str | None = None) -> Any:
        """Run a named agent: `%%agent NAME [options]` with the cell as the task; `%agent list`, `%agent show NAME`.

        Agents are Markdown files with YAML front matter (name, description, tools, model; the body is the system
        prompt) in ./.claude/agents, ~/.claude/agents, CoditectMagics.agent_dirs and the kit's examples. A bindings
        YAML (CoditectMagics.bindings_path) maps agents to provider, model, temperature, max_tokens, fallbacks,
        search, budget_usd, memory_items and memory_min_score. Precedence: these options > binding > agent file >
        default model. Each agent keeps its own thread: a run continues the agent's earlier turns unless --new.

        Examples:
          %agent list
          %%agent code-reviewer -m openai:gpt-4.1 --new
          %agent explainer What does functools.wraps do?
          %agent find review Python code for bugs      (the agents best suited to a task)
          %%agent researcher --queue                   (on a worker; the cell follows it)
          %agent runs                                  (queued runs: status, steps, tokens, cost)
          %agent result 3f2a9c                         (a queued run's answer, also after a restart)
          %agent cancel 3f2a9c                         (stop it: at its next model or tool call)
          %agent map classifier df --column text --out label   (every row; --queue spreads them on workers)
          %agent map extractor df --column text --schema City  (a column per field of City, and `error`)
          %%agent extractor --schema City -o city             (the final answer validated into a City)

        Agents act with the tools their file lists (none listed: the read-only built-ins, Task to delegate to
        other agents, Skill to load a skill); each tool call shows as it happens, and `_trace` holds the run's tree.
        """
        from . import agent
        return agent.run(self.session, line, cell)

    @line_cell_magic
    @no_var_expand
    @magic_arguments()
    @argument("--plan-only", action="store_true", help="Show the plan (kept in _plan) without running it.")
    @argument("--agents", help="Comma-separated agents the plan may use (default: the best matches).")
    @argument("-m", "--model", help="Model for the orchestrator (over its binding and file).")
    @argument("-o", "--out", help="Also store the reply (or with --plan-only the plan) in this variable.")
    @argument("--allow", help="What the agents' tools may do without asking: run, write, bash, mcp or all.")
    @argument("--queue", action="store_true", help="Plan and run on workers, each step a job after the steps it "
                                                   "needs; the cell returns at once and follows the run.")
    @ORCHESTRATE.document
    @settled
    def orchestrate(self, line: str, cell: str | None = None) -> Any:
        """Split a request into steps for specialist agents, run them (independent ones at once), combine them:
        `%%orchestrate [--plan-only] [--agents a,b]` with the request as the cell; `%orchestrate run VAR` runs a
        plan kept by --plan-only (edit it first if you like: it is checked again).

        Examples:
          %%orchestrate --agents researcher,code-reviewer
          %%orchestrate --plan-only -o plan
          %orchestrate run plan
        """
        from . import orchestrate
        return orchestrate.run(self.session, line, cell)

    @line_magic
    @no_var_expand
    @CMD.document
    @settled
    def cmd(self, line: str) -> Any:
        """Run a command template: `%cmd NAME args...`; `%cmd list`.

        Commands are Markdown prompt templates in ./.claude/commands, ~/.claude/commands and
        CoditectMagics.command_dirs; $ARGUMENTS is the argument string, $1 $2 ... the arguments, $ARGUMENTS[0] the
        first. Front matter may name an `agent` or a `model` to run it.

        Examples:
          %cmd list
          %cmd tldr Python's GIL
        """
        from . import agent
        return agent.run_command(self.session, line)

    @line_magic
    @no_var_expand
    @SKILL.document
    @settled
    def skill(self, line: str) -> Any:
        """Skills: folders with a SKILL.md (front matter `name`, `description`, optional `agent`, `model`,
        `allowed-tools`; the body is the instructions) in ./.claude/skills, ~/.claude/skills,
        CoditectMagics.skill_dirs and the kit's examples.

        `%skill list`; `%skill show NAME`; `%skill run NAME TASK...` runs the skill's agent (or model, or the default)
        with the skill's instructions.

        Examples:
          %skill list
          %skill run explain-error {err}
        """
        from . import skill
        return skill.run(self.session, line)

    @line_magic
    @no_var_expand
    @magic_arguments()
    @argument("-k", type=int, default=5, help="How many results.")
    @argument("--kind", choices=("message", "note", "file"), help="Only this kind.")
    @argument("--source", help="Only from these sources (comma-separated, exact: a file, notebook.ipynb#cell3).")
    @argument("--since", help="Only since then: an ISO date or a span back from now (30m, 12h, 7d, 2w).")
    @argument("--id", action="append", help="forget: this item (an id, or its first characters; repeatable).")
    @MEMORY.document
    @settled
    def memory(self, line: str) -> Any:
        """Memory search over what you said, wrote and indexed (ChromaDB); every %llm / %%agent exchange is kept
        unless `%config CoditectMagics.remember = False`.

        `%memory search [-k N] [--kind K] [--source S] [--since 7d] QUERY` shows a DataFrame of hits;
        `%memory add TEXT`; `%memory index PATH` (Markdown, text, .ipynb, JSONL message logs);
        `%memory forget ID...` or `--id ID` (the id column of a search), or `%memory forget --source S | --kind K |
        --since T`;
        `%memory stats`."""
        from . import memory
        return memory.run(self.session, line)

    @line_magic
    @no_var_expand
    @MCP.document
    @settled
    def mcp(self, line: str) -> Any:
        """MCP servers: from ./.mcp.json and ~/.claude.json (as Claude Code writes them: `{"mcpServers": {NAME:
        {"command", "args", "env"}}}` for stdio, `{"type": "http", "url", "headers"}`) and CoditectMagics.mcp_config;
        ${VAR} and ${VAR:-default} come from the environment. A server starts when first used and is kept for the
        kernel's life. Its tools are `mcp__NAME__TOOL` (`mcp__NAME`: all of them) for --tools, an agent's `tools:`
        and a skill's allowed-tools; each call a model makes asks for approval unless --allow mcp.

        Examples:
          %mcp add time -- python -m mcp_server_time --local-timezone UTC
          %mcp tools time
          %mcp call time get_current_time {"timezone": "Europe/Paris"}
          %%llm anthropic:claude-sonnet-4-6 --tools mcp__time --allow mcp
        """
        from . import mcp
        return mcp.run(self.session, line)
