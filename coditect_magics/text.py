"""How the kit writes a value in one line, everywhere a person reads it: text flattened and cut to a width, and an
amount of dollars. A leaf module (no pandas, no kit imports), so a footer, a panel and a DataFrame all say it
the same way."""

from __future__ import annotations

import math
from typing import Any

ELLIPSIS = "…"


def one_line(value: Any, width: int | None = None) -> str:
    """`value` as text on one line (runs of whitespace become one space), cut to `width` with an ellipsis."""
    text = " ".join(str(value).split())
    if width is None or len(text) <= width:
        return text
    return text[:max(width - 1, 0)] + ELLIPSIS


def usd(value: Any) -> str:
    """$12.34 for dollars, $0.0105 / $0.000985 for the small sums single calls cost, "unknown" for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if float(value) == 0:
        return "$0.00"
    value = round(float(value), 6)
    if value == 0:
        return "<$0.000001"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    whole, _, cents = f"{value:.6f}".rstrip("0").partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"
