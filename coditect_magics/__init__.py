"""coditect-magics: `%load_ext coditect_magics` in a notebook; `from coditect_magics import providers` in Python.

This module imports nothing heavy: every part imports its SDK or store on first use."""

__version__ = "0.1.0"
