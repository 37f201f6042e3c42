"""Job queue port: work the application hands over to run soon, maybe in another process.

Two kinds of work leave a use case this way: relaying the outbox (mails
were committed and should reach the mail server soon) and analysing a large
uploaded model (the upload answers before the analysis is done). Every job
is idempotent, so a queue may run one twice (a worker that died mid-way, a
retry): the outbox claims its mails under a lease, and an analysis already
finished is not done again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

#: The queue of outbox relays, and the one of analyses (what ``waiting`` names).
MAIL_QUEUE = "mail"
ANALYSIS_QUEUE = "analysis"


class JobQueue(Protocol):
    """Where jobs are deferred.

    The embedded adapter runs them in the calling process
    (:class:`fabcore.adapters.jobs.InProcessJobs`); the one for several
    machines puts them in a PostgreSQL task queue that ``fabcore worker``
    processes run (:class:`fabcore.adapters.task_queue.ProcrastinateJobs`).
    Errors are :class:`~fabcore.domain.errors.StorageError` when the queue
    cannot be reached.
    """

    @property
    def analyses_elsewhere(self) -> bool:
        """True when :meth:`analyse_model` returns before the analysis is done."""
        ...

    def relay_outbox(self, request_id: str | None) -> None:
        """Mails were committed to the outbox: have them handed to the mail server soon.

        ``request_id`` is that of the request that queued them, for the logs.
        """
        ...

    def analyse_model(self, sha256: str, units: str, request_id: str | None) -> None:
        """Analyse the stored model ``sha256`` in ``units`` for its pending request."""
        ...

    def waiting(self) -> Mapping[str, int]:
        """Jobs waiting to run, by queue name (empty where nothing waits)."""
        ...

    def check(self) -> None:
        """Return when the queue is reachable; ``StorageError`` naming why not."""
        ...
