"""Loopback servers that speak each provider's real HTTP protocol, for tests, notebooks and benchmarks."""

from .core import FakeServer, Recorded, Script, pieces

__all__ = ["FakeServer", "Recorded", "Script", "pieces"]
