"""Fills `{name}` references in a prompt from the notebook's namespace. Unknown names, JSON and other braces are
left as they are; `{{` and `}}` are literal braces. References may reach into a value: `{df.shape}`,
`{In[3]}`, `{Out[2]}`, `{cfg['key']}` — read with attribute and item access only, never with eval. Values are
rendered by type for the model (`render.render`: DataFrames as compact tables, dicts as JSON, ...)."""

from __future__ import annotations

import ast
import re
from typing import Any, Mapping

from coditect_magics.render import render

_PATH = r"([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[[^\[\]{}\n]+\])*)"
_REFERENCE = re.compile(r"\{\{|\}\}|\{" + _PATH + r"\}")
_BARE_REFERENCE = re.compile(_PATH)
_STEP = re.compile(r"\.([A-Za-z_]\w*)|\[([^\[\]]+)\]")
_MISSING = object()


def _resolve(name: str, path: str, namespace: Mapping[str, Any]) -> Any:
    value = namespace.get(name, _MISSING)
    for attr, index in _STEP.findall(path):
        if value is _MISSING:
            break
        if attr:
            value = getattr(value, attr, _MISSING)
            continue
        try:
            key = ast.literal_eval(index)
        except (ValueError, SyntaxError):
            return _MISSING
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace each `{reference}` that resolves in `namespace`; leave the rest of the text untouched."""
    def substitute(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole in ("{{", "}}"):
            return whole[0]
        value = _resolve(match.group(1), match.group(2), namespace)
        return whole if value is _MISSING else render(value)

    return _REFERENCE.sub(substitute, text)


def lookup(reference: str, namespace: Mapping[str, Any]) -> Any:
    """The value a bare reference (`df`, `df.columns`, `Out[3]`, `cfg['key']`) names, read as `{reference}` would
    be; a LookupError saying so when it names nothing."""
    match = _BARE_REFERENCE.fullmatch(reference.strip())
    value = _resolve(match.group(1), match.group(2), namespace) if match else _MISSING
    if value is _MISSING:
        raise LookupError(f"{reference!r} names no value in the notebook: give a variable (or df.attr, Out[3], "
                          "cfg['key'])")
    return value
