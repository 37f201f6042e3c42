"""Contract tests every storage adapter (a ``UnitOfWorkFactory``) must pass.

Subclass the suites in a pytest module and provide a ``database`` fixture
returning an empty database::

    class TestMyUnitOfWork(UnitOfWorkContract):
        @pytest.fixture
        def database(self, tmp_path: Path) -> UnitOfWorkFactory:
            return MyDatabase(tmp_path / "fabcore.db")

The suites here cover the unit of work and the shop, customer and order
repositories; :mod:`fabcore.testing.outbox` covers the outbox. Some tests
use several threads, so the factory must be safe to call from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import attrs
import pytest

from fabcore.domain.actor import Actor
from fabcore.domain.errors import AlreadyExists, ConcurrencyConflict, InvalidInput, NotFound
from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.order_summary import OrderSummary
from fabcore.domain.status import OrderStatus, PaymentStatus
from fabcore.ports.repositories import UnitOfWorkFactory
from fabcore.testing import aggregates as a


def seed(database: UnitOfWorkFactory, *shop_ids: str) -> None:
    """Store shops (default ``shop-1``) with the rich catalog and customer ``cust-1`` in each."""
    with database() as uow:
        for shop_id in shop_ids or ("shop-1",):
            uow.shops.add(a.shop(shop_id), a.catalog())
            customer_id = "cust-1" if shop_id == "shop-1" else f"cust-1-{shop_id}"
            uow.customers.add(a.customer(customer_id, shop_id))
        uow.commit()


def store(database: UnitOfWorkFactory, *orders: Order) -> None:
    with database() as uow:
        for order in orders:
            uow.orders.add(order)
        uow.commit()


def _add_second_customer(database: UnitOfWorkFactory) -> None:
    """``cust-2`` (Grace) in ``shop-1``, beside the seeded ``cust-1``."""
    with database() as uow:
        uow.customers.add(a.customer("cust-2", email="grace@example.com"))
        uow.commit()


def _store_orders_to_list(database: UnitOfWorkFactory) -> None:
    """Two shops; in ``shop-1`` five orders of two customers (and none) and two statuses."""
    seed(database, "shop-1", "shop-2")
    _add_second_customer(database)
    hour = timedelta(hours=1)
    store(
        database,
        a.draft("o1", "00001", created_at=a.T0),
        a.order("o2", number="00002", created_at=a.T0 + hour),
        a.draft("o3", "00003", customer_id="cust-2", created_at=a.T0 + 2 * hour),
        a.order("o4", number="00004", customer_id="cust-2", created_at=a.T0 + 3 * hour),
        a.draft("o5", "00005", customer_id=None, created_at=a.T0 + 3 * hour),
        a.draft("x1", "00001", shop_id="shop-2", customer_id="cust-1-shop-2",
                created_at=a.T0 + 9 * hour),
    )


def run_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(i)`` in ``count`` threads started together; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def target(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # collected for the test to assert on
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


class _DatabaseFixture:
    @pytest.fixture
    def database(self) -> UnitOfWorkFactory:
        raise NotImplementedError("a storage contract subclass must provide a `database` fixture")


class UnitOfWorkContract(_DatabaseFixture):
    """Transactions: commit, rollback, isolation and optimistic concurrency."""

    def test_commit_makes_changes_visible(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        store(database, a.order())
        with database() as uow:
            assert uow.orders.get("ord-1") == a.order()
            assert uow.customers.get("cust-1") == a.customer()

    def test_leaving_without_commit_writes_nothing(self, database: UnitOfWorkFactory) -> None:
        with database() as uow:
            uow.shops.add(a.shop(), a.catalog())
            uow.customers.add(a.customer())
            uow.orders.add(a.order())
            uow.outbox.add(a.message())
        with database() as uow:
            with pytest.raises(NotFound):
                uow.shops.get("shop-1")
            with pytest.raises(NotFound):
                uow.customers.get("cust-1")
            with pytest.raises(NotFound):
                uow.orders.get("ord-1")
            with pytest.raises(NotFound):
                uow.outbox.get("msg-1")

    def test_exception_rolls_back(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        store(database, a.order())

        def crash() -> None:
            with database() as uow:
                order = uow.orders.get("ord-1")
                order.status = OrderStatus.ON_HOLD
                uow.orders.save(order)
                uow.outbox.add(a.message("msg-9"))
                raise RuntimeError("crash before commit")

        with pytest.raises(RuntimeError):
            crash()
        with database() as uow:
            assert uow.orders.get("ord-1") == a.order()
            assert uow.outbox.list() == []

    def test_explicit_rollback_discards(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            uow.orders.add(a.order())
            uow.rollback()
            with pytest.raises(NotFound):
                uow.orders.get("ord-1")
            uow.commit()
        with database() as uow, pytest.raises(NotFound):
            uow.orders.get("ord-1")

    def test_reads_its_own_writes(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            uow.orders.add(a.order())
            uow.outbox.add(a.message())
            assert uow.orders.get("ord-1") == a.order()
            assert uow.orders.get_by_number("shop-1", "00042").id == "ord-1"
            assert [o.id for o in uow.orders.list("shop-1")] == ["ord-1"]
            assert [m.id for m in uow.outbox.list()] == ["msg-1"]

    def test_uncommitted_changes_are_invisible_to_others(
        self, database: UnitOfWorkFactory
    ) -> None:
        seed(database)
        store(database, a.order())
        with database() as writer:
            order = writer.orders.get("ord-1")
            order.tracking_number = "CHANGED"
            writer.orders.save(order)
            writer.outbox.add(a.message())
            with database() as reader:
                assert reader.orders.get("ord-1").tracking_number == "TRACK-1"
                assert reader.outbox.list() == []
            writer.commit()
        with database() as reader:
            assert reader.orders.get("ord-1").tracking_number == "CHANGED"

    def test_save_increments_version(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        store(database, a.order())
        with database() as uow:
            order = uow.orders.get("ord-1")
            assert order.version == 0
            uow.orders.save(order)
            assert order.version == 1
            order.tracking_number = "T2"
            uow.orders.save(order)
            assert order.version == 2
            uow.commit()
        with database() as uow:
            stored = uow.orders.get("ord-1")
        assert (stored.version, stored.tracking_number) == (2, "T2")

    def test_saving_an_order_added_in_the_same_unit_keeps_version(
        self, database: UnitOfWorkFactory
    ) -> None:
        seed(database)
        with database() as uow:
            order = a.order()
            uow.orders.add(order)
            order.tracking_number = "T3"
            uow.orders.save(order)
            assert order.version == 0
            uow.commit()
        with database() as uow:
            stored = uow.orders.get("ord-1")
        assert (stored.version, stored.tracking_number) == (0, "T3")

    def test_stale_save_conflicts_and_writes_nothing(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        store(database, a.order())
        with database() as first, database() as second:
            mine = first.orders.get("ord-1")
            theirs = second.orders.get("ord-1")
            mine.status = OrderStatus.ON_HOLD
            mine.held_from = OrderStatus.PO_PAYMENT_DUE
            first.orders.save(mine)
            first.outbox.add(a.message("msg-first"))
            first.commit()
            theirs.status = OrderStatus.CANCELED_BY_ADMIN

            def save_stale() -> None:
                second.outbox.add(a.message("msg-second"))
                second.orders.save(theirs)
                second.commit()

            with pytest.raises(ConcurrencyConflict):
                save_stale()
        with database() as uow:
            stored = uow.orders.get("ord-1")
            assert (stored.status, stored.version) == (OrderStatus.ON_HOLD, 1)
            assert [m.id for m in uow.outbox.list()] == ["msg-first"]

    def test_a_unit_of_work_serves_many_blocks(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        uow = database()
        with uow:
            uow.orders.add(a.order())
            uow.commit()
        with uow:
            assert uow.orders.get("ord-1").number == "00042"

    def test_concurrent_saves_lose_no_update(self, database: UnitOfWorkFactory) -> None:
        """Each thread appends its note, retrying on conflict; every note survives."""
        seed(database)
        store(database, a.draft("ord-1", "00001"))
        saved: list[int] = []
        lock = threading.Lock()

        def work(i: int) -> None:
            for _ in range(50):
                try:
                    with database() as uow:
                        order = uow.orders.get("ord-1")
                        order.lines.append(
                            attrs.evolve(a.order().lines[0], id=f"line-{i}")
                        )
                        uow.orders.save(order)
                        uow.commit()
                except ConcurrencyConflict:
                    continue
                with lock:
                    saved.append(i)
                return

        assert run_threads(4, work) == []
        with database() as uow:
            stored = uow.orders.get("ord-1")
        assert sorted(saved) == [0, 1, 2, 3]
        assert sorted(line.id for line in stored.lines) == [f"line-{i}" for i in range(4)]
        assert stored.version == 4


class ShopRepositoryContract(_DatabaseFixture):
    """Shops and their catalogs."""

    def test_round_trip(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            assert uow.shops.get("shop-1") == a.shop()
            catalog = uow.shops.catalog("shop-1")
        assert catalog == a.catalog()
        fdm = catalog.process("fdm")
        assert fdm.finish("dyeing").materials == frozenset({"pla"})
        assert fdm.material("pla").price_per_cm3 == Decimal("0.120")
        assert str(fdm.material("pla").price_per_cm3) == "0.120"
        with pytest.raises(TypeError):
            catalog.processes["x"] = fdm  # type: ignore[index]

    def test_duplicate_raises_already_exists(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow, pytest.raises(AlreadyExists):
            uow.shops.add(a.shop(name="Other"), a.catalog())
        with database() as uow:
            assert uow.shops.get("shop-1").name == "Prüfstand"

    def test_unknown_raises_not_found(self, database: UnitOfWorkFactory) -> None:
        with database() as uow:
            with pytest.raises(NotFound):
                uow.shops.get("nope")
            with pytest.raises(NotFound):
                uow.shops.catalog("nope")
            with pytest.raises(NotFound):
                uow.shops.save(a.shop("nope"))

    def test_invoice_numbers_count_per_shop(self, database: UnitOfWorkFactory) -> None:
        seed(database, "shop-1", "shop-2")
        with database() as uow:
            assert [uow.shops.next_invoice_number("shop-1") for _ in range(3)] == [1, 2, 3]
            assert uow.shops.next_invoice_number("shop-2") == 1
            uow.commit()
        with database() as uow:
            assert uow.shops.next_invoice_number("shop-1") == 4

    def test_a_rolled_back_invoice_number_is_given_again(
        self, database: UnitOfWorkFactory
    ) -> None:
        seed(database)
        with database() as uow:
            assert uow.shops.next_invoice_number("shop-1") == 1
            uow.rollback()
            assert uow.shops.next_invoice_number("shop-1") == 1
        with database() as uow:
            assert uow.shops.next_invoice_number("shop-1") == 1
            uow.commit()
        with database() as uow:
            assert uow.shops.next_invoice_number("shop-1") == 2

    def test_concurrent_invoices_get_distinct_numbers_without_gaps(
        self, database: UnitOfWorkFactory
    ) -> None:
        seed(database)
        taken: list[int] = []
        lock = threading.Lock()

        def issue(_: int) -> None:
            for _attempt in range(50):
                try:
                    with database() as uow:
                        number = uow.shops.next_invoice_number("shop-1")
                        uow.commit()
                except ConcurrencyConflict:
                    continue
                with lock:
                    taken.append(number)
                return
            raise AssertionError("no invoice number after 50 attempts")

        assert run_threads(8, issue) == []
        assert sorted(taken) == list(range(1, 9))

    def test_save_settings_and_catalog(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        cheaper = Decimal("3.50")
        with database() as uow:
            shop = uow.shops.get("shop-1")
            shop.name = "Renamed"
            uow.shops.save(shop)
            uow.commit()
        with database() as uow:
            assert uow.shops.get("shop-1").name == "Renamed"
            assert uow.shops.catalog("shop-1") == a.catalog()
            catalog = attrs.evolve(
                a.catalog(),
                processes={**a.catalog().processes, "fdm": attrs.evolve(
                    a.catalog().process("fdm"), hourly_rate=cheaper)},
            )
            uow.shops.save(uow.shops.get("shop-1"), catalog)
            uow.commit()
        with database() as uow:
            assert uow.shops.catalog("shop-1").process("fdm").hourly_rate == cheaper

    def test_reads_are_copies(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            shop = uow.shops.get("shop-1")
            shop.settings.payment_before_production = False
            shop.name = "not saved"
            assert uow.shops.get("shop-1") == a.shop()
            uow.commit()
        with database() as uow:
            assert uow.shops.get("shop-1") == a.shop()


class CustomerRepositoryContract(_DatabaseFixture):
    """Customers, unique by id and by e-mail within a shop."""

    def test_round_trip(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            assert uow.customers.get("cust-1") == a.customer()

    def test_find_by_email_ignores_case_and_spaces(self, database: UnitOfWorkFactory) -> None:
        seed(database, "shop-1", "shop-2")
        with database() as uow:
            found = uow.customers.find_by_email("shop-1", "  ada@EXAMPLE.com ")
            assert found == a.customer()
            assert uow.customers.find_by_email("shop-1", "bob@example.com") is None
            other = uow.customers.find_by_email("shop-2", "ada@example.com")
            assert other is not None
            assert other.id == "cust-1-shop-2"

    def test_duplicate_id_raises_already_exists(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow, pytest.raises(AlreadyExists):
            uow.customers.add(a.customer(email="someone.else@example.com"))

    def test_duplicate_email_in_shop_raises_already_exists(
        self, database: UnitOfWorkFactory
    ) -> None:
        seed(database)
        with database() as uow:
            with pytest.raises(AlreadyExists):
                uow.customers.add(a.customer("cust-2", email="ADA@example.COM"))
            uow.customers.add(a.customer("cust-3", email="grace@example.com"))
            uow.commit()
        with database() as uow:
            assert [c.id for c in uow.customers.list("shop-1")] == ["cust-1", "cust-3"]

    def test_unknown_raises_not_found(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            with pytest.raises(NotFound):
                uow.customers.get("nope")
            with pytest.raises(NotFound):
                uow.customers.save(a.customer("nope"))

    def test_save_and_list(self, database: UnitOfWorkFactory) -> None:
        seed(database, "shop-1", "shop-2")
        with database() as uow:
            uow.customers.add(a.customer("cust-0", email="zed@example.com"))
            changed = uow.customers.get("cust-1")
            changed.email = "ada.new@example.com"
            changed.billing_contact = None
            uow.customers.save(changed)
            uow.commit()
        with database() as uow:
            assert [c.id for c in uow.customers.list("shop-1")] == ["cust-0", "cust-1"]
            assert [c.id for c in uow.customers.list("shop-1", limit=1)] == ["cust-0"]
            assert [c.id for c in uow.customers.list("shop-1", limit=5, offset=1)] == ["cust-1"]
            assert [c.id for c in uow.customers.list("shop-1", offset=2)] == []
            assert [c.id for c in uow.customers.list("shop-2")] == ["cust-1-shop-2"]
            assert uow.customers.get("cust-1") == changed
            assert uow.customers.find_by_email("shop-1", "ada.new@example.com") == changed
            assert uow.customers.find_by_email("shop-1", "ada@example.com") is None

    def test_reads_are_copies(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            uow.customers.get("cust-1").name = "changed"
            uow.customers.list("shop-1")[0].name = "changed"
            assert uow.customers.get("cust-1") == a.customer()


class OrderRepositoryContract(_DatabaseFixture):
    """Orders: round trips, lookups, listing, numbers, due PO payments."""

    def test_round_trip_keeps_every_field(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        original = a.order(status=OrderStatus.ON_HOLD)
        store(database, original)
        with database() as uow:
            loaded = uow.orders.get("ord-1")
        assert loaded == original
        assert loaded.created_at == a.T0
        assert loaded.created_at.tzinfo is not None
        assert loaded.lines[1].line_fees == original.lines[1].line_fees
        assert loaded.agreed_quote == original.agreed_quote
        assert loaded.lines_total == original.lines_total
        assert loaded.invoice == original.invoice

    def test_get_by_number(self, database: UnitOfWorkFactory) -> None:
        seed(database, "shop-1", "shop-2")
        store(database, a.order(),
              a.order("ord-2", shop_id="shop-2", customer_id="cust-1-shop-2"))
        with database() as uow:
            assert uow.orders.get_by_number("shop-1", "00042").id == "ord-1"
            assert uow.orders.get_by_number("shop-2", "00042").id == "ord-2"
            with pytest.raises(NotFound):
                uow.orders.get_by_number("shop-1", "00043")

    def test_unknown_raises_not_found(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            with pytest.raises(NotFound):
                uow.orders.get("nope")
            with pytest.raises(NotFound):
                uow.orders.save(a.order("nope"))

    def test_duplicate_id_raises_already_exists(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        store(database, a.order())
        with database() as uow, pytest.raises(AlreadyExists):
            uow.orders.add(a.order(number="00099"))

    def test_duplicate_number_in_shop_raises_already_exists(
        self, database: UnitOfWorkFactory
    ) -> None:
        seed(database, "shop-1", "shop-2")
        store(database, a.order())
        with database() as uow:
            with pytest.raises(AlreadyExists):
                uow.orders.add(a.order("ord-2"))
            uow.orders.add(a.order("ord-3", shop_id="shop-2", customer_id="cust-1-shop-2"))
            uow.commit()
        with database() as uow:
            with pytest.raises(NotFound):
                uow.orders.get("ord-2")
            assert uow.orders.get("ord-3").number == "00042"

    def test_list_newest_first_and_filtered(self, database: UnitOfWorkFactory) -> None:
        _store_orders_to_list(database)
        due = OrderStatus.PO_PAYMENT_DUE
        with database() as uow:
            def ids(status: OrderStatus | None = None, customer: str | None = None) -> list[str]:
                return [o.id for o in uow.orders.list("shop-1", status, customer)]

            assert ids() == ["o5", "o4", "o3", "o2", "o1"]
            assert ids(OrderStatus.DRAFT) == ["o5", "o3", "o1"]
            assert ids(due) == ["o4", "o2"]
            assert ids(customer="cust-2") == ["o4", "o3"]
            assert ids(due, "cust-1") == ["o2"]
            assert ids(OrderStatus.SHIPPED) == []
            assert [o.id for o in uow.orders.list("shop-2")] == ["x1"]
            assert uow.orders.list("shop-1", due)[1] == a.order("o2", number="00002",
                                                               created_at=a.T0 + timedelta(hours=1))

    def test_save_updates_what_lists_filter_on(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        _add_second_customer(database)
        store(database, a.draft("o1", "00001"))
        with database() as uow:
            order = uow.orders.get("o1")
            order.status = OrderStatus.PO_PAYMENT_DUE
            order.customer_id = "cust-2"
            order.po = a.order().po
            uow.orders.save(order)
            uow.commit()
        with database() as uow:
            assert [o.id for o in uow.orders.list("shop-1", OrderStatus.DRAFT)] == []
            assert [o.id for o in uow.orders.list("shop-1", customer_id="cust-2")] == ["o1"]
            assert [o.id for o in uow.orders.po_payments_due_by(date(2026, 4, 1))] == ["o1"]

    def test_summaries_are_filtered_and_ordered_like_the_list(
        self, database: UnitOfWorkFactory
    ) -> None:
        _store_orders_to_list(database)
        due = OrderStatus.PO_PAYMENT_DUE
        filters: list[tuple[OrderStatus | None, str | None]] = [
            (None, None), (OrderStatus.DRAFT, None), (due, None), (None, "cust-2"),
            (due, "cust-1"), (OrderStatus.SHIPPED, None),
        ]
        with database() as uow:
            for status, customer in filters:
                orders = uow.orders.list("shop-1", status, customer)
                summaries = uow.orders.summaries("shop-1", status, customer)
                assert list(summaries) == [OrderSummary.of(o) for o in orders], (status, customer)
            assert [s.id for s in uow.orders.summaries("shop-1")] == ["o5", "o4", "o3", "o2", "o1"]
            assert [s.id for s in uow.orders.summaries("shop-2")] == ["x1"]
            assert uow.orders.summaries("shop-3") == []

    def test_summaries_a_page_of_the_newest(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        store(database, *(a.draft(f"o{i}", f"0000{i}", created_at=a.T0 + timedelta(minutes=i))
                          for i in range(1, 6)))
        with database() as uow:
            assert [s.id for s in uow.orders.summaries("shop-1", limit=2)] == ["o5", "o4"]
            assert [s.id for s in uow.orders.summaries(
                "shop-1", OrderStatus.DRAFT, "cust-1", limit=10)] == ["o5", "o4", "o3", "o2", "o1"]
            assert uow.orders.summaries("shop-1", limit=0) == []
            assert [s.id for s in uow.orders.summaries("shop-1", limit=2, offset=2)] == [
                "o3", "o2"]
            assert [s.id for s in uow.orders.summaries("shop-1", offset=4)] == ["o1"]
            assert uow.orders.summaries("shop-1", limit=3, offset=5) == []
            with pytest.raises(InvalidInput):
                uow.orders.summaries("shop-1", limit=-1)
            with pytest.raises(InvalidInput):
                uow.orders.summaries("shop-1", offset=-1)

    def test_summary_fields(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        unpriced = a.order("o3", number="00003")
        assert unpriced.agreed_quote is not None
        unpriced.agreed_quote = attrs.evolve(unpriced.agreed_quote, total=None)
        store(database, a.order(), a.draft("o2", "00002"), unpriced)
        with database() as uow:
            found = {s.id: s for s in uow.orders.summaries("shop-1")}
        assert found["ord-1"] == OrderSummary(
            id="ord-1", shop_id="shop-1", number="00042", status=OrderStatus.PO_PAYMENT_DUE,
            payment_status=PaymentStatus.UNPAID, customer_id="cust-1", created_at=a.T0,
            total_amount=Decimal("396.75"), total_currency="EUR", lines=2,
        )
        assert found["ord-1"].created_at.utcoffset() == timedelta(0)
        assert found["ord-1"].total == a.eur("396.75")
        assert str(found["ord-1"].total) == "396.75 EUR"
        assert type(found["ord-1"].total_amount) is Decimal
        assert found["o2"].total is None
        assert found["o2"].lines == 0
        assert found["o2"].status is OrderStatus.DRAFT
        assert found["o3"].total is None
        assert found["o3"].lines == 2

    def test_summaries_follow_every_save(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        _add_second_customer(database)
        store(database, a.order(), a.draft("o2", "00002"))
        staff = Actor.staff("shop-1", "sam")
        with database() as uow:
            order = uow.orders.get("ord-1")
            order.mark_paid(staff, a.T0 + timedelta(days=2), "pay_2", a.eur("396.75"))
            uow.orders.save(order)
            draft = uow.orders.get("o2")
            draft.set_line(a.order().lines[0])
            draft.set_customer("cust-2")
            uow.orders.save(draft)
            # The unit of work reads its own writes.
            assert uow.orders.summaries("shop-1", customer_id="cust-2")[0].lines == 1
            uow.commit()
        with database() as uow:
            paid = uow.orders.summaries("shop-1", OrderStatus.PO_PAYMENT_DUE)
            assert [(s.id, s.payment_status) for s in paid] == [("ord-1", PaymentStatus.PAID)]
            assert paid[0].total == a.eur("396.75")
            moved = uow.orders.summaries("shop-1", customer_id="cust-2")
            assert [(s.id, s.lines, s.total) for s in moved] == [("o2", 1, None)]
            agreed = a.order().agreed_quote
            assert agreed is not None
            order = uow.orders.get("ord-1")
            order.agreed_quote = attrs.evolve(agreed, total=Money("1234.50", "EUR"))
            order.lines.pop()
            uow.orders.save(order)
            uow.commit()
        with database() as uow:
            summary = uow.orders.summaries("shop-1", customer_id="cust-1")[0]
            assert (summary.total, summary.lines) == (a.eur("1234.50"), 1)

    def test_summaries_of_uncommitted_orders_stay_private(
        self, database: UnitOfWorkFactory
    ) -> None:
        seed(database)
        with database() as writer:
            writer.orders.add(a.draft("o1", "00001"))
            assert [s.id for s in writer.orders.summaries("shop-1")] == ["o1"]
            with database() as reader:
                assert reader.orders.summaries("shop-1") == []

    def test_next_number_counts_per_shop(self, database: UnitOfWorkFactory) -> None:
        seed(database, "shop-1", "shop-2")
        with database() as uow:
            first = [uow.orders.next_number("shop-1") for _ in range(3)]
            other = uow.orders.next_number("shop-2")
            uow.commit()
        assert first == ["00001", "00002", "00003"]
        assert other == "00001"

    def test_next_number_is_never_reused(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            taken = uow.orders.next_number("shop-1")
            uow.orders.add(a.draft("o1", taken))
        with database() as uow:
            uow.orders.add(a.draft("o2", "99999"))
            after_write = uow.orders.next_number("shop-1")
            uow.rollback()
        with database() as uow:
            assert uow.orders.next_number("shop-1") not in (taken, after_write)

    def test_next_number_unique_across_concurrent_units(
        self, database: UnitOfWorkFactory
    ) -> None:
        seed(database)
        numbers: list[str] = []
        lock = threading.Lock()

        def work(i: int) -> None:
            for j in range(5):
                with database() as uow:
                    number = uow.orders.next_number("shop-1")
                    uow.orders.add(a.draft(f"o-{i}-{j}", number))
                    if j % 2 == 0:
                        uow.commit()
                with lock:
                    numbers.append(number)

        assert run_threads(8, work) == []
        assert len(set(numbers)) == len(numbers) == 40
        with database() as uow:
            assert len(uow.orders.list("shop-1")) == 24

    def test_po_payments_due_by(self, database: UnitOfWorkFactory) -> None:
        seed(database, "shop-1", "shop-2")
        store(
            database,
            a.order("early", number="1", due_date=date(2026, 3, 30)),
            a.order("on-day", number="2", due_date=date(2026, 4, 1)),
            a.order("late", number="3", due_date=date(2026, 4, 2)),
            a.order("no-date", number="4", due_date=None),
            a.order("held", number="5", status=OrderStatus.ON_HOLD, due_date=date(2026, 3, 1)),
            a.order("elsewhere", number="1", shop_id="shop-2", customer_id="cust-1-shop-2",
                    due_date=date(2026, 3, 31)),
        )
        with database() as uow:
            due = uow.orders.po_payments_due_by(date(2026, 4, 1))
        assert sorted(o.id for o in due) == ["early", "elsewhere", "on-day"]
        assert next(o for o in due if o.id == "early") == a.order(
            "early", number="1", due_date=date(2026, 3, 30)
        )

    def test_reads_are_copies(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        store(database, a.order())
        with database() as uow:
            loaded = uow.orders.get("ord-1")
            loaded.status = OrderStatus.SHIPPED
            loaded.history.clear()
            loaded.lines[0].notes = "scribbled"
            uow.orders.list("shop-1")[0].payments.clear()
            uow.orders.po_payments_due_by(date(2026, 12, 31))[0].lines.clear()
            uow.orders.get_by_number("shop-1", "00042").tracking_number = None
            assert uow.orders.get("ord-1") == a.order()
            uow.commit()
        with database() as uow:
            assert uow.orders.get("ord-1") == a.order()
