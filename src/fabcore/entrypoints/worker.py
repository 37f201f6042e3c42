"""``fabcore worker``: runs the background jobs of the PostgreSQL task queue (procrastinate).

Start as many as you like, on any machine that reaches the database, the
model store and the mail server; they share the work. The jobs (their names
are in :mod:`fabcore.adapters.task_queue`):

- relaying the outbox, queue ``mail``: deferred by whichever process queued
  mails; a worker hears of it at once through LISTEN/NOTIFY. It relays under
  a lease named after the job, so the same job run again after its worker
  died sends what that worker had claimed and not yet sent;
- the outbox sweep, every 15 seconds (``FABCORE_OUTBOX_SWEEP_CRON``, cron
  with a sixth field for seconds): relays what is due (retries after their
  back-off, mails whose wake-up was lost);
- the PO payment reminders, hourly (``FABCORE_REMINDERS_CRON``);
- analysing a large upload, queue ``analysis``.

Each worker records a heartbeat every ``FABCORE_WORKER_HEARTBEAT_S`` seconds
(default 10) and, as often, puts back in the queue the jobs of workers
silent for ``FABCORE_WORKER_STALLED_S`` (default 30): a worker killed
mid-job loses nothing, another runs the job again. On ``SIGTERM`` or
``SIGINT`` a worker takes no new job, finishes those it runs (at most
``FABCORE_SHUTDOWN_TIMEOUT_S`` seconds, then they are given up and run
again by another worker), and leaves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

import attrs
import procrastinate
from procrastinate import exceptions as procrastinate_errors

from fabcore.adapters.prometheus import PrometheusMetrics, exposition
from fabcore.adapters.task_queue import ANALYSE_TASK, RELAY_TASK, REMINDERS_TASK, SWEEP_TASK
from fabcore.app.context import request_scope
from fabcore.app.facade import Fabcore
from fabcore.app.relay import RUN_BATCH
from fabcore.domain.errors import ConfigurationError, InfrastructureError
from fabcore.entrypoints.environment import (
    core_from_environment,
    database_url,
    env_float,
    env_int,
    operational_gauges,
)
from fabcore.entrypoints.logs import configure_logging
from fabcore.ports.jobs import ANALYSIS_QUEUE, MAIL_QUEUE

__all__ = ["WorkerSettings", "build_app", "retry_stalled", "run_worker"]

log = logging.getLogger("fabcore.worker")

# Cron schedules (a sixth field counts seconds): the outbox sweep, the reminders.
SWEEP_CRON = "* * * * * */15"
REMINDERS_CRON = "7 * * * *"


@attrs.frozen
class WorkerSettings:
    """How a worker runs (see the module docstring for the environment variables)."""

    concurrency: int = 2
    queues: tuple[str, ...] = ()
    heartbeat_s: float = 10.0
    stalled_s: float = 30.0
    shutdown_s: float = 30.0
    sweep_cron: str = SWEEP_CRON
    reminders_cron: str = REMINDERS_CRON
    metrics_port: int = 0

    @classmethod
    def from_environment(cls) -> WorkerSettings:
        queues = tuple(q.strip() for q in os.environ.get("FABCORE_WORKER_QUEUES", "").split(",")
                       if q.strip())
        unknown = sorted(set(queues) - {MAIL_QUEUE, ANALYSIS_QUEUE})
        if unknown:
            raise ConfigurationError(
                f"FABCORE_WORKER_QUEUES: unknown queue(s) {', '.join(unknown)} "
                f"(known: {MAIL_QUEUE}, {ANALYSIS_QUEUE})")
        settings = cls(
            concurrency=env_int("FABCORE_WORKER_CONCURRENCY", 2),
            queues=queues,
            heartbeat_s=env_float("FABCORE_WORKER_HEARTBEAT_S", 10.0),
            stalled_s=env_float("FABCORE_WORKER_STALLED_S", 30.0),
            shutdown_s=env_float("FABCORE_SHUTDOWN_TIMEOUT_S", 30.0),
            sweep_cron=os.environ.get("FABCORE_OUTBOX_SWEEP_CRON") or SWEEP_CRON,
            reminders_cron=os.environ.get("FABCORE_REMINDERS_CRON") or REMINDERS_CRON,
            metrics_port=env_int("FABCORE_METRICS_PORT", 0),
        )
        if settings.concurrency < 1:
            raise ConfigurationError("FABCORE_WORKER_CONCURRENCY must be at least 1")
        if not 0 < settings.heartbeat_s < settings.stalled_s:
            raise ConfigurationError(
                "need 0 < FABCORE_WORKER_HEARTBEAT_S < FABCORE_WORKER_STALLED_S")
        return settings


def build_app(core: Fabcore, url: str, settings: WorkerSettings) -> procrastinate.App:
    """The procrastinate application whose tasks run fabcore's jobs on ``core``."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=url, min_size=1, max_size=settings.concurrency + 3,
        kwargs={"connect_timeout": 10},
    ))
    retry_later = procrastinate.RetryStrategy(max_attempts=5, exponential_wait=5,
                                              retry_exceptions={InfrastructureError})

    def relay(holder: str) -> int:
        sent = 0
        while True:
            result = core.relay_outbox(batch=RUN_BATCH, holder=holder)
            sent += result.sent
            if result.processed < RUN_BATCH:
                return sent

    @app.task(name=RELAY_TASK, queue=MAIL_QUEUE, pass_context=True)
    def relay_outbox(context: procrastinate.JobContext, request_id: str | None = None) -> int:
        with request_scope(request_id):
            return relay(f"job-{context.job.id}")

    @app.periodic(cron=settings.sweep_cron, periodic_id="sweep")
    @app.task(name=SWEEP_TASK, queue=MAIL_QUEUE, pass_context=True,
              queueing_lock="fabcore-sweep-outbox")
    def sweep_outbox(context: procrastinate.JobContext, timestamp: int) -> int:
        return relay(f"job-{context.job.id}")

    @app.periodic(cron=settings.reminders_cron, periodic_id="reminders")
    @app.task(name=REMINDERS_TASK, queue=MAIL_QUEUE, queueing_lock="fabcore-reminders",
              retry=retry_later)
    def send_reminders(timestamp: int) -> int:
        return core.send_due_reminders()

    @app.task(name=ANALYSE_TASK, queue=ANALYSIS_QUEUE, retry=retry_later)
    def analyse_model(sha256: str, units: str, request_id: str | None = None) -> str:
        with request_scope(request_id):
            return core.analyse_requested(sha256, units).state.value

    return app


async def retry_stalled(app: procrastinate.App, stalled_s: float) -> int:
    """Put back in the queue the jobs of workers silent for ``stalled_s``; how many."""
    try:
        stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_s)
    except procrastinate_errors.ConnectorException as exc:
        log.warning("could not look for stalled jobs: %s", exc.__cause__ or exc)
        return 0
    retried = 0
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except procrastinate_errors.ConnectorException:
            # Another worker put it back first.
            continue
        retried += 1
        log.warning("job of a silent worker put back in the queue",
                    extra={"job_id": job.id, "task": job.task_name, "attempts": job.attempts})
    return retried


async def _retry_stalled(app: procrastinate.App, settings: WorkerSettings) -> None:
    while True:
        await asyncio.sleep(settings.heartbeat_s)
        await retry_stalled(app, settings.stalled_s)


async def _work(core: Fabcore, url: str, settings: WorkerSettings) -> None:
    app = build_app(core, url, settings)
    async with app.open_async():
        stalled = asyncio.create_task(_retry_stalled(app, settings), name="retry-stalled")
        options: dict[str, Any] = {"queues": list(settings.queues)} if settings.queues else {}
        try:
            await app.run_worker_async(
                name=f"fabcore-{socket.gethostname()}-{os.getpid()}",
                concurrency=settings.concurrency,
                update_heartbeat_interval=settings.heartbeat_s,
                stalled_worker_timeout=settings.stalled_s,
                shutdown_graceful_timeout=settings.shutdown_s,
                delete_jobs="successful",
                install_signal_handlers=True,
                **options,
            )
        finally:
            stalled.cancel()
            await asyncio.gather(stalled, return_exceptions=True)


def _serve_metrics(core: Fabcore, port: int) -> None:
    """Prometheus' text format on ``port`` (all interfaces), in a thread of its own."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = exposition(lambda: operational_gauges(core))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("", port), Handler)
    Thread(target=server.serve_forever, name="metrics", daemon=True).start()


def run_worker(settings: WorkerSettings | None = None) -> None:
    """Run one worker until ``SIGTERM`` or ``SIGINT`` (see the module docstring)."""
    configure_logging()
    chosen = settings or WorkerSettings.from_environment()
    with core_from_environment(pooled=True, queue=True, metrics=PrometheusMetrics()) as core:
        if chosen.metrics_port:
            _serve_metrics(core, chosen.metrics_port)
        log.info("worker starting", extra={"queues": list(chosen.queues) or "all",
                                           "concurrency": chosen.concurrency})
        asyncio.run(_work(core, database_url(), chosen))
    log.info("worker stopped")
