"""Points in time as users write them: a datetime, a date, an ISO string, epoch seconds, a timedelta, or a span
back from now such as "30m", "12h", "7d", "2w" (what a magic's --since takes)."""

from __future__ import annotations

import numbers
import re
import time
from datetime import date, datetime, timedelta
from typing import Any

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def epoch(value: Any) -> float:
    """Epoch seconds from a datetime (naive = local time), date (local midnight), ISO string, number, pandas
    Timestamp, timedelta or span string (both meaning that long ago)."""
    if isinstance(value, timedelta):
        return time.time() - value.total_seconds()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).timestamp()
    if isinstance(value, str):
        span = _SPAN.match(value)
        if span:
            return time.time() - float(span[1]) * _SECONDS[span[2].lower()]
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise ValueError(f"cannot read {value!r} as a time: write an ISO date (2026-11-25, 2026-11-25T09:30) "
                             "or a span back from now (30m, 12h, 7d, 2w)") from None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"a time must be a datetime, date, ISO string, epoch seconds, timedelta or span such as '7d', "
                    f"not {type(value).__name__}")
