"""Batch runs: many prompts sent through a provider's batch API (OpenAI Batch, Anthropic Message Batches, Gemini
batch mode) at about half price, kept as durable jobs beside the ledger so their answers can be fetched from a new
kernel.

    service = session.batches                      # the session's BatchService
    job = bridge.run(service.submit("openai:gpt-4.1-mini", [(0, "Name a colour"), (1, "Name a fruit")]))
    job, items = bridge.run(service.fetch(job.id))  # once finished: each item's status and answer

Importing this package imports no SDK or store: the service module is imported on first use."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("BatchService", "row_id", "split", "encode_key"):
        from . import service
        return getattr(service, name)
    if name in ("Item", "Job", "JobStore", "Part"):
        from . import store
        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BatchService", "Item", "Job", "JobStore", "Part", "encode_key", "row_id", "split"]
