"""SQLite specifics: migrations and in-place upgrades, file settings, errors, URLs.

``tests/data/fabcore-v1.sqlite`` was made by schema version 1 (migration
``0001_initial`` only, through ``SqliteDatabase(path, migrate=False).upgrade(target=1)``)
holding the :mod:`fabcore.testing.aggregates` shop, customer, two orders and
two outbox messages. It must never be regenerated with a newer schema.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Literal

import attrs
import pytest

from fabcore.adapters import sqlite as sqlite_adapter
from fabcore.adapters.sqlite import SqliteDatabase
from fabcore.app.bootstrap import make_database
from fabcore.domain.errors import ConfigurationError, NotFound, StorageError
from fabcore.domain.order_summary import OrderSummary
from fabcore.domain.shop import Shop, ShopSettings
from fabcore.domain.status import OrderStatus
from fabcore.testing import aggregates as a
from fabcore.testing.repositories import run_threads, seed, store

V1_FIXTURE = Path(__file__).parent.parent / "data" / "fabcore-v1.sqlite"
ALL_MIGRATIONS = ["0001_initial", "0002_lookup_indexes", "0003_order_summary",
                  "0004_invoice_numbers", "0005_accounts", "0006_outbox_by_shop",
                  "0007_background_jobs", "0008_outbox_due"]


def _as_v1_stored_it(shop: Shop) -> Shop:
    """The shop as version 1 kept it: settings added later read as their defaults."""
    old = shop.settings
    return attrs.evolve(shop, settings=ShopSettings(
        notify_emails=old.notify_emails, sender_email=old.sender_email, review=old.review,
        payment_before_production=old.payment_before_production,
    ))


def _query(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def v1_copy(tmp_path: Path) -> Path:
    path = tmp_path / "old.sqlite"
    shutil.copyfile(V1_FIXTURE, path)
    return path


def test_fixture_is_at_version_1(v1_copy: Path) -> None:
    assert _query(v1_copy, "SELECT version, name FROM schema_migrations") == [(1, "0001_initial")]


def test_old_database_upgrades_in_place_and_keeps_its_rows(v1_copy: Path) -> None:
    with SqliteDatabase(v1_copy) as database:
        assert database.schema_version() == len(ALL_MIGRATIONS)
        with database() as uow:
            assert uow.shops.get("shop-1") == _as_v1_stored_it(a.shop())
            assert uow.shops.catalog("shop-1") == a.catalog()
            assert uow.customers.get("cust-1") == attrs.evolve(a.customer(), tax_id=None)
            assert uow.orders.get("ord-1") == attrs.evolve(a.order(), invoice=None)
            assert uow.orders.get("ord-2") == a.draft(
                "ord-2", "00001", created_at=a.T0 + timedelta(hours=1)
            )
            assert [o.id for o in uow.orders.list("shop-1", customer_id="cust-1")] == [
                "ord-2", "ord-1"
            ]
            assert uow.outbox.list() == [a.message(), a.sent_message()]
            assert uow.orders.next_number("shop-1") == "00002"
            order = uow.orders.get("ord-1")
            order.status = OrderStatus.ON_HOLD
            uow.orders.save(order)
            uow.commit()
    names = [row[0] for row in _query(v1_copy, "SELECT name FROM schema_migrations")]
    assert names == ALL_MIGRATIONS
    assert _query(v1_copy, "PRAGMA journal_mode") == [("wal",)]


def test_upgrade_reports_what_it_applied(v1_copy: Path) -> None:
    database = SqliteDatabase(v1_copy, migrate=False)
    assert database.schema_version() == 1
    assert database.upgrade() == ALL_MIGRATIONS[1:]
    assert database.upgrade() == []
    database.close()


def test_upgrade_fills_the_summary_columns_of_old_orders(v1_copy: Path) -> None:
    SqliteDatabase(v1_copy).close()
    rows = _query(v1_copy, "SELECT id, payment_status, total_amount, total_currency, line_count "
                           "FROM orders ORDER BY id")
    assert rows == [("ord-1", "unpaid", "396.75", "EUR", 2), ("ord-2", "unpaid", None, None, 0)]
    with SqliteDatabase(v1_copy) as database, database() as uow:
        assert uow.orders.summaries("shop-1") == [
            OrderSummary.of(a.draft("ord-2", "00001", created_at=a.T0 + timedelta(hours=1))),
            OrderSummary.of(a.order()),
        ]
        assert uow.orders.summaries("shop-1", OrderStatus.PO_PAYMENT_DUE)[0].total == a.eur(
            "396.75"
        )


def test_summaries_by_status_are_read_from_one_index(tmp_path: Path) -> None:
    path = tmp_path / "fabcore.db"
    SqliteDatabase(path).close()
    plan = " ".join(str(row) for row in _query(
        path, "EXPLAIN QUERY PLAN SELECT id, number, payment_status, customer_id, created_at, "
              "total_amount, total_currency, line_count FROM orders WHERE shop_id = ? "
              "AND status = ? ORDER BY created_at DESC, number DESC", ("shop-1", "placed"),
    ))
    assert "COVERING INDEX orders_shop_status_summary" in plan
    assert "TEMP B-TREE" not in plan


def test_a_claim_walks_the_due_mails_in_order_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sorting every pending mail for each claim made a claim's cost grow with
    # the queue behind it.
    statements: list[str] = []
    connect = SqliteDatabase._connect

    def traced(self: SqliteDatabase) -> sqlite3.Connection:
        conn = connect(self)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(SqliteDatabase, "_connect", traced)
    path = tmp_path / "fabcore.db"
    database = SqliteDatabase(path)
    seed(database)
    with database() as uow:
        uow.outbox.add_all([a.message(f"msg-{n}", order_id=None,
                                      created_at=a.T0 + timedelta(seconds=n))
                            for n in range(30)])
        uow.commit()
    with database() as uow:
        claimed = uow.outbox.claim(a.T0 + timedelta(hours=1), 10, a.T0 + timedelta(hours=2))
        uow.commit()
    database.close()
    assert [m.id for m in claimed] == [f"msg-{n}" for n in range(10)]
    claim = next(s for s in statements if s.startswith("UPDATE outbox SET attempts"))
    plan = " ".join(str(row) for row in _query(path, f"EXPLAIN QUERY PLAN {claim}"))
    assert "USING INDEX outbox_due" in plan
    assert "TEMP B-TREE" not in plan


def test_upgraded_schema_serves_customer_listing_from_its_index(v1_copy: Path) -> None:
    sql = ("EXPLAIN QUERY PLAN SELECT id FROM orders WHERE shop_id = ? AND customer_id = ? "
           "ORDER BY created_at DESC")
    before = " ".join(str(row) for row in _query(v1_copy, sql, ("shop-1", "cust-1")))
    SqliteDatabase(v1_copy).close()
    after = " ".join(str(row) for row in _query(v1_copy, sql, ("shop-1", "cust-1")))
    assert "orders_shop_customer_created" not in before
    assert "orders_shop_customer_created" in after


def test_new_file_gets_every_migration(tmp_path: Path) -> None:
    database = SqliteDatabase(tmp_path / "new.db", migrate=False)
    assert database.schema_version() == 0
    assert database.upgrade(target=1) == ["0001_initial"]
    assert database.upgrade() == ALL_MIGRATIONS[1:]
    assert database.upgrade() == []
    database.close()


def _open_into(opened: list[SqliteDatabase], path: Path, _thread: int) -> None:
    opened.append(SqliteDatabase(path))


def test_processes_starting_at_once_migrate_once(tmp_path: Path) -> None:
    # A new file each round: the race to switch a new file to WAL mode is
    # lost in about one round of twenty when the switch is not serialised.
    for round_ in range(50):
        path = tmp_path / f"shared-{round_}.db"
        opened: list[SqliteDatabase] = []
        assert run_threads(6, partial(_open_into, opened, path)) == []
        assert _query(path, "SELECT name FROM schema_migrations ORDER BY version") == [
            (name,) for name in ALL_MIGRATIONS
        ]
        for database in opened:
            database.close()


def test_a_database_opens_while_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    writing = SqliteDatabase(path)
    # The writer gate is an flock: held here, it blocks the second database as
    # another process's writer would.
    writing.writers.acquire()
    try:
        opened = SqliteDatabase(path, timeout=0.2)
        assert opened.schema_version() == len(ALL_MIGRATIONS)
        opened.close()
    finally:
        writing.writers.release()
        writing.close()


def test_database_from_a_newer_fabcore_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SqliteDatabase(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, '0099_future', 'x')")
    with pytest.raises(StorageError, match="newer"):
        SqliteDatabase(path)


def test_data_survives_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "fabcore.db"
    with SqliteDatabase(path) as first:
        seed(first)
    with SqliteDatabase(path) as second, second() as uow:
        assert uow.customers.get("cust-1") == a.customer()


@pytest.mark.parametrize(("synchronous", "level"), [("normal", 1), ("full", 2)])
def test_connections_use_wal_and_foreign_keys(
    tmp_path: Path, synchronous: Literal["normal", "full"], level: int
) -> None:
    with SqliteDatabase(tmp_path / "fabcore.db", synchronous=synchronous) as database:
        session = database.session()
        assert session.fetch("PRAGMA journal_mode") == [("wal",)]
        assert session.fetch("PRAGMA foreign_keys") == [(1,)]
        assert session.fetch("PRAGMA synchronous") == [(level,)]
        session.close()


def test_a_writer_waiting_too_long_gets_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "fabcore.db"
    with SqliteDatabase(path) as holder, SqliteDatabase(path, timeout=0.05) as impatient:
        seed(holder)
        with holder() as writing:
            writing.orders.add(a.order())
            with impatient() as uow, pytest.raises(StorageError, match="busy"):
                uow.orders.add(a.order("ord-2", number="2"))
            with impatient() as reader:
                assert reader.orders.list("shop-1") == []


def test_a_writer_outside_fabcore_holding_the_file_too_long_gives_storage_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fabcore.db"
    with SqliteDatabase(path, timeout=0.05) as impatient:
        seed(impatient)
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with impatient() as uow, pytest.raises(StorageError, match="busy") as caught:
                uow.orders.add(a.order("ord-2", number="2"))
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
            other.execute("ROLLBACK")
            with impatient() as uow:
                uow.orders.add(a.order("ord-2", number="2"))
                uow.commit()
        finally:
            other.close()


def test_writers_of_two_databases_on_one_file_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "fabcore.db"
    with SqliteDatabase(path) as first, SqliteDatabase(path) as second:
        seed(first)
        entered = threading.Event()
        with first() as writing:
            writing.orders.add(a.order())

            def write_second() -> None:
                entered.set()
                with second() as uow:
                    uow.orders.add(a.order("ord-2", number="2"))
                    uow.commit()

            worker = threading.Thread(target=write_second)
            worker.start()
            entered.wait()
            worker.join(0.2)
            assert worker.is_alive()  # queued behind the first writer
            writing.commit()
        worker.join(5)
        assert not worker.is_alive()
        with first() as reader:
            assert {o.id for o in reader.orders.list("shop-1")} == {"ord-1", "ord-2"}


def test_reference_to_a_missing_shop_is_not_found(tmp_path: Path) -> None:
    with SqliteDatabase(tmp_path / "fabcore.db") as database, database() as uow:
        with pytest.raises(NotFound) as caught:
            uow.orders.add(a.draft("o1", "1", shop_id="ghost", customer_id=None))
        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)


def test_unreadable_document_is_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "fabcore.db"
    with SqliteDatabase(path) as database:
        seed(database)
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE customers SET data = '{\"id\": 1}'")
        with database() as uow, pytest.raises(StorageError, match="cust-1"):
            uow.customers.get("cust-1")


@pytest.mark.parametrize(
    ("column", "value"),
    [("total_amount", "twelve"), ("total_amount", "NaN"), ("status", "lost"),
     ("payment_status", "maybe")],
)
def test_unreadable_summary_is_storage_error(tmp_path: Path, column: str, value: str) -> None:
    path = tmp_path / "fabcore.db"
    with SqliteDatabase(path) as database:
        seed(database)
        store(database, a.order())
        with sqlite3.connect(path) as conn:
            conn.execute(f"UPDATE orders SET {column} = ?", (value,))
        with database() as uow, pytest.raises(StorageError, match="shop 'shop-1'"):
            uow.orders.summaries("shop-1")


@pytest.mark.parametrize("path", ["", ":memory:", "file::memory:?cache=shared"])
def test_in_memory_paths_are_refused(path: str) -> None:
    with pytest.raises(ConfigurationError):
        SqliteDatabase(path)


def test_unopenable_file_is_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        SqliteDatabase(tmp_path / "missing-dir" / "fabcore.db")


def test_database_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = make_database("sqlite:///shop%20data.db")
    assert isinstance(relative, SqliteDatabase)
    assert relative.path == Path("shop data.db")
    assert (tmp_path / "shop data.db").exists()
    absolute = make_database(f"sqlite:///{tmp_path}/abs.db")
    assert isinstance(absolute, SqliteDatabase)
    assert absolute.path == tmp_path / "abs.db"
    for database in (relative, absolute):
        database.close()
    with pytest.raises(ConfigurationError):
        make_database("sqlite://somehost/fabcore.db")


def _queue_mails(database: SqliteDatabase, count: int, first: int = 0) -> None:
    """``count`` write transactions, one outbox message each."""
    for n in range(first, first + count):
        with database() as uow:
            uow.outbox.add(a.message(f"msg-{n}", order_id=None))
            uow.commit()


def test_the_log_is_checkpointed_every_so_many_commits_outside_the_writer_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's own checkpoint would sync the disk inside the commit that
    # fills the log, while every other writer waits at the gate.
    monkeypatch.setattr(sqlite_adapter, "CHECKPOINT_EVERY", 4)
    gate_free: list[bool] = []
    database: SqliteDatabase

    def watch(statement: str) -> None:
        if statement.startswith("PRAGMA wal_checkpoint"):
            free = database.writers._threads.acquire(blocking=False)
            if free:
                database.writers._threads.release()
            gate_free.append(free)

    connect = SqliteDatabase._connect

    def traced(self: SqliteDatabase) -> sqlite3.Connection:
        conn = connect(self)
        conn.set_trace_callback(watch)
        return conn

    monkeypatch.setattr(SqliteDatabase, "_connect", traced)
    database = SqliteDatabase(tmp_path / "fabcore.db")
    seed(database)
    with database() as uow:
        assert uow.outbox.count(a.message().status) == 0  # a read commits nothing
        uow.commit()
    _queue_mails(database, 10)
    database.close()
    assert _query(tmp_path / "fabcore.db", "PRAGMA wal_autocheckpoint") == [(1000,)]
    # The seed and ten mails: eleven writing commits, a checkpoint after the 4th and 8th.
    assert gate_free == [True, True]


def test_connections_leave_checkpoints_to_the_adapter(tmp_path: Path) -> None:
    with SqliteDatabase(tmp_path / "fabcore.db") as database, database() as uow:
        session = uow.session
        assert isinstance(session, sqlite_adapter._SqliteSession)
        assert session._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)


def test_checkpoints_keep_the_log_from_growing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_bytes = {}
    for every in (5, 10**9):
        monkeypatch.setattr(sqlite_adapter, "CHECKPOINT_EVERY", every)
        path = tmp_path / f"every-{every}.db"
        with SqliteDatabase(path) as database:
            seed(database)
            _queue_mails(database, 300)
            log_bytes[every] = Path(f"{path}-wal").stat().st_size
            with database() as uow:
                assert uow.outbox.count(a.message().status) == 300
    # Without them every page written stays in the log until the file is closed.
    assert log_bytes[5] * 5 < log_bytes[10**9]


def test_a_failed_checkpoint_is_logged_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Refusing:
        def execute(self, sql: str) -> sqlite3.Cursor:
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite_adapter, "CHECKPOINT_EVERY", 1)
    with SqliteDatabase(tmp_path / "fabcore.db") as database:
        database.committed(Refusing())  # type: ignore[arg-type]
    assert "checkpoint of" in caplog.text
    assert "disk I/O error" in caplog.text
