"""Command line: `python -m coditect_magics doctor` prints which providers are usable and why not."""

from __future__ import annotations

import argparse
import sys


def doctor() -> int:
    """Print the `providers.available()` table; exit status 0 when at least one provider is usable."""
    from coditect_magics import providers

    rows = providers.available()
    width = max(len(r.name) for r in rows)
    print(f"{'provider':<{width}}  usable  default model{'':<20} reason")
    for r in rows:
        print(f"{r.name:<{width}}  {'yes' if r.usable else 'no':<6}  {r.default_model:<33} {r.reason}")
    return 0 if any(r.usable for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coditect-magics", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="show which providers are usable and what each needs")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return doctor()
    return 2


if __name__ == "__main__":
    sys.exit(main())
