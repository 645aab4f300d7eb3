"""Command line: `python -m coditect_magics doctor` prints which providers are usable and why not;
`python -m coditect_magics quickstart` runs the quickstart notebook headless and saves it as HTML;
`coditect-magics worker` works queued runs (RQ on Redis);
`coditect-magics mcp` serves the agents, skills, memory and ledger to MCP clients (stdio, or --http PORT)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def doctor() -> int:
    """Print the `providers.available()` table, with where each key comes from (env, keyring, file); exit status 0
    when at least one provider is usable."""
    from coditect_magics.session import Session

    rows = Session().provider_rows()
    width = max(len(r.name) for r in rows)
    print(f"{'provider':<{width}}  usable  default model{'':<20} reason")
    for r in rows:
        print(f"{r.name:<{width}}  {'yes' if r.usable else 'no':<6}  {r.default_model:<33} {r.reason}")
    return 0 if any(r.usable for r in rows) else 1


def quickstart(source: Path, out_dir: Path) -> int:
    """Execute the quickstart notebook headless and say what it produced; exit status 1 if a cell failed."""
    from coditect_magics.quickstart import run

    print(f"executing {source} ...", flush=True)
    summary = run(source, out_dir)
    print(f"{summary.cells} code cells, {summary.errors} errors; {summary.calls} replies "
          f"({summary.output_tokens} output tokens) from {', '.join(summary.models) or 'no model'}")
    print(f"executed notebook: {summary.notebook}\nHTML copy: {summary.html}")
    return 1 if summary.errors or not summary.calls else 0


def mcp(args: argparse.Namespace) -> int:
    """Serve this directory's agents, skills, memory and ledger over MCP until the client leaves (stdio) or the
    process is stopped (--http)."""
    from coditect_magics.session import Session
    from coditect_magics.settings import DEFAULTS
    try:
        from coditect_magics.mcp.server import serve
    except ImportError as exc:
        print(f"the MCP server needs the mcp SDK: pip install 'coditect-magics[mcp]' ({exc})", file=sys.stderr)
        return 2
    session = Session(DEFAULTS.replace(default_model=args.model or "", auto_approve=args.allow or "",
                                       remember=not args.no_remember, agent_dirs=args.agents or ()))
    try:
        serve(session, port=args.http, say=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"coditect-magics mcp: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coditect-magics", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="show which providers are usable and what each needs")
    start = sub.add_parser("quickstart", help="execute the quickstart notebook headless and save it as HTML")
    start.add_argument("notebook", nargs="?", type=Path, default=Path("notebooks/quickstart.ipynb"))
    start.add_argument("--out", type=Path, default=Path("quickstart-output"), help="where to write the results")
    work = sub.add_parser("worker", help="work queued runs from Redis (RQ), with this machine's keys")
    work.add_argument("--url", help="the Redis, redis://HOST:PORT/DB (default: CODITECT_REDIS_URL)")
    work.add_argument("--queues", default="coditect", help="comma-separated queues to work (default: coditect)")
    work.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    work.add_argument("--name", help="the worker's name (default: RQ's)")
    work.add_argument("--abandon-after", type=int, default=60,
                      help="seconds after which a job whose worker stopped beating is run again elsewhere")
    serve = sub.add_parser("mcp", help="serve the agents, skills, memory and ledger to MCP clients (stdio)")
    serve.add_argument("--http", type=int, metavar="PORT",
                       help="Streamable HTTP on 127.0.0.1:PORT/mcp instead, behind a bearer token printed at start")
    serve.add_argument("--model", help="the default model, for agents and skills that name none")
    serve.add_argument("--allow", help="what tools that act may do without asking (run, write, bash, mcp or all); "
                                       "default: only what each agent's binding allows")
    serve.add_argument("--agents", action="append", metavar="DIR", help="another agent directory (repeatable)")
    serve.add_argument("--no-remember", action="store_true", help="do not remember the exchanges in memory")
    args = parser.parse_args(argv)
    if args.command == "mcp":
        return mcp(args)
    if args.command == "quickstart":
        return quickstart(args.notebook, args.out)
    if args.command == "worker":
        from coditect_magics.workers.worker import run
        queues = [q for q in args.queues.split(",") if q]
        run(args.url, queues, burst=args.burst, name=args.name, abandon_after=args.abandon_after)
        return 0
    return doctor()


if __name__ == "__main__":
    sys.exit(main())
