"""PostgreSQL's errors become fabcore errors through one table, ``postgres._ERRORS``.

Each row is provoked on the test server where it can be: through the
adapter, whose error must carry the driver's as its cause. Rows no test can
provoke here (a full disk, a crash) are checked with the driver's own
exception class for that SQLSTATE, which is what psycopg raises for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from fabcore.adapters.postgres import _ERRORS, PostgresDatabase, _translate
from fabcore.adapters.sql import Session
from fabcore.domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    FabcoreError,
    NotFound,
    StorageError,
)
from fabcore.testing import aggregates as a
from fabcore.testing.repositories import seed
from postgres_server import recreate_database


@pytest.fixture
def database(postgres_url: str) -> Iterator[PostgresDatabase]:
    with PostgresDatabase(postgres_url, pool_timeout=5) as database:
        seed(database)
        yield database


def _cause(error: BaseException, sqlstate: str) -> None:
    assert isinstance(error.__cause__, psycopg.Error)
    assert error.__cause__.sqlstate == sqlstate


def _failing(database: PostgresDatabase, *statements: str) -> FabcoreError:
    """The error the last of ``statements``, run in one unit of work, raises."""
    session = database.session()
    try:
        for sql in statements[:-1]:
            session.write(sql)
        with pytest.raises(FabcoreError) as caught:
            session.write(statements[-1])
    finally:
        session.close()
    return caught.value


def _url(url: str, **changes: str) -> str:
    return make_conninfo("", **{**conninfo_to_dict(url), **changes})


def test_a_taken_key_is_already_exists(database: PostgresDatabase) -> None:
    error = _failing(database, "INSERT INTO shops (id, data, catalog) "
                               "SELECT id, data, catalog FROM shops")
    assert isinstance(error, AlreadyExists)
    _cause(error, "23505")


def test_a_missing_reference_is_not_found(database: PostgresDatabase) -> None:
    with database() as uow, pytest.raises(NotFound, match="does not exist") as caught:
        uow.orders.add(a.draft("o1", "1", shop_id="ghost", customer_id=None))
    _cause(caught.value, "23503")


def test_another_broken_rule_is_storage_error(database: PostgresDatabase) -> None:
    error = _failing(database, "INSERT INTO shops (id, data, catalog) VALUES ('s', NULL, NULL)")
    assert type(error) is StorageError
    assert "breaks a rule of the schema" in str(error)
    _cause(error, "23502")


def test_a_serialization_failure_is_a_conflict(
    database: PostgresDatabase, postgres_url: str
) -> None:
    session = database.session()
    try:
        session.write("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        session.fetch("SELECT data FROM shops WHERE id = 'shop-1'")
        with psycopg.connect(postgres_url, autocommit=True) as other:
            other.execute("UPDATE shops SET data = data WHERE id = 'shop-1'")
        with pytest.raises(ConcurrencyConflict, match="nothing was written") as caught:
            session.write("UPDATE shops SET data = data WHERE id = 'shop-1'")
    finally:
        session.close()
    _cause(caught.value, "40001")


def test_a_deadlock_is_a_conflict(database: PostgresDatabase) -> None:
    with database() as uow:
        uow.customers.add(a.customer("cust-2", email="grace@example.com"))
        uow.commit()
    first, second = database.session(), database.session()
    lock = "UPDATE customers SET data = data WHERE id = '{}'"
    caught: list[BaseException] = []

    def cross(session: Session, row: str) -> None:
        try:
            session.write(lock.format(row))
        except FabcoreError as exc:
            caught.append(exc)
            session.rollback()

    try:
        first.write(lock.format("cust-1"))
        second.write(lock.format("cust-2"))
        waiting = threading.Thread(target=cross, args=(first, "cust-2"))
        waiting.start()
        cross(second, "cust-1")
        waiting.join(timeout=30)
    finally:
        first.close()
        second.close()
    assert len(caught) == 1
    assert isinstance(caught[0], ConcurrencyConflict)
    _cause(caught[0], "40P01")


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"user": "nobody_here"}, 'role "nobody_here" does not exist'),
     ({"dbname": "fabcore_missing"}, 'database "fabcore_missing" does not exist')],
)
def test_a_refused_connection_is_unavailable(
    postgres_url: str, change: dict[str, str], reason: str
) -> None:
    # libpq gives no SQLSTATE for a refused connection: the driver's type decides.
    with pytest.raises(StorageError, match=r"^PostgreSQL is unavailable: ") as caught:
        PostgresDatabase(_url(postgres_url, **change), connect_timeout=5)
    assert reason in str(caught.value)
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert caught.value.__cause__.sqlstate is None


def test_an_ended_connection_is_storage_error_and_is_replaced(
    database: PostgresDatabase, postgres_url: str
) -> None:
    session = database.session()
    pid = session.fetch("SELECT pg_backend_pid()")[0][0]

    def end_it() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            while not admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid = %s AND query LIKE '%%pg_sleep%%'", (pid,)
            ).fetchall():
                admin.execute("SELECT pg_sleep(0.01)")

    ender = threading.Thread(target=end_it)
    ender.start()
    try:
        with pytest.raises(StorageError, match="an administrator ended") as caught:
            session.fetch("SELECT pg_sleep(30)")
    finally:
        ender.join(timeout=30)
        session.close()
    _cause(caught.value, "57P01")
    with database() as uow:
        assert uow.shops.get("shop-1") == a.shop()


def test_a_connection_ended_while_idle_is_unavailable(
    database: PostgresDatabase, postgres_url: str
) -> None:
    session = database.session()
    pid = session.fetch("SELECT pg_backend_pid()")[0][0]
    session.close()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with database() as uow, pytest.raises(StorageError, match="unavailable"):
        uow.shops.get("shop-1")
    with database() as uow:
        assert uow.shops.get("shop-1") == a.shop()


def test_a_cancelled_statement_is_storage_error(database: PostgresDatabase) -> None:
    session = database.session()
    try:
        session.write("SET LOCAL statement_timeout = 1")
        with pytest.raises(StorageError, match="cancelled the statement") as caught:
            session.fetch("SELECT pg_sleep(1)")
    finally:
        session.close()
    _cause(caught.value, "57014")


def test_a_database_not_migrated_is_storage_error(postgres_server: str) -> None:
    url = recreate_database(postgres_server, "fabcore_error_tests")
    with PostgresDatabase(url, migrate=False) as database, database() as uow, \
            pytest.raises(StorageError, match="not migrated") as caught:
        uow.orders.get("ord-1")
    _cause(caught.value, "42P01")


def test_a_read_only_transaction_is_storage_error(database: PostgresDatabase) -> None:
    error = _failing(database, "SET TRANSACTION READ ONLY",
                     "UPDATE shops SET data = data")
    assert type(error) is StorageError
    assert "takes no writes" in str(error)
    _cause(error, "25006")


def test_a_closed_database_is_storage_error(postgres_url: str) -> None:
    database = PostgresDatabase(postgres_url)
    database.close()
    with pytest.raises(StorageError, match="has been closed"), database() as uow:
        uow.shops.get("shop-1")


@pytest.mark.parametrize(
    ("sqlstate", "reason"),
    [
        ("53100", "disk is full"),
        ("53200", "ran out of memory"),
        ("53000", "ran out of resources"),
        ("57P01", "shutting down or an administrator ended the connection"),
        ("57P02", "the server crashed"),
        ("57P03", "starting up or shutting down"),
        ("08006", "the connection failed"),
        ("28P01", "refused the login"),
        ("53300", "no connection slot free"),
    ],
)
def test_rows_no_test_can_provoke(sqlstate: str, reason: str) -> None:
    error = _translate(errors.lookup(sqlstate)("server text"))
    assert type(error) is StorageError
    assert reason in str(error)
    assert str(error).endswith(": server text")


def test_errors_that_never_reached_a_server() -> None:
    refused = _translate(psycopg.OperationalError("connection refused"))
    assert str(refused) == "PostgreSQL is unavailable: connection refused"
    misuse = _translate(psycopg.InterfaceError("the cursor is closed"))
    assert type(misuse) is StorageError
    assert "cannot be used" in str(misuse)
    other = _translate(psycopg.DataError("bad value"))
    assert str(other) == "PostgreSQL failed: bad value"


def test_every_row_names_a_fabcore_error() -> None:
    for key, (cls, reason) in _ERRORS.items():
        assert issubclass(cls, FabcoreError), key
        assert reason, key
