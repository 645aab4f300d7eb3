"""How the benchmarks print: each figure beside its goal and a verdict, info rows beside them, in one column layout.

    from report import Report, quantile   # benchmarks/ is on sys.path when a benchmark runs as a script

    table = Report(width=52)
    ok = table.line("cache hit, median", 0.41, "ms", 2.0)          # figure < goal  -> PASS / MISSED
    ok &= table.line("job overhead", 13.2, "ms", 20, sign="≤")     # figure <= goal
    table.line("recall@5", 0.93, "", 0.9, sign=">=")               # figure >= goal
    table.info("p90", "0.512 ms")

The comparison follows the sign printed, so a row cannot say one goal and check another."""

from __future__ import annotations

import operator
from typing import Callable, Sequence

GOALS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "≤": operator.le, "<=": operator.le, ">": operator.gt, "≥": operator.ge, ">=": operator.ge}


class Report:
    """Rows of one benchmark: `width` is the name column, `unit_width` the unit column."""

    def __init__(self, width: int = 52, unit_width: int = 3) -> None:
        self.width = width
        self.unit_width = unit_width

    def line(self, name: str, figure: float, unit: str, goal: float, sign: str = "<") -> bool:
        """Print the figure beside its goal; whether it met it."""
        ok = GOALS[sign](figure, goal)
        print(f"{name:<{self.width}} {figure:9.3f} {unit:<{self.unit_width}} goal {sign} {goal:g} "
              f"{unit:<{self.unit_width}} {'PASS' if ok else 'MISSED'}")
        return ok

    def info(self, name: str, text: str) -> None:
        """A row without a goal, indented under the figures."""
        print(f"{'  (info) ' + name:<{self.width}} {text}")


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile by rank (no interpolation): `quantile(v, 0.95)` is the p95."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
