"""SQLite storage, the embedded default (stdlib ``sqlite3``).

``SqliteDatabase(path)`` is the ``UnitOfWorkFactory``; it applies the
migrations in ``migrations/sqlite`` when it opens the file (see
:meth:`SqliteDatabase.upgrade`). The file is in WAL mode, with foreign keys
on. Connections are pooled: a unit of work takes one when it first touches
the database and gives it back when its block ends, so threads never share
a connection while it is in use.

Transactions: reads run outside a transaction, each seeing the latest
commit. The first write of a unit of work issues ``BEGIN IMMEDIATE``, which
waits (up to ``timeout`` seconds) for the one writer SQLite allows and keeps
the write lock until commit or rollback. Taking the lock at the first write
rather than on entering the block keeps read-only units of work (listing,
showing) from queueing behind writers, and avoids the deferred
transaction's failure when upgrading a stale read snapshot to a write; what
was read before the lock is guarded by the orders' version check. The
outbox's ``due`` takes the write lock before it selects, so relays take
turns claiming mails. A writer that waits longer than ``timeout`` gets
``StorageError``.

Writers queue in :class:`WriterGate` before ``BEGIN IMMEDIATE``: SQLite's
own wait for the lock is a sleep with back-off (1, 2, 5, ... up to 100 ms
between tries), so under load a waiting writer sleeps on long after the
lock came free and the latest arrival often wins. The gate hands the lock
on at once to the thread that waits in this process, and between processes
through an advisory lock on a side file (``<database>-writer``).
"""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from fabcore.adapters.sql import (
    SCHEMA_TABLE,
    DocumentCache,
    Row,
    Session,
    SqlDatabase,
    pending,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: threads queue, processes poll
    fcntl = None  # type: ignore[assignment]

from fabcore.domain.errors import (
    AlreadyExists,
    ConfigurationError,
    FabcoreError,
    InvalidInput,
    NotFound,
    StorageError,
)

__all__ = ["CHECKPOINT_EVERY", "SqliteDatabase"]

log = logging.getLogger(__name__)

#: Write transactions of one :class:`SqliteDatabase` between two checkpoints of
#: the log into the file: a status change with its mails writes about ten
#: pages, so the log stays near SQLite's own default of 1,000.
CHECKPOINT_EVERY = 100

_NEXT_NUMBER = (
    "INSERT INTO order_numbers (shop_id, last) VALUES (?, 1) "
    "ON CONFLICT (shop_id) DO UPDATE SET last = order_numbers.last + 1 RETURNING last"
)
# Numbers handed out inside a rolled-back transaction stay used.
_KEEP_NUMBER = (
    "INSERT INTO order_numbers (shop_id, last) VALUES (?, ?) "
    "ON CONFLICT (shop_id) DO UPDATE SET last = MAX(order_numbers.last, excluded.last)"
)


def utc_text(value: datetime) -> str:
    """A fixed-width UTC text form of ``value`` that sorts like the times it stands for."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"naive datetime {value!r} cannot be stored; use UTC")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# What each SQLite result code means here: the error fabcore raises and a plain reason
# ({path} and {timeout} are filled in). The extended code (``sqlite_errorcode``) is looked
# up first, then its primary code (the low byte); the driver's text is appended.
_ERRORS: dict[int, tuple[type[FabcoreError], str]] = {
    sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: (
        NotFound, "it refers to a shop, customer or order that does not exist"),
    sqlite3.SQLITE_CONSTRAINT_UNIQUE: (AlreadyExists, "a row with the same key already exists"),
    sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY: (
        AlreadyExists, "a row with the same key already exists"),
    sqlite3.SQLITE_CONSTRAINT: (StorageError, "SQLite database {path}: a value breaks a rule "
                                              "of the schema"),
    sqlite3.SQLITE_BUSY: (StorageError, "SQLite database {path} is busy: another writer held "
                                        "it for more than {timeout:g} s"),
    sqlite3.SQLITE_LOCKED: (StorageError, "SQLite database {path}: a table is locked by "
                                          "another statement on the same connection"),
    sqlite3.SQLITE_CANTOPEN: (StorageError, "cannot open SQLite database {path}: the file or "
                                            "its folder is missing or not accessible"),
    sqlite3.SQLITE_READONLY: (StorageError, "SQLite database {path} is read-only: check the "
                                            "permissions of the file and its folder"),
    sqlite3.SQLITE_PERM: (StorageError, "SQLite database {path}: access denied"),
    sqlite3.SQLITE_FULL: (StorageError, "SQLite database {path}: the disk is full"),
    sqlite3.SQLITE_IOERR: (StorageError, "SQLite database {path}: the operating system "
                                         "failed to read or write the file"),
    sqlite3.SQLITE_CORRUPT: (StorageError, "SQLite database {path} is damaged; restore it "
                                           "from a backup"),
    sqlite3.SQLITE_NOTADB: (StorageError, "{path} is not a SQLite database"),
    sqlite3.SQLITE_NOMEM: (StorageError, "SQLite ran out of memory"),
}
# Errors without a result code (a closed connection, a value the driver cannot bind).
_OTHER: tuple[type[FabcoreError], str] = (StorageError, "SQLite database {path} failed")


def _translate(exc: sqlite3.Error, path: os.PathLike[str] | str, timeout: float) -> FabcoreError:
    """The one place where ``sqlite3`` errors become fabcore's (see ``_ERRORS``)."""
    code = getattr(exc, "sqlite_errorcode", None)
    found = None
    if isinstance(code, int):
        found = _ERRORS.get(code) or _ERRORS.get(code & 0xFF)
    cls, reason = found or _OTHER
    return cls(f"{reason.format(path=os.fspath(path), timeout=timeout)} ({exc})")


def _statements(script: str) -> list[str]:
    """Split a migration into statements (``executescript`` would commit on its own)."""
    found: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            found.append(buffer.strip())
            buffer = ""
    if any(line.strip() and not line.strip().startswith("--") for line in buffer.splitlines()):
        raise StorageError(f"unterminated SQL statement in a migration: {buffer.strip()[:80]}")
    return found


class WriterGate:
    """One writing transaction at a time per database file, handed on without polling SQLite.

    Threads of a process queue on a lock; the process holding it then takes
    an exclusive ``flock`` on ``<database>-writer`` (other processes using
    the file do the same), so SQLite's ``BEGIN IMMEDIATE`` seldom has to wait.
    ``acquire`` gives up after ``timeout`` seconds with ``StorageError``.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        self._path = path
        self._timeout = timeout
        self._threads = threading.Lock()
        self._fd: int | None = None
        if fcntl is not None:
            try:
                self._fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                                   0o600)
            except OSError as exc:
                raise StorageError(f"cannot open the writer lock of {path}: {exc}") from exc

    def acquire(self) -> None:
        deadline = time.monotonic() + self._timeout
        if not self._threads.acquire(timeout=self._timeout):
            raise StorageError(self._busy())
        if self._fd is None or fcntl is None:
            return
        pause = 0.0001
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._threads.release()
                    raise StorageError(self._busy()) from None
            except OSError as exc:
                self._threads.release()
                raise StorageError(f"writer lock: {exc}") from exc
            # The other process commits within milliseconds: look again soon.
            time.sleep(pause)
            pause = min(pause * 2, 0.002)

    def release(self) -> None:
        if self._fd is not None and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _busy(self) -> str:
        return (f"SQLite database {self._path} is busy: another writer held it for more "
                f"than {self._timeout:g} s")


class _SqliteSession(Session):
    def __init__(self, db: SqliteDatabase, conn: sqlite3.Connection) -> None:
        super().__init__(db.documents)
        self._db = db
        self._conn = conn
        self._kept_numbers: dict[str, int] = {}
        self._gated = False
        self._later: list[tuple[str, Sequence[object], Callable[[], None]]] = []

    def _run(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise _translate(exc, self._db.path, self._db.timeout) from exc

    def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        self._flush()
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc, self._db.path, self._db.timeout) from exc

    def _begin(self) -> None:
        if self._conn.in_transaction:
            return
        if not self._gated:
            self._db.writers.acquire()
            self._gated = True
        try:
            self._run("BEGIN IMMEDIATE")
        except BaseException:
            self._let_go()
            raise

    def _let_go(self) -> None:
        if self._gated:
            self._gated = False
            self._db.writers.release()

    def write_later(
        self, sql: str, params: Sequence[object], missed: Callable[[], None]
    ) -> None:
        # Held until the next statement or the commit, so what the caller prepares
        # meanwhile (the mails of a status change) is done before the write lock
        # is taken rather than while every other writer waits for it.
        self._later.append((sql, params, missed))

    def _flush(self) -> None:
        while self._later:
            sql, params, missed = self._later.pop(0)
            self._begin()
            if not self._run(sql, params).rowcount:
                self._later.clear()
                missed()

    def write(self, sql: str, params: Sequence[object] = ()) -> int:
        self._flush()
        self._begin()
        return self._run(sql, params).rowcount

    def write_rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        self._flush()
        self._begin()
        try:
            return self._run(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc, self._db.path, self._db.timeout) from exc

    def write_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._flush()
        self._begin()
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise _translate(exc, self._db.path, self._db.timeout) from exc

    def table_names(self) -> set[str]:
        rows = self.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return {str(row[0]) for row in rows}

    def column_names(self, table: str) -> list[str]:
        return [str(row[0]) for row in self.fetch(
            "SELECT name FROM pragma_table_info(?) ORDER BY cid", (table,)
        )]

    def reset_identity(self, table: str, column: str) -> None:
        """SQLite gives the next row the largest rowid plus one anyway."""

    def claim(self) -> None:
        self._flush()
        self._begin()

    def next_number(self, shop_id: str) -> int:
        # Outside a transaction the statement commits on its own at once.
        writing = self._conn.in_transaction
        number = int(self.fetch(_NEXT_NUMBER, (shop_id,))[0][0])
        if writing:
            self._kept_numbers[shop_id] = max(number, self._kept_numbers.get(shop_id, 0))
        return number

    def timestamp(self, value: datetime) -> str:
        return utc_text(value)

    def day(self, value: date) -> str:
        return value.isoformat()

    def amount(self, value: Decimal) -> str:
        return str(value)

    def moment(self, value: Any) -> datetime:
        return datetime.fromisoformat(value)

    def commit(self) -> None:
        self._flush()
        wrote = self._conn.in_transaction
        if wrote:
            self._run("COMMIT")
        self._let_go()
        self._kept_numbers.clear()
        if wrote:
            self._db.committed(self._conn)

    def rollback(self) -> None:
        self._later.clear()
        try:
            if self._conn.in_transaction:
                self._run("ROLLBACK")
        finally:
            self._let_go()
        kept, self._kept_numbers = self._kept_numbers, {}
        for shop_id, number in kept.items():
            self._run(_KEEP_NUMBER, (shop_id, number))

    def close(self) -> None:
        try:
            self.rollback()
        except FabcoreError:
            self._db.discard(self._conn)
            raise
        self._db.release(self._conn)


class SqliteDatabase(SqlDatabase):
    """Orders, customers, shops and the outbox in one SQLite file (see the module docs).

    ``synchronous`` is SQLite's setting. ``"normal"`` (the default, SQLite's
    advice for WAL mode) never corrupts the file and loses nothing when the
    process crashes, but a power cut or operating-system crash may lose the
    last commits. ``"full"`` syncs the log to disk at every commit, so those
    survive too, at the price of one disk sync per commit. With
    ``migrate=False`` the file is used as it is and :meth:`upgrade` is left
    to the caller.
    """

    dialect = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        synchronous: Literal["full", "normal"] = "normal",
        migrate: bool = True,
    ) -> None:
        text = os.fspath(path)
        if not text or text == ":memory:" or text.startswith("file:"):
            raise ConfigurationError(
                f"SQLite needs a file path, got {text!r} (use memory:// for an in-memory store)"
            )
        if synchronous not in ("full", "normal"):
            raise ConfigurationError(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
        self.path = Path(text)
        self.timeout = timeout
        self._synchronous = synchronous
        self.documents = DocumentCache()
        self._commits = itertools.count(1)
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._connect()
        try:
            self.writers = WriterGate(self.path, timeout)
        except StorageError:
            conn.close()
            raise
        try:
            self._switch_to_wal(conn)
        except StorageError:
            conn.close()
            self.writers.close()
            raise
        self._idle.append(conn)
        if migrate:
            self.upgrade()

    def __repr__(self) -> str:
        return f"SqliteDatabase({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise _translate(exc, self.path, self.timeout) from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA synchronous = {self._synchronous.upper()}")
            # Checkpoints are taken by :meth:`committed`, outside the writer gate.
            conn.execute("PRAGMA wal_autocheckpoint = 0")
        except sqlite3.Error as exc:
            conn.close()
            raise _translate(exc, self.path, self.timeout) from exc
        return conn

    def _switch_to_wal(self, conn: sqlite3.Connection) -> None:
        """Put the file in WAL mode (a no-op once it is).

        The switch is made holding the writer gate: two connections switching
        a new file at once would each hold a shared lock and wait for the
        other's, and SQLite answers that deadlock with "database is locked"
        at once, without waiting out the timeout.
        """
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()
            if mode is not None and str(mode[0]).lower() == "wal":
                return
            self.writers.acquire()
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            finally:
                self.writers.release()
        except sqlite3.Error as exc:
            raise _translate(exc, self.path, self.timeout) from exc
        if mode is None or str(mode[0]).lower() != "wal":
            raise StorageError(f"{self.path}: cannot switch the database to WAL mode")

    def committed(self, conn: sqlite3.Connection) -> None:
        """Count a write transaction; every :data:`CHECKPOINT_EVERY` th, checkpoint the log.

        SQLite's own checkpoint runs inside the commit that fills the log,
        and its disk syncs would hold the writer gate, stalling every other
        writer for them. This one runs after the gate is let go, in the
        committing thread, as a passive checkpoint (never waiting for readers
        or writers). Its failure loses nothing (the commit is done, the next
        checkpoint takes the same frames), so it is logged, not raised.
        """
        if next(self._commits) % CHECKPOINT_EVERY:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            log.warning("checkpoint of %s failed, the next one will try again: %s",
                        self.path, exc)

    def session(self) -> Session:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        return _SqliteSession(self, conn if conn is not None else self._connect())

    def release(self, conn: sqlite3.Connection) -> None:
        """Take back a connection whose transaction has ended."""
        with self._lock:
            self._idle.append(conn)

    def discard(self, conn: sqlite3.Connection) -> None:
        """Close a connection left in an unknown state."""
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        self.writers.close()

    def upgrade(self, target: int | None = None) -> list[str]:
        """Apply the migrations not yet recorded in the file, in order, in one transaction.

        Returns the names of those applied (empty when up to date); ``target``
        stops at that version. Several processes may start at once:
        ``BEGIN IMMEDIATE`` lets one apply them while the others wait, then
        find nothing left to do.
        """
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied = {row[0] for row in conn.execute(f"SELECT version FROM {SCHEMA_TABLE}")}
            todo = [
                m for m in pending(self.dialect, applied) if target is None or m.version <= target
            ]
            for migration in todo:
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, utc_text(datetime.now(UTC))),
                )
            conn.execute("COMMIT")
            return [m.name for m in todo]
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _translate(exc, self.path, self.timeout) from exc
        finally:
            conn.close()

    def schema_version(self) -> int:
        """The highest migration recorded in the file (0 for a new file)."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        conn = conn or self._connect()
        try:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SCHEMA_TABLE,)
            ).fetchone()
            if not exists:
                return 0
            row = conn.execute(f"SELECT MAX(version) FROM {SCHEMA_TABLE}").fetchone()
            return int(row[0] or 0) if row else 0
        except sqlite3.Error as exc:
            raise _translate(exc, self.path, self.timeout) from exc
        finally:
            self.release(conn)
