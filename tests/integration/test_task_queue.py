"""The PostgreSQL task queue (procrastinate): deferring, running the jobs, stalled jobs.

A worker here runs in the test's process until the queue is empty
(``wait=False``); the multi-node test runs real ``fabcore worker`` processes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import psycopg
import pytest

from fabcore.adapters.memory import RecordingMailer
from fabcore.adapters.task_queue import RELAY_TASK, REMINDERS_TASK, SWEEP_TASK, ProcrastinateJobs
from fabcore.app.bootstrap import bootstrap
from fabcore.app.context import request_scope
from fabcore.app.drafting import PendingModel, UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.app.samples import bracket_stl, create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import AnalysisState
from fabcore.domain.errors import StorageError
from fabcore.entrypoints.worker import WorkerSettings, build_app, retry_stalled
from fabcore.ports.outbox import OutboxStatus
from postgres_server import recreate_database
from web_fixtures import FAST_HASHER


@pytest.fixture
def url(postgres_server: str) -> str:
    return recreate_database(postgres_server, "fabcore_task_queue")


@pytest.fixture
def jobs(url: str) -> Iterator[ProcrastinateJobs]:
    queue = ProcrastinateJobs(url)
    queue.apply_schema()
    yield queue
    queue.close()


@pytest.fixture
def core(url: str, jobs: ProcrastinateJobs) -> Iterator[Fabcore]:
    app = bootstrap(url, mail=RecordingMailer(), secret_key=b"k" * 32, hasher=FAST_HASHER,
                    jobs=jobs)
    create_sample_shop(app, "acme")
    yield app
    app.close()


_R = TypeVar("_R")


def _run(coroutine: Coroutine[Any, Any, _R]) -> _R:
    """``asyncio.run`` in a thread of its own: the session may hold a loop (Playwright's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _run_until_empty(core: Fabcore, url: str) -> None:
    app = build_app(core, url, WorkerSettings())

    async def work() -> None:
        async with app.open_async():
            await app.run_worker_async(wait=False, install_signal_handlers=False,
                                       delete_jobs="successful")

    _run(work())


def _statuses(url: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(url) as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT task_name, status::text, attempts FROM procrastinate_jobs ORDER BY id")]


def test_the_schema_is_created_once(url: str) -> None:
    first, second = ProcrastinateJobs(url), ProcrastinateJobs(url)
    assert first.apply_schema() is True
    assert second.apply_schema() is False
    first.check()


def test_a_relay_waits_in_the_queue_once_and_an_analysis_once_per_file(
    jobs: ProcrastinateJobs,
) -> None:
    jobs.relay_outbox("req-1")
    jobs.relay_outbox("req-2")
    jobs.analyse_model("ab" * 32, "mm", None)
    jobs.analyse_model("ab" * 32, "mm", None)
    jobs.analyse_model("ab" * 32, "inch", None)
    assert jobs.waiting() == {"mail": 1, "analysis": 2}


def test_a_worker_relays_what_the_web_queued_with_its_request_id(
    core: Fabcore, url: str
) -> None:
    with request_scope("req-sign-up"):
        core.sign_up("acme", name="Ada", email="ada@example.com", password="ada's password 1")
    assert _statuses(url) == [(RELAY_TASK, "todo", 0)]
    _run_until_empty(core, url)
    mailer = core.mailer
    assert isinstance(mailer, RecordingMailer)
    assert [(m.to, m.request_id) for m in mailer.sent] == [(("ada@example.com",),
                                                            "req-sign-up")]
    assert _statuses(url) == []


def test_a_worker_analyses_a_large_upload(core: Fabcore, url: str) -> None:
    visitor = Actor.visitor("acme")
    pending = core.upload_model_file(visitor, io.BytesIO(bracket_stl()), "big.stl",
                                     defer_from=1)
    assert isinstance(pending, PendingModel)
    _run_until_empty(core, url)
    done = core.analysis_status(visitor, pending.ref.sha256, "big.stl")
    assert isinstance(done, UploadedModel)
    assert done.analysis.triangles > 0


def test_the_job_of_a_dead_worker_is_put_back_and_sends_what_it_claimed(
    core: Fabcore, url: str
) -> None:
    core.sign_up("acme", name="Ada", email="ada@example.com", password="ada's password 1")
    app = build_app(core, url, WorkerSettings())

    async def die_mid_relay() -> int:
        async with app.open_async():
            worker_id = await app.job_manager.register_worker()
            job = await app.job_manager.fetch_job(queues=None, worker_id=worker_id)
            assert job is not None
            assert job.id is not None
            # What the dead worker did before it died: claim the mail under its lease.
            original = core.mailer
            core.mailer = _Dying()
            with pytest.raises(KeyboardInterrupt):
                core.relay_outbox(holder=f"job-{job.id}")
            core.mailer = original
            assert await retry_stalled(app, 30) == 0
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - "
                             "interval '1 hour' WHERE id = %s", (worker_id,))
            return await retry_stalled(app, 30)

    assert _run(die_mid_relay()) == 1
    assert _statuses(url) == [(RELAY_TASK, "todo", 1)]
    assert core.relay_outbox().sent == 0
    _run_until_empty(core, url)
    mailer = core.mailer
    assert isinstance(mailer, RecordingMailer)
    assert len(mailer.sent) == 1
    (message,) = core.list_outbox(Actor.system("acme"))
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)
    assert message.mail.message_id == mailer.sent[0].message_id


class _Dying(RecordingMailer):
    def send(self, mail: object) -> None:
        raise KeyboardInterrupt("the worker was killed")


def test_an_unreachable_queue_is_a_storage_error() -> None:
    down = ProcrastinateJobs("postgresql://postgres@127.0.0.1:1/nothing", timeout=1)
    with pytest.raises(StorageError, match="job queue"):
        down.relay_outbox(None)
    with pytest.raises(StorageError, match="job queue"):
        down.check()


def test_analysis_waits_for_its_worker_state(core: Fabcore, url: str) -> None:
    visitor = Actor.visitor("acme")
    pending = core.upload_model_file(visitor, io.BytesIO(bracket_stl()), "big.stl",
                                     defer_from=1)
    assert isinstance(pending, PendingModel)
    status = core.analysis_status(visitor, pending.ref.sha256, "big.stl")
    assert isinstance(status, PendingModel)
    assert (status.request.state, status.waiting) == (AnalysisState.PENDING, 1)


def test_the_sweep_and_the_reminders_run_on_their_schedules(core: Fabcore, url: str) -> None:
    app = build_app(core, url, WorkerSettings(sweep_cron="* * * * * */5",
                                              reminders_cron="0 * * * *"))
    scheduled = {(p.task.name, p.cron) for p in app.periodic_registry.periodic_tasks.values()}
    assert scheduled == {(SWEEP_TASK, "* * * * * */5"), (REMINDERS_TASK, "0 * * * *")}
    assert app.tasks[REMINDERS_TASK](timestamp=0) == 0
