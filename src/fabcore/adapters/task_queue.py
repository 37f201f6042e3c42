"""The job queue for several machines: procrastinate, on the shop's PostgreSQL database.

``pip install 'fabcore[worker]'``. :class:`ProcrastinateJobs` satisfies the
``JobQueue`` port: it defers jobs into procrastinate's tables (beside
fabcore's, in the same database), whose insert trigger wakes the workers
listening with LISTEN/NOTIFY; ``fabcore worker`` processes run them (the
tasks are registered by :mod:`fabcore.entrypoints.worker` under the names
below). A relay waits in the queue at most once (a queueing lock): mails
queued while one waits are sent by it. An analysis waits at most once per
file and units.

:meth:`ProcrastinateJobs.apply_schema` creates procrastinate's tables when
they are missing (processes starting at once take turns on an advisory
lock); an upgrade of procrastinate itself applies its migration files
(``procrastinate schema --migrations-path`` prints where they are).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from fabcore.domain.errors import ConfigurationError, FabcoreError, StorageError
from fabcore.ports.jobs import ANALYSIS_QUEUE, MAIL_QUEUE

try:
    import procrastinate
    import psycopg
    from procrastinate import exceptions as procrastinate_errors
    from procrastinate.schema import SchemaManager
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        "the PostgreSQL job queue needs procrastinate: pip install 'fabcore[worker]'"
    ) from exc

__all__ = [
    "ANALYSE_TASK",
    "RELAY_TASK",
    "REMINDERS_TASK",
    "SWEEP_TASK",
    "ProcrastinateJobs",
]

#: Task names, shared by the deferring side (here) and the workers.
RELAY_TASK = "fabcore.relay_outbox"
SWEEP_TASK = "fabcore.sweep_outbox"
REMINDERS_TASK = "fabcore.send_reminders"
ANALYSE_TASK = "fabcore.analyse_model"

_RELAY_LOCK = "fabcore-relay-outbox"
# pg_advisory_xact_lock key serialising procrastinate's schema set-up: b"fabjobs".
_SCHEMA_LOCK = int.from_bytes(b"fabjobs", "big")
_WAITING = (
    "SELECT queue_name, COUNT(*) AS waiting FROM procrastinate_jobs "
    "WHERE status = 'todo' GROUP BY queue_name"
)


def _translate(exc: Exception) -> FabcoreError:
    """The one place where procrastinate's and psycopg's errors become fabcore's."""
    cause = exc.__cause__ if isinstance(exc, procrastinate_errors.ConnectorException) else exc
    detail = " ".join(str(cause or exc).split()) or type(exc).__name__
    return StorageError(f"the job queue (PostgreSQL) is unavailable or failed: {detail}")


class ProcrastinateJobs:
    """Jobs deferred to procrastinate on PostgreSQL ``url`` (see the module docstring).

    Deferring uses a small pool of ``pool_size`` connections, opened on first
    use; a connection is waited for at most ``timeout`` seconds.
    """

    analyses_elsewhere = True

    def __init__(self, url: str, *, pool_size: int = 4, timeout: float = 10.0) -> None:
        self.url = url
        self.app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(
            conninfo=url, min_size=0, max_size=pool_size, timeout=timeout,
            kwargs={"connect_timeout": max(1, round(timeout))},
        ))
        self._open = False
        self._opening = threading.Lock()

    def __repr__(self) -> str:
        return "ProcrastinateJobs(...)"

    def _connector(self) -> Any:
        with self._opening:
            if not self._open:
                try:
                    self.app.open()
                except (procrastinate_errors.ProcrastinateException, psycopg.Error) as exc:
                    raise _translate(exc) from exc
                self._open = True
        return self.app.connector

    def _defer(self, task: str, queue: str, lock: str | None, **kwargs: Any) -> None:
        self._connector()
        try:
            self.app.configure_task(task, queue=queue, queueing_lock=lock).defer(**kwargs)
        except procrastinate_errors.AlreadyEnqueued:
            return
        except (procrastinate_errors.ProcrastinateException, psycopg.Error) as exc:
            raise _translate(exc) from exc

    def relay_outbox(self, request_id: str | None) -> None:
        self._defer(RELAY_TASK, MAIL_QUEUE, _RELAY_LOCK, request_id=request_id)

    def analyse_model(self, sha256: str, units: str, request_id: str | None) -> None:
        self._defer(ANALYSE_TASK, ANALYSIS_QUEUE, f"fabcore-analysis-{sha256}-{units}",
                    sha256=sha256, units=units, request_id=request_id)

    def waiting(self) -> Mapping[str, int]:
        connector = self._connector()
        try:
            rows = connector.execute_query_all(query=_WAITING)
        except (procrastinate_errors.ProcrastinateException, psycopg.Error) as exc:
            raise _translate(exc) from exc
        return {str(row["queue_name"]): int(row["waiting"]) for row in rows}

    def check(self) -> None:
        connector = self._connector()
        try:
            connector.execute_query_all(query="SELECT 1 FROM procrastinate_jobs LIMIT 1")
        except (procrastinate_errors.ProcrastinateException, psycopg.Error) as exc:
            raise _translate(exc) from exc

    def apply_schema(self) -> bool:
        """Create procrastinate's tables if missing; True when this call created them."""
        try:
            with psycopg.connect(self.url, connect_timeout=10) as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
                if row is not None and row[0] is not None:
                    return False
                conn.execute(SchemaManager.get_schema().encode())
                return True
        except psycopg.Error as exc:
            raise _translate(exc) from exc

    def close(self) -> None:
        with self._opening:
            if not self._open:
                return
            self._open = False
            try:
                self.app.close()
            except (procrastinate_errors.ProcrastinateException, psycopg.Error) as exc:
                raise _translate(exc) from exc
