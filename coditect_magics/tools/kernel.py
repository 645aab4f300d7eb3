"""How the notebook tools read the kernel: through the namespace dict they are given, plus the IPython shell only
when one is already running on that very dict (never imported here: a worker or a script has none, and a tool
must work there too, with less to say)."""

from __future__ import annotations

import sys
import types
from types import ModuleType
from typing import Any, Mapping

# what IPython puts in every user namespace; `user_ns_hidden` adds the rest when a shell runs
IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit"})
# modules whose objects are tooling, not the user's data (typing.Any and friends are not classes on every Python)
TOOLING_MODULES = frozenset({"typing", "typing_extensions", "IPython", "ipykernel"})
_UNSET = object()
PLAIN = frozenset({int, float, complex, bool, str, bytes, bytearray, list, tuple, dict, set, frozenset, type(None)})
# modules, classes and every kind of routine (what inspect.isroutine tests, as one isinstance)
NOT_DATA = (ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
            types.WrapperDescriptorType, types.MethodWrapperType, types.MethodDescriptorType,
            types.ClassMethodDescriptorType)


def running_shell(namespace: Mapping[str, Any]) -> Any:
    """The IPython shell whose user namespace is `namespace`, if IPython is already imported and one runs; else
    None. Looked up, never imported: importing IPython would cost a worker its start and prove nothing."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - a half-torn-down IPython answers nothing useful
        return None
    return shell if shell is not None and getattr(shell, "user_ns", None) is namespace else None


def snapshot(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """A copy to iterate: a panel's run reads the namespace while the kernel may be running a cell that adds to
    it, and copying a dict in one C call holds the GIL, where iterating it in Python would not."""
    try:
        return dict(namespace)
    except RuntimeError:  # a Mapping that is not a dict changed while copied: once more
        return dict(namespace)


def hidden_values(namespace: Mapping[str, Any]) -> Mapping[str, Any]:
    """What IPython put in the namespace at start (`user_ns_hidden`, name → value) when a shell runs on it."""
    shell = running_shell(namespace)
    hidden = getattr(shell, "user_ns_hidden", None) if shell is not None else None
    return hidden if isinstance(hidden, Mapping) else {}


def is_user_variable(name: str, value: Any, hidden: Mapping[str, Any]) -> bool:
    """A variable the user made for their data: not a module, function, class, IPython's own or a `_`-name. A
    name IPython set at start counts as the user's once the user has bound it to something else (as `%who` does)."""
    if name.startswith("_") or name in IPYTHON_NAMES or hidden.get(name, _UNSET) is value:
        return False
    kind = type(value)
    if kind in PLAIN:  # most of a namespace: decided without the checks below (1,000 names in well under 1 ms)
        return True
    if isinstance(value, NOT_DATA):
        return False
    if kind.__module__.split(".")[0] in TOOLING_MODULES:
        return False
    # functools.partial, a Tool made with @tool, numpy's ufuncs: functions in all but type
    return not (kind.__name__ in ("partial", "Tool", "ufunc") and callable(value))


def user_variables(namespace: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The user's variables, in the order the namespace holds them (first defined first)."""
    hidden = hidden_values(namespace)
    return [(name, value) for name, value in snapshot(namespace).items() if is_user_variable(name, value, hidden)]
