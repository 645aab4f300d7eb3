"""The notebook fronts: magics that parse, call one service on the kernel's session, and display: `%llm`,
`%agent`, `%orchestrate`, `%cmd`, `%skill`, `%memory`, `%mcp` (and the panels they open)."""

from __future__ import annotations

from typing import Any


def load(shell: Any) -> Any:
    """Register the magics on a shell; returns the CoditectMagics instance (configured from the shell's config),
    whose session becomes the kernel's."""
    from coditect_magics.session import activate

    from . import questions
    from .complete import install
    from .core import CoditectMagics
    magics = CoditectMagics(shell=shell)
    shell.register_magics(magics)
    shell.configurables.append(magics)
    magics.matcher = install(shell, magics.session)
    questions.install(shell)
    activate(magics.session)
    return magics


def unload(shell: Any) -> None:
    """Close the session's SDK clients on the kit's loop."""
    from coditect_magics.session import activate

    from . import questions
    from .complete import uninstall
    from .core import CoditectMagics
    questions.uninstall(shell)
    for magics in [c for c in shell.configurables if isinstance(c, CoditectMagics)]:
        uninstall(shell, getattr(magics, "matcher", None))
        magics.session.close()
        shell.configurables.remove(magics)
    activate(None)
