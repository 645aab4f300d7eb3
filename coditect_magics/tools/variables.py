"""`Variables`' text: the user's variables, one line each (name, type, shape or length, a short preview), bounded in
rows and characters with a note of what was left out. Cheap by design: a DataFrame says its shape and dtypes, never
its values' statistics (that is `Inspect`'s job), and nothing is copied or fully repr'd (reprlib cuts containers
before it walks them). pandas and numpy are recognised by class name, never imported here."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from itertools import islice
from typing import Any, Mapping

from coditect_magics.render import is_a
from coditect_magics.text import one_line

from .kernel import user_variables


@dataclass(frozen=True)
class Bounds:
    """How much `Variables` says: variables listed, characters in all, characters a line, columns a frame lists."""

    rows: int = 100
    chars: int = 6000
    line_chars: int = 160
    columns: int = 8


BOUNDS = Bounds()


def _short_repr() -> reprlib.Repr:
    """A reprlib.Repr that stops after a few items, levels and characters."""
    short = reprlib.Repr()
    short.maxlist = short.maxtuple = short.maxset = short.maxfrozenset = short.maxdeque = 4
    short.maxdict, short.maxlevel, short.maxstring, short.maxother, short.maxlong = 4, 2, 40, 60, 40
    return short


SHORT = _short_repr()


def bounded_repr(value: Any, width: int = 80) -> str:
    """A repr cut before it is built for containers (reprlib), cut after for the rest; never raises."""
    try:
        return one_line(SHORT.repr(value), width)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the listing
        return f"<{type(value).__name__}: repr failed ({type(exc).__name__})>"


def type_name(value: Any) -> str:
    """The class's own name: DataFrame, ndarray, int."""
    return type(value).__qualname__


def container_repr(value: Any) -> str:
    """A dict's or set's first items: reprlib would sort the whole container first (slow on a big one)."""
    if isinstance(value, dict):
        first: Any = dict(islice(value.items(), SHORT.maxdict))
    elif isinstance(value, (set, frozenset)):
        first = set(islice(value, SHORT.maxset))
    else:
        return bounded_repr(value)
    text = bounded_repr(first)
    return text if len(first) == len(value) else text[:-1] + ", …" + text[-1:]


def count(n: int) -> str:
    """A count with thousands separators: 1,000,000."""
    return f"{n:,}"


def frame_columns(frame: Any, limit: int) -> str:
    """'a int64, b float64, … (+7 more)': the first `limit` columns and their dtypes, read without the data."""
    columns = frame.columns
    dtypes = frame.dtypes.iloc[:limit] if len(columns) > limit else frame.dtypes
    shown = ", ".join(f"{one_line(name, 30)} {dtype}" for name, dtype in dtypes.items())
    more = f", … (+{len(columns) - limit} more)" if len(columns) > limit else ""
    return shown + more


def shape_text(shape: Any) -> str:
    """(1000, 3) as '1,000×3'; '' for a shape that is not a tuple of ints."""
    try:
        return "×".join(count(int(n)) for n in shape)
    except (TypeError, ValueError):
        return ""


def describe(value: Any, bounds: Bounds = BOUNDS) -> tuple[str, str, str]:
    """(type, size, preview) of a value, each short: what one line of `Variables` says about it."""
    kind = type_name(value)
    if is_a(value, "pandas", "DataFrame"):
        rows, cols = value.shape
        return kind, f"{count(rows)} rows × {count(cols)} columns", frame_columns(value, bounds.columns)
    if is_a(value, "pandas", "Series"):
        head = value.iloc[:3].tolist()
        return kind, f"{count(len(value))} values", f"{value.dtype}, name {value.name!r}; {bounded_repr(head, 60)}"
    if is_a(value, "numpy", "ndarray"):
        return kind, shape_text(value.shape), f"{value.dtype}; {bounded_repr(value.flat[:4].tolist(), 60)}"
    if isinstance(value, (str, bytes, bytearray)):
        return kind, f"{count(len(value))} {'characters' if isinstance(value, str) else 'bytes'}", \
            one_line(repr(value[:70]), 80) + ("…" if len(value) > 70 else "")
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        what = "keys" if isinstance(value, dict) else "items"
        return kind, f"{count(len(value))} {what}", container_repr(value)
    if is_a(value, "matplotlib", "Figure"):
        width, height = (round(float(side) * value.dpi) for side in value.get_size_inches())
        return kind, f"{width}×{height} px", f"{len(value.axes)} axes"
    shape = getattr(value, "shape", None) if not callable(getattr(value, "shape", None)) else None
    size = shape_text(shape) if isinstance(shape, tuple) else ""
    return kind, size, bounded_repr(value)


def line(name: str, value: Any, bounds: Bounds = BOUNDS) -> str:
    """`name: type, size; preview` on one line of at most `line_chars`."""
    try:
        kind, size, preview = describe(value, bounds)
    except Exception as exc:  # noqa: BLE001 - one odd object must not hide the others
        kind, size, preview = type_name(value), "", f"(could not be described: {type(exc).__name__})"
    text = f"{name}: {kind}" + (f", {size}" if size else "") + (f"; {preview}" if preview else "")
    return one_line(text, bounds.line_chars)


def variables_text(namespace: Mapping[str, Any], bounds: Bounds = BOUNDS, *, hint: bool = True) -> str:
    """The listing `Variables` returns: the newest `rows` user variables, one line each, within `chars`; a note
    names (or counts) the ones left out. `hint`: point at Inspect (not in a prompt that offers no tools)."""
    found = user_variables(namespace)
    if not found:
        return "No user variables in the notebook yet (modules, functions, classes and _-names are not listed)."
    shown = found[-bounds.rows:]
    lines: list[str] = []
    used = 0
    for name, value in reversed(shown):  # newest first while measuring, so a cut drops the oldest
        text = line(name, value, bounds)
        if used + len(text) + 1 > bounds.chars and lines:
            break
        lines.append(text)
        used += len(text) + 1
    lines.reverse()
    left = [name for name, _ in found[:len(found) - len(lines)]]
    head = (f"{len(found)} user variables (modules, functions, classes and _-names are not listed)"
            + ("; Inspect NAME shows one in depth:" if hint else ":"))
    return "\n".join([head, *lines, *([left_out(left, bounds.line_chars * 2)] if left else [])])


def left_out(names: list[str], width: int) -> str:
    """The note on variables not listed: their names while they fit, then how many more."""
    listed: list[str] = []
    for name in names:
        if sum(len(n) + 2 for n in listed) + len(name) > width:
            break
        listed.append(name)
    more = f" and {len(names) - len(listed)} more" if len(listed) < len(names) else ""
    return f"(not listed, to stay short: {len(names)} older variables: {', '.join(listed)}{more})"
