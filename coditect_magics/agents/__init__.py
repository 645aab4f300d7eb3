"""Agents, bindings and commands in Claude Code's file formats (Markdown with YAML front matter), for the magics.

    library = AgentLibrary(configured_dirs)          # ./.claude/agents, ~/.claude/agents, dirs, shipped examples
    agent = library.get("code-reviewer")             # UnknownAgent lists the known names
    bindings = load_bindings()                       # ./.claude/config/agent-llm-bindings.yaml
    run = resolve_agent(agent, bindings.get(agent.name), vars(args), default_model, aliases,
                        defaults=bindings.defaults)
    commands = CommandLibrary(configured_dirs)
    prompt = commands.get("review").render("src/app.py --strict")
    skills = SkillLibrary(configured_dirs)           # ./.claude/skills/NAME/SKILL.md, ~/.claude/skills, ...
    find("review Rust code for memory safety", k=5)  # agents ranked by what they can do

Nothing here imports IPython or a provider SDK; PyYAML is imported on first read.
"""

from .bindings import DEFAULT_PATH as DEFAULT_BINDINGS_PATH
from .bindings import Binding, Bindings, load_bindings, parse_bindings
from .commands import CommandLibrary, CommandTemplate, command_dirs, load_command, split_arguments
from .definitions import AgentDefinition, load_agent, parse_agent
from .discovery import Found, Match, find
from .errors import (AgentFileError, BindingFileError, CommandFileError, FileError, UnknownAgent, UnknownCommand,
                     UnknownName)
from .library import EXAMPLES_DIR, AgentLibrary, agent_dirs
from .resolve import ResolvedAgent, resolve_agent
from .skills import Skill, SkillFileError, SkillLibrary, UnknownSkill, load_skill, skill_dirs

__all__ = [
    "AgentDefinition", "AgentFileError", "AgentLibrary", "Binding", "BindingFileError", "Bindings",
    "CommandFileError", "CommandLibrary", "CommandTemplate", "DEFAULT_BINDINGS_PATH", "EXAMPLES_DIR", "FileError",
    "Found", "Match", "ResolvedAgent", "Skill", "SkillFileError", "SkillLibrary", "UnknownAgent",
    "UnknownCommand", "UnknownName", "UnknownSkill", "agent_dirs", "command_dirs", "find", "load_agent",
    "load_bindings", "load_command", "load_skill", "parse_agent", "parse_bindings", "resolve_agent",
    "skill_dirs", "split_arguments",
]
