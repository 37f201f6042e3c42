"""What the SQL adapters share: the repositories, the unit of work, migrations.

:mod:`fabcore.adapters.sqlite` and :mod:`fabcore.adapters.postgres` each
provide a :class:`Session` (one connection with its driver's errors
translated in one place, plus the few things the dialects do differently)
and a database object that opens sessions; the repositories are written
once, here, in SQL both dialects accept. Statements use ``?`` placeholders.

Every aggregate is stored as a JSON document made by the adapters' cattrs
converter, beside copies of the fields that queries filter and sort on and
that order summaries show (see ``migrations/<dialect>/*.sql``). Reads build
fresh objects, so they are copies; an order's ``version`` lives in its own
column only. Reading an order reads its shop's and customer's documents in
the same query, for the rest of the transaction.

Locking: a unit of work reads without taking write locks. ``orders.save``
updates only where the version is still the one loaded (optimistic
concurrency); when no row matches, the transaction is rolled back at once
and ``commit`` raises ``ConcurrencyConflict`` too, so nothing of the unit of
work is written. The update of an order read in the same transaction may be
held back and sent with the next statement (``Session.write_later``): the
conflict is then raised there, or by ``commit`` before it commits.

Documents are parsed once per text (:class:`DocumentCache`): reading an
order back as this process wrote it, or a shop, customer or catalog as it
was read before, hands out a copy of what was built then.
"""

from __future__ import annotations

import abc
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from types import TracebackType
from typing import Any, ClassVar, Literal, Self, TypeVar, cast

import attrs

from fabcore.adapters.copying import copy_tree, immutable
from fabcore.adapters.serialization import converter, dumps
from fabcore.domain.accounts import Account, Secret, SecretKind
from fabcore.domain.analysis import AnalysisRequest, AnalysisState, ModelAnalysis
from fabcore.domain.catalog import Catalog
from fabcore.domain.customer import Customer
from fabcore.domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    FabcoreError,
    InvalidInput,
    NotFound,
    StorageError,
)
from fabcore.domain.order import Order, OrderLine
from fabcore.domain.order_summary import OrderSummary
from fabcore.domain.shop import Shop
from fabcore.domain.status import OrderStatus, PaymentStatus
from fabcore.ports.outbox import OutboxMessage, OutboxStatus

_T = TypeVar("_T")

Row = tuple[Any, ...]


# -- documents ------------------------------------------------------------------


def _parse(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StorageError(f"stored {what} is not JSON: {exc}") from exc


# The converter's function per class, looked up once rather than on every load.
_structure_hooks: dict[type, Callable[[Any, Any], Any]] = {}


def _build(data: Any, cls: type[_T], what: str) -> _T:
    hook = _structure_hooks.get(cls)
    if hook is None:
        hook = _structure_hooks[cls] = converter.get_structure_hook(cls)
    try:
        built: _T = hook(data, cls)
        return built
    except FabcoreError as exc:
        raise StorageError(f"stored {what} cannot be read: {exc}") from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StorageError(f"stored {what} cannot be read: {exc!r}") from exc


def load(text: str | bytes, cls: type[_T], what: str) -> _T:
    """Build a ``cls`` from a stored JSON document; ``StorageError`` when it cannot be read."""
    return _build(_parse(text, what), cls, what)


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_ORDER_FIELDS = tuple(f.name for f in attrs.fields(Order) if f.name != "version")
_LINE_FIELDS = tuple(f.name for f in attrs.fields(OrderLine))
# The JSON of values nothing can change, by identity (each kept alive beside its text).
# Copies share such values (copy_tree), so saving an order again encodes only what changed.
_encoded: dict[int, tuple[object, str]] = {}
_ENCODED_SIZE = 8192


def _json(value: Any) -> str:
    """The compact JSON of ``value`` as the converter unstructures it."""
    if value is None:
        return "null"
    cls = type(value)
    if cls is str or cls is int or cls is bool or cls is float:
        return _encode(value)
    if cls is list or cls is tuple:
        return "[" + ",".join([_json(item) for item in value]) + "]"
    if cls is OrderLine:
        return _fields(value, _LINE_FIELDS)
    found = _encoded.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    text = _encode(converter.unstructure(value))
    if attrs.has(cls) and immutable(cls):
        if len(_encoded) >= _ENCODED_SIZE:
            _encoded.clear()
        _encoded[id(value)] = (value, text)
    return text


def _fields(value: object, names: tuple[str, ...]) -> str:
    return "{" + ",".join([f'"{name}":{_json(getattr(value, name))}' for name in names]) + "}"


def _order_document(order: Order) -> str:
    """The stored JSON of ``order``: what ``dumps`` gives, less the version (a column)."""
    return _fields(order, _ORDER_FIELDS)


def _load_order(version: int, text: str | bytes, order_id: str) -> Order:
    what = f"order {order_id!r}"
    data = _parse(text, what)
    if not isinstance(data, dict):
        raise StorageError(f"stored {what} is not a JSON object")
    data["version"] = version
    return _build(data, Order, what)


def _load_customer(text: str | bytes, customer_id: str) -> Customer:
    return load(text, Customer, f"customer {customer_id!r}")


class DocumentCache:
    """What stored documents were built into, by their text, shared by a database's units of work.

    The same text always builds the same object, so a document read again,
    or read back as this process wrote it, is not parsed again. Catalogs
    are immutable (frozen classes, read-only mappings) and handed out as they
    are, as the memory adapter does; orders, shops and customers as copies
    (:func:`~fabcore.adapters.copying.copy_tree`). The last ``size``
    documents are kept.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._items: OrderedDict[tuple[type, str], object] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, cls: type[_T], text: str) -> _T | None:
        with self._lock:
            found = self._items.get((cls, text))
            if found is not None:
                self._items.move_to_end((cls, text))
        return cast("_T | None", found)

    def _put(self, cls: type, text: str, built: object) -> None:
        with self._lock:
            self._items[cls, text] = built
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def _copy_of(self, cls: type[_T], text: str, what: str) -> _T:
        found = self._get(cls, text)
        if found is None:
            found = load(text, cls, what)
            self._put(cls, text, copy_tree(found))
            return found
        return copy_tree(found)

    def catalog(self, text: str, shop_id: str) -> Catalog:
        found = self._get(Catalog, text)
        if found is None:
            found = load(text, Catalog, f"catalog of shop {shop_id!r}")
            self._put(Catalog, text, found)
        return found

    def stamped_catalog(self, shop_id: str, stamp: str) -> Catalog | None:
        """The catalog last seen in the shop's row with this ``catalog_stamp``."""
        return self._get(Catalog, f"{shop_id}\x00{stamp}")

    def stamp_catalog(self, shop_id: str, stamp: str, catalog: Catalog) -> None:
        self._put(Catalog, f"{shop_id}\x00{stamp}", catalog)

    def shop(self, text: str, shop_id: str) -> Shop:
        return self._copy_of(Shop, text, f"shop {shop_id!r}")

    def customer(self, text: str, customer_id: str) -> Customer:
        return self._copy_of(Customer, text, f"customer {customer_id!r}")

    def order(self, version: int, text: str, order_id: str) -> Order:
        """The order of a document and its version column."""
        found = self._get(Order, text)
        if found is None:
            order = _load_order(version, text, order_id)
            self._put(Order, text, copy_tree(order))
            return order
        order = copy_tree(found)
        order.version = version
        return order

    def wrote_order(self, text: str, order: Order) -> None:
        """``text`` was written for ``order``: reading it back needs no parsing."""
        self._put(Order, text, copy_tree(order))


# -- sessions -------------------------------------------------------------------


class Session(abc.ABC):
    """One unit of work's connection, as the shared repositories use it.

    Subclasses run statements through their driver, translating its errors
    into fabcore's in one place, and say how the dialect stores times.
    """

    #: Appended to the query that claims due outbox rows.
    claim_clause: ClassVar[str] = ""
    #: An outbox row's ``data`` with its delivery state replaced: ``status``,
    #: ``attempts``, ``next_attempt_at``, ``last_error``, ``sent_at`` and
    #: ``lease_holder`` as parameters, in this order (JSON values: texts, a number).
    delivery_patch: ClassVar[str] = (
        "json_set(data, '$.status', ?, '$.attempts', ?, '$.next_attempt_at', ?, "
        "'$.last_error', ?, '$.sent_at', ?, '$.lease_holder', ?)"
    )
    #: An outbox row's ``data`` as claimed: ``attempts`` one up (from the column),
    #: ``next_attempt_at`` and ``lease_holder`` as parameters.
    claim_patch: ClassVar[str] = (
        "json_set(data, '$.attempts', attempts + 1, '$.next_attempt_at', ?, '$.lease_holder', ?)"
    )
    #: Put before ``VALUES`` to insert rows with their own identity column values.
    identity_insert: ClassVar[str] = ""
    #: What an order's read selects of its shop's row to tell which catalog it holds: an
    #: expression that changes whenever the catalog may have (the text itself will do).
    catalog_stamp: ClassVar[str] = "s.catalog"

    def __init__(self, documents: DocumentCache) -> None:
        self.documents = documents
        # Orders added in the open transaction: saving them again is still an insert.
        self.added_orders: set[str] = set()
        # Orders read in the open transaction: they exist, so an update of one that
        # changes no row means its version moved.
        self.loaded_orders: set[str] = set()
        self.conflict: str | None = None
        # Shop documents read in the open transaction: use cases read a shop
        # and its catalog several times in one unit of work.
        self.shop_documents: dict[tuple[str, str], str] = {}
        # Customer documents read with an order (see ``SqlOrderRepository.get``).
        self.customer_documents: dict[str, str] = {}
        # Per shop read with an order: its ``catalog_stamp``.
        self.catalog_stamps: dict[str, str] = {}

    @abc.abstractmethod
    def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Rows of a query."""

    @abc.abstractmethod
    def write(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run a write in the unit of work's transaction; the number of rows it changed."""

    def write_later(
        self, sql: str, params: Sequence[object], missed: Callable[[], None]
    ) -> None:
        """Run a write that must change a row; ``missed`` raises when it changed none.

        A session may hold the write back and send it with the next statement
        or the commit, in one round trip; ``missed`` is then called there,
        before anything is committed. This one writes at once.
        """
        if not self.write(sql, params):
            missed()

    @abc.abstractmethod
    def write_rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Run a write with a ``RETURNING`` clause in the transaction; the rows it returned."""

    @abc.abstractmethod
    def write_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run one write once per row of parameters, in the transaction."""

    @abc.abstractmethod
    def table_names(self) -> set[str]:
        """The tables of the schema."""

    @abc.abstractmethod
    def column_names(self, table: str) -> list[str]:
        """The columns of ``table``, in the schema's order."""

    @abc.abstractmethod
    def reset_identity(self, table: str, column: str) -> None:
        """Make the next generated ``column`` value follow the largest one inserted."""

    @abc.abstractmethod
    def claim(self) -> None:
        """Prepare to select rows that only this unit of work may take (outbox ``due``)."""

    @abc.abstractmethod
    def next_number(self, shop_id: str) -> int:
        """The shop's next order number, never handed out again (even after a rollback)."""

    @abc.abstractmethod
    def timestamp(self, value: datetime) -> object:
        """A timezone-aware datetime as a statement parameter."""

    @abc.abstractmethod
    def day(self, value: date) -> object:
        """A date as a statement parameter."""

    @abc.abstractmethod
    def amount(self, value: Decimal) -> object:
        """An exact decimal amount as a statement parameter."""

    @abc.abstractmethod
    def moment(self, value: Any) -> datetime:
        """A timestamp column's value as a UTC datetime."""

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Roll back what is open and give the connection back."""

    def forget(self) -> None:
        """Drop what belonged to the transaction that just ended."""
        self.added_orders.clear()
        self.loaded_orders.clear()
        self.conflict = None
        self.shop_documents.clear()
        self.customer_documents.clear()
        self.catalog_stamps.clear()


# -- repositories ----------------------------------------------------------------


class _Repository:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    @property
    def _s(self) -> Session:
        return self._uow.session


class SqlShopRepository(_Repository):
    def _document(self, column: Literal["data", "catalog"], shop_id: str) -> str:
        documents = self._s.shop_documents
        found = documents.get((column, shop_id))
        if found is None:
            rows = self._s.fetch(f"SELECT {column} FROM shops WHERE id = ?", (shop_id,))
            if not rows:
                raise NotFound(f"no shop {shop_id!r}")
            found = documents[column, shop_id] = rows[0][0]
        return found

    def add(self, shop: Shop, catalog: Catalog) -> None:
        added = self._s.write(
            "INSERT INTO shops (id, data, catalog) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (shop.id, dumps(shop), dumps(catalog)),
        )
        if not added:
            raise AlreadyExists(f"shop {shop.id!r} already exists")

    def get(self, shop_id: str) -> Shop:
        return self._s.documents.shop(self._document("data", shop_id), shop_id)

    def catalog(self, shop_id: str) -> Catalog:
        s = self._s
        stamp = s.catalog_stamps.get(shop_id)
        if stamp is not None:
            found = s.documents.stamped_catalog(shop_id, stamp)
            if found is not None:
                return found
        catalog = s.documents.catalog(self._document("catalog", shop_id), shop_id)
        if stamp is not None:
            s.documents.stamp_catalog(shop_id, stamp, catalog)
        return catalog

    def next_invoice_number(self, shop_id: str) -> int:
        rows = self._s.write_rows(
            "INSERT INTO invoice_numbers (shop_id, last) VALUES (?, 1) ON CONFLICT (shop_id) "
            "DO UPDATE SET last = invoice_numbers.last + 1 RETURNING last",
            (shop_id,),
        )
        return int(rows[0][0])

    def save(self, shop: Shop, catalog: Catalog | None = None) -> None:
        documents = self._s.shop_documents
        documents.pop(("data", shop.id), None)
        documents.pop(("catalog", shop.id), None)
        self._s.catalog_stamps.pop(shop.id, None)
        if catalog is None:
            changed = self._s.write(
                "UPDATE shops SET data = ? WHERE id = ?", (dumps(shop), shop.id)
            )
        else:
            changed = self._s.write(
                "UPDATE shops SET data = ?, catalog = ? WHERE id = ?",
                (dumps(shop), dumps(catalog), shop.id),
            )
        if not changed:
            raise NotFound(f"no shop {shop.id!r}")


class SqlCustomerRepository(_Repository):
    def add(self, customer: Customer) -> None:
        added = self._s.write(
            "INSERT INTO customers (id, shop_id, email_lower, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (customer.id, customer.shop_id, customer.email.lower(), dumps(customer)),
        )
        if added:
            return
        if self._s.fetch("SELECT 1 FROM customers WHERE id = ?", (customer.id,)):
            raise AlreadyExists(f"customer {customer.id!r} already exists")
        raise AlreadyExists(f"a customer with e-mail {customer.email} already exists")

    def get(self, customer_id: str) -> Customer:
        found = self._s.customer_documents.get(customer_id)
        if found is None:
            rows = self._s.fetch("SELECT data FROM customers WHERE id = ?", (customer_id,))
            if not rows:
                raise NotFound(f"no customer {customer_id!r}")
            found = rows[0][0]
        return self._s.documents.customer(found, customer_id)

    def find_by_email(self, shop_id: str, email: str) -> Customer | None:
        rows = self._s.fetch(
            "SELECT id, data FROM customers WHERE shop_id = ? AND email_lower = ?",
            (shop_id, email.strip().lower()),
        )
        return _load_customer(rows[0][1], rows[0][0]) if rows else None

    def save(self, customer: Customer) -> None:
        self._s.customer_documents.pop(customer.id, None)
        changed = self._s.write(
            "UPDATE customers SET email_lower = ?, data = ? WHERE id = ?",
            (customer.email.lower(), dumps(customer), customer.id),
        )
        if not changed:
            raise NotFound(f"no customer {customer.id!r}")

    def list(self, shop_id: str, *, limit: int | None = None, offset: int = 0) -> list[Customer]:
        params: list[object] = [shop_id]
        rows = self._s.fetch(
            "SELECT id, data FROM customers WHERE shop_id = ? ORDER BY id"
            f"{_page(limit, offset, params)}", params,
        )
        return [_load_customer(data, key) for key, data in rows]


# Copies of document fields that queries filter, sort or list by; they change with the order.
_INDEX_COLUMNS = (
    "customer_id, status, po_due_date, payment_status, total_amount, total_currency, line_count"
)
_INDEX_ASSIGNMENTS = ", ".join(f"{c.strip()} = ?" for c in _INDEX_COLUMNS.split(","))
_NEWEST_FIRST = "ORDER BY created_at DESC, number DESC"

_STATUSES = {s.value: s for s in OrderStatus}
_PAYMENT_STATUSES = {s.value: s for s in PaymentStatus}

# The status comes last: it is left out when the listing is filtered by it.
_SUMMARY_COLUMNS = (
    "id, number, payment_status, customer_id, created_at, total_amount, total_currency, "
    "line_count"
)


def _amount(value: Any) -> Decimal | None:
    """An amount column's value (a Decimal, or text in SQLite) as a finite Decimal."""
    if value is None:
        return None
    amount = value if type(value) is Decimal else Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"the amount {value!r} is not a finite number")
    return amount


def _summaries(
    shop_id: str,
    rows: list[Row],
    moment: Callable[[Any], datetime],
    status: OrderStatus | None,
) -> list[OrderSummary]:
    """Summaries from rows of ``_SUMMARY_COLUMNS`` (and ``status`` when not given)."""
    statuses, payment_statuses = _STATUSES, _PAYMENT_STATUSES
    try:
        return [
            OrderSummary(row[0], shop_id, row[1], status or statuses[row[8]],
                         payment_statuses[row[2]], row[3], moment(row[4]), _amount(row[5]),
                         row[6], row[7])
            for row in rows
        ]
    except (FabcoreError, ValueError, TypeError, KeyError, IndexError, ArithmeticError) as exc:
        raise StorageError(
            f"stored summary of an order of shop {shop_id!r} cannot be read: {exc!r}"
        ) from exc


class SqlOrderRepository(_Repository):
    def _index(self, order: Order) -> tuple[object, ...]:
        """The values of ``_INDEX_COLUMNS``."""
        s = self._s
        due = order.po.due_date if order.po is not None else None
        quote = order.agreed_quote
        total = quote.total if quote is not None else None
        return (
            order.customer_id,
            order.status.value,
            None if due is None else s.day(due),
            order.payment_status.value,
            None if total is None else s.amount(total.amount),
            None if total is None else total.currency,
            len(order.lines),
        )

    def add(self, order: Order) -> None:
        s = self._s
        document = _order_document(order)
        added = s.write(
            f"INSERT INTO orders ({_INDEX_COLUMNS}, id, shop_id, number, created_at, version, "
            "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (*self._index(order), order.id, order.shop_id, order.number,
             s.timestamp(order.created_at), order.version, document),
        )
        if not added:
            raise AlreadyExists(f"order {order.id!r} / {order.number} already exists")
        s.added_orders.add(order.id)
        s.documents.wrote_order(document, order)

    def _one(self, where: str, params: Sequence[object]) -> Order | None:
        """The order matching ``where``, reading its shop's and customer's documents along.

        Use cases go on to read those, and the shop's catalog, which the
        ``catalog_stamp`` read along finds in the document cache; having them
        from the same query saves a round trip each (they are kept for the
        rest of the transaction).
        """
        s = self._s
        rows = s.fetch(
            f"SELECT o.id, o.version, o.data, o.shop_id, s.data, {s.catalog_stamp}, "
            "o.customer_id, c.data FROM orders o JOIN shops s ON s.id = o.shop_id "
            f"LEFT JOIN customers c ON c.id = o.customer_id WHERE {where}",
            params,
        )
        if not rows:
            return None
        key, version, data, shop_id, shop, stamp, customer_id, customer = rows[0]
        s.shop_documents["data", shop_id] = shop
        s.catalog_stamps[shop_id] = stamp
        if customer is not None:
            s.customer_documents[customer_id] = customer
        s.loaded_orders.add(key)
        return s.documents.order(version, data, key)

    def get(self, order_id: str) -> Order:
        found = self._one("o.id = ?", (order_id,))
        if found is None:
            raise NotFound(f"no order {order_id!r}")
        return found

    def get_by_number(self, shop_id: str, number: str) -> Order:
        found = self._one("o.shop_id = ? AND o.number = ?", (shop_id, number))
        if found is None:
            raise NotFound(f"no order number {number!r} in shop {shop_id!r}")
        return found

    def save(self, order: Order) -> None:
        s = self._s
        inserted_here = order.id in s.added_orders
        bump = 0 if inserted_here else 1
        document = _order_document(order)
        sql = (f"UPDATE orders SET {_INDEX_ASSIGNMENTS}, version = version + ?, data = ? "
               "WHERE id = ? AND version = ?")
        params = (*self._index(order), bump, document, order.id, order.version)
        if order.id in s.loaded_orders or inserted_here:
            number, loaded = order.number, order.version
            s.write_later(sql, params, lambda: self._missed(order.id, number, loaded))
        elif not s.write(sql, params):
            self._missed(order.id, order.number, order.version)
        order.version += bump
        s.documents.wrote_order(document, order)

    def _missed(self, order_id: str, number: str, version: int) -> None:
        """An update of the order at ``version`` changed no row: say why, writing nothing."""
        s = self._s
        rows = s.fetch("SELECT version FROM orders WHERE id = ?", (order_id,))
        if not rows:
            raise NotFound(f"no order {order_id!r}")
        message = (
            f"order {number} changed since it was loaded "
            f"(version {version}, now {rows[0][0]}); nothing was written"
        )
        s.rollback()
        s.forget()
        s.conflict = message
        raise ConcurrencyConflict(message)

    @staticmethod
    def _where(
        shop_id: str, status: OrderStatus | None, customer_id: str | None
    ) -> tuple[str, list[object]]:
        where: list[str] = ["shop_id = ?"]
        params: list[object] = [shop_id]
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(customer_id)
        return " AND ".join(where), params

    def list(
        self,
        shop_id: str,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
    ) -> list[Order]:
        where, params = self._where(shop_id, status, customer_id)
        rows = self._s.fetch(
            f"SELECT id, version, data FROM orders WHERE {where} {_NEWEST_FIRST}", params
        )
        return [_load_order(version, data, key) for key, version, data in rows]

    def summaries(
        self,
        shop_id: str,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
        limit: int | None = None,
        *,
        offset: int = 0,
    ) -> Sequence[OrderSummary]:
        where, params = self._where(shop_id, status, customer_id)
        columns = _SUMMARY_COLUMNS if status is not None else f"{_SUMMARY_COLUMNS}, status"
        sql = f"SELECT {columns} FROM orders WHERE {where} {_NEWEST_FIRST}"
        sql += _page(limit, offset, params)
        return _summaries(shop_id, self._s.fetch(sql, params), self._s.moment, status)

    def next_number(self, shop_id: str) -> str:
        return f"{self._s.next_number(shop_id):05d}"

    def po_payments_due_by(self, day: date) -> Sequence[Order]:
        rows = self._s.fetch(
            "SELECT id, version, data FROM orders WHERE status = ? AND po_due_date <= ? "
            "ORDER BY po_due_date, created_at",
            (OrderStatus.PO_PAYMENT_DUE.value, self._s.day(day)),
        )
        return [_load_order(version, data, key) for key, version, data in rows]


def _page(limit: int | None, offset: int, params: list[object]) -> str:
    """The ``LIMIT``/``OFFSET`` clause of a page (its values appended to ``params``)."""
    if offset < 0 or (limit is not None and limit < 0):
        raise InvalidInput("limit and offset must not be negative")
    if limit is None and not offset:
        return ""
    # LIMIT -1 (SQLite) and LIMIT ALL (PostgreSQL) differ; a huge number means "no limit" to both.
    params += [limit if limit is not None else 2**62, offset]
    return " LIMIT ? OFFSET ?"


_OUTBOX_ORDER = "ORDER BY created_at, seq"
# Messages per INSERT statement: 8 parameters each, well within every driver's limit.
_OUTBOX_BATCH = 500


def _json_time(value: datetime | None) -> str | None:
    """A datetime as the stored documents write it."""
    return None if value is None else str(converter.unstructure(value))


class SqlOutbox(_Repository):
    def _load(self, rows: list[Row]) -> list[OutboxMessage]:
        return [load(data, OutboxMessage, f"outbox message {key!r}") for key, data in rows]

    def _next_attempt(self, message: OutboxMessage) -> object:
        when = message.next_attempt_at
        return None if when is None else self._s.timestamp(when)

    def add(self, message: OutboxMessage) -> None:
        self.add_all([message])

    def add_all(self, messages: Sequence[OutboxMessage]) -> None:
        """One multi-row INSERT per ``_OUTBOX_BATCH`` messages; ``seq`` keeps their order."""
        s = self._s
        seen: set[str] = set()
        for m in messages:
            if m.id in seen:
                raise AlreadyExists(f"outbox message {m.id!r} is given twice")
            seen.add(m.id)
        for start in range(0, len(messages), _OUTBOX_BATCH):
            batch = messages[start:start + _OUTBOX_BATCH]
            params: list[object] = []
            for m in batch:
                params += (m.id, m.shop_id, m.order_id, m.status.value, self._next_attempt(m),
                           s.timestamp(m.created_at), m.attempts, dumps(m))
            rows = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(batch))
            added = [row[0] for row in s.write_rows(
                "INSERT INTO outbox (id, shop_id, order_id, status, next_attempt_at, created_at, "
                f"attempts, data) VALUES {rows} ON CONFLICT DO NOTHING RETURNING id",
                params,
            )]
            if len(added) < len(batch):
                taken = next(m.id for m in batch if m.id not in added)
                kept = [m.id for m in messages[:start]] + added
                for first in range(0, len(kept), _OUTBOX_BATCH):
                    some = kept[first:first + _OUTBOX_BATCH]
                    s.write(f"DELETE FROM outbox WHERE id IN ({', '.join('?' * len(some))})",
                            some)
                raise AlreadyExists(f"outbox message {taken!r} already exists")

    def get(self, message_id: str) -> OutboxMessage:
        found = self._load(
            self._s.fetch("SELECT id, data FROM outbox WHERE id = ?", (message_id,))
        )
        if not found:
            raise NotFound(f"no outbox message {message_id!r}")
        return found[0]

    def due(self, now: datetime, limit: int, holder: str | None = None) -> list[OutboxMessage]:
        s = self._s
        s.claim()
        rows = s.fetch(
            "SELECT id, data FROM outbox WHERE status = ? "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ? OR lease_holder = ?) "
            f"{_OUTBOX_ORDER} LIMIT ? {s.claim_clause}",
            (OutboxStatus.PENDING.value, s.timestamp(now), holder, limit),
        )
        return self._load(rows)

    def claim(
        self, now: datetime, limit: int, lease_until: datetime, holder: str | None = None
    ) -> list[OutboxMessage]:
        # One statement takes and marks the rows: the mails are neither decoded
        # nor encoded again while the write lock is held.
        s = self._s
        s.claim()
        rows = s.write_rows(
            f"UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, lease_holder = ?, "
            f"data = {s.claim_patch} WHERE seq IN (SELECT seq FROM outbox WHERE status = ? "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ? OR lease_holder = ?) "
            f"{_OUTBOX_ORDER} LIMIT ? {s.claim_clause}) RETURNING created_at, seq, id, data",
            (s.timestamp(lease_until), holder, _json_time(lease_until), holder,
             OutboxStatus.PENDING.value, s.timestamp(now), holder, limit),
        )
        rows.sort(key=lambda row: (row[0], row[1]))
        return self._load([(key, data) for _, _, key, data in rows])

    def update(self, message: OutboxMessage) -> None:
        changed = self._s.write(
            "UPDATE outbox SET status = ?, next_attempt_at = ?, attempts = ?, lease_holder = ?, "
            f"data = {self._s.delivery_patch} WHERE id = ?",
            (message.status.value, self._next_attempt(message), message.attempts,
             message.lease_holder, message.status.value, message.attempts,
             _json_time(message.next_attempt_at), message.last_error,
             _json_time(message.sent_at), message.lease_holder, message.id),
        )
        if not changed:
            raise NotFound(f"no outbox message {message.id!r}")

    def count(self, status: OutboxStatus) -> int:
        rows = self._s.fetch("SELECT COUNT(*) FROM outbox WHERE status = ?", (status.value,))
        return int(rows[0][0])

    def list(
        self,
        status: OutboxStatus | None = None,
        order_id: str | None = None,
        *,
        shop_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[OutboxMessage]:
        where: list[str] = []
        params: list[object] = []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if order_id is not None:
            where.append("order_id = ?")
            params.append(order_id)
        if shop_id is not None:
            where.append("shop_id = ?")
            params.append(shop_id)
        condition = f"WHERE {' AND '.join(where)} " if where else ""
        return self._load(self._s.fetch(
            f"SELECT id, data FROM outbox {condition}{_OUTBOX_ORDER}{_page(limit, offset, params)}",
            params,
        ))


class SqlAccountRepository(_Repository):
    def _load(self, rows: list[Row]) -> list[Account]:
        return [load(data, Account, f"account {key!r}") for key, data in rows]

    def add(self, account: Account) -> None:
        added = self._s.write(
            "INSERT INTO accounts (id, shop_id, email_lower, customer_id, staff, data) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (account.id, account.shop_id, account.email, account.customer_id,
             account.role.is_staff, dumps(account)),
        )
        if added:
            return
        if self._s.fetch("SELECT 1 FROM accounts WHERE id = ?", (account.id,)):
            raise AlreadyExists(f"account {account.id!r} already exists")
        raise AlreadyExists(f"an account with e-mail {account.email} already exists")

    def get(self, account_id: str) -> Account:
        found = self._load(self._s.fetch("SELECT id, data FROM accounts WHERE id = ?",
                                         (account_id,)))
        if not found:
            raise NotFound(f"no account {account_id!r}")
        return found[0]

    def find_by_email(self, shop_id: str, email: str) -> Account | None:
        found = self._load(self._s.fetch(
            "SELECT id, data FROM accounts WHERE shop_id = ? AND email_lower = ?",
            (shop_id, email.strip().lower()),
        ))
        return found[0] if found else None

    def find_by_customer(self, customer_id: str) -> Account | None:
        found = self._load(self._s.fetch("SELECT id, data FROM accounts WHERE customer_id = ?",
                                         (customer_id,)))
        return found[0] if found else None

    def save(self, account: Account) -> None:
        taken = self._s.fetch(
            "SELECT 1 FROM accounts WHERE shop_id = ? AND email_lower = ? AND id <> ?",
            (account.shop_id, account.email, account.id),
        )
        if taken:
            raise AlreadyExists(f"an account with e-mail {account.email} already exists")
        changed = self._s.write(
            "UPDATE accounts SET email_lower = ?, staff = ?, data = ? WHERE id = ?",
            (account.email, account.role.is_staff, dumps(account), account.id),
        )
        if not changed:
            raise NotFound(f"no account {account.id!r}")

    def list(self, shop_id: str, staff: bool) -> list[Account]:
        return self._load(self._s.fetch(
            "SELECT id, data FROM accounts WHERE shop_id = ? AND staff = ? ORDER BY email_lower",
            (shop_id, staff),
        ))


class SqlSecretRepository(_Repository):
    @staticmethod
    def _load(rows: list[Row]) -> list[Secret]:
        return [load(data, Secret, "secret") for (data,) in rows]

    def add(self, secret: Secret) -> None:
        added = self._s.write(
            "INSERT INTO secrets (digest, shop_id, kind, account_id, created_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (secret.digest, secret.shop_id, secret.kind.value, secret.account_id,
             self._s.timestamp(secret.created_at), dumps(secret)),
        )
        if not added:
            raise AlreadyExists("a secret with this digest already exists")

    def get(self, digest: str) -> Secret | None:
        found = self._load(self._s.fetch("SELECT data FROM secrets WHERE digest = ?", (digest,)))
        return found[0] if found else None

    def save(self, secret: Secret) -> None:
        changed = self._s.write("UPDATE secrets SET data = ? WHERE digest = ?",
                                (dumps(secret), secret.digest))
        if not changed:
            raise NotFound("no such secret")

    def list(self, shop_id: str, kind: SecretKind) -> list[Secret]:
        return self._load(self._s.fetch(
            "SELECT data FROM secrets WHERE shop_id = ? AND kind = ? ORDER BY created_at, digest",
            (shop_id, kind.value),
        ))

    def revoke_for_account(self, account_id: str, kind: SecretKind, at: datetime) -> int:
        live = [s for s in self._load(self._s.fetch(
            "SELECT data FROM secrets WHERE account_id = ? AND kind = ?",
            (account_id, kind.value),
        )) if s.revoked_at is None]
        for secret in live:
            secret.revoked_at = at
            self.save(secret)
        return len(live)


class SqlThrottleRepository(_Repository):
    def hit(self, key: str, now: datetime, window: timedelta) -> int:
        s = self._s
        ended = s.timestamp(now - window)
        rows = s.write_rows(
            "INSERT INTO throttle (key, window_start, hits) VALUES (?, ?, 1) "
            "ON CONFLICT (key) DO UPDATE SET "
            "hits = CASE WHEN throttle.window_start <= ? THEN 1 ELSE throttle.hits + 1 END, "
            "window_start = CASE WHEN throttle.window_start <= ? THEN excluded.window_start "
            "ELSE throttle.window_start END RETURNING hits",
            (key, s.timestamp(now), ended, ended),
        )
        return int(rows[0][0])

    def clear(self, key: str) -> None:
        self._s.write("DELETE FROM throttle WHERE key = ?", (key,))


class SqlAnalysisRepository(_Repository):
    def get(self, sha256: str, units: str) -> ModelAnalysis | None:
        rows = self._s.fetch("SELECT data FROM analyses WHERE sha256 = ? AND units = ?",
                             (sha256, units))
        return load(rows[0][0], ModelAnalysis, f"analysis of {sha256[:12]}") if rows else None

    def add(self, sha256: str, units: str, analysis: ModelAnalysis) -> None:
        self._s.write(
            "INSERT INTO analyses (sha256, units, data) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (sha256, units, dumps(analysis)),
        )

    def request(self, sha256: str, units: str) -> AnalysisRequest | None:
        rows = self._s.fetch(
            "SELECT data FROM analysis_requests WHERE sha256 = ? AND units = ?", (sha256, units))
        return (load(rows[0][0], AnalysisRequest, f"analysis request of {sha256[:12]}")
                if rows else None)

    def save_request(self, request: AnalysisRequest) -> None:
        self._s.write(
            "INSERT INTO analysis_requests (sha256, units, state, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (sha256, units) DO UPDATE SET state = excluded.state, "
            "data = excluded.data",
            (request.sha256, request.units.value, request.state.value, dumps(request)),
        )

    def in_use(self, sha256: str, besides_units: str) -> bool:
        return bool(self._s.fetch(
            "SELECT 1 FROM analyses WHERE sha256 = ? UNION ALL "
            "SELECT 1 FROM analysis_requests WHERE sha256 = ? AND units <> ? AND state <> ?",
            (sha256, sha256, besides_units, AnalysisState.REJECTED.value)))


# -- unit of work --------------------------------------------------------------------


class SqlUnitOfWork:
    """A unit of work on one connection, taken when first needed and given back on exit."""

    def __init__(self, open_session: Callable[[], Session]) -> None:
        self._open = open_session
        self._session: Session | None = None
        self.shops = SqlShopRepository(self)
        self.customers = SqlCustomerRepository(self)
        self.orders = SqlOrderRepository(self)
        self.outbox = SqlOutbox(self)
        self.accounts = SqlAccountRepository(self)
        self.secrets = SqlSecretRepository(self)
        self.throttle = SqlThrottleRepository(self)
        self.analyses = SqlAnalysisRepository(self)

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self._open()
        return self._session

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def commit(self) -> None:
        s = self.session
        if s.conflict is not None:
            conflict = s.conflict
            s.rollback()
            s.forget()
            raise ConcurrencyConflict(conflict)
        s.commit()
        s.forget()

    def rollback(self) -> None:
        if self._session is not None:
            self._session.rollback()
            self._session.forget()


# -- migrations ------------------------------------------------------------------------

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

SCHEMA_TABLE = "schema_migrations"


@attrs.frozen
class Migration:
    """One numbered SQL file of a dialect, e.g. ``0002_lookup_indexes``."""

    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """The migrations shipped for ``dialect``, in order (numbered 1, 2, ... without gaps)."""
    folder = resources.files("fabcore.adapters").joinpath("migrations").joinpath(dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), entry.name[:-4], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StorageError(f"{dialect} migrations are not numbered 1..n: {found}")
    return found


def pending(dialect: str, applied: set[int]) -> list[Migration]:
    """What is left to apply; refuses a database made by a newer fabcore."""
    known = migrations(dialect)
    newer = sorted(applied - {m.version for m in known})
    if newer:
        raise StorageError(
            f"the database has schema version {newer[-1]}, newer than this fabcore knows "
            f"({len(known)}); upgrade fabcore"
        )
    return [m for m in known if m.version not in applied]


class SqlDatabase(abc.ABC):
    """Base of the SQL database classes: the ``UnitOfWorkFactory`` over :meth:`session`."""

    #: The folder of its migrations: ``sqlite`` or ``postgres``.
    dialect: ClassVar[str]

    @abc.abstractmethod
    def session(self) -> Session:
        """A session on a connection of its own, until :meth:`Session.close`."""

    @abc.abstractmethod
    def upgrade(self, target: int | None = None) -> list[str]:
        """Apply pending migrations (up to ``target``); the names of those applied."""

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The highest migration applied (0 for an empty database)."""

    def __call__(self) -> SqlUnitOfWork:
        """A fresh unit of work (the ``UnitOfWorkFactory``)."""
        return SqlUnitOfWork(self.session)

    @abc.abstractmethod
    def close(self) -> None:
        """Close idle connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
