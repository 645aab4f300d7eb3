"""The `%%orchestrate` front: the orchestrator agent plans the cell's request as steps for specialist agents, shows
the plan (kept in `_plan`, and in -o VAR), runs it as a DAG and writes the answer; `--plan-only` stops after the
plan so that it can be edited and run with `%orchestrate run VAR`."""

from __future__ import annotations

from typing import Any

from coditect_magics.context import interpolate

from coditect_magics.session import Session

from . import agent
from .args import UsageError, parser_of, split_options
from .output import say_notices, show_error
from .subcommands import ORCHESTRATE as ORCHESTRATE_COMMANDS

ORCHESTRATOR = "orchestrator"


def run(session: Session, line: str, cell: str | None) -> Any:
    from coditect_magics.agents.orchestrate import PlanError
    try:
        if cell is None and line.split()[:1] == ["run"]:
            call = ORCHESTRATE_COMMANDS.find(session, line)
            if call is None:
                raise UsageError("write %orchestrate run VAR (a plan from %%orchestrate --plan-only, edited or not)")
            return call()
        from .core import CoditectMagics
        args, rest = split_options(parser_of(CoditectMagics.orchestrate), line)
        goal = interpolate(cell if cell is not None else rest, session.namespace).strip()
        if cell is not None and rest:
            raise UsageError(f"unexpected text on the %%orchestrate line: {rest!r}; the request goes in the cell")
        if not goal:
            raise UsageError("no request: write it in the cell (%%orchestrate [--plan-only] [--agents a,b])")
        names = [n.strip() for n in args.agents.split(",") if n.strip()] if args.agents else None
        if args.queue:
            if args.plan_only:
                raise UsageError("--queue runs the whole plan on workers; --plan-only stays in the kernel: pick one")
            from .queued import queue_orchestrate
            chosen = session.resolve_agent(ORCHESTRATOR, {"model": args.model})
            return queue_orchestrate(session, chosen, goal, names, args.allow or chosen.allow, args.out)
        orchestrator = make(session, args.model, args.allow)
        if args.plan_only:
            return plan_only(session, orchestrator, goal, names, args.out)
        return show_run(session, orchestrator, lambda emit: orchestrator.run(goal, names, on_event=emit), args.out)
    except (*agent.EXPECTED, PlanError) as exc:
        show_error(str(exc), exc)
        return None
    finally:
        say_notices(session)


def make(session: Session, model: str | None = None, allow: str | None = None) -> Any:
    """The orchestrator agent (its file, binding and the -m option) over the kernel's runner."""
    from coditect_magics.agents.orchestrate import Orchestrator
    chosen = session.resolve_agent(ORCHESTRATOR, {"model": model})
    return Orchestrator(session.runner(allow=allow or chosen.allow, asks=True), chosen)


def plan_only(session: Session, orchestrator: Any, goal: str, names: Any, out: str | None) -> Any:
    from coditect_magics import bridge
    plan = bridge.run(orchestrator.plan(goal, names))
    keep(session, plan, out)
    return plan


def keep(session: Session, plan: Any, out: str | None) -> None:
    session.namespace["_plan"] = plan
    if out:
        session.namespace[out] = plan


def execute(session: Session, words: list[str]) -> Any:
    """`%orchestrate run VAR`: the plan in VAR (a Plan, dict, JSON or its table, edited), checked again and run."""
    from coditect_magics.context import lookup
    name = words[0]
    try:
        value = lookup(name, session.namespace)
    except LookupError:
        raise UsageError(f"no variable {name!r}: %%orchestrate --plan-only -o {name} makes one") from None
    orchestrator = make(session)
    from coditect_magics.agents.plan import as_plan
    try:
        plan = as_plan(value, {"agents": set(orchestrator.runner.agents.items)})
    except ValueError as exc:
        raise UsageError(f"{name} is not a plan that can run: {exc}") from None
    return show_run(session, orchestrator, lambda emit: orchestrator.execute(plan, on_event=emit), None)


def show_run(session: Session, orchestrator: Any, start: Any, out: str | None) -> Any:
    """Show the plan's run as it goes (steps as delegations), then the answer and the trace; the plan is kept."""
    from coditect_magics.agents.runner import stream_of

    from .run_view import show
    result, final = show(session, lambda: stream_of(start), model=orchestrator.agent.model_id, fmt=session.settings.format,
                         stream=True, out=out)
    if final is not None:
        keep(session, final.plan, None)
        session.namespace["_orchestration"] = final
    return result
