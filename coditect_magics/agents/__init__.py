"""Agents, bindings and commands in the Claude Code file formats: Markdown with YAML front matter."""

from .bindings import Binding, BindingFileError, load_bindings
from .commands import CommandTemplate, load_command
from .definitions import AgentDefinition, AgentFileError, load_agent
from .library import Library, UnknownName
from .resolve import MODEL_ALIASES, ResolvedAgent, resolve_agent

__all__ = ["AgentDefinition", "AgentFileError", "Binding", "BindingFileError", "CommandTemplate", "Library",
           "MODEL_ALIASES", "ResolvedAgent", "UnknownName", "load_agent", "load_bindings", "load_command",
           "resolve_agent"]
