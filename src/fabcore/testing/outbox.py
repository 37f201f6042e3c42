"""Contract tests for the outbox of every storage adapter.

Subclass :class:`OutboxContract` and provide a ``database`` fixture
returning an empty ``UnitOfWorkFactory`` (see :mod:`fabcore.testing.repositories`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from fabcore.domain.errors import AlreadyExists, InvalidInput, NotFound
from fabcore.ports.outbox import OutboxMessage, OutboxStatus
from fabcore.ports.repositories import UnitOfWork, UnitOfWorkFactory
from fabcore.testing import aggregates as a
from fabcore.testing.repositories import run_threads, seed, store

NOW = a.T0 + timedelta(hours=1)


def queue(database: UnitOfWorkFactory, *messages: OutboxMessage) -> None:
    with database() as uow:
        for message in messages:
            uow.outbox.add(message)
        uow.commit()


def two_relays_at_once(
    database: UnitOfWorkFactory, take: Callable[[UnitOfWork], list[str]]
) -> tuple[list[str], list[str]]:
    """Queue six messages; two threads run ``take`` in a unit of work each.

    The second starts once the first has taken its messages, before the
    first commits. Returns the ids each took.
    """
    queue(database, *(a.message(f"m{i}", created_at=a.T0 + timedelta(seconds=i))
                      for i in range(6)))
    taken: list[list[str]] = [[], []]
    first_took = threading.Event()

    def relay(i: int) -> None:
        if i == 1:
            first_took.wait()
        with database() as uow:
            taken[i] = take(uow)
            if i == 0:
                first_took.set()
            uow.commit()

    assert run_threads(2, relay) == []
    return taken[0], taken[1]


class OutboxContract:
    """The outbox: queued with the change that caused it, claimed by one relay at a time."""

    @pytest.fixture
    def database(self) -> UnitOfWorkFactory:
        raise NotImplementedError("an OutboxContract subclass must provide a `database` fixture")

    @pytest.fixture(autouse=True)
    def _order(self, database: UnitOfWorkFactory) -> None:
        seed(database, "shop-1", "shop-2")
        store(database, a.order(), a.order("ord-2", number="00043"))

    def test_round_trip(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message(), a.sent_message())
        with database() as uow:
            assert uow.outbox.get("msg-1") == a.message()
            assert uow.outbox.get("msg-sent") == a.sent_message()

    def test_message_without_order(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message("m", shop_id="shop-2", order_id=None))
        with database() as uow:
            assert uow.outbox.get("m") == a.message("m", shop_id="shop-2", order_id=None)

    def test_duplicate_raises_already_exists(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message())
        with database() as uow, pytest.raises(AlreadyExists):
            uow.outbox.add(a.message(subject="another"))
        with database() as uow:
            assert uow.outbox.get("msg-1") == a.message()

    def test_add_all_keeps_the_order_given(self, database: UnitOfWorkFactory) -> None:
        batch = [a.message(f"m{i}", subject=f"mail {i}") for i in (3, 1, 2)]
        with database() as uow:
            uow.outbox.add_all(batch)
            uow.outbox.add_all([])
            uow.commit()
        with database() as uow:
            assert uow.outbox.list() == batch
            assert [m.id for m in uow.outbox.due(NOW, 10)] == ["m3", "m1", "m2"]

    def test_add_all_with_a_taken_id_queues_none(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message())
        with database() as uow:
            with pytest.raises(AlreadyExists):
                uow.outbox.add_all([a.message("new-1"), a.message(), a.message("new-2")])
            with pytest.raises(AlreadyExists):
                uow.outbox.add_all([a.message("new-3"), a.message("new-3")])
            assert [m.id for m in uow.outbox.list()] == ["msg-1"]
            uow.outbox.add_all([a.message("new-4")])
            uow.commit()
        with database() as uow:
            assert [m.id for m in uow.outbox.list()] == ["msg-1", "new-4"]
            assert uow.outbox.get("msg-1") == a.message()

    def test_unknown_raises_not_found(self, database: UnitOfWorkFactory) -> None:
        with database() as uow:
            with pytest.raises(NotFound):
                uow.outbox.get("nope")
            with pytest.raises(NotFound):
                uow.outbox.update(a.message("nope"))

    def test_due_oldest_first_then_in_queueing_order(
        self, database: UnitOfWorkFactory
    ) -> None:
        later = a.T0 + timedelta(minutes=5)
        queue(database, a.message("c", created_at=later), a.message("b"), a.message("a"),
              a.message("z", created_at=NOW + timedelta(seconds=1)))
        with database() as uow:
            assert [m.id for m in uow.outbox.due(NOW, 10)] == ["b", "a", "c", "z"]
            assert [m.id for m in uow.outbox.due(NOW, 2)] == ["b", "a"]

    def test_due_skips_sent_failed_and_not_yet_due(self, database: UnitOfWorkFactory) -> None:
        waiting = a.message("waiting")
        waiting.next_attempt_at = NOW + timedelta(seconds=1)
        retry_now = a.message("retry-now")
        retry_now.next_attempt_at = NOW
        failed = a.message("failed")
        failed.status = OutboxStatus.FAILED
        queue(database, waiting, retry_now, failed, a.sent_message(), a.message("fresh"))
        with database() as uow:
            assert [m.id for m in uow.outbox.due(NOW, 10)] == ["retry-now", "fresh"]
        with database() as uow:
            assert [m.id for m in uow.outbox.due(NOW + timedelta(seconds=1), 10)] == [
                "waiting", "retry-now", "fresh"
            ]

    def test_due_gives_a_holder_back_what_it_leased(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message("leased"), a.message("other"), a.message("fresh"))
        with database() as uow:
            for message_id, holder in (("leased", "job-7"), ("other", "job-8")):
                message = uow.outbox.get(message_id)
                message.next_attempt_at = NOW + timedelta(minutes=10)
                message.lease_holder = holder
                uow.outbox.update(message)
            uow.commit()
        with database() as uow:
            assert [m.id for m in uow.outbox.due(NOW, 10)] == ["fresh"]
        with database() as uow:
            found = uow.outbox.due(NOW, 10, "job-7")
            assert [m.id for m in found] == ["leased", "fresh"]
            assert found[0].lease_holder == "job-7"

    def test_count_by_status(self, database: UnitOfWorkFactory) -> None:
        failed = a.message("failed")
        failed.status = OutboxStatus.FAILED
        queue(database, a.message("one"), a.message("two"), failed, a.sent_message())
        with database() as uow:
            assert uow.outbox.count(OutboxStatus.PENDING) == 2
            assert uow.outbox.count(OutboxStatus.FAILED) == 1
            assert uow.outbox.count(OutboxStatus.SENT) == 1

    def test_update_records_delivery(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message())
        with database() as uow:
            message = uow.outbox.due(NOW, 1)[0]
            message.attempts = 1
            message.last_error = "421 busy"
            message.next_attempt_at = NOW + timedelta(minutes=1)
            uow.outbox.update(message)
            uow.commit()
        with database() as uow:
            assert uow.outbox.due(NOW, 10) == []
            assert uow.outbox.get("msg-1") == message
            again = uow.outbox.due(NOW + timedelta(minutes=1), 10)[0]
            again.status = OutboxStatus.SENT
            again.sent_at = NOW + timedelta(minutes=1)
            again.attempts = 2
            uow.outbox.update(again)
            uow.commit()
        with database() as uow:
            assert uow.outbox.due(NOW + timedelta(days=1), 10) == []
            assert uow.outbox.get("msg-1") == again

    def test_update_without_commit_changes_nothing(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message())
        with database() as uow:
            message = uow.outbox.due(NOW, 1)[0]
            message.status = OutboxStatus.SENT
            uow.outbox.update(message)
        with database() as uow:
            assert [m.id for m in uow.outbox.due(NOW, 1)] == ["msg-1"]

    def test_list_by_status_and_order(self, database: UnitOfWorkFactory) -> None:
        other = a.message("other-order", order_id="ord-2")
        queue(database, a.message("m2"), a.sent_message("m1"), other, a.message("m3"))
        with database() as uow:
            assert [m.id for m in uow.outbox.list()] == ["m2", "m1", "other-order", "m3"]
            assert [m.id for m in uow.outbox.list(OutboxStatus.PENDING)] == [
                "m2", "other-order", "m3"
            ]
            assert [m.id for m in uow.outbox.list(order_id="ord-2")] == ["other-order"]
            assert [m.id for m in uow.outbox.list(OutboxStatus.SENT, "ord-1")] == ["m1"]
            assert uow.outbox.list(OutboxStatus.FAILED) == []

    def test_list_by_shop_a_page_at_a_time(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message("m1"), a.message("x1", shop_id="shop-2"), a.message("m2"),
              a.sent_message("m3"), a.message("m4"))
        with database() as uow:
            def ids(**options: Any) -> list[str]:
                return [m.id for m in uow.outbox.list(**options)]

            assert ids(shop_id="shop-1") == ["m1", "m2", "m3", "m4"]
            assert ids(shop_id="shop-2") == ["x1"]
            assert ids(shop_id="nowhere") == []
            assert ids(shop_id="shop-1", limit=2) == ["m1", "m2"]
            assert ids(shop_id="shop-1", limit=2, offset=2) == ["m3", "m4"]
            assert ids(shop_id="shop-1", limit=2, offset=4) == []
            assert ids(shop_id="shop-1", offset=3) == ["m4"]
            assert ids(status=OutboxStatus.PENDING, shop_id="shop-1", limit=1, offset=1) == ["m2"]
            assert ids(limit=0) == []
            with pytest.raises(InvalidInput):
                uow.outbox.list(offset=-1)
            with pytest.raises(InvalidInput):
                uow.outbox.list(limit=-1)

    def test_reads_are_copies(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message())
        with database() as uow:
            uow.outbox.get("msg-1").attempts = 7
            uow.outbox.list()[0].status = OutboxStatus.SENT
            uow.outbox.due(NOW, 1)[0].last_error = "x"
            assert uow.outbox.get("msg-1") == a.message()

    def test_claimed_messages_are_not_handed_to_another_relay(
        self, database: UnitOfWorkFactory
    ) -> None:
        """Two relays at once take disjoint messages; each is sent exactly once."""
        def send_due(uow: UnitOfWork) -> list[str]:
            taken = []
            for message in uow.outbox.due(NOW, 3):
                taken.append(message.id)
                message.status = OutboxStatus.SENT
                uow.outbox.update(message)
            return taken

        first, second = two_relays_at_once(database, send_due)
        assert set(first).isdisjoint(second)
        assert sorted(first + second) == [f"m{i}" for i in range(6)]

    def test_claim_takes_due_messages_for_one_attempt(self, database: UnitOfWorkFactory) -> None:
        sent = a.sent_message("done")
        later = a.message("later", created_at=a.T0)
        later.next_attempt_at = NOW + timedelta(minutes=5)
        tried = a.message("tried", created_at=a.T0 + timedelta(seconds=2))
        tried.attempts = 2
        tried.last_error = "421 busy"
        queue(database, a.message("new", created_at=a.T0 + timedelta(seconds=3)), sent, later,
              tried, a.message("old", created_at=a.T0 + timedelta(seconds=1)))
        lease = NOW + timedelta(minutes=10)
        with database() as uow:
            claimed = uow.outbox.claim(NOW, 2, lease, "job-1")
            assert [(m.id, m.attempts, m.next_attempt_at, m.lease_holder, m.last_error)
                    for m in claimed] == [("old", 1, lease, "job-1", None),
                                          ("tried", 3, lease, "job-1", "421 busy")]
            assert claimed[0].mail == a.message("old").mail
            uow.commit()
        with database() as uow:
            assert uow.outbox.get("tried") == claimed[1]
            assert [m.id for m in uow.outbox.due(NOW, 10)] == ["new"]
            assert [m.id for m in uow.outbox.due(NOW, 10, "job-1")] == ["old", "tried", "new"]
            assert uow.outbox.get("done") == sent

    def test_claim_is_undone_by_rollback(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message())
        with database() as uow:
            assert [m.id for m in uow.outbox.claim(NOW, 5, NOW + timedelta(minutes=10))] == [
                "msg-1"]
        with database() as uow:
            assert uow.outbox.get("msg-1") == a.message()
            assert [m.id for m in uow.outbox.claim(NOW, 5, NOW + timedelta(minutes=10))] == [
                "msg-1"]

    def test_two_relays_claim_disjoint_messages(self, database: UnitOfWorkFactory) -> None:
        first, second = two_relays_at_once(database, lambda uow: [
            m.id for m in uow.outbox.claim(NOW, 3, NOW + timedelta(minutes=10))])
        assert sorted(first + second) == [f"m{i}" for i in range(6)]

    def test_update_stores_the_delivery_state_only(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message())
        with database() as uow:
            message = uow.outbox.get("msg-1")
            message.status = OutboxStatus.SENT
            message.sent_at = NOW
            message.attempts = 1
            message.mail = a.message(subject="changed").mail
            message.order_id = None
            uow.outbox.update(message)
            uow.commit()
        with database() as uow:
            stored = uow.outbox.get("msg-1")
        assert (stored.status, stored.sent_at, stored.attempts) == (OutboxStatus.SENT, NOW, 1)
        assert (stored.mail, stored.order_id) == (a.message().mail, a.message().order_id)

    def test_rollback_releases_claims(self, database: UnitOfWorkFactory) -> None:
        queue(database, a.message())
        with database() as uow:
            assert [m.id for m in uow.outbox.due(NOW, 1)] == ["msg-1"]
        with database() as uow:
            assert [m.id for m in uow.outbox.due(NOW, 1)] == ["msg-1"]
