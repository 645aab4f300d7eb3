"""The fronts of runs beyond the kernel: `%%agent NAME --queue` and `%%orchestrate --queue` put the run on the RQ
queue and return at once, the cell redrawing its progress (steps, tokens, cost) as the workers announce it and
showing the answer when it comes; `%agent runs` lists queued runs, `%agent result RUN_ID` fetches one (also from a
new kernel); `%agent map NAME DF --column COL` runs an agent over a DataFrame's rows, in the kernel or, with
--queue, in chunks on the workers."""

from __future__ import annotations

import threading
from typing import Any, Sequence

from coditect_magics.session import Session

from .args import UsageError

MAP_USAGE = ("%agent map NAME DF --column COL [--out NEWCOL | --schema NAME] [--concurrency N] [--queue] "
             "[--chunk N] [--tools a,b]")


def job_for(session: Session, agent: Any, messages: Sequence[Any], *, tools: Any, allow: str | None = None,
            memory_items: int = 0, concurrency: int = 16) -> Any:
    """The job that carries this run to a worker; NotPortable (a UsageError to the user) when a tool is a
    function defined in the notebook."""
    from coditect_magics.workers.spec import AgentJob, NotPortable, kit_of, message_tuple
    try:
        kit = kit_of(session, allow=allow, tools=tools)
    except NotPortable as exc:
        raise UsageError(str(exc)) from None
    return AgentJob(kit, agent, message_tuple(messages), tools=tuple(tools) if isinstance(tools, list) else tools,
                    memory_items=memory_items, concurrency=concurrency)


def queue_agent(session: Session, agent: Any, prepared: Any, *, tools: Any, allow: str | None,
                out: str | None, keep: Any = None) -> None:
    """Queue an agent run and follow it in the cell (`_run` holds its QueuedRun); `keep(result)` files the answer
    in the agent's thread."""
    client = session.runs()
    run_id = client.agent(job_for(session, agent, prepared.messages, tools=tools, allow=allow,
                                  memory_items=prepared.context.memory_items))
    watch(session, client, run_id, out=out, keep=keep)


def queue_orchestrate(session: Session, orchestrator: Any, goal: str, names: Sequence[str] | None,
                      allow: str | None, out: str | None) -> None:
    """Queue a planned run and follow it in the cell (`_run` holds its QueuedRun)."""
    client = session.runs()
    job = job_for(session, orchestrator, [], tools=None, allow=allow)
    watch(session, client, client.orchestrate(job, goal, names), out=out)


class QueuedRun:
    """A queued run as `_run` keeps it: its id; `.state()`, `.result(timeout)`, `.wait()`."""

    def __init__(self, client: Any, run_id: str) -> None:
        self.client, self.run_id = client, run_id
        self.watcher: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"QueuedRun({self.run_id[:12]!r})"

    def state(self) -> dict[str, Any]:
        return self.client.state(self.run_id)

    def result(self, timeout: float | None = None) -> Any:
        return self.client.result(self.run_id, timeout=timeout)

    def wait(self, timeout: float = 60.0) -> bool:
        """Wait until the cell shows the end of the run (scripts, tests); True when it does."""
        if self.watcher is not None:
            self.watcher.join(timeout)
        return self.watcher is None or not self.watcher.is_alive()


def watch(session: Session, client: Any, run_id: str, *, out: str | None = None, keep: Any = None) -> QueuedRun:
    """Show the run's line in the cell and redraw it from a thread as the run announces news; when it ends, the
    answer replaces it (kept in `_llm` and `out`). The cell itself returns at once."""
    from IPython.display import Markdown, display

    from coditect_magics.workers.runs import describe
    waiting = "" if client.workers() else (" · no worker is listening: start one with `coditect-magics worker` "
                                           "(the run waits in Redis until one does)")
    handle = display(Markdown(f"**queued run `{run_id[:12]}`** · queued{waiting}"), display_id=True)
    handle_of = QueuedRun(client, run_id)
    session.namespace["_run"] = handle_of

    def follow() -> None:
        state: dict[str, Any] = {}
        shown = ""
        try:
            for state in client.watch(run_id):
                line = f"**queued run `{run_id[:12]}`** · {describe(state)}"
                if line != shown:
                    handle.update(Markdown(line))
                    shown = line
            finish(session, client, run_id, state, handle, out, keep)
        except Exception as exc:  # noqa: BLE001 - a watcher must say what stopped it, not die silently
            handle.update(Markdown(f"**queued run `{run_id[:12]}`** · no longer followed here ({exc}); "
                                   f"`%agent result {run_id[:12]}` fetches it"))

    handle_of.watcher = threading.Thread(target=follow, name=f"coditect-run-{run_id[:8]}", daemon=True)
    handle_of.watcher.start()
    return handle_of


def finish(session: Session, client: Any, run_id: str, state: dict[str, Any], handle: Any, out: str | None,
           keep: Any) -> None:
    from IPython.display import Markdown
    try:
        value = client.result(run_id)
    except Exception as exc:  # noqa: BLE001 - the run's failure (or cancel) is shown in its place
        handle.update(Markdown(f"**queued run `{run_id[:12]}`** · {exc}"))
        return
    result = as_result(session, value, state)
    from .output import render
    said = "".join(f"\n\n> worker: {w}" for w in getattr(value, "warnings", ()))
    handle.update(render(result.text + said, result.format, result.footer if result.show_footer else ""), raw=True)
    session.namespace["_llm"] = result
    if out:
        session.namespace[out] = result
    if keep is not None:
        keep(result)


def as_result(session: Session, value: Any, state: dict[str, Any]) -> Any:
    """A queued run's Outcome or Orchestration as the reply the notebook keeps (LLMResult)."""
    from coditect_magics.providers import Usage

    from .output import LLMResult
    trace = getattr(value, "trace", None)
    # the whole run's counts (an orchestration's planning and steps ran in other jobs than its answer)
    tokens = (state.get("input_tokens", 0), state.get("output_tokens", 0))
    result = LLMResult(text=value.text, model=state.get("model", ""), usage=Usage(*tokens),
                       cost=state.get("cost_usd"), latency_s=(state.get("ended") or 0) - (state.get("started") or 0)
                       or None, status="ok" if value.status == "done" else value.status, format=session.settings.format,
                       show_footer=session.settings.footer)
    if trace is not None:
        session.namespace["_trace"] = trace
    return result


def listing(session: Session, words: Sequence[str] = ()) -> Any:
    """`%agent runs`: the latest queued runs as a DataFrame."""
    import pandas as pd
    rows = session.runs().listing()
    columns = ["run_id", "kind", "agent", "status", "steps", "input_tokens", "output_tokens", "cost_usd", "rows",
               "queued", "seconds", "task", "error"]
    return pd.DataFrame(rows, columns=columns)


def result(session: Session, words: Sequence[str]) -> Any:
    """`%agent result RUN_ID [--wait S]`: the run's answer (a map's: its rows as a DataFrame)."""
    from coditect_magics.workers.runs import RunFailed, RunNotFound
    if not words:
        raise UsageError("write %agent result RUN_ID (%agent runs lists them)")
    wait = 0.0
    if len(words) == 3 and words[1] == "--wait":
        wait = float(words[2])
    elif len(words) != 1:
        raise UsageError("write %agent result RUN_ID [--wait SECONDS]")
    client = session.runs()
    try:
        run_id = client.find(words[0])
        value = client.result(run_id, timeout=wait)
    except (RunNotFound, RunFailed) as exc:
        raise UsageError(str(exc)) from None
    except TimeoutError as exc:
        raise UsageError(f"{exc}; `%agent result {words[0]} --wait 60` waits for it") from None
    state = client.state(run_id)
    if state.get("kind") == "map":
        import pandas as pd
        return pd.DataFrame([vars(r) for r in value]).set_index("index")
    shown = as_result(session, value, state)
    session.namespace["_llm"] = shown
    return shown


def cancel(session: Session, words: Sequence[str]) -> dict[str, Any]:
    """`%agent cancel RUN_ID`: stop a queued run; says what it had done."""
    from coditect_magics.workers.progress import FINAL
    from coditect_magics.workers.runs import RunNotFound, describe
    if len(words) != 1:
        raise UsageError("write %agent cancel RUN_ID (%agent runs lists them)")
    client = session.runs()
    try:
        run_id = client.find(words[0])
        before = client.state(run_id)["status"]
        state = client.cancel(run_id)
    except RunNotFound as exc:
        raise UsageError(str(exc)) from None
    if before in FINAL:
        print(f"coditect: run {run_id[:12]} had already ended ({before})")
    else:
        print(f"coditect: run {run_id[:12]} cancelled · {describe(state)}")
    return state


def map_rows(session: Session, words: Sequence[str]) -> Any:
    """`%agent map NAME DF --column COL [--out NEWCOL]`: the DataFrame with the agent's answer per row and a
    status column; with `--schema NAME` a column per field of the schema and an `error` column instead; a progress
    bar meanwhile."""
    args = _map_args(words[0])
    from coditect_magics.context import lookup

    from coditect_magics.session import tool_names
    try:
        frame = lookup(args.frame, session.namespace)
    except LookupError:
        raise UsageError(f"no variable {args.frame!r} in the notebook") from None
    if not hasattr(frame, "columns") or args.column not in frame.columns:
        have = ", ".join(map(str, getattr(frame, "columns", []))) or "none: it is not a DataFrame"
        raise UsageError(f"{args.frame} has no column {args.column!r} (columns: {have})")
    agent = session.resolve_agent(args.name, {"model": args.model})
    tools = tool_names(args.tools, session.agents.get(args.name))
    if tools is None or not session.accepts_tools(agent.model_id):
        tools = ()  # a row is one task: its agent's declared tools, else one plain call
    if args.batch:  # the provider's batch API at about half price: the answers come with %agent result
        from .batches import map_batch
        return map_batch(session, agent, tools, frame, args)
    rows = [(index, str(value)) for index, value in frame[args.column].items()]
    column = args.out or f"{args.name}_answer"
    from coditect_magics.agents.mapping import with_answers, with_fields
    schema = _map_schema(session, args, frame)
    if args.queue:
        results = _map_queued(session, agent, rows, tools, args)
    else:
        results = _map_here(session, agent, rows, tools, args.concurrency, schema)
    return with_fields(frame, results, schema) if schema is not None else with_answers(frame, results, column)


def _map_schema(session: Session, args: Any, frame: Any) -> Any:
    """The schema `--schema` names, checked before any row runs: its fields must not overwrite the frame's columns,
    and a worker cannot import a class defined in the notebook."""
    if not args.schema:
        return None
    from coditect_magics.structured import resolve_schema
    schema = resolve_schema(args.schema, session.namespace)
    if args.queue:
        raise UsageError("--schema runs the rows in this kernel: leave out --queue")
    clash = [name for name in (*schema.fields, "error") if name in frame.columns]
    if clash:
        raise UsageError(f"{args.frame} already has column(s) {', '.join(clash)}, which --schema {args.schema} "
                         "would fill: rename them first")
    return schema


def _map_here(session: Session, agent: Any, rows: list[tuple[Any, str]], tools: Any, concurrency: int,
              schema: Any = None) -> list[Any]:
    from tqdm.auto import tqdm

    from coditect_magics import bridge
    from coditect_magics.agents.mapping import map_rows as run_rows

    bar = tqdm(total=len(rows), desc=agent.name, unit="row")
    failed = 0

    def tick(row: Any) -> None:
        nonlocal failed
        failed += row.status != "ok"
        bar.update(1)
        if failed:
            bar.set_postfix(failed=failed)

    try:
        return bridge.run(run_rows(session.runner(stream=False), agent, rows, tools=tools, concurrency=concurrency,
                                   on_row=tick, schema=schema))
    finally:
        bar.close()


def _map_queued(session: Session, agent: Any, rows: list[tuple[Any, str]], tools: Any, args: Any) -> list[Any]:
    """The rows in chunks on the workers; the bar follows the run's row count until every chunk is in."""
    from tqdm.auto import tqdm
    client = session.runs()
    job = job_for(session, agent, [], tools=tools, concurrency=args.concurrency)
    run_id = client.map(job, rows, chunk=args.chunk)
    if not client.workers():
        from .output import show_error
        show_error("no worker is listening on the queue: start one with `coditect-magics worker` (the rows wait in "
                   "Redis until one does)")
    bar = tqdm(total=len(rows), desc=f"{agent.name} (queued {run_id[:8]})", unit="row")
    try:
        for state in client.watch(run_id):
            bar.update(state.get("rows_done", 0) - bar.n)
            if state.get("rows_failed"):
                bar.set_postfix(failed=state["rows_failed"])
    except KeyboardInterrupt:
        raise UsageError(f"stopped watching; the rows go on: `%agent result {run_id[:12]}` fetches them") from None
    finally:
        bar.close()
    session.namespace["_run"] = QueuedRun(client, run_id)
    return client.result(run_id)


def _map_args(line: str) -> Any:
    import shlex

    from .args import _Parser
    parser = _Parser(prog="%agent map", add_help=False)
    parser.add_argument("name")
    parser.add_argument("frame")
    parser.add_argument("--column", required=True)
    parser.add_argument("--out")
    parser.add_argument("-m", "--model")
    parser.add_argument("--tools")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--queue", action="store_true")
    parser.add_argument("--chunk", type=int)
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--schema")
    try:
        args = parser.parse_args(shlex.split(line))
    except UsageError as exc:
        raise UsageError(f"{exc}; write {MAP_USAGE}") from None
    except ValueError as exc:
        raise UsageError(f"cannot read the line ({exc}); write {MAP_USAGE}") from None
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    return args

