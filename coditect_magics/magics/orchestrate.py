"""The `%%orchestrate` front: the orchestrator agent plans the cell's request as steps for specialist agents, shows
the plan (kept in `_plan`, and in -o VAR), runs it as a DAG and writes the answer; `--plan-only` stops after the
plan so that it can be edited and run with `%orchestrate run VAR`."""

from __future__ import annotations

from typing import Any

from coditect_magics.context import interpolate

from . import acting, agent
from .args import UsageError, parser_of, split_options
from .output import show_error

ORCHESTRATOR = "orchestrator"


def run(magics: Any, line: str, cell: str | None) -> Any:
    from coditect_magics.agents.orchestrate import PlanError
    try:
        words = line.split()
        if cell is None and words[:1] == ["run"]:
            if len(words) != 2:
                raise UsageError("write %orchestrate run VAR (a plan from %%orchestrate --plan-only, edited or not)")
            return execute(magics, words[1])
        args, rest = split_options(parser_of(type(magics).orchestrate), line)
        goal = interpolate(cell if cell is not None else rest, magics.shell.user_ns).strip()
        if cell is not None and rest:
            raise UsageError(f"unexpected text on the %%orchestrate line: {rest!r}; the request goes in the cell")
        if not goal:
            raise UsageError("no request: write it in the cell (%%orchestrate [--plan-only] [--agents a,b])")
        names = [n.strip() for n in args.agents.split(",") if n.strip()] if args.agents else None
        if args.queue:
            if args.plan_only:
                raise UsageError("--queue runs the whole plan on workers; --plan-only stays in the kernel: pick one")
            from .queued import queue_orchestrate
            chosen = agent.resolved(magics, ORCHESTRATOR, {"model": args.model})
            return queue_orchestrate(magics, chosen, goal, names, args.allow or chosen.allow, args.out)
        orchestrator = make(magics, args.model, args.allow)
        if args.plan_only:
            return plan_only(magics, orchestrator, goal, names, args.out)
        return show_run(magics, orchestrator, lambda emit: orchestrator.run(goal, names, on_event=emit), args.out)
    except (*agent.EXPECTED, PlanError) as exc:
        show_error(str(exc), exc)
        return None


def make(magics: Any, model: str | None = None, allow: str | None = None) -> Any:
    """The orchestrator agent (its file, binding and the -m option) over the kernel's runner."""
    from coditect_magics.agents.orchestrate import Orchestrator
    chosen = agent.resolved(magics, ORCHESTRATOR, {"model": model})
    return Orchestrator(acting.runner(magics, allow=allow or chosen.allow), chosen)


def plan_only(magics: Any, orchestrator: Any, goal: str, names: Any, out: str | None) -> Any:
    from coditect_magics import bridge
    plan = bridge.run(orchestrator.plan(goal, names))
    keep(magics, plan, out)
    return plan


def keep(magics: Any, plan: Any, out: str | None) -> None:
    magics.shell.user_ns["_plan"] = plan
    if out:
        magics.shell.user_ns[out] = plan


def execute(magics: Any, name: str) -> Any:
    """`%orchestrate run VAR`: the plan in VAR (a Plan, dict, JSON or its table, edited), checked again and run."""
    from coditect_magics.context import lookup
    try:
        value = lookup(name, magics.shell.user_ns)
    except LookupError:
        raise UsageError(f"no variable {name!r}: %%orchestrate --plan-only -o {name} makes one") from None
    orchestrator = make(magics)
    from coditect_magics.agents.plan import as_plan
    try:
        plan = as_plan(value, {"agents": set(orchestrator.runner.agents.items)})
    except ValueError as exc:
        raise UsageError(f"{name} is not a plan that can run: {exc}") from None
    return show_run(magics, orchestrator, lambda emit: orchestrator.execute(plan, on_event=emit), None)


def show_run(magics: Any, orchestrator: Any, start: Any, out: str | None) -> Any:
    """Show the plan's run as it goes (steps as delegations), then the answer and the trace; the plan is kept."""
    from coditect_magics.agents.runner import stream_of

    from .run_view import show
    result, final = show(magics, lambda: stream_of(start), model=orchestrator.agent.model_id, fmt=magics.format,
                         stream=True, out=out)
    if final is not None:
        keep(magics, final.plan, None)
        magics.shell.user_ns["_orchestration"] = final
    return result
