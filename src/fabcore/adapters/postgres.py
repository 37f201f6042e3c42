"""PostgreSQL storage for several app instances sharing one database (psycopg 3).

Install the extra: ``pip install 'fabcore[postgres]'``. ``PostgresDatabase(url)``
is the ``UnitOfWorkFactory``; it applies the migrations in
``migrations/postgres`` when it starts (see :meth:`PostgresDatabase.upgrade`).

Each unit of work borrows a connection from a ``psycopg_pool.ConnectionPool``
and runs one READ COMMITTED transaction on it, in as few round trips as it
can (see ``_PostgresSession``). An order's save updates only where the
version is the one loaded: a concurrent save waits for the other
transaction, then finds the version moved and raises
``ConcurrencyConflict``. The outbox's ``due`` locks the rows it returns with
``FOR UPDATE SKIP LOCKED``, so relays running at once never take the same
mail. Order numbers come from a counter row updated on a separate
autocommit connection, so a number is never handed out twice, even when the
unit of work that took it rolls back.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fabcore.adapters.sql import (
    SCHEMA_TABLE,
    DocumentCache,
    Row,
    Session,
    SqlDatabase,
    pending,
)
from fabcore.domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    ConfigurationError,
    FabcoreError,
    InvalidInput,
    NotFound,
    StorageError,
)

try:
    import psycopg
    from psycopg.pq import TransactionStatus
    from psycopg.types.string import TextLoader
    from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        "PostgreSQL storage needs psycopg 3 and psycopg-pool: pip install 'fabcore[postgres]'"
    ) from exc

__all__ = ["PostgresDatabase"]

_NEXT_NUMBER = (
    "INSERT INTO order_numbers (shop_id, last) VALUES (%s, 1) "
    "ON CONFLICT (shop_id) DO UPDATE SET last = order_numbers.last + 1 RETURNING last"
)
# pg_advisory_xact_lock key serialising schema upgrades: b"fabcore" as an integer.
_MIGRATION_LOCK = int.from_bytes(b"fabcore", "big")


@functools.lru_cache(maxsize=256)
def _pg(sql: str) -> str:
    """The shared ``?`` placeholders as psycopg's ``%s``."""
    return sql.replace("%", "%%").replace("?", "%s")


# What each PostgreSQL error means here: the error fabcore raises and a plain reason, to
# which the server's own message is appended. Looked up by SQLSTATE, then by its class
# (the first two characters), then by the driver's exception type for errors that never
# reached a server (a refused connection, the pool's timeout).
_ERRORS: dict[str | type[psycopg.Error], tuple[type[FabcoreError], str]] = {
    "23505": (AlreadyExists, "a row with the same key already exists"),
    "23503": (NotFound, "it refers to a shop, customer or order that does not exist"),
    "23": (StorageError, "PostgreSQL: a value breaks a rule of the schema"),
    "40001": (ConcurrencyConflict,
              "another transaction changed the same rows; nothing was written"),
    "40P01": (ConcurrencyConflict,
              "deadlock with another transaction; nothing was written"),
    "08": (StorageError, "PostgreSQL is unavailable: the connection failed"),
    # libpq reports a refused login without its SQLSTATE (the row of OperationalError
    # applies); this row is for a server or proxy that sends one.
    "28": (StorageError, "PostgreSQL refused the login: check the user and password"),
    "53100": (StorageError, "PostgreSQL's disk is full"),
    "53200": (StorageError, "PostgreSQL ran out of memory"),
    "53300": (StorageError, "PostgreSQL has no connection slot free (too many connections)"),
    "53": (StorageError, "PostgreSQL ran out of resources"),
    "57P01": (StorageError, "PostgreSQL is unavailable: the server is shutting down or an "
                            "administrator ended the connection"),
    "57P02": (StorageError, "PostgreSQL is unavailable: the server crashed"),
    "57P03": (StorageError, "PostgreSQL is unavailable: the server is starting up or "
                            "shutting down"),
    "57014": (StorageError, "PostgreSQL cancelled the statement (a statement timeout or an "
                            "operator)"),
    "42P01": (StorageError, "a table is missing: the database is not migrated "
                            "(fabcore db upgrade)"),
    "25006": (StorageError, "PostgreSQL takes no writes here (a read-only transaction or a "
                            "standby server)"),
    PoolTimeout: (StorageError, "no free PostgreSQL connection within the pool timeout "
                                "(every connection is in use, or the server cannot be reached)"),
    PoolClosed: (StorageError, "the PostgreSQL database has been closed"),
    psycopg.OperationalError: (StorageError, "PostgreSQL is unavailable"),
    psycopg.InterfaceError: (StorageError, "the PostgreSQL connection cannot be used"),
}
_OTHER: tuple[type[FabcoreError], str] = (StorageError, "PostgreSQL failed")


def _translate(exc: psycopg.Error) -> FabcoreError:
    """The one place where psycopg errors become fabcore's (see ``_ERRORS``)."""
    state = exc.sqlstate
    found = None
    if state:
        found = _ERRORS.get(state) or _ERRORS.get(state[:2])
    if found is None:
        found = next((_ERRORS[t] for t in type(exc).__mro__ if t in _ERRORS), _OTHER)
    cls, reason = found
    diag = getattr(exc, "diag", None)
    detail = " ".join((getattr(diag, "message_primary", None) or str(exc)).split())
    return cls(f"{reason}: {detail}" if detail else reason)


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Settings of every connection: times in UTC, JSON documents as text."""
    # Timestamps come back in UTC, without a conversion per value.
    conn.execute("SET TIME ZONE 'UTC'")
    if not conn.autocommit:
        conn.commit()
    # JSON documents come back as text: the converter parses them once.
    conn.adapters.register_loader("jsonb", TextLoader)
    conn.adapters.register_loader("json", TextLoader)


class _PostgresSession(Session):
    """One unit of work's connection (autocommit: the session begins its transactions).

    Round trips are what a unit of work waits for, so the ``BEGIN`` goes out
    with the first statement, and an order's update (``write_later``) with
    the next statement or the commit, each group in one pipeline: a status
    change takes three round trips (begin and read, update and queue its
    mails, commit). An update that changed no row is reported before the
    commit is sent, so nothing of that unit of work is written.
    """

    claim_clause = "FOR UPDATE SKIP LOCKED"
    delivery_patch = (
        "(data::jsonb || jsonb_build_object('status', ?::text, 'attempts', ?::int, "
        "'next_attempt_at', ?::text, 'last_error', ?::text, 'sent_at', ?::text, "
        "'lease_holder', ?::text))::json"
    )
    claim_patch = (
        "(data::jsonb || jsonb_build_object('attempts', attempts + 1, "
        "'next_attempt_at', ?::text, 'lease_holder', ?::text))::json"
    )
    identity_insert = "OVERRIDING SYSTEM VALUE"
    # The transaction that wrote the shop's row: a catalog is large, and turning it from
    # JSONB into text for every order read costs more than the round trip it saves.
    catalog_stamp = "s.xmin::text"

    def __init__(self, db: PostgresDatabase, conn: psycopg.Connection[Any]) -> None:
        super().__init__(db.documents)
        self._db = db
        self._conn = conn
        self._later: list[tuple[str, Sequence[object], Callable[[], None]]] = []

    def _run(self, sql: str | None, params: Sequence[object] = ()) -> psycopg.Cursor[Any] | None:
        """Run ``sql`` after what is held back, beginning the transaction when none is open."""
        conn = self._conn
        later, self._later = self._later, []
        begin = conn.info.transaction_status == TransactionStatus.IDLE and sql is not None
        try:
            if not (later or begin):
                return conn.execute(_pg(sql), params) if sql is not None else None
            with conn.pipeline():
                if begin:
                    conn.execute("BEGIN")
                held = [conn.execute(_pg(text), values) for text, values, _ in later]
                cursor = conn.execute(_pg(sql), params) if sql is not None else None
        except psycopg.Error as exc:
            raise _translate(exc) from exc
        for (_, _, missed), done in zip(later, held, strict=True):
            if not done.rowcount:
                missed()
        return cursor

    def _cursor(self, sql: str, params: Sequence[object]) -> psycopg.Cursor[Any]:
        cursor = self._run(sql, params)
        assert cursor is not None
        return cursor

    def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._cursor(sql, params).fetchall()

    def write(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._cursor(sql, params).rowcount

    def write_later(
        self, sql: str, params: Sequence[object], missed: Callable[[], None]
    ) -> None:
        if self._conn.info.transaction_status == TransactionStatus.IDLE:
            super().write_later(sql, params, missed)
            return
        self._later.append((sql, params, missed))

    def write_rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._cursor(sql, params).fetchall()

    def write_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._run(None)
        try:
            if self._conn.info.transaction_status == TransactionStatus.IDLE:
                self._conn.execute("BEGIN")
            with self._conn.cursor() as cursor:
                cursor.executemany(_pg(sql), rows)
        except psycopg.Error as exc:
            raise _translate(exc) from exc

    def table_names(self) -> set[str]:
        rows = self.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {str(row[0]) for row in rows}

    def column_names(self, table: str) -> list[str]:
        return [str(row[0]) for row in self.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )]

    def reset_identity(self, table: str, column: str) -> None:
        self.fetch(
            f"SELECT setval(pg_get_serial_sequence(?, ?), "
            f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)",
            (table, column),
        )

    def claim(self) -> None:
        """Rows are claimed by the lock clause of the query itself."""

    def next_number(self, shop_id: str) -> int:
        return self._db.next_number(shop_id)

    def timestamp(self, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput(f"naive datetime {value!r} cannot be stored; use UTC")
        return value

    def day(self, value: date) -> date:
        return value

    def amount(self, value: Decimal) -> Decimal:
        return value

    def moment(self, value: Any) -> datetime:
        moment: datetime = value if value.tzinfo is UTC else value.astimezone(UTC)
        return moment

    def _end(self, action: Callable[[], None]) -> None:
        try:
            action()
        except psycopg.Error as exc:
            raise _translate(exc) from exc

    def commit(self) -> None:
        self._run(None)
        self._end(self._conn.commit)

    def rollback(self) -> None:
        self._later.clear()
        if self._conn.info.transaction_status != TransactionStatus.IDLE:
            self._end(self._conn.rollback)

    def close(self) -> None:
        conn = self._conn
        try:
            # A connection that broke has reported it already; the pool replaces it.
            if not (conn.closed or conn.broken):
                self.rollback()
        except FabcoreError:
            conn.close()
            raise
        finally:
            self._db.pool.putconn(conn)


class PostgresDatabase(SqlDatabase):
    """Orders, customers, shops and the outbox in PostgreSQL (see the module docs).

    ``url`` is a libpq connection string or URL (``postgresql://user@host/db``).
    Connections come from a ``psycopg_pool.ConnectionPool`` of at most
    ``max_connections``: that many units of work run at once; another waits
    up to ``pool_timeout`` seconds for a connection, then gets
    ``StorageError``. A connection that broke is closed and replaced; an idle
    one is closed after ten minutes. With ``migrate=False`` the schema is used
    as it is and :meth:`upgrade` is left to the caller.
    """

    dialect = "postgres"

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 10,
        connect_timeout: float = 10.0,
        pool_timeout: float = 30.0,
        migrate: bool = True,
    ) -> None:
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be at least 1, got {max_connections}")
        self._url = url
        self._connect_timeout = max(1, round(connect_timeout))
        self.documents = DocumentCache()
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url, kwargs={"connect_timeout": self._connect_timeout, "autocommit": True},
            min_size=0,
            max_size=max_connections, timeout=pool_timeout, configure=_configure,
            name="fabcore", open=False,
        )
        self._numbers: psycopg.Connection[Any] | None = None
        self._numbers_lock = threading.Lock()
        if migrate:
            self.upgrade()
        self.pool.open()

    def __repr__(self) -> str:
        return "PostgresDatabase(...)"

    def _connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        """A connection of its own, outside the pool (migrations, order numbers)."""
        try:
            conn = psycopg.connect(self._url, autocommit=autocommit,
                                   connect_timeout=self._connect_timeout)
        except psycopg.Error as exc:
            raise _translate(exc) from exc
        try:
            _configure(conn)
        except psycopg.Error as exc:
            conn.close()
            raise _translate(exc) from exc
        return conn

    def session(self) -> Session:
        try:
            conn = self.pool.getconn()
        except psycopg.Error as exc:
            raise _translate(exc) from exc
        return _PostgresSession(self, conn)

    def next_number(self, shop_id: str) -> int:
        """The shop's next order number, committed at once on a connection of its own."""
        with self._numbers_lock:
            if self._numbers is None or self._numbers.closed or self._numbers.broken:
                self._numbers = self._connect(autocommit=True)
            try:
                row = self._numbers.execute(_NEXT_NUMBER, (shop_id,)).fetchone()
            except psycopg.Error as exc:
                self._numbers.close()
                self._numbers = None
                raise _translate(exc) from exc
        if row is None:
            raise StorageError(f"no order number for shop {shop_id!r}")
        return int(row[0])

    def close(self) -> None:
        self.pool.close()
        with self._numbers_lock:
            if self._numbers is not None:
                self._numbers.close()
                self._numbers = None

    def upgrade(self, target: int | None = None) -> list[str]:
        """Apply the migrations not yet recorded in the database, in order, in one transaction.

        Returns the names of those applied (empty when up to date); ``target``
        stops at that version. An advisory lock makes processes that start at
        once take turns: the first applies, the others then find nothing to do.
        """
        conn = self._connect()
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            applied = {row[0] for row in conn.execute(f"SELECT version FROM {SCHEMA_TABLE}")}
            todo = [
                m for m in pending(self.dialect, applied) if target is None or m.version <= target
            ]
            for migration in todo:
                conn.execute(migration.sql)
                conn.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            conn.commit()
            return [m.name for m in todo]
        except psycopg.Error as exc:
            raise _translate(exc) from exc
        finally:
            conn.close()

    def schema_version(self) -> int:
        """The highest migration recorded in the database (0 for an empty one)."""
        conn = self._connect(autocommit=True)
        try:
            exists = conn.execute("SELECT to_regclass(%s)", (SCHEMA_TABLE,)).fetchone()
            if exists is None or exists[0] is None:
                return 0
            row = conn.execute(f"SELECT MAX(version) FROM {SCHEMA_TABLE}").fetchone()
            return int(row[0] or 0) if row else 0
        except psycopg.Error as exc:
            raise _translate(exc) from exc
        finally:
            conn.close()
