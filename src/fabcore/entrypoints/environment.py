"""The application of a server process, built from ``FABCORE_*`` environment variables.

``fabcore serve`` (each of its uvicorn processes) and ``fabcore worker``
build the same :class:`~fabcore.app.facade.Fabcore` here, so every process
of a shop runs on the same settings: the stores (``FABCORE_DATABASE_URL``,
``FABCORE_MAIL_URL``, ``FABCORE_MODELS``, ``FABCORE_PAYMENTS_URL``,
``FABCORE_BASE_URL``), the analysis processes (``FABCORE_ANALYSIS_*``) and
where background work runs (``FABCORE_JOBS``):

- ``in-process`` (the default): each web process relays the outbox and
  queues reminders itself, and analyses every upload;
- ``queue``: jobs go to the task queue in the PostgreSQL database, run by
  ``fabcore worker`` processes (``pip install 'fabcore[worker]'``);
- ``off``: nothing runs in the background (``fabcore outbox send`` and
  ``fabcore reminders run`` from a scheduler). ``FABCORE_BACKGROUND_JOBS=0``
  means the same.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import partial
from typing import Literal
from urllib.parse import urlsplit

import attrs

from fabcore.app.bootstrap import bootstrap
from fabcore.app.facade import Fabcore
from fabcore.domain.errors import ConfigurationError, InfrastructureError
from fabcore.ports.jobs import JobQueue
from fabcore.ports.mesh import MeshAnalyser
from fabcore.ports.metrics import Metrics
from fabcore.ports.payments import PaymentGateway

__all__ = ["AnalysisPool", "JobsMode", "core_from_environment", "env_float", "env_int",
           "jobs_mode", "operational_gauges"]

log = logging.getLogger("fabcore.operations")

DEFAULT_DATABASE = "sqlite:///fabcore.db"
DEFAULT_MAIL = "maildir://outbox"
DEFAULT_MODELS = "models"

JobsMode = Literal["in-process", "queue", "off"]
_MODES: tuple[JobsMode, ...] = ("in-process", "queue", "off")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None


def database_url() -> str:
    return os.environ.get("FABCORE_DATABASE_URL") or DEFAULT_DATABASE


def jobs_mode() -> JobsMode:
    """Where background work runs, from ``FABCORE_JOBS`` (see the module docstring)."""
    if os.environ.get("FABCORE_BACKGROUND_JOBS", "1").strip().lower() in ("0", "false", "no"):
        return "off"
    raw = (os.environ.get("FABCORE_JOBS") or "in-process").strip().lower()
    for mode in _MODES:
        if raw == mode:
            return mode
    raise ConfigurationError(f"FABCORE_JOBS must be one of {', '.join(_MODES)}, got {raw!r}")


@attrs.frozen
class AnalysisPool:
    """The processes that analyse uploads: how many, and the limits of one analysis.

    ``threads`` is how many threads one analysis may use (None, or 0 in
    ``FABCORE_ANALYSIS_THREADS``: the processors at hand, at most four).
    """

    workers: int = 2
    memory_mb: int = 4096
    timeout_s: float = 60.0
    queue: int = 32
    threads: int | None = None

    @classmethod
    def from_environment(cls) -> AnalysisPool:
        threads = env_int("FABCORE_ANALYSIS_THREADS", 0) or None
        if threads is not None and threads < 0:
            raise ConfigurationError(
                f"FABCORE_ANALYSIS_THREADS must be a whole number of 0 or more, got {threads}"
            )
        return cls(env_int("FABCORE_ANALYSIS_WORKERS", 2),
                   env_int("FABCORE_ANALYSIS_MEMORY_MB", 4096),
                   float(env_int("FABCORE_ANALYSIS_TIMEOUT_S", 60)), threads=threads)

    def analyser(self) -> Callable[[], MeshAnalyser]:
        """What makes each worker's analyser (picklable, for the worker processes)."""
        from fabcore.adapters.mesh import MeshFileAnalyser

        return partial(MeshFileAnalyser, threads=self.threads)


def queue_from_environment(url: str) -> JobQueue:
    """The PostgreSQL task queue of the database at ``url``, its tables created if missing."""
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(
            "the task queue (FABCORE_JOBS=queue, fabcore worker) needs a PostgreSQL database "
            f"in FABCORE_DATABASE_URL, got {urlsplit(url).scheme or url!r}"
        )
    from fabcore.adapters.task_queue import ProcrastinateJobs

    queue = ProcrastinateJobs(url)
    queue.apply_schema()
    return queue


def core_from_environment(*, pooled: bool, queue: bool | None = None,
                          metrics: Metrics | None = None) -> Fabcore:
    """The application on the settings in the environment (see the module docstring).

    ``pooled`` analyses in bounded processes (servers); ``queue`` defers jobs
    to the PostgreSQL task queue (default: when ``FABCORE_JOBS=queue``).
    """
    url = database_url()
    jobs = (queue_from_environment(url)
            if (jobs_mode() == "queue" if queue is None else queue) else None)
    analyser = None
    if pooled:
        from fabcore.adapters.worker_pool import PooledAnalyser

        pool = AnalysisPool.from_environment()
        analyser = PooledAnalyser(pool.analyser(), workers=pool.workers,
                                  memory_mb=pool.memory_mb, timeout_s=pool.timeout_s,
                                  queue=pool.queue)
    env = os.environ
    base_url = env.get("FABCORE_BASE_URL") or "http://localhost:8000"
    payments: str | PaymentGateway = env.get("FABCORE_PAYMENTS_URL") or "memory://"
    if payments == "memory://":
        from fabcore.entrypoints.web.pages.demo_payments import DemoPaymentGateway

        # The in-memory gateway, with its checkout page served by the web application.
        payments = DemoPaymentGateway(base_url)
    core = bootstrap(
        url,
        models=env.get("FABCORE_MODELS") or DEFAULT_MODELS,
        mail=env.get("FABCORE_MAIL_URL") or DEFAULT_MAIL,
        payments=payments,
        base_url=base_url,
        analyser=analyser,
        jobs=jobs,
        metrics=metrics,
    )
    closers = list(core.closers)
    if analyser is not None:
        closers.append(analyser.close)
    if jobs is not None and callable(close := getattr(jobs, "close", None)):
        closers.append(close)
    core.closers = closers
    return core


def operational_gauges(core: Fabcore) -> tuple[dict[str, int], dict[str, int]]:
    """Mails pending and failed, jobs waiting by queue; what cannot be read is left out."""
    outbox: dict[str, int] = {}
    waiting: dict[str, int] = {}
    try:
        outbox = {status.value: count for status, count in core.outbox_counts().items()}
        waiting = dict(core.jobs.waiting())
    except InfrastructureError as exc:
        log.warning("metrics: %s", exc)
    return outbox, waiting
