"""PostgreSQL storage for several app instances sharing one database (psycopg 3).

Install the extra: ``pip install 'fabcore[postgres]'``. ``PostgresDatabase(url)``
is the ``UnitOfWorkFactory``; it applies the migrations in
``migrations/postgres`` when it starts (see :meth:`PostgresDatabase.upgrade`).

Each unit of work borrows a connection from a small pool and runs one READ
COMMITTED transaction on it. An order's save updates only where the version
is the one loaded: a concurrent save waits for the other transaction, then
finds the version moved and raises ``ConcurrencyConflict``. The outbox's
``due`` locks the rows it returns with ``FOR UPDATE SKIP LOCKED``, so relays
running at once never take the same mail. Order numbers come from a
counter row updated on a separate autocommit connection, so a number is
never handed out twice, even when the unit of work that took it rolls back.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fabcore.adapters.sql import (
    SCHEMA_TABLE,
    CatalogCache,
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
    from psycopg import errors
    from psycopg.types.string import TextLoader
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        "PostgreSQL storage needs psycopg 3: pip install 'fabcore[postgres]'"
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


def _translate(exc: psycopg.Error) -> FabcoreError:
    """The one place where psycopg errors become fabcore's."""
    diag = getattr(exc, "diag", None)
    detail = (getattr(diag, "message_primary", None) or str(exc)).strip()
    if isinstance(exc, errors.UniqueViolation):
        return AlreadyExists(detail)
    if isinstance(exc, errors.ForeignKeyViolation):
        return NotFound(f"{detail}: it refers to a shop, customer or order that does not exist")
    if isinstance(exc, errors.SerializationFailure | errors.DeadlockDetected):
        return ConcurrencyConflict(f"{detail}; nothing was written")
    if isinstance(exc, errors.OperationalError):
        return StorageError(f"PostgreSQL is unavailable or failed: {detail}")
    return StorageError(f"PostgreSQL: {detail}")


class _Pool:
    """A fixed-size, thread-safe pool of connections, opened when first needed."""

    def __init__(
        self, connect: Callable[[], psycopg.Connection[Any]], size: int, timeout: float
    ) -> None:
        self._connect = connect
        self._size = size
        self._timeout = timeout
        self._idle: list[psycopg.Connection[Any]] = []
        self._open = 0
        self._cond = threading.Condition()

    def get(self) -> psycopg.Connection[Any]:
        deadline = time.monotonic() + self._timeout
        with self._cond:
            while not self._idle and self._open >= self._size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StorageError(
                        f"no free PostgreSQL connection within {self._timeout:g} s "
                        f"(pool of {self._size})"
                    )
                self._cond.wait(remaining)
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self._connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def put(self, conn: psycopg.Connection[Any], reusable: bool) -> None:
        if reusable and not conn.closed and not conn.broken:
            with self._cond:
                self._idle.append(conn)
                self._cond.notify()
            return
        conn.close()
        with self._cond:
            self._open -= 1
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            conn.close()


class _PostgresSession(Session):
    claim_clause = "FOR UPDATE SKIP LOCKED"
    identity_insert = "OVERRIDING SYSTEM VALUE"

    def __init__(self, db: PostgresDatabase, conn: psycopg.Connection[Any]) -> None:
        super().__init__(db.catalogs)
        self._db = db
        self._conn = conn

    def _run(self, sql: str, params: Sequence[object]) -> psycopg.Cursor[Any]:
        try:
            return self._conn.execute(_pg(sql), params)
        except psycopg.Error as exc:
            raise _translate(exc) from exc

    def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._run(sql, params).fetchall()

    def write(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._run(sql, params).rowcount

    def write_rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        try:
            return self._run(sql, params).fetchall()
        except psycopg.Error as exc:
            raise _translate(exc) from exc

    def write_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        try:
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
        self._end(self._conn.commit)

    def rollback(self) -> None:
        self._end(self._conn.rollback)

    def close(self) -> None:
        try:
            self.rollback()
        except FabcoreError:
            self._db.pool.put(self._conn, reusable=False)
            raise
        self._db.pool.put(self._conn, reusable=True)


class PostgresDatabase(SqlDatabase):
    """Orders, customers, shops and the outbox in PostgreSQL (see the module docs).

    ``url`` is a libpq connection string or URL (``postgresql://user@host/db``).
    At most ``max_connections`` units of work run at once; another waits up
    to ``pool_timeout`` seconds for a connection, then gets ``StorageError``.
    With ``migrate=False`` the schema is used as it is and :meth:`upgrade`
    is left to the caller.
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
        self._connect_timeout = connect_timeout
        self.catalogs = CatalogCache()
        self.pool = _Pool(self._connect, max_connections, pool_timeout)
        self._numbers: psycopg.Connection[Any] | None = None
        self._numbers_lock = threading.Lock()
        if migrate:
            self.upgrade()

    def __repr__(self) -> str:
        return "PostgresDatabase(...)"

    def _connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(
                self._url, autocommit=autocommit,
                connect_timeout=max(1, round(self._connect_timeout)),
            )
        except psycopg.Error as exc:
            raise _translate(exc) from exc
        try:
            # Timestamps come back in UTC, without a conversion per value.
            conn.execute("SET TIME ZONE 'UTC'")
            if not autocommit:
                conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise _translate(exc) from exc
        # JSON documents come back as text: the converter parses them once.
        conn.adapters.register_loader("jsonb", TextLoader)
        conn.adapters.register_loader("json", TextLoader)
        return conn

    def session(self) -> Session:
        return _PostgresSession(self, self.pool.get())

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
