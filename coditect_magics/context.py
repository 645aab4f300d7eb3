"""Fills `{name}` references in a prompt from the notebook's namespace. Unknown names, JSON and other braces are
left as they are; `{{` and `}}` are literal braces. References may reach into a value: `{df.shape}`,
`{In[3]}`, `{Out[2]}`, `{cfg['key']}` — read with attribute and item access only, never with eval."""

from __future__ import annotations

import ast
import re
from typing import Any, Mapping

_REFERENCE = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[[^\[\]{}\n]+\])*)\}")
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


def render_value(value: Any) -> str:
    """How a value reads in a prompt: text as it is, anything else as its str()."""
    return value if isinstance(value, str) else str(value)


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace each `{reference}` that resolves in `namespace`; leave the rest of the text untouched."""
    def substitute(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole in ("{{", "}}"):
            return whole[0]
        value = _resolve(match.group(1), match.group(2), namespace)
        return whole if value is _MISSING else render_value(value)

    return _REFERENCE.sub(substitute, text)
