"""SQLite's result codes become fabcore errors through one table, ``sqlite._ERRORS``.

Each row is provoked for real where SQLite can be made to fail on this
machine: through the adapter where a unit of work reaches it, else on a
plain ``sqlite3`` connection whose error is handed to the table. Rows no
test can provoke (I/O errors, permissions, memory) are checked with an error
carrying the code, as the driver sets it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from fabcore.adapters.sqlite import _ERRORS, SqliteDatabase, _translate
from fabcore.domain.errors import AlreadyExists, FabcoreError, NotFound, StorageError
from fabcore.testing import aggregates as a
from fabcore.testing.repositories import seed, store


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "fabcore.db"


@pytest.fixture
def database(path: Path) -> Iterator[SqliteDatabase]:
    with SqliteDatabase(path) as database:
        seed(database)
        yield database


def _failing(database: SqliteDatabase, sql: str, params: tuple[object, ...] = ()) -> FabcoreError:
    """The error a unit of work's write of ``sql`` raises; its cause is the driver's."""
    session = database.session()
    try:
        with pytest.raises(FabcoreError) as caught:
            session.write(sql, params)
    finally:
        session.close()
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    return caught.value


def _code(exc: BaseException | None) -> int:
    assert isinstance(exc, sqlite3.Error)
    code: int = exc.sqlite_errorcode
    return code


def test_a_missing_reference_is_not_found(database: SqliteDatabase) -> None:
    with database() as uow, pytest.raises(NotFound, match="does not exist") as caught:
        uow.orders.add(a.draft("o1", "1", shop_id="ghost", customer_id=None))
    assert _code(caught.value.__cause__) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY


def test_a_taken_primary_key_is_already_exists(database: SqliteDatabase) -> None:
    error = _failing(database, "INSERT INTO shops (id, data, catalog) VALUES ('shop-1', '', '')")
    assert isinstance(error, AlreadyExists)
    assert _code(error.__cause__) == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY


def test_a_taken_unique_value_is_already_exists(database: SqliteDatabase) -> None:
    error = _failing(
        database,
        "INSERT INTO customers (id, shop_id, email_lower, data) "
        "SELECT 'cust-2', shop_id, email_lower, data FROM customers WHERE id = 'cust-1'",
    )
    assert isinstance(error, AlreadyExists)
    assert "same key" in str(error)
    assert _code(error.__cause__) == sqlite3.SQLITE_CONSTRAINT_UNIQUE


def test_another_broken_rule_of_the_schema_is_storage_error(database: SqliteDatabase) -> None:
    error = _failing(database, "INSERT INTO shops (id, data, catalog) VALUES ('s2', NULL, '')")
    assert type(error) is StorageError
    assert "breaks a rule of the schema" in str(error)
    assert _code(error.__cause__) == sqlite3.SQLITE_CONSTRAINT_NOTNULL


def test_a_writer_queued_too_long_behind_another_is_busy(
    path: Path, database: SqliteDatabase
) -> None:
    # Writers of fabcore queue in the writer gate: the wait ends there, before SQLite.
    with SqliteDatabase(path, timeout=0.01) as impatient, database() as holder:
        holder.orders.add(a.order())
        with impatient() as uow, pytest.raises(StorageError, match="busy") as caught:
            uow.orders.add(a.order("ord-2", number="2"))
    assert str(path) in str(caught.value)


def test_a_writer_held_up_by_another_program_is_busy(path: Path, database: SqliteDatabase) -> None:
    # Another program writing the file does not take the gate: SQLite's busy timeout answers.
    other = sqlite3.connect(path, isolation_level=None)
    try:
        with SqliteDatabase(path, timeout=0.01) as impatient:
            other.execute("BEGIN IMMEDIATE")
            with impatient() as uow, pytest.raises(StorageError, match="busy") as caught:
                uow.orders.add(a.order("ord-2", number="2"))
    finally:
        other.close()
    assert _code(caught.value.__cause__) & 0xFF == sqlite3.SQLITE_BUSY


def test_a_missing_folder_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open SQLite database") as caught:
        SqliteDatabase(tmp_path / "missing" / "fabcore.db")
    assert _code(caught.value.__cause__) & 0xFF == sqlite3.SQLITE_CANTOPEN


def test_a_file_that_is_not_a_database_is_storage_error(path: Path) -> None:
    path.write_bytes(b"not a database at all " * 100)
    with pytest.raises(StorageError, match="is not a SQLite database") as caught:
        SqliteDatabase(path)
    assert _code(caught.value.__cause__) == sqlite3.SQLITE_NOTADB


def test_a_damaged_file_is_storage_error(path: Path) -> None:
    with SqliteDatabase(path) as database:
        seed(database)
        for i in range(40):
            store(database, a.order(f"ord-{i}", number=str(i)))
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[page:] = b"\xa5" * (len(data) - page)
    path.write_bytes(bytes(data))
    # Reported when the file is opened or at its first read, whichever meets the damage.
    with pytest.raises(StorageError, match="is damaged") as caught, \
            SqliteDatabase(path, migrate=False) as database, database() as uow:
        uow.orders.list("shop-1")
    assert _code(caught.value.__cause__) & 0xFF == sqlite3.SQLITE_CORRUPT


def test_a_full_disk_is_storage_error(database: SqliteDatabase) -> None:
    # SQLite answers a write past max_page_count as it answers a full disk.
    session = database.session()
    try:
        pages = session.fetch("PRAGMA page_count")[0][0]
        session.fetch(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StorageError, match="the disk is full") as caught:
            session.write("INSERT INTO shops (id, data, catalog) VALUES ('big', ?, '')",
                          ("x" * 200_000,))
    finally:
        session.close()
    assert _code(caught.value.__cause__) == sqlite3.SQLITE_FULL


def test_a_read_only_file_is_storage_error(path: Path, database: SqliteDatabase) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.Error) as raised:
            conn.execute("DELETE FROM orders")
    finally:
        conn.close()
    error = _translate(raised.value, path, 1.0)
    assert type(error) is StorageError
    assert f"{path} is read-only" in str(error)


def test_a_table_locked_by_the_same_connection_is_storage_error(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(3)])
        reading = conn.execute("SELECT x FROM t")
        reading.fetchone()
        with pytest.raises(sqlite3.Error) as raised:
            conn.execute("DROP TABLE t")
    finally:
        conn.close()
    assert raised.value.sqlite_errorcode == sqlite3.SQLITE_LOCKED
    error = _translate(raised.value, path, 1.0)
    assert type(error) is StorageError
    assert "locked" in str(error)


def _with_code(code: int, message: str) -> sqlite3.Error:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (sqlite3.SQLITE_IOERR_WRITE, "failed to read or write the file"),
        (sqlite3.SQLITE_IOERR_FSYNC, "failed to read or write the file"),
        (sqlite3.SQLITE_PERM, "access denied"),
        (sqlite3.SQLITE_NOMEM, "ran out of memory"),
        (sqlite3.SQLITE_READONLY_DBMOVED, "is read-only"),
    ],
)
def test_rows_no_test_can_provoke(code: int, reason: str) -> None:
    error = _translate(_with_code(code, "driver text"), "/data/shop.db", 1.0)
    assert type(error) is StorageError
    assert reason in str(error)
    assert str(error).endswith("(driver text)")


def test_an_error_without_a_code_is_storage_error() -> None:
    error = _translate(sqlite3.ProgrammingError("Cannot operate on a closed database."),
                       "/data/shop.db", 1.0)
    assert type(error) is StorageError
    assert str(error) == ("SQLite database /data/shop.db failed "
                          "(Cannot operate on a closed database.)")


def test_every_row_names_a_fabcore_error_and_a_reason() -> None:
    for code, (cls, reason) in _ERRORS.items():
        assert issubclass(cls, FabcoreError), code
        assert reason.format(path="p", timeout=1.0), code
