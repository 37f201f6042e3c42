"""Races, crashes and parallel relays through the real use cases, on every storage adapter.

The ``storage`` fixture (memory, SQLite file, PostgreSQL) comes from
``tests/storage_fixtures.py``.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from fabcore.adapters.memory import RecordingMailer
from fabcore.app.relay import relay_outbox
from fabcore.app.rendering.emails import MailRenderer
from fabcore.domain.errors import InvalidTransition
from fabcore.domain.order import Order
from fabcore.domain.status import OrderStatus
from fabcore.ports.mailer import Mail
from fabcore.ports.outbox import OutboxMessage, OutboxStatus
from fabcore.ports.repositories import UnitOfWorkFactory
from fabcore.testing.repositories import run_threads
from storage_fixtures import START, Shopfront, make_app, status_worker

ROUNDS = 100
THREADS = 8
PROCESSES = 4


def _mails(front: Shopfront, order_id: str) -> list[OutboxMessage]:
    with front.app.uow() as uow:
        return list(uow.outbox.list(order_id=order_id))


def _assert_changed_once(
    front: Shopfront, before: Order, mails_before: int, target: OrderStatus
) -> None:
    after = front.app.get_order(front.staff, before.id)
    assert after.status is target
    assert after.version == before.version + 1
    assert after.history[:-1] == before.history
    assert [entry.to_status for entry in after.history].count(target) == 1
    new_mails = _mails(front, before.id)[mails_before:]
    assert len(new_mails) == 2
    customer_and_shop = {("ada@example.com",), front.shop.settings.notify_emails}
    assert {m.mail.to for m in new_mails} == customer_and_shop


def _race(front: Shopfront, order_id: str, target: OrderStatus) -> Counter[str]:
    """``THREADS`` staff press the same "Change" button at once."""
    outcomes: list[str] = []

    def attempt(_: int) -> None:
        try:
            front.app.change_status(front.staff, order_id, target)
        except InvalidTransition:
            outcomes.append("refused")
        else:
            outcomes.append("won")

    assert run_threads(THREADS, attempt) == []
    return Counter(outcomes)


def _add_lines(front: Shopfront, draft: Order) -> tuple[list[str], list[BaseException]]:
    """``THREADS`` callers add a line to ``draft`` at once: the line ids they got, and errors."""
    added: list[str] = []

    def add(_: int) -> None:
        line = front.app.add_line(front.buyer, draft.id, front.model, draft.lines[0].spec)
        added.append(line.id)

    return added, run_threads(THREADS, add)


def test_one_of_eight_threads_wins_each_round(storage: UnitOfWorkFactory) -> None:
    front = Shopfront(make_app(storage))
    for _ in range(ROUNDS):
        order = front.placed()
        mails_before = len(_mails(front, order.id))
        outcomes = _race(front, order.id, OrderStatus.MANUFACTURING)
        assert outcomes == {"won": 1, "refused": THREADS - 1}
        _assert_changed_once(front, order, mails_before, OrderStatus.MANUFACTURING)


def test_concurrent_edits_lose_no_update(storage: UnitOfWorkFactory) -> None:
    """Threads add lines to one draft at once: what a caller was told is stored, is stored."""
    front = Shopfront(make_app(storage))
    for _ in range(10):
        draft = front.draft()
        added, errors = _add_lines(front, draft)
        stored = front.app.get_order(front.staff, draft.id)
        assert sorted(line.id for line in stored.lines[1:]) == sorted(added)
        assert stored.version == draft.version + len(added)
        assert len(added) + len(errors) == THREADS
        assert all(type(e).__name__ == "ConcurrencyConflict" for e in errors)


@pytest.mark.slow
def test_one_of_four_processes_wins_each_round(postgres_url: str) -> None:
    from fabcore.adapters.postgres import PostgresDatabase

    database = PostgresDatabase(postgres_url)
    front = Shopfront(make_app(database))
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(PROCESSES)
    results: multiprocessing.Queue[Any] = spawn.Queue()
    inboxes: list[multiprocessing.Queue[Any]] = [spawn.Queue() for _ in range(PROCESSES)]
    workers = [
        spawn.Process(target=status_worker,
                      args=(postgres_url, inbox, results, start, "manufacturing"))
        for inbox in inboxes
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in range(ROUNDS):
            order = front.placed()
            mails_before = len(_mails(front, order.id))
            for inbox in inboxes:
                inbox.put((order.id, front.shop.id))
            outcomes = Counter(results.get(timeout=120) for _ in range(PROCESSES))
            assert outcomes == {"won": 1, "InvalidTransition": PROCESSES - 1}
            _assert_changed_once(front, order, mails_before, OrderStatus.MANUFACTURING)
    finally:
        for inbox in inboxes:
            inbox.put((None, None))
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.terminate()
        database.close()
    assert [w.exitcode for w in workers] == [0] * PROCESSES


class _CrashingRenderer(MailRenderer):
    def render(self, *args: Any, **kwargs: Any) -> Mail:
        raise RuntimeError("the process died while rendering the mail")

    def render_all(self, *args: Any, **kwargs: Any) -> list[Mail]:
        raise RuntimeError("the process died while rendering the mails")


def test_crash_while_rendering_the_mails_leaves_nothing(storage: UnitOfWorkFactory) -> None:
    front = Shopfront(make_app(storage))
    order = front.placed()
    mails_before = _mails(front, order.id)
    front.app.notifier.renderer = _CrashingRenderer()
    with pytest.raises(RuntimeError, match="died"):
        front.app.change_status(front.staff, order.id, OrderStatus.MANUFACTURING)
    assert front.app.get_order(front.staff, order.id) == order
    assert _mails(front, order.id) == mails_before


def test_crash_between_two_mails_leaves_nothing(
    storage: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    front = Shopfront(make_app(storage))
    order = front.placed()
    mails_before = _mails(front, order.id)
    outbox_class = type(storage().outbox)
    add_all = outbox_class.add_all
    calls: list[str] = []

    def add_then_crash(self: Any, messages: Sequence[OutboxMessage]) -> None:
        """The status is written; the first mail is queued, then the process dies."""
        calls.extend(message.id for message in messages)
        add_all(self, messages[:1])
        raise RuntimeError("the process died after the first mail")

    monkeypatch.setattr(outbox_class, "add_all", add_then_crash)
    with pytest.raises(RuntimeError, match="died"):
        front.app.change_status(front.staff, order.id, OrderStatus.MANUFACTURING)
    monkeypatch.undo()
    assert len(calls) == 2
    assert front.app.get_order(front.staff, order.id) == order
    assert _mails(front, order.id) == mails_before


def test_two_reminder_jobs_queue_each_reminder_once(storage: UnitOfWorkFactory) -> None:
    front = Shopfront(make_app(storage))
    due = []
    for _ in range(20):
        order = front.placed()
        front.app.provide_po(front.buyer, order.id, "PO-1")
        due.append(front.app.accept_po(front.staff, order.id, net_days=10))
    mails_before = {order.id: len(_mails(front, order.id)) for order in due}
    reminder_day = START + timedelta(days=8)
    queued: list[int] = []

    def job(_: int) -> None:
        queued.append(front.app.send_due_reminders(reminder_day))

    assert run_threads(2, job) == []
    assert sum(queued) == len(due)
    for order in due:
        new_mails = _mails(front, order.id)[mails_before[order.id]:]
        assert [m.mail.to for m in new_mails] == [("ada@example.com",)]
        stored = front.app.get_order(front.staff, order.id)
        assert stored.po is not None
        assert stored.po.reminder_sent_at == reminder_day


class _SharedMailer(RecordingMailer):
    """Records from several threads at once."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def send(self, mail: Mail) -> None:
        with self._lock:
            super().send(mail)


def test_two_relays_send_each_mail_exactly_once(storage: UnitOfWorkFactory) -> None:
    front = Shopfront(make_app(storage))
    with storage() as uow:
        for i in range(200):
            mail = Mail(f"<m{i}@fabcore>", "shop@example.com", ("ada@example.com",),
                        f"mail {i}", "text", "<p>html</p>")
            uow.outbox.add(OutboxMessage(f"m{i}", front.shop.id, None, mail,
                                         START + timedelta(milliseconds=i)))
        uow.commit()
    mailer = _SharedMailer()
    now = START + timedelta(minutes=1)
    sent: list[int] = []

    def relay(_: int) -> None:
        sent.append(relay_outbox(storage, mailer, now, batch=200).sent)

    assert run_threads(2, relay) == []
    assert sum(sent) == 200
    expected = sorted(f"<m{i}@fabcore>" for i in range(200))
    assert sorted(m.message_id for m in mailer.sent) == expected
    with storage() as uow:
        assert len(uow.outbox.list(OutboxStatus.SENT)) == 200
        assert uow.outbox.list(OutboxStatus.PENDING) == []
