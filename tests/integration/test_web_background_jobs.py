"""The background work of a web process: the relay keeps going while a backlog lasts."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from fabcore.adapters.memory import RecordingMailer
from fabcore.app.bootstrap import bootstrap
from fabcore.app.facade import Fabcore
from fabcore.app.relay import RUN_BATCH
from fabcore.app.samples import create_sample_shop
from fabcore.entrypoints.web.jobs import BackgroundJobs
from fabcore.ports.outbox import OutboxStatus
from fabcore.testing import aggregates as a


def _queued(core: Fabcore, count: int) -> None:
    with core.uow() as uow:
        uow.outbox.add_all([
            a.message(f"msg-{n}", shop_id="acme", order_id=None,
                      created_at=a.T0 + timedelta(seconds=n))
            for n in range(count)])
        uow.commit()


def test_a_backlog_goes_out_in_batches_one_after_the_other() -> None:
    mailer = RecordingMailer()
    core = bootstrap("memory://", secret_key=b"k" * 32, mail=mailer)
    create_sample_shop(core)
    _queued(core, 2 * RUN_BATCH + 17)
    # Hours between timed runs: only a run that used its whole batch brings the next.
    jobs = BackgroundJobs(core, relay_every=3600, reminders_every=3600)

    async def run() -> None:
        await jobs.start()
        try:
            for _ in range(600):
                if len(mailer.sent) == 2 * RUN_BATCH + 17:
                    break
                await asyncio.sleep(0.05)
        finally:
            await jobs.stop()

    # A loop of its own, in a thread of its own: other tests may leave one running here.
    runner = threading.Thread(target=asyncio.run, args=(run(),))
    runner.start()
    runner.join()
    assert len(mailer.sent) == 2 * RUN_BATCH + 17
    assert core.outbox_counts().get(OutboxStatus.PENDING, 0) == 0
