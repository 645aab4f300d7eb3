"""Agents as a session runs them: the agent, command and skill libraries from the settings' search paths, the
bindings, an agent resolved with its binding and options, its call prepared (system prompt, memory, its thread),
and the runner that lets it act."""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from coditect_magics.errors import UsageError

from .conversations import Prepared


class AgentWork:
    """The session's agents (a mixin of Session)."""

    settings: Any
    namespace: dict[str, Any]
    executor: Any
    aliases: dict[str, str]
    notice: Any
    prepare: Any
    agent_thread: Any
    default_model: Any
    accepts_tools: Any
    recall: Any
    resolve: Any
    memory: Any
    mcp: Any
    _libraries: dict[str, Any]

    def _library(self, kind: str, dirs: tuple[str, ...], make: Any) -> Any:
        library = self._libraries.get(kind)
        if library is None or library.configured != tuple(dirs):
            library = self._libraries[kind] = make(dirs)
        return library

    @property
    def agents(self) -> Any:
        """The agent search path: the project's, the user's, the configured directories, the kit's examples."""
        from coditect_magics.agents import AgentLibrary
        return self._library("agents", self.settings.agent_dirs, AgentLibrary)

    @property
    def commands(self) -> Any:
        """The command templates on the search path."""
        from coditect_magics.agents import CommandLibrary
        return self._library("commands", self.settings.command_dirs, CommandLibrary)

    @property
    def skills(self) -> Any:
        """The skills (NAME/SKILL.md folders) on the search path."""
        from coditect_magics.agents import SkillLibrary
        return self._library("skills", self.settings.skill_dirs, SkillLibrary)

    def bindings(self) -> Any:
        """The bindings file as it is now (cached until it changes)."""
        from coditect_magics.agents import load_bindings
        return load_bindings(self.settings.bindings_path)

    def resolve_agent(self, name: str, options: Mapping[str, Any] | None = None, *,
                      default: str | None = None) -> Any:
        """The agent with its binding and `options` applied. A broken entry for this agent is refused (running
        it unbound would silently drop its settings, a budget say); other broken entries become notices. The
        default model (`default`, else the session's) is looked up only when nothing else names one."""
        options = dict(options or {})
        definition = self.agents.get(name)
        bindings = self.bindings()
        broken = bindings.error_for(name)
        if broken is not None:
            raise broken
        for error in bindings.errors:
            self.notice(str(error), once=f"binding:{error}")
        binding, defaults = bindings.get(name), bindings.defaults
        named = (options.get("model") or (binding and binding.model_id)
                 or definition.model not in (None, "inherit") or (defaults and defaults.model_id))
        fallback = default or (self.settings.default_model if named else self.default_model())
        from coditect_magics.agents import resolve_agent
        return resolve_agent(definition, binding, options, fallback, self.aliases, defaults=defaults)

    def prepare_agent(self, agent: Any, prompt: str, *, new: bool = False, notebook: bool = False) -> Prepared:
        """An agent's call: its system prompt with what memory holds about the task (as much, and as close, as its
        binding says) and, with `notebook`, the notebook's variables and last cells; its own thread's history that
        fits, the task; attributed to the agent and a new run."""
        from coditect_magics.executor import CallContext
        from coditect_magics.providers.types import Message
        context = CallContext(agent=agent.name, run_id=uuid.uuid4().hex, agent_budget_usd=agent.budget_usd)
        return self.prepare(Message("user", prompt), system=agent.system_prompt,
                            thread=self.agent_thread(agent.name, new=new), model=agent.model_id,
                            reply_tokens=agent.max_tokens, memory=(agent.memory_items, agent.memory_min_score),
                            context=context, notebook=notebook)

    def tools_for(self, agent: Any, tools: Any) -> Any:
        """The tools a run gets: `tools` (None: the default set) unless the model cannot call tools, in which case
        it answers without them (said once per agent)."""
        if tools is None and not self.accepts_tools(agent.model_id):
            self.notice(f"{agent.model_id} cannot call tools, so {agent.name} answers without them (bind it to a "
                        "model that can, or write `tools: []` in its file)", once=f"no-tools:{agent.name}")
            return ()
        return tools

    def runner(self, *, allow: str | None = None, stream: bool = True, asks: bool = False) -> Any:
        """A runner on this session: its agents, skills and bindings; tools see the working directory, the
        notebook's functions by name, the memory store and the session's MCP servers (`mcp__SERVER[__TOOL]`).
        What `allow` (and the `auto_approve` setting) names runs without asking; other tools that act are put to the
        front when it `asks`, else denied."""
        from coditect_magics.agents.runner import Limits, Runner
        from coditect_magics.tools.builtins import Builtins
        try:
            allow = ",".join(sorted(Builtins.permissions(allow) | Builtins.permissions(self.settings.auto_approve)))
            limits = Limits(**self.settings.agent_limits)
        except TypeError:
            raise UsageError(f"CoditectMagics.agent_limits takes depth, steps, total_steps, time_s and budget_usd, "
                             f"got {sorted(self.settings.agent_limits)}") from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return Runner(self.executor, agents=self.agents, skills=self.skills, bindings=self.bindings(),
                      model_aliases=self.aliases, stream=stream, limits=limits, asks=asks,
                      toolbox={"allow": allow, "namespace": self.namespace, "memory": lambda: self.memory,
                               "mcp": self.mcp},
                      recall=lambda who, task: self.recall(task, who.memory_items, who.memory_min_score))


def tool_names(option: str | None, definition: Any = None) -> Any:
    """What an agent may use: `--tools a,b` over its file's `tools:`; None = the default set; () = talk only."""
    if option is not None:
        return tuple(n for n in option.replace(",", " ").split() if n)
    if definition is not None and definition.declares_tools:
        return tuple(definition.tools)
    return None
