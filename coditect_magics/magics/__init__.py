"""The notebook fronts: magics that parse, call one service, and display."""

from __future__ import annotations

from typing import Any


def load(shell: Any) -> Any:
    """Register the magics on a shell; returns the CoditectMagics instance (configured from the shell's config)."""
    from .core import CoditectMagics
    magics = CoditectMagics(shell=shell)
    shell.register_magics(magics)
    shell.configurables.append(magics)
    return magics
