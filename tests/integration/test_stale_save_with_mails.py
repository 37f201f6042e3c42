"""A stale save followed by its mails, as a status change stores them, writes neither.

PostgreSQL sends the order's update together with the mails' insert and
reports the conflict before the commit; every adapter must end the same way.
"""

from __future__ import annotations

import pytest

from fabcore.domain.errors import ConcurrencyConflict
from fabcore.domain.status import OrderStatus
from fabcore.ports.repositories import UnitOfWorkFactory
from fabcore.testing import aggregates as a
from fabcore.testing.repositories import seed, store


def test_a_stale_save_then_its_mails_conflicts_and_writes_nothing(
    storage: UnitOfWorkFactory,
) -> None:
    seed(storage)
    store(storage, a.order())
    with storage() as first, storage() as second:
        mine = first.orders.get("ord-1")
        theirs = second.orders.get("ord-1")
        mine.tracking_number = "MINE"
        first.orders.save(mine)
        first.commit()
        theirs.status = OrderStatus.CANCELED_BY_ADMIN

        def save_with_mails() -> None:
            second.orders.save(theirs)
            second.outbox.add_all([a.message("msg-1"), a.message("msg-2")])
            second.commit()

        with pytest.raises(ConcurrencyConflict, match="nothing was written"):
            save_with_mails()
    with storage() as uow:
        stored = uow.orders.get("ord-1")
        assert (stored.tracking_number, stored.status, stored.version) == (
            "MINE", a.order().status, 1)
        assert uow.outbox.list() == []


def test_two_saves_in_one_unit_of_work_both_count(storage: UnitOfWorkFactory) -> None:
    seed(storage)
    store(storage, a.order())
    with storage() as uow:
        order = uow.orders.get("ord-1")
        order.tracking_number = "T1"
        uow.orders.save(order)
        order.tracking_number = "T2"
        uow.orders.save(order)
        uow.outbox.add(a.message("msg-1"))
        uow.commit()
    with storage() as uow:
        stored = uow.orders.get("ord-1")
        assert (stored.tracking_number, stored.version) == ("T2", 2)
        assert [m.id for m in uow.outbox.list()] == ["msg-1"]
