"""How a notebook value reads in a prompt, by type: a DataFrame or Series as a compact Markdown table, a dict, list
or tuple as JSON, an exception as its traceback, an object with `_repr_markdown_` or `_repr_html_` through that
repr, a numpy array in numpy's summarised form, anything else as its str(). Every rendering is bounded (a note
says what was left out and the full size) and scrubbed of the API keys the kit knows. pandas and numpy are never
imported here: their types are recognised by module and class name."""

from __future__ import annotations

import json
import numbers
import traceback
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Callable

from coditect_magics.providers.secrets import redact


@dataclass(frozen=True)
class Limits:
    """How much of a value a prompt gets (about 4 characters a token): table rows and columns, characters per
    table cell, and characters in all."""

    rows: int = 20
    columns: int = 12
    cell_chars: int = 60
    chars: int = 4000


LIMITS = Limits()


def render(value: Any, limits: Limits = LIMITS) -> str:
    """`value` as the model should read it: text as it is, everything else by type, compact and bounded."""
    return redact(_render(value, limits))


def _render(value: Any, limits: Limits) -> str:
    if isinstance(value, str):
        return value  # the user's own text goes whole
    if isinstance(value, BaseException):
        return traceback_text(value, limits)
    if is_a(value, "pandas", "DataFrame"):
        return _frame(value, f"DataFrame: {value.shape[0]} rows × {value.shape[1]} columns", limits)
    if is_a(value, "pandas", "Series"):
        name = value.name if value.name is not None else "value"
        return _frame(value.to_frame(name=name), f"Series {name!r}: {len(value)} values", limits)
    if is_a(value, "pandas", "Styler"):  # a styled table: the model reads the data, not the CSS
        return _render(value.data, limits)
    if is_a(value, "numpy", "ndarray"):
        return _array(value, limits)
    if isinstance(value, (dict, list, tuple)):
        return _json(value, limits)
    markdown = _rich(value, "_repr_markdown_")
    if markdown is not None:
        return _bounded(markdown, limits.chars)
    html = _rich(value, "_repr_html_")
    if html is not None:
        return _bounded(html_to_text(html), limits.chars)
    return _bounded(_str(value), limits.chars)


def traceback_text(exc: BaseException, limits: Limits = LIMITS) -> str:
    """An exception's formatted traceback (with its causes), redacted; when too long the end is kept, where the
    error is."""
    text = redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))).rstrip("\n")
    if len(text) <= limits.chars:
        return text
    return f"… (traceback cut: the first {len(text) - limits.chars} of {len(text)} characters left out)\n" + \
        text[-limits.chars:]


def is_a(value: Any, package: str, name: str) -> bool:
    """Whether `value` is (a subclass of) `package`'s class `name`, without importing the package."""
    return any(cls.__name__ == name and cls.__module__.split(".")[0] == package for cls in type(value).__mro__)


def _bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… (truncated: {len(text)} characters in full)"


def _str(value: Any) -> str:
    try:
        return str(value)
    except Exception as exc:  # a broken __str__ must not break the prompt
        return f"{object.__repr__(value)} (str() failed: {type(exc).__name__})"


def rich_repr(value: Any, method: str) -> Any:
    """What a rich repr (`_repr_html_`, `_repr_png_`, ...) returns if the value's type has one and it answers
    (IPython's protocol: the data, or a (data, metadata) pair, or None to decline); None otherwise."""
    func: Callable[[Any], Any] | None = getattr(type(value), method, None)  # on the type: __getattr__ answers anything
    if not callable(func):
        return None
    try:
        data = func(value)
    except Exception:
        return None
    return data[0] if isinstance(data, tuple) and data else data


def _rich(value: Any, method: str) -> str | None:
    data = rich_repr(value, method)
    return data if isinstance(data, str) else None


def _json(value: Any, limits: Limits) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=_str)
    except (TypeError, ValueError):  # keys JSON cannot hold (tuples), or a value that contains itself
        return _bounded(_str(value), limits.chars)
    if len(text) <= limits.chars:
        return text
    what = f"{len(value)} {'keys' if isinstance(value, dict) else 'items'}"
    return f"{text[:limits.chars]}\n… (truncated JSON: {what}, {len(text)} characters in full)"


def _cell(value: Any, limit: int) -> str:
    """One table cell: numbers short, text on one line, pipes escaped, long text cut."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        text = format(value, ".6g")
    else:
        text = " ".join(_str(value).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return text.replace("|", "\\|")


def _spread(total: int, budget: int) -> tuple[list[int], int | None]:
    """Positions to show out of `total`: all, or the first and last halves of `budget`; and how many come before
    the gap (None: nothing left out)."""
    if total <= budget:
        return list(range(total)), None
    head = max(1, budget // 2)
    return [*range(head), *range(total - max(1, budget - head), total)], head


def _frame(frame: Any, title: str, limits: Limits) -> str:
    """A compact Markdown table under its shape and dtypes (see `_fitted`)."""
    table, cols, note = _fitted(frame, limits)
    dtypes = ", ".join(f"{_cell(frame.columns[i], limits.cell_chars)} {frame.dtypes.iloc[i]}" for i in cols)
    return _bounded(f"{title}{note}\ndtypes: {dtypes}\n\n{table}", limits.chars)


def table(frame: Any, limits: Limits = LIMITS) -> str:
    """Only the bounded Markdown table of a DataFrame (no title or dtypes), with a note when rows or columns were
    left out: for a caller that says the shape and dtypes its own way."""
    text, _, note = _fitted(frame, limits)
    return redact(_bounded(text + (f"\n({note.strip()[1:-1]})" if note else ""), limits.chars))


def _fitted(frame: Any, limits: Limits) -> tuple[str, list[int], str]:
    """A compact Markdown table (unpadded: aligning columns with spaces costs tokens), head and tail when long;
    fewer rows until it fits the character bound. Also the columns shown and a note on what was left out."""
    n_rows, n_cols = frame.shape
    cols, col_gap = _spread(n_cols, limits.columns)
    budget = limits.rows
    while True:
        rows, row_gap = _spread(n_rows, budget)
        text = _table(frame, rows, row_gap, cols, col_gap, limits.cell_chars)
        if len(text) <= limits.chars or budget <= 2:
            break
        budget //= 2
    shown = [f"the first {gap} and last {len(positions) - gap} of {total} {what}"
             for positions, gap, total, what in ((rows, row_gap, n_rows, "rows"), (cols, col_gap, n_cols, "columns"))
             if gap is not None]
    return text, cols, f" (truncated: showing {' and '.join(shown)})" if shown else ""


def _table(frame: Any, rows: list[int], row_gap: int | None, cols: list[int], col_gap: int | None,
           cell_chars: int) -> str:
    def line(cells: list[str], filler: str = "…") -> str:
        if col_gap is not None:  # +1: the index comes first
            cells = [*cells[:col_gap + 1], filler, *cells[col_gap + 1:]]
        return "| " + " | ".join(cells) + " |"

    index_name = _cell(frame.index.name, cell_chars) if frame.index.name is not None else ""
    out = [line([index_name, *(_cell(frame.columns[i], cell_chars) for i in cols)]), line(["---"] * (len(cols) + 1), "---")]
    for k, r in enumerate(rows):
        if k == row_gap:
            out.append(line(["…"] * (len(cols) + 1)))
        out.append(line([_cell(frame.index[r], cell_chars), *(_cell(frame.iat[r, i], cell_chars) for i in cols)]))
    return "\n".join(out)


def _array(array: Any, limits: Limits) -> str:
    import numpy  # already imported: the value is an ndarray
    body = numpy.array2string(array, threshold=limits.rows * 10, edgeitems=3, max_line_width=120)
    return _bounded(f"ndarray shape {array.shape} dtype {array.dtype}\n{body}", limits.chars)


_BLOCK = {"p", "div", "br", "tr", "li", "ul", "ol", "table", "thead", "tbody", "pre", "section", "article", "header",
          "footer", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "dt", "dd", "blockquote"}
_SKIP = {"script", "style", "head", "template"}


class _Text(HTMLParser):
    """HTML's readable text: blocks on their own lines, table cells separated by pipes, scripts and styles dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.pieces.append("\n")
        elif tag in ("td", "th"):
            self.pieces.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.pieces.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML fragment (a rich repr), one block a line."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()).removeprefix("| ") for line in "".join(parser.pieces).splitlines())
    return "\n".join(line for line in lines if line and line != "|")
