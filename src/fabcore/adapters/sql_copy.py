"""Copy every row of one SQL database into another: SQLite to PostgreSQL and back.

``fabcore db copy`` runs :func:`copy_database`. The target is migrated to
the current schema first; the source must already be at it (``fabcore db
upgrade``) and is only read. Tables are copied parents first, a batch of
rows at a time in primary-key order, each value converted from the
source's column type to the target's (times, dates, exact amounts, flags,
JSON documents; see :data:`TABLES`). Everything is written in one
transaction on the target, and the row counts of every table are compared
with the source's before it commits, so a failed or inconsistent copy
leaves the target as it was.

Nothing may write to the source while it is copied: stop the web nodes and
workers first. A copy that sees the source change fails its verification.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from fabcore.adapters.sql import SCHEMA_TABLE, Row, Session, SqlDatabase, migrations
from fabcore.domain.errors import AlreadyExists, InvalidInput, StorageError

__all__ = ["TABLES", "CopyProgress", "Table", "check_source", "copy_database"]

BATCH = 500


class Kind(enum.Enum):
    """How a column's values differ between the dialects."""

    #: Text, integers and JSON documents (read and written as text by both adapters).
    PLAIN = "plain"
    #: UTC text on SQLite, TIMESTAMPTZ on PostgreSQL.
    TIME = "time"
    #: ISO text on SQLite, DATE on PostgreSQL.
    DAY = "day"
    #: Exact decimal text on SQLite, NUMERIC on PostgreSQL.
    AMOUNT = "amount"
    #: 0 or 1 on SQLite, BOOLEAN on PostgreSQL.
    FLAG = "flag"


@attrs.frozen
class Table:
    """A table to copy: its columns (with their kinds) and primary key."""

    name: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, Kind], ...]
    #: A column whose values the database generates (copied as they are).
    identity: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


_P, _T, _D, _A, _F = Kind.PLAIN, Kind.TIME, Kind.DAY, Kind.AMOUNT, Kind.FLAG
_J = Kind.PLAIN  # a JSON document

#: Every table of the schema but the migrations' record, parents before children.
TABLES: tuple[Table, ...] = (
    Table("shops", ("id",), (("id", _P), ("data", _J), ("catalog", _J))),
    Table("customers", ("id",),
          (("id", _P), ("shop_id", _P), ("email_lower", _P), ("data", _J))),
    Table("orders", ("id",),
          (("id", _P), ("shop_id", _P), ("number", _P), ("customer_id", _P), ("status", _P),
           ("po_due_date", _D), ("created_at", _T), ("version", _P), ("data", _J),
           ("payment_status", _P), ("total_amount", _A), ("total_currency", _P),
           ("line_count", _P))),
    Table("order_numbers", ("shop_id",), (("shop_id", _P), ("last", _P))),
    Table("invoice_numbers", ("shop_id",), (("shop_id", _P), ("last", _P))),
    Table("outbox", ("seq",),
          (("seq", _P), ("id", _P), ("shop_id", _P), ("order_id", _P), ("status", _P),
           ("next_attempt_at", _T), ("created_at", _T), ("attempts", _P), ("data", _J),
           ("lease_holder", _P)),
          identity="seq"),
    Table("accounts", ("id",),
          (("id", _P), ("shop_id", _P), ("email_lower", _P), ("customer_id", _P),
           ("staff", _F), ("data", _J))),
    Table("secrets", ("digest",),
          (("digest", _P), ("shop_id", _P), ("kind", _P), ("account_id", _P),
           ("created_at", _T), ("data", _J))),
    Table("throttle", ("key",), (("key", _P), ("window_start", _T), ("hits", _P))),
    Table("analyses", ("sha256", "units"), (("sha256", _P), ("units", _P), ("data", _J))),
    Table("analysis_requests", ("sha256", "units"),
          (("sha256", _P), ("units", _P), ("state", _P), ("data", _J))),
)


@attrs.frozen
class CopyProgress:
    """Where a copy is: ``copied`` of the ``total`` rows of ``table`` so far."""

    table: str
    copied: int
    total: int


def _reader(source: Session, kind: Kind) -> Callable[[Any], object]:
    """A source column value as a plain Python value."""
    if kind is Kind.TIME:
        return source.moment
    if kind is Kind.DAY:
        return lambda value: value if isinstance(value, date) else date.fromisoformat(value)
    if kind is Kind.AMOUNT:
        return lambda value: value if isinstance(value, Decimal) else Decimal(value)
    if kind is Kind.FLAG:
        return bool
    return lambda value: value


def _writer(target: Session, kind: Kind) -> Callable[[Any], object]:
    """A plain Python value as the target's statement parameter."""
    if kind is Kind.TIME:
        return target.timestamp
    if kind is Kind.DAY:
        return target.day
    if kind is Kind.AMOUNT:
        return target.amount
    return lambda value: value


def _converter(source: Session, target: Session, table: Table) -> Callable[[Row], list[object]]:
    steps = [(_reader(source, kind), _writer(target, kind)) for _, kind in table.columns]

    def convert(row: Row) -> list[object]:
        return [None if value is None else write(read(value))
                for value, (read, write) in zip(row, steps, strict=True)]

    return convert


#: Tables of the task queue (procrastinate) that shares a PostgreSQL database
#: with the shop: jobs belong to the running processes, not to the shop, so a
#: copy (made with the shop stopped) leaves them out.
QUEUE_TABLE_PREFIX = "procrastinate_"


def _check_schema(session: Session, which: str) -> None:
    """Refuse a database whose tables are not the ones this copy knows (or the queue's)."""
    found = {name for name in session.table_names() - {SCHEMA_TABLE}
             if not name.startswith(QUEUE_TABLE_PREFIX)}
    expected = {table.name for table in TABLES}
    if found != expected:
        extra, missing = sorted(found - expected), sorted(expected - found)
        raise StorageError(
            f"the {which} database's tables are not fabcore's: "
            f"unknown {', '.join(extra) or 'none'}, missing {', '.join(missing) or 'none'}"
        )
    for table in TABLES:
        columns = session.column_names(table.name)
        if sorted(columns) != sorted(table.column_names):
            raise StorageError(
                f"the {which} database's table {table.name} has columns {', '.join(columns)}; "
                f"expected {', '.join(table.column_names)}"
            )


def _count(session: Session, table: Table) -> int:
    return int(session.fetch(f"SELECT COUNT(*) FROM {table.name}")[0][0])


def _batches(session: Session, table: Table) -> Iterator[list[Row]]:
    """The table's rows in primary-key order, ``BATCH`` at a time (keyset pagination)."""
    columns = ", ".join(table.column_names)
    key = ", ".join(table.key)
    positions = [table.column_names.index(name) for name in table.key]
    rows = session.fetch(f"SELECT {columns} FROM {table.name} ORDER BY {key} LIMIT ?", (BATCH,))
    while rows:
        yield rows
        if len(rows) < BATCH:
            return
        last = [rows[-1][i] for i in positions]
        marks = ", ".join("?" for _ in positions)
        rows = session.fetch(
            f"SELECT {columns} FROM {table.name} WHERE ({key}) > ({marks}) "
            f"ORDER BY {key} LIMIT ?", (*last, BATCH),
        )


def check_source(source: SqlDatabase) -> None:
    """Refuse (``InvalidInput``) a source that is not at this fabcore's schema version."""
    current = len(migrations(source.dialect))
    version = source.schema_version()
    if version != current:
        raise InvalidInput(
            f"the source database is at schema version {version}, this fabcore's is "
            f"{current}: run 'fabcore db upgrade' on it first"
        )


def copy_database(
    source: SqlDatabase,
    target: SqlDatabase,
    *,
    replace: bool = False,
    progress: Callable[[CopyProgress], None] | None = None,
) -> dict[str, int]:
    """Copy every row of ``source`` into ``target``; the rows copied per table.

    ``target`` is migrated to the current schema first. It must hold no
    rows (``AlreadyExists`` otherwise) unless ``replace`` is true: then its
    rows are deleted in the same transaction as the copy. ``source`` must be
    at the current schema (``InvalidInput`` otherwise). When the copied
    counts differ from the source's, nothing is committed and
    ``StorageError`` says which table.
    """
    check_source(source)
    target.upgrade()
    reading, writing = source.session(), target.session()
    try:
        _check_schema(reading, "source")
        _check_schema(writing, "target")
        occupied = {t.name: n for t in TABLES if (n := _count(writing, t))}
        if occupied and not replace:
            raise AlreadyExists(
                "the target database is not empty ("
                + ", ".join(f"{name}: {n} rows" for name, n in occupied.items())
                + "); copy with replace (fabcore db copy --replace) to empty it first"
            )
        for table in reversed(TABLES):
            if table.name in occupied:
                writing.write(f"DELETE FROM {table.name}")
        copied = {table.name: _copy_table(reading, writing, table, progress) for table in TABLES}
        for table in TABLES:
            in_source, in_target = _count(reading, table), _count(writing, table)
            if not in_source == in_target == copied[table.name]:
                raise StorageError(
                    f"{table.name}: {copied[table.name]} rows copied, the source has "
                    f"{in_source} now and the target {in_target}; was something writing to "
                    "the source? Nothing was committed"
                )
        writing.commit()
        return copied
    finally:
        writing.close()
        reading.close()


def _copy_table(
    reading: Session,
    writing: Session,
    table: Table,
    progress: Callable[[CopyProgress], None] | None,
) -> int:
    total = _count(reading, table)
    convert = _converter(reading, writing, table)
    columns = ", ".join(table.column_names)
    marks = ", ".join("?" for _ in table.columns)
    identity = writing.identity_insert if table.identity else ""
    insert = f"INSERT INTO {table.name} ({columns}) {identity} VALUES ({marks})"
    copied = 0
    for rows in _batches(reading, table):
        writing.write_many(insert, [convert(row) for row in rows])
        copied += len(rows)
        if progress is not None:
            progress(CopyProgress(table.name, copied, total))
    if progress is not None and not copied:
        progress(CopyProgress(table.name, 0, total))
    if table.identity:
        writing.reset_identity(table.name, table.identity)
    return copied
