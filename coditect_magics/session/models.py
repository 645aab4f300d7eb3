"""Models as a session names them: one alias table (the registry's, overlaid with the session's), the default
model, the models usable now, and whether a word on a magic line names a model."""

from __future__ import annotations

import re
from typing import Any

from coditect_magics.errors import UsageError

_MODEL_ID = re.compile(r"^[a-z][a-z0-9_.-]*:(?!//)\S+$")


class Models:
    """The session's model naming (a mixin of Session: it reads `self.settings`)."""

    settings: Any
    notice: Any  # Session's
    keys: Any    # Session's

    @property
    def aliases(self) -> dict[str, str]:
        """The session's own aliases (agent model names, then the user's), laid over the registry's."""
        return {**self.settings.model_aliases, **self.settings.aliases}

    def alias_table(self) -> dict[str, str]:
        """Every alias a user can name: the registry's with the session's over them."""
        from coditect_magics.providers import registry
        return {**registry.ALIASES, **self.aliases}

    def resolve(self, model: str) -> str:
        """An alias, a bare vendor name or an id → the id to call (unknown names pass, for the call to report). A
        bare `search` wraps the session's default model."""
        from coditect_magics.providers import registry
        resolved = registry.qualify(model, self.aliases)
        if resolved == "search":
            wrapped = self.wrapped_default()
            return f"search:{wrapped}" if wrapped else resolved
        return resolved

    def check(self, model: str) -> str:
        """`resolve`, refusing a name no provider knows (so an alias never points at nothing)."""
        from coditect_magics.providers import registry
        resolved = self.resolve(model)
        registry.resolve(resolved)
        return resolved

    def is_model(self, word: str) -> bool:
        """Whether a word names a model: an alias, a provider, or anything shaped like provider:model (an unknown
        provider then fails loudly instead of becoming part of the prompt)."""
        from coditect_magics.providers import registry
        if word in self.alias_table() or word in registry.names():
            return True
        return bool(_MODEL_ID.match(word))

    def provider_rows(self, wrapped: str | None = None) -> list[Any]:
        """`providers.available()` with the session's base URLs; the search wrapper's row is about the model it
        wraps: `wrapped`, else the configured default model, else the first usable provider's."""
        from coditect_magics import providers
        settings = {name: providers.Settings(base_url=url) for name, url in self.settings.base_urls.items()}
        for name in providers.names():  # the key each provider would spend, and where it comes from
            found = self.keys.source(name)
            if found is not None:
                settings[name] = providers.Settings(api_key=found[0], key_source=found[1],
                                                    base_url=self.settings.base_urls.get(name))
        return providers.available(settings, wrapped=wrapped or self._configured_inner())

    def _configured_inner(self) -> str | None:
        """The configured default model as the search wrapper would wrap it (its own inner model if it is one)."""
        from coditect_magics.providers import registry
        configured = registry.qualify(self.settings.default_model, self.aliases) if self.settings.default_model \
            else ""
        provider, _, inner = configured.partition(":")
        return (inner or None) if provider == "search" else (configured or None)

    def wrapped_default(self) -> str | None:
        """What a bare `search` wraps: the configured default (said as it is), else the first usable provider's
        default model; None when nothing is usable (the call then says what is missing)."""
        configured = self._configured_inner()
        if configured:
            return configured
        if self.settings.default_model:  # the default is a bare `search` itself
            return next(iter(self.usable_models()), None)
        try:
            return self.default_model()  # the first usable provider's, said once
        except UsageError:
            return None

    def usable_models(self) -> list[str]:
        """The default model of every provider that can be called now (the search wrapper aside)."""
        return [f"{row.name}:{row.default_model}" for row in self.provider_rows()
                if row.usable and row.name != "search"]

    def default_model(self) -> str:
        """The configured default, else the first usable provider (said once), else a clear way to set one."""
        if self.settings.default_model:
            return self.settings.default_model
        usable = self.usable_models()
        if not usable:
            raise UsageError("no provider is usable: set an API key (e.g. OPENAI_API_KEY) or run a local server, "
                             "then %config CoditectMagics.default_model = 'provider:model'; %llm list shows what "
                             "each needs")
        chosen = usable[0]
        better = " (the embedded model; set an API key such as OPENAI_API_KEY, or" if chosen.startswith("local:") \
            else " (to choose another, set"
        self.notice(f"using {chosen}{better} %config CoditectMagics.default_model = 'provider:model')",
                    once="default-model")
        return chosen

    def accepts_tools(self, model_id: str) -> bool:
        """Whether the model's provider calls tools (an id it cannot resolve is left for the call to report)."""
        from coditect_magics.providers import errors, registry
        try:
            return registry.entry(registry.resolve(self.resolve(model_id))[0]).spec.tools
        except errors.ProviderError:
            return True
