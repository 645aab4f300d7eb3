"""coditect-magics: `%load_ext coditect_magics` in a notebook; `from coditect_magics import providers` in Python.

This module imports nothing heavy: every part imports its SDK or store on first use."""

__version__ = "0.1.0"


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext coditect_magics`: register %llm/%%llm, %agent/%%agent, %orchestrate/%%orchestrate, %cmd, %skill
    and %memory on a session of the kernel's own."""
    from .magics import load
    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """`%unload_ext coditect_magics`: close the SDK clients the magics opened."""
    from .magics import unload
    unload(ipython)
