"""PostgreSQL specifics: migrations and in-place upgrades, errors, the pool, URLs.

Needs a server (see ``tests/postgres_server.py``); each test that changes
the schema works in a database of its own.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from fabcore.adapters.postgres import PostgresDatabase
from fabcore.adapters.serialization import dumps
from fabcore.app.bootstrap import make_database
from fabcore.domain.errors import AlreadyExists, NotFound, StorageError
from fabcore.domain.order_summary import OrderSummary
from fabcore.testing import aggregates as a
from fabcore.testing.repositories import run_threads, seed, store
from postgres_server import recreate_database

ALL_MIGRATIONS = [
    "0001_initial", "0002_lookup_indexes", "0003_order_summary", "0004_order_documents_json",
    "0005_documents_lz4", "0006_invoice_numbers", "0007_accounts", "0008_outbox_by_shop",
    "0009_background_jobs", "0010_outbox_due",
]


@pytest.fixture
def empty_url(postgres_server: str) -> str:
    return recreate_database(postgres_server, "fabcore_schema_tests")


def _names(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(
            "SELECT name FROM schema_migrations ORDER BY version"
        )]


def test_old_database_upgrades_in_place_and_keeps_its_rows(empty_url: str) -> None:
    with PostgresDatabase(empty_url, migrate=False) as old:
        assert old.upgrade(target=1) == ["0001_initial"]
        seed(old)
        with psycopg.connect(empty_url) as conn:
            # Orders as fabcore wrote them at schema version 1.
            for order in (a.order(), a.draft("ord-2", "00001",
                                             created_at=a.T0 + timedelta(hours=1))):
                conn.execute(
                    "INSERT INTO orders (id, shop_id, number, customer_id, status, po_due_date, "
                    "created_at, version, data) VALUES (%s, %s, %s, %s, %s, %s, %s, 0, %s)",
                    (order.id, order.shop_id, order.number, order.customer_id,
                     order.status.value, order.po.due_date if order.po else None,
                     order.created_at, dumps(order)),
                )
        with old() as uow:
            uow.outbox.add(a.message())
            uow.commit()
    with PostgresDatabase(empty_url) as database:
        assert database.schema_version() == len(ALL_MIGRATIONS)
        with database() as uow:
            assert uow.orders.get("ord-1") == a.order()
            assert uow.shops.catalog("shop-1") == a.catalog()
            assert uow.outbox.list(order_id="ord-1") == [a.message()]
            assert uow.orders.summaries("shop-1") == [
                OrderSummary.of(a.draft("ord-2", "00001", created_at=a.T0 + timedelta(hours=1))),
                OrderSummary.of(a.order()),
            ]
    assert _names(empty_url) == ALL_MIGRATIONS
    with psycopg.connect(empty_url) as conn:
        indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes")}
        rows = conn.execute(
            "SELECT id, payment_status, total_amount, total_currency, line_count FROM orders "
            "ORDER BY id"
        ).fetchall()
        document_type = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'orders' AND column_name = 'data'"
        ).fetchone()
    assert {"orders_shop_customer_created", "outbox_order", "orders_po_due",
            "orders_shop_status_summary"} <= indexes
    assert "orders_shop_status_created" not in indexes
    assert rows == [("ord-1", "unpaid", Decimal("396.75"), "EUR", 2),
                    ("ord-2", "unpaid", None, None, 0)]
    assert str(rows[0][2]) == "396.75"
    assert document_type == ("json",)


def test_documents_are_compressed_with_lz4(empty_url: str) -> None:
    with PostgresDatabase(empty_url) as database:
        seed(database)
        # Over 2 kB of JSON: large enough for PostgreSQL to compress it.
        store(database, a.order())
    with psycopg.connect(empty_url) as conn:
        lz4 = conn.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
                           "AND 'lz4' = ANY(enumvals)").fetchone()
        if lz4 is None:
            pytest.skip("this PostgreSQL server was built without LZ4")
        settings = conn.execute(
            "SELECT attrelid::regclass::text, attcompression FROM pg_attribute "
            "WHERE attname = 'data' AND attrelid IN ('orders'::regclass, 'outbox'::regclass) "
            "ORDER BY 1"
        ).fetchall()
        used = conn.execute("SELECT pg_column_compression(data) FROM orders").fetchone()
    assert settings == [("orders", "l"), ("outbox", "l")]
    assert used == ("lz4",)


def test_upgrade_reports_what_it_applied(empty_url: str) -> None:
    with PostgresDatabase(empty_url, migrate=False) as database:
        assert database.schema_version() == 0
        assert database.upgrade() == ALL_MIGRATIONS
        assert database.upgrade() == []


def test_processes_starting_at_once_migrate_once(empty_url: str) -> None:
    opened: list[PostgresDatabase] = []
    assert run_threads(4, lambda _: opened.append(PostgresDatabase(empty_url))) == []
    assert _names(empty_url) == ALL_MIGRATIONS
    for database in opened:
        database.close()


def test_database_from_a_newer_fabcore_is_refused(empty_url: str) -> None:
    PostgresDatabase(empty_url).close()
    with psycopg.connect(empty_url) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, '0099_future')")
    with pytest.raises(StorageError, match="newer"):
        PostgresDatabase(empty_url)


def test_taking_another_customers_email_is_already_exists(postgres_url: str) -> None:
    with PostgresDatabase(postgres_url) as database:
        seed(database)
        with database() as uow:
            uow.customers.add(a.customer("cust-2", email="grace@example.com"))
            uow.commit()
        with database() as uow:
            grace = uow.customers.get("cust-2")
            grace.email = "ADA@example.com"
            with pytest.raises(AlreadyExists) as caught:
                uow.customers.save(grace)
        assert isinstance(caught.value.__cause__, psycopg.errors.UniqueViolation)


def test_reference_to_a_missing_shop_is_not_found(postgres_url: str) -> None:
    with PostgresDatabase(postgres_url) as database, database() as uow, \
            pytest.raises(NotFound):
        uow.orders.add(a.draft("o1", "1", shop_id="ghost", customer_id=None))


def test_amount_that_is_not_a_number_is_storage_error(postgres_url: str) -> None:
    with PostgresDatabase(postgres_url) as database:
        seed(database)
        store(database, a.order())
        with psycopg.connect(postgres_url) as conn:
            conn.execute("UPDATE orders SET total_amount = 'NaN'")
        with database() as uow, pytest.raises(StorageError, match="not a finite number"):
            uow.orders.summaries("shop-1")


def test_exhausted_pool_is_storage_error(postgres_url: str) -> None:
    with PostgresDatabase(postgres_url, max_connections=1, pool_timeout=0.05) as database:
        with database() as first:
            first.shops.add(a.shop(), a.catalog())
            with database() as second, pytest.raises(StorageError, match="no free"):
                second.shops.get("shop-1")
            first.commit()
        with database() as again:
            assert again.shops.get("shop-1") == a.shop()


def test_unreachable_server_is_storage_error() -> None:
    with pytest.raises(StorageError, match="unavailable"):
        PostgresDatabase("postgresql://postgres@127.0.0.1:1/none", connect_timeout=1)


def test_database_url(postgres_url: str) -> None:
    database = make_database(postgres_url)
    assert isinstance(database, PostgresDatabase)
    database.close()
