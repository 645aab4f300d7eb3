"""The notebook fronts: magics that parse, call one service, and display."""

from __future__ import annotations

from typing import Any


def load(shell: Any) -> Any:
    """Register the magics on a shell; returns the CoditectMagics instance (configured from the shell's config)."""
    from . import questions
    from .complete import install
    from .core import CoditectMagics
    magics = CoditectMagics(shell=shell)
    shell.register_magics(magics)
    shell.configurables.append(magics)
    install(shell, magics)
    questions.install(shell)
    return magics


def unload(shell: Any) -> None:
    """Close the executor's SDK clients on the kit's loop."""
    from coditect_magics import bridge

    from . import questions
    from .complete import uninstall
    from .core import CoditectMagics
    questions.uninstall(shell)
    for magics in [c for c in shell.configurables if isinstance(c, CoditectMagics)]:
        uninstall(shell, magics)
        if magics._executor is not None:
            bridge.run(magics._executor.aclose())
        shell.configurables.remove(magics)
