"""`Inspect`'s text: one notebook value in depth, by type, bounded in characters (about 4 a token). A DataFrame
or Series: shape, columns with dtypes and null counts, head, numeric summary. An ndarray: shape, dtype and stats.
A dict or list: length, what its items are, a sample. A figure: its image (a model that reads none gets a note), with
its size and what its axes hold in words. Anything else: its type and a bounded rendering.
pandas, numpy and matplotlib are used only on values that are already theirs."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable

from coditect_magics.render import Limits, is_a, render, table
from coditect_magics.text import one_line

from .variables import bounded_repr, count, line, shape_text, type_name


@dataclass(frozen=True)
class Depth:
    """How much `Inspect` says: characters in all, head rows, columns listed, columns summarised, items sampled."""

    chars: int = 8000
    head: int = 5
    columns: int = 40
    summarised: int = 20
    items: int = 20


DEPTH = Depth()
def inspect_value(name: str, value: Any, depth: Depth = DEPTH) -> tuple[str, tuple[Any, ...]]:
    """What `Inspect` returns for `value`: its text, and its image when it is a picture (a figure, its axes or
    artists, a PIL or IPython image)."""
    text = inspect_text(name, value, depth)
    if not _is_image(value):
        return text, ()
    from coditect_magics.images import image_part
    from coditect_magics.providers import errors
    try:
        return f"{text}\n(The image follows.)", (image_part(value),)
    except errors.BadRequest as exc:  # too big, or no bytes to send: the words still help
        return f"{text}\n(The image could not be attached: {exc})", ()


def inspect_text(name: str, value: Any, depth: Depth = DEPTH) -> str:
    """What `Inspect` returns for `value`, the notebook's `name`."""
    for test, describe in KINDS:
        if test(value):
            text = describe(name, value, depth)
            break
    else:
        text = _other(name, value, depth)
    if len(text) <= depth.chars:
        return text
    return text[:depth.chars] + f"\n… (cut at {depth.chars:,} of {len(text):,} characters)"


def _frame(name: str, frame: Any, depth: Depth) -> str:
    """A DataFrame: shape, memory, columns with dtype and nulls, head, numeric summary."""
    rows, cols = frame.shape
    listed = frame.iloc[:, :depth.columns]
    nulls = listed.isna().sum()
    memory = frame.memory_usage(index=True, deep=False).sum()
    lines = [f"{name}: DataFrame, {count(rows)} rows × {count(cols)} columns; index {type(frame.index).__name__}; "
             f"{size_text(memory)} in memory (not counting what object columns point to)",
             "Columns (dtype, nulls):"]
    lines += [f"- {one_line(column, 60)}: {dtype}, {count(int(nulls.iloc[i]))} null"
              for i, (column, dtype) in enumerate(listed.dtypes.items())]
    if cols > depth.columns:
        lines.append(f"- … {count(cols - depth.columns)} more columns")
    lines += ["", f"Head ({min(depth.head, rows)} rows):", table(frame.head(depth.head), Limits(rows=depth.head))]
    numeric = listed.select_dtypes(include="number").iloc[:, :depth.summarised]
    if numeric.shape[1] and rows:
        summary = numeric.describe().T
        lines += ["", "Numeric columns (count, mean, std, min, quartiles, max):",
                  table(summary, Limits(rows=depth.summarised, columns=8))]
    return "\n".join(lines)


def _series(name: str, series: Any, depth: Depth) -> str:
    """A Series: length, dtype, nulls, head; a numeric summary, or its most common values."""
    lines = [f"{name}: Series {series.name!r}, {count(len(series))} values, dtype {series.dtype}, "
             f"{count(int(series.isna().sum()))} null; index {type(series.index).__name__}",
             "", f"Head ({min(depth.head, len(series))} values):",
             table(series.head(depth.head).to_frame(name=series.name if series.name is not None else "value"),
                   Limits(rows=depth.head))]
    if len(series) and series.dtype.kind in "iufc":
        lines += ["", "Summary:", table(series.describe().to_frame(name="value"), Limits(rows=10))]
    elif len(series):
        try:
            top = series.value_counts().head(depth.head)
        except TypeError:  # unhashable values (lists, dicts): no counts to give
            top = None
        if top is not None:
            lines += ["", f"Most common ({count(int(series.nunique()))} distinct):",
                      table(top.to_frame(name="count"), Limits(rows=depth.head))]
    return "\n".join(lines)


def _array(name: str, array: Any, depth: Depth) -> str:
    """An ndarray: shape, dtype, size; NaN-aware stats when numeric; its values, summarised by numpy."""
    import numpy
    lines = [f"{name}: ndarray, shape {shape_text(array.shape) or '()'}, dtype {array.dtype}, "
             f"{count(array.size)} elements, {size_text(array.nbytes)}"]
    if array.size and array.dtype.kind in "biuf":
        values = array.astype(numpy.float64, copy=False) if array.dtype.kind == "b" else array
        with warnings.catch_warnings(), numpy.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # all-NaN slices warn; their NaN statistics say it
            stats = {"min": numpy.nanmin(values), "max": numpy.nanmax(values), "mean": numpy.nanmean(values),
                     "std": numpy.nanstd(values)}
        lines.append("Stats: " + ", ".join(f"{k} {float(v):.6g}" for k, v in stats.items()))
        if array.dtype.kind == "f":
            lines.append(f"NaN: {count(int(numpy.isnan(array).sum()))}")
    lines += ["", "Values:", render(array, Limits(chars=min(2000, depth.chars // 3)))]
    return "\n".join(lines)


def _figure(name: str, value: Any, depth: Depth) -> str:
    """A figure (or its axes or artists) by its size and what each axes holds; a PIL or IPython image by size."""
    first = value[0] if isinstance(value, (list, tuple)) and value else value  # plt.plot's [Line2D]
    figure = first if is_a(first, "matplotlib", "Figure") else getattr(first, "figure", None)
    if figure is None:  # a PIL or IPython image
        size = getattr(value, "size", None)
        shown = f"{size[0]}×{size[1]} px, mode {value.mode}" if is_a(value, "PIL", "Image") and size else \
            f"{len(getattr(value, 'data', b'') or b''):,} bytes"
        return f"{name}: {type_name(value)} (an image), {shown}"
    width, height = (round(float(side) * figure.dpi) for side in figure.get_size_inches())
    what = "a matplotlib figure" if first is figure else f"a {type_name(first)} on a matplotlib figure"
    lines = [f"{name}: {what} ({width}×{height} px), {len(figure.axes)} axes"]
    for number, axes in enumerate(figure.axes[:depth.items], 1):
        labels = [label for label in axes.get_legend_handles_labels()[1] if not label.startswith("_")]
        parts = [f"title {axes.get_title()!r}" if axes.get_title() else "", f"x {axes.get_xlabel()!r}" if
                 axes.get_xlabel() else "", f"y {axes.get_ylabel()!r}" if axes.get_ylabel() else "",
                 f"{len(axes.lines)} lines, {len(axes.patches)} patches (bars), {len(axes.collections)} collections "
                 f"(scatter), {len(axes.images)} images",
                 f"x range {tuple(round(float(v), 4) for v in axes.get_xlim())}, "
                 f"y range {tuple(round(float(v), 4) for v in axes.get_ylim())}",
                 f"legend: {', '.join(labels[:10])}" if labels else ""]
        lines.append(f"- axes {number}: " + "; ".join(p for p in parts if p))
    return "\n".join(lines)


def _mapping(name: str, mapping: dict[Any, Any], depth: Depth) -> str:
    """A dict: how many keys of which types, and its first items, one line each."""
    kinds = Counter(type(key).__name__ for key in islice(mapping, 10_000))
    lines = [f"{name}: {type_name(mapping)}, {count(len(mapping))} keys ({_kinds(kinds, len(mapping))})",
             f"First {min(depth.items, len(mapping))}:"]
    lines += [line(f"- [{bounded_repr(key, 40)}]", item) for key, item in islice(mapping.items(), depth.items)]
    if len(mapping) > depth.items:
        lines.append(f"- … {count(len(mapping) - depth.items)} more")
    return "\n".join(lines)


def _collection(name: str, items: Any, depth: Depth) -> str:
    """A list, tuple or set: how many items of which types, and a sample (head and tail)."""
    kinds = Counter(type(item).__name__ for item in islice(items, 10_000))
    lines = [f"{name}: {type_name(items)}, {count(len(items))} items ({_kinds(kinds, len(items))})"]
    ordered = isinstance(items, (list, tuple))
    head = list(islice(items, depth.items))
    tail = list(items[-3:]) if ordered and len(items) > len(head) + 3 else []
    if all(_plain(item) for item in (*head, *tail)):  # numbers and short words: one line, not one each
        lines.append(f"First {len(head)}: {one_line(repr(head), 1200)}")
        if tail:
            lines.append(f"Last {len(tail)}: {one_line(repr(tail), 400)}")
        return "\n".join(lines)
    lines += [line(f"- [{i}]" if ordered else "-", item) for i, item in enumerate(head)]
    if len(items) > len(head):
        lines.append(f"- … {count(len(items) - len(head) - len(tail))} more")
        lines += [line(f"- [{len(items) - len(tail) + i}]", item) for i, item in enumerate(tail)]
    return "\n".join(lines)


def _plain(item: Any) -> bool:
    """Whether an item reads well inline (a number, None, a short string)."""
    return item is None or isinstance(item, (bool, int, float, complex)) or (isinstance(item, str) and len(item) <= 40)


def size_text(size: float) -> str:
    """Bytes as kB, MB or GB (decimal), one decimal."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{int(size)} bytes"


def _kinds(kinds: Counter[str], total: int) -> str:
    """'3 int, 1 str', saying when only the first items were counted."""
    sampled = "" if sum(kinds.values()) == total else f" in the first {count(sum(kinds.values()))}"
    return ", ".join(f"{n:,} {kind}" for kind, n in kinds.most_common(5)) + sampled if kinds else "empty"


def _string(name: str, text: str | bytes, depth: Depth) -> str:
    """Text or bytes: length, lines, and the start of it."""
    shown = text[:depth.chars // 2]
    more = f"\n… ({count(len(text) - len(shown))} more)" if len(text) > len(shown) else ""
    what = "characters" if isinstance(text, str) else "bytes"
    lines = f", {count(text.count(chr(10)) + 1)} lines" if isinstance(text, str) else ""
    body = shown if isinstance(text, str) else repr(shown)
    return f"{name}: {type_name(text)}, {count(len(text))} {what}{lines}\n{body}{more}"


def _other(name: str, value: Any, depth: Depth) -> str:
    """Any other value: its qualified type, shape, dtype and length where it has them, its public names and a
    bounded rendering (rich reprs first, as `render` does)."""
    kind = type(value)
    header = [f"{name}: {kind.__module__}.{kind.__qualname__}"]
    for attribute in ("shape", "dtype"):
        found = getattr(value, attribute, None)
        if found is not None and not callable(found):
            header.append(f"{attribute} {one_line(found, 60)}")
    try:
        header.append(f"length {count(len(value))}")
    except Exception:  # noqa: BLE001 - no len(), or a broken one: the other facts still help
        pass
    public = [a for a in dir(value) if not a.startswith("_")][:40]
    lines = [", ".join(header)]
    if public:
        lines.append(f"Attributes and methods: {', '.join(public)}")
    lines += ["", render(value, Limits(chars=depth.chars // 2))]
    return "\n".join(lines)


def _is_image(value: Any) -> bool:
    """Whether the value is a picture (images.is_image, imported when first needed)."""
    from coditect_magics.images import is_image
    return is_image(value)


KINDS: tuple[tuple[Callable[[Any], bool], Callable[[str, Any, Depth], str]], ...] = (
    (lambda v: is_a(v, "pandas", "DataFrame"), _frame),
    (lambda v: is_a(v, "pandas", "Series"), _series),
    (lambda v: is_a(v, "numpy", "ndarray"), _array),
    (lambda v: isinstance(v, dict), _mapping),
    (lambda v: isinstance(v, (list, tuple, set, frozenset)) and not _is_image(v), _collection),
    (lambda v: isinstance(v, (str, bytes)), _string),
    (_is_image, _figure),
)
