"""`coditect-magics worker`: RQ's worker with the kit's setup. It runs jobs in its own process (RQ's SimpleWorker)
rather than a fork per job, so the SDKs, their lazily imported parts and the ledger's connection stay warm from job
to job (a fork re-imported them each time: ~250 ms a job here); a thread beats for the job while it runs, so a worker
that dies (even `kill -9`) is noticed: its job is retried by a live worker once `abandon_after` seconds pass without
a beat.

Keys come from this worker's environment (ANTHROPIC_API_KEY, OPENAI_API_KEY, ...), never from the job."""

from __future__ import annotations

import importlib
import logging
import os
import threading
from typing import Any, Sequence

from .runs import QUEUE


def worker_class() -> Any:
    from rq import SimpleWorker
    from rq.worker import WorkerStatus

    class KitWorker(SimpleWorker):
        """RQ's SimpleWorker; a running job's registry entry lasts `abandon_after` seconds past each beat."""

        abandon_after = 60

        def get_heartbeat_ttl(self, job: Any, *args: Any, **kwargs: Any) -> int:
            return self.abandon_after

        def execute_job(self, job: Any, queue: Any) -> None:
            execution = self.prepare_execution(job)
            done = threading.Event()

            def beat() -> None:
                while not done.wait(self.job_monitoring_interval):
                    try:
                        self.maintain_heartbeats(job, execution)
                    except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the job goes on
                        self.log.warning("heartbeat for job %s failed: %s", job.id, exc)

            beating = threading.Thread(target=beat, name="coditect-heartbeat", daemon=True)
            beating.start()
            try:
                self.perform_job(job, queue, execution)
            finally:
                done.set()
                beating.join()
            self.set_state(WorkerStatus.IDLE)

    return KitWorker


def warm_up() -> list[str]:
    """Import what jobs use, once, before the first job; returns the SDKs found (a provider whose SDK is missing fails
    in its job, naming the extra to install)."""
    from coditect_magics.providers import registry
    found = []
    for provider in registry.names():
        for name in registry.entry(provider).spec.sdk_modules:
            try:
                importlib.import_module(name)
                found.append(name)
            except ImportError:
                continue
    for module in ("coditect_magics.executor", "coditect_magics.agents.runner", "coditect_magics.agents.mapping",
                   "coditect_magics.agents.orchestrate", "coditect_magics.tools", "coditect_magics.costs",
                   "coditect_magics.workers.jobs", "coditect_magics.cache", "tenacity"):
        importlib.import_module(module)
    return sorted(set(found))


def run(url: str | None = None, queues: Sequence[str] = (QUEUE,), *, burst: bool = False, name: str | None = None,
        abandon_after: int = 60) -> bool:
    """Work the queues until stopped (or, with `burst`, until they are empty)."""
    import redis

    from coditect_magics.costs.ledger import Ledger, default_target
    url = url or os.environ.get("CODITECT_REDIS_URL")
    if not url:
        raise SystemExit("no Redis to work for: pass --url redis://HOST:PORT/DB or set CODITECT_REDIS_URL")
    os.environ.setdefault("CODITECT_REDIS_URL", url)  # jobs share rate limits and the cache through it
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    found = warm_up()
    # a line per request or migration step would drown the job log (set after the imports, which set levels too)
    for chatty in ("httpx", "httpx2", "alembic", "chromadb"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    from . import jobs
    target = str(default_target())
    jobs._ledgers[target] = Ledger(target)
    try:
        jobs._ledgers[target]._engines()  # connect and migrate once, before the first job
    except OSError as exc:
        logging.warning("the ledger %r is not reachable yet (%s); jobs will try again", jobs._ledgers[target], exc)
    connection = redis.Redis.from_url(url)
    cls = worker_class()
    cls.abandon_after = max(abandon_after, 5)
    interval = max(1, cls.abandon_after // 4)
    worker = cls(list(queues), connection=connection, name=name, job_monitoring_interval=interval,
                 worker_ttl=max(cls.abandon_after, 20), maintenance_interval=max(cls.abandon_after // 2, 2))
    logging.info("coditect worker %s on %s (SDKs: %s)", worker.name, ", ".join(queues), ", ".join(found) or "none")
    return worker.work(burst=burst, with_scheduler=False)
