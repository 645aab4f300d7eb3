"""The session's batch jobs: one BatchService built from the settings (store beside the ledger, Redis mirror,
provider endpoints, poll intervals), made afresh when one of those settings changes."""

from __future__ import annotations

from typing import Any

BATCH_SETTINGS = ("batches_path", "ledger_path", "redis_url", "base_urls", "timeout", "batch_poll_s",
                  "batch_poll_max_s", "aliases", "model_aliases", "log_prompts")


class BatchWork:
    """Mixin of Session: `session.batches`."""

    _batch_service: tuple[tuple[Any, ...], Any] | None = None

    @property
    def batches(self) -> Any:
        """The BatchService for these settings (its store: `batches_path`, else batches.sqlite3 beside the
        ledger; mirrored in the session's Redis when one is set)."""
        settings = self.settings  # type: ignore[attr-defined]
        key = (*(repr(getattr(settings, name)) for name in BATCH_SETTINGS), settings.redis)
        with self._lock:  # type: ignore[attr-defined]
            if self._batch_service is None or self._batch_service[0] != key:
                from coditect_magics.batches.service import BatchService
                from coditect_magics.batches.store import JobStore, default_path
                store = JobStore(settings.batches_path or default_path(settings.ledger_path), settings.redis)
                ledger = self.executor.ledger  # type: ignore[attr-defined]
                service = BatchService(store, ledger, provider_options=settings.provider_options(),
                                       aliases=self.aliases,  # type: ignore[attr-defined]
                                       timeout=settings.timeout, poll_s=settings.batch_poll_s,
                                       poll_max_s=settings.batch_poll_max_s,
                                       keys=self.keys,  # type: ignore[attr-defined]
                                       check_budget=self._check_batch_budget)
                self._batch_service = (key, service)
            return self._batch_service[1]

    def _check_batch_budget(self, agent: str | None) -> None:
        """A new batch job is refused, as a call is, once a spend limit is reached (the executor of the moment)."""
        from coditect_magics.executor import CallContext
        self.executor.check_budget(CallContext(agent=agent))  # type: ignore[attr-defined]

    def close_batches(self) -> None:
        """Close the batch adapters' SDK clients (on the kit's loop, where they were used) and the store."""
        if self._batch_service is not None:
            from coditect_magics import bridge
            service = self._batch_service[1]
            self._batch_service = None
            bridge.run(service.aclose())
            service.store.close()
