"""Background work of a web process: relaying the outbox and the PO payment reminders.

On the embedded default (one machine, SQLite; ``FABCORE_JOBS=in-process``)
the web processes do this themselves, so a shop needs nothing more than
``fabcore serve``: each process hands due mails to the mail server as soon
as a request of its own queued some (the in-process job queue wakes it) and
every few seconds for the rest, a backlog in batches one after the other;
and every hour it queues the reminders whose day has come. Both jobs are
safe with several processes at once (the outbox claims its rows; a
reminder is recorded with its mail).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import anyio.to_thread

from fabcore.adapters.jobs import InProcessJobs
from fabcore.app.facade import Fabcore
from fabcore.app.relay import RUN_BATCH
from fabcore.domain.errors import FabcoreError

log = logging.getLogger("fabcore.jobs")


class BackgroundJobs:
    """Runs :meth:`Fabcore.relay_outbox` every ``relay_every`` seconds, reminders hourly."""

    def __init__(self, core: Fabcore, *, relay_every: float = 2.0,
                 reminders_every: float = 3600.0) -> None:
        self._core = core
        self._relay_every = relay_every
        self._reminders_every = reminders_every
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._unregister: Callable[[], None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if isinstance(self._core.jobs, InProcessJobs):
            self._unregister = self._core.jobs.on_relay(
                lambda: loop.call_soon_threadsafe(self._wake.set))
        self._task = asyncio.create_task(self._run(), name="fabcore-background-jobs")

    async def stop(self) -> None:
        """Stop after the job in flight (a mail being handed over is finished, not cut)."""
        if self._unregister is not None:
            self._unregister()
            self._unregister = None
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        next_reminders = time.monotonic()
        while True:
            self._wake.clear()
            more = await self._step(self._relay, "relaying the outbox")
            if time.monotonic() >= next_reminders:
                await self._step(self._core.send_due_reminders, "queueing reminders")
                next_reminders = time.monotonic() + self._reminders_every
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._relay_every)

    def _relay(self) -> bool:
        """One relay run; True when it sent a whole batch (more mails may be due)."""
        return self._core.relay_outbox(batch=RUN_BATCH).processed >= RUN_BATCH

    @staticmethod
    async def _step(job: Callable[[], object], what: str) -> object:
        try:
            return await anyio.to_thread.run_sync(job, abandon_on_cancel=False)
        except FabcoreError as exc:
            log.warning("%s failed, will try again: %s", what, exc)
            return None
