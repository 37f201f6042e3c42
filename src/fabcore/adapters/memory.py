"""In-memory adapters: the test doubles fabcore ships for every port.

They behave like the real adapters, errors included (``NotFound``,
``AlreadyExists``, ``ConcurrencyConflict``), and pass the same contract
suites in :mod:`fabcore.testing`, so embedders can build tests and
notebooks on them. Nothing here survives the process.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import IO, BinaryIO, Self, TypeVar

import attrs

from fabcore.adapters.copying import copy_tree as _copy
from fabcore.adapters.staging import Staged
from fabcore.domain import checks
from fabcore.domain.accounts import Account, Secret, SecretKind
from fabcore.domain.analysis import AnalysisRequest, AnalysisState, ModelAnalysis
from fabcore.domain.catalog import Catalog
from fabcore.domain.customer import Customer
from fabcore.domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    InvalidInput,
    NotFound,
    PaymentEventRejected,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from fabcore.domain.money import Money, minor_unit
from fabcore.domain.order import Order
from fabcore.domain.order_summary import OrderSummary
from fabcore.domain.shop import Shop
from fabcore.domain.status import OrderStatus
from fabcore.ports.mailer import Mail
from fabcore.ports.model_store import ModelRef, StagedModel
from fabcore.ports.outbox import OutboxMessage, OutboxStatus
from fabcore.ports.payments import Checkout, PaymentEvent

_T = TypeVar("_T")


def _page(items: Sequence[_T], limit: int | None, offset: int) -> Sequence[_T]:
    """``items`` after the first ``offset``, at most ``limit`` of them."""
    if offset < 0 or (limit is not None and limit < 0):
        raise InvalidInput("limit and offset must not be negative")
    return items[offset:] if limit is None else items[offset:offset + limit]


# -- model store ----------------------------------------------------------------


class _HeldModel(Staged):
    """Bytes read by :meth:`MemoryModelStore.stage`, put into the store when kept."""

    def __init__(self, store: MemoryModelStore, data: bytes, filename: str) -> None:
        super().__init__(ModelRef(hashlib.sha256(data).hexdigest(), filename, len(data)))
        self._owner = store
        self._data = data

    def _store(self) -> None:
        self._owner.put(self._data, self.ref.filename)

    def _release(self) -> None:
        self._data = b""


class MemoryModelStore:
    """Model files in a dict, addressed by sha256 (thread-safe)."""

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, data: bytes, filename: str) -> ModelRef:
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._files.setdefault(digest, bytes(data))
        return ModelRef(digest, filename, len(data))

    def get(self, sha256: str) -> bytes:
        with self._lock:
            found = self._files.get(checks.sha256(sha256))
        if found is None:
            raise NotFound(f"no model file {sha256}")
        return found

    def size(self, sha256: str) -> int:
        return len(self.get(sha256))

    def exists(self, sha256: str) -> bool:
        with self._lock:
            return checks.sha256(sha256) in self._files

    def put_file(self, file: IO[bytes], filename: str) -> ModelRef:
        # This store keeps whole files in memory anyway.
        return self.put(file.read(), filename)

    def stage(self, file: IO[bytes], filename: str) -> StagedModel:
        return _HeldModel(self, file.read(), filename)

    def open(self, sha256: str) -> BinaryIO:
        return io.BytesIO(self.get(sha256))

    def digests(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._files))

    def delete(self, sha256: str) -> None:
        with self._lock:
            self._files.pop(checks.sha256(sha256), None)

    def check(self) -> None:
        """Always answers."""


# -- mailer -----------------------------------------------------------------------
class RecordingMailer:
    """Records sent mails in :attr:`sent`; can be told to fail the next sends.

    Every call to :meth:`send`, failed or not, is in :attr:`attempts`.
    """

    def __init__(self) -> None:
        self.sent: list[Mail] = []
        self.attempts: list[Mail] = []
        self._failures: deque[Exception] = deque()

    def __repr__(self) -> str:
        return f"RecordingMailer(sent={len(self.sent)}, failures_queued={len(self._failures)})"

    def fail_next(
        self, count: int = 1, *, permanent: bool = False, error: Exception | None = None
    ) -> None:
        """Make the next ``count`` sends raise.

        The error is ``error`` when given, else a
        :class:`~fabcore.domain.errors.PermanentDeliveryError` (``permanent``)
        or a :class:`~fabcore.domain.errors.TemporaryDeliveryError`.
        """
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        for _ in range(count):
            if error is not None:
                self._failures.append(error)
            elif permanent:
                self._failures.append(PermanentDeliveryError("550 recipient rejected (simulated)"))
            else:
                self._failures.append(
                    TemporaryDeliveryError("421 service not available (simulated)")
                )

    def send(self, mail: Mail) -> None:
        self.attempts.append(mail)
        if self._failures:
            raise self._failures.popleft()
        self.sent.append(mail)

    def check(self) -> None:
        """Fails like the next send would (with its queued error), taking nothing from the queue."""
        if self._failures:
            raise self._failures[0]

    def clear(self) -> None:
        """Forget recorded mails and queued failures."""
        self.sent.clear()
        self.attempts.clear()
        self._failures.clear()


# -- payment gateway ----------------------------------------------------------


class MemoryPaymentGateway:
    """A payment gateway double: checkouts in a dict, events signed with HMAC.

    :meth:`paid_event` makes the payload and headers a real gateway would
    post after a successful payment, so tests drive the same path as
    production; :meth:`headers_for` signs any other payload.

    Like a real provider it takes amounts from 0 to :attr:`MAX_DIGITS` digits
    of the currency's minor unit (as many as Stripe takes for IDR), exactly:
    a checkout for any other amount raises ``InvalidInput``, a notice of one
    is refused. :meth:`verify_event` raises ``PaymentEventRejected`` for every
    payload and header it cannot read, whatever they hold.
    """

    SIGNATURE_HEADER = "X-Fabcore-Test-Signature"
    PAID_EVENT = "payment.succeeded"
    MAX_DIGITS = 12

    def __init__(self, secret: bytes = b"memory-gateway-secret") -> None:
        self._secret = secret
        self._lock = threading.Lock()
        self.checkouts: dict[str, Checkout] = {}

    def create_checkout(
        self, order_id: str, order_number: str, amount: Money, idempotency_key: str
    ) -> Checkout:
        problem = self._amount_problem(amount.amount, amount.currency)
        if problem:
            raise InvalidInput(f"{amount} cannot be charged: {problem}")
        with self._lock:
            found = self.checkouts.get(idempotency_key)
            if found is None:
                checkout_id = "cs_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
                found = Checkout(
                    checkout_id, f"https://payments.invalid/checkout/{checkout_id}",
                    order_id, amount,
                )
                self.checkouts[idempotency_key] = found
            return found

    def paid_event(
        self, order_id: str, amount: Money, event_id: str | None = None,
        reference: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """Payload and headers of a "payment succeeded" notice."""
        event_id = event_id or "evt_" + uuid.uuid4().hex[:16]
        body = {
            "id": event_id,
            "type": self.PAID_EVENT,
            "order_id": order_id,
            "amount": str(amount.amount),
            "currency": amount.currency,
            "reference": reference or "pay_" + event_id,
        }
        payload = json.dumps(body).encode()
        return payload, self.headers_for(payload)

    def headers_for(self, payload: bytes) -> dict[str, str]:
        """The headers this gateway signs ``payload`` with, whatever it holds."""
        return {self.SIGNATURE_HEADER: self._sign(payload)}

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def verify_event(self, payload: bytes, headers: Mapping[str, str]) -> PaymentEvent | None:
        wanted = self.SIGNATURE_HEADER.lower()
        signature = next((v for k, v in headers.items() if k.lower() == wanted), None)
        if not signature:
            raise PaymentEventRejected(f"the payment event has no {self.SIGNATURE_HEADER} header")
        # compare_digest refuses str with non-ASCII characters; no such one can match.
        if not (signature.isascii() and hmac.compare_digest(signature, self._sign(payload))):
            raise PaymentEventRejected("payment event signature does not match")
        try:
            body = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise PaymentEventRejected("malformed payment event: not JSON") from exc
        if not isinstance(body, dict):
            raise PaymentEventRejected("malformed payment event: not a JSON object")
        if body.get("type") != self.PAID_EVENT:
            if not isinstance(body.get("type"), str):
                raise PaymentEventRejected("malformed payment event: no type")
            return None
        fields = ("id", "order_id", "amount", "currency", "reference")
        bad = [name for name in fields if not _is_text(body.get(name))]
        if bad:
            raise PaymentEventRejected(
                f"malformed payment event: {', '.join(bad)} must be non-empty text"
            )
        return PaymentEvent(
            id=body["id"], order_id=body["order_id"],
            amount=self._amount(body["amount"], body["currency"]), reference=body["reference"],
        )

    def _amount(self, text: str, currency: str) -> Money:
        if not (re.fullmatch(r"[A-Z]{3}", currency)
                and re.fullmatch(r"-?[0-9]{1,20}(\.[0-9]{1,20})?", text)):
            raise PaymentEventRejected(
                f"malformed payment event: amount {text[:40]!r} {currency[:40]!r} is not "
                "a decimal number and a currency code"
            )
        value = Decimal(text)
        problem = self._amount_problem(value, currency)
        if problem:
            raise PaymentEventRejected(f"payment event amount {text} {currency}: {problem}")
        return Money(value, currency)

    def _amount_problem(self, value: Decimal, currency: str) -> str | None:
        """Why this gateway cannot take ``value`` of ``currency``, or ``None``."""
        decimals = minor_unit(currency)
        if value < 0 or value >= Decimal(10) ** (self.MAX_DIGITS - decimals):
            return f"amounts are 0 to {self.MAX_DIGITS} digits of {currency} minor units"
        if value != value.quantize(Decimal(1).scaleb(-decimals)):
            return f"{currency} has {decimals} decimals"
        return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_text(value: object) -> bool:
    """A non-empty ``str`` UTF-8 can encode (JSON escapes can spell lone surrogates)."""
    return isinstance(value, str) and bool(value) and not _SURROGATE.search(value)


# -- repositories and unit of work ------------------------------------------


class MemoryDatabase:
    """The committed state shared by :class:`MemoryUnitOfWork` instances.

    Units of work read copies and write at ``commit`` under one lock, so
    concurrent threads see the same isolation and conflicts as with a real
    database: an order saved from a stale version raises
    ``ConcurrencyConflict`` and nothing of that unit of work is written.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.shops: dict[str, Shop] = {}
        self.catalogs: dict[str, Catalog] = {}
        self.customers: dict[str, Customer] = {}
        self.orders: dict[str, Order] = {}
        self.numbers: dict[str, int] = {}
        self.invoice_numbers: dict[str, int] = {}
        self.accounts: dict[str, Account] = {}
        self.secrets: dict[str, Secret] = {}
        self.throttle: dict[str, tuple[datetime, int]] = {}
        self.analyses: dict[tuple[str, str], ModelAnalysis] = {}
        self.requests: dict[tuple[str, str], AnalysisRequest] = {}
        self.outbox: dict[str, OutboxMessage] = {}
        # Insertion order of outbox ids: mails of one change share a timestamp.
        self.outbox_order: dict[str, int] = {}
        # Outbox ids handed out by ``due`` to a live unit of work, and to which.
        self.claims: dict[str, int] = {}

    def __call__(self) -> MemoryUnitOfWork:
        """A fresh unit of work on this database (the ``UnitOfWorkFactory``)."""
        return MemoryUnitOfWork(self)


class _Staged:
    """Writes of one unit of work, applied together on commit."""

    def __init__(self) -> None:
        self.shops: dict[str, Shop] = {}
        self.new_shops: set[str] = set()
        self.catalogs: dict[str, Catalog] = {}
        self.customers: dict[str, Customer] = {}
        self.new_customers: set[str] = set()
        self.orders: dict[str, Order] = {}
        self.order_versions: dict[str, int | None] = {}
        self.outbox: dict[str, OutboxMessage] = {}
        self.new_outbox: set[str] = set()
        # Per shop: the last invoice number committed when first read, and the last taken.
        self.invoice_numbers: dict[str, tuple[int, int]] = {}
        self.accounts: dict[str, Account] = {}
        self.new_accounts: set[str] = set()
        self.secrets: dict[str, Secret] = {}
        self.new_secrets: set[str] = set()
        # Attempts counted in this unit of work, replayed on the shared counters at commit.
        self.hits: list[tuple[str, datetime, timedelta]] = []
        self.cleared: set[str] = set()
        self.analyses: dict[tuple[str, str], ModelAnalysis] = {}
        self.requests: dict[tuple[str, str], AnalysisRequest] = {}


class MemoryShopRepository:
    def __init__(self, db: MemoryDatabase, staged: _Staged) -> None:
        self._db, self._staged = db, staged

    def add(self, shop: Shop, catalog: Catalog) -> None:
        with self._db.lock:
            if shop.id in self._db.shops or shop.id in self._staged.shops:
                raise AlreadyExists(f"shop {shop.id!r} already exists")
        self._staged.shops[shop.id] = _copy(shop)
        self._staged.new_shops.add(shop.id)
        self._staged.catalogs[shop.id] = catalog

    def get(self, shop_id: str) -> Shop:
        if shop_id in self._staged.shops:
            return _copy(self._staged.shops[shop_id])
        with self._db.lock:
            if shop_id not in self._db.shops:
                raise NotFound(f"no shop {shop_id!r}")
            return _copy(self._db.shops[shop_id])

    def catalog(self, shop_id: str) -> Catalog:
        if shop_id in self._staged.catalogs:
            return self._staged.catalogs[shop_id]
        with self._db.lock:
            if shop_id not in self._db.catalogs:
                raise NotFound(f"no shop {shop_id!r}")
            return self._db.catalogs[shop_id]

    def next_invoice_number(self, shop_id: str) -> int:
        self.get(shop_id)
        found = self._staged.invoice_numbers.get(shop_id)
        if found is None:
            with self._db.lock:
                start = self._db.invoice_numbers.get(shop_id, 0)
            found = (start, start)
        start, last = found
        self._staged.invoice_numbers[shop_id] = (start, last + 1)
        return last + 1

    def save(self, shop: Shop, catalog: Catalog | None = None) -> None:
        self.get(shop.id)
        self._staged.shops[shop.id] = _copy(shop)
        if catalog is not None:
            self._staged.catalogs[shop.id] = catalog


class MemoryCustomerRepository:
    def __init__(self, db: MemoryDatabase, staged: _Staged) -> None:
        self._db, self._staged = db, staged

    def _all(self, shop_id: str | None = None) -> dict[str, Customer]:
        with self._db.lock:
            found = dict(self._db.customers)
        found.update(self._staged.customers)
        if shop_id is None:
            return found
        return {k: c for k, c in found.items() if c.shop_id == shop_id}

    def add(self, customer: Customer) -> None:
        if customer.id in self._all():
            raise AlreadyExists(f"customer {customer.id!r} already exists")
        if self.find_by_email(customer.shop_id, customer.email) is not None:
            raise AlreadyExists(f"a customer with e-mail {customer.email} already exists")
        self._staged.customers[customer.id] = _copy(customer)
        self._staged.new_customers.add(customer.id)

    def get(self, customer_id: str) -> Customer:
        found = self._all().get(customer_id)
        if found is None:
            raise NotFound(f"no customer {customer_id!r}")
        return _copy(found)

    def find_by_email(self, shop_id: str, email: str) -> Customer | None:
        wanted = email.strip().lower()
        for customer in self._all(shop_id).values():
            if customer.email.lower() == wanted:
                return _copy(customer)
        return None

    def save(self, customer: Customer) -> None:
        self.get(customer.id)
        self._staged.customers[customer.id] = _copy(customer)

    def list(self, shop_id: str, *, limit: int | None = None, offset: int = 0) -> list[Customer]:
        found = [c for _, c in sorted(self._all(shop_id).items())]
        return [_copy(c) for c in _page(found, limit, offset)]


class MemoryOrderRepository:
    def __init__(self, db: MemoryDatabase, staged: _Staged) -> None:
        self._db, self._staged = db, staged

    def add(self, order: Order) -> None:
        with self._db.lock:
            taken = order.id in self._db.orders or any(
                o.number == order.number and o.shop_id == order.shop_id
                for o in self._db.orders.values()
            )
        if taken or order.id in self._staged.orders:
            raise AlreadyExists(f"order {order.id!r} / {order.number} already exists")
        self._staged.orders[order.id] = _copy(order)
        self._staged.order_versions[order.id] = None

    def get(self, order_id: str) -> Order:
        if order_id in self._staged.orders:
            return _copy(self._staged.orders[order_id])
        with self._db.lock:
            found = self._db.orders.get(order_id)
            if found is None:
                raise NotFound(f"no order {order_id!r}")
            return _copy(found)

    def get_by_number(self, shop_id: str, number: str) -> Order:
        for order in self._visible(shop_id):
            if order.number == number:
                return _copy(order)
        raise NotFound(f"no order number {number!r} in shop {shop_id!r}")

    def save(self, order: Order) -> None:
        key = order.id
        staged = self._staged.orders.get(key)
        if staged is not None and self._staged.order_versions.get(key) is None:
            # Saved in the same unit of work it was added in: still an insert.
            self._staged.orders[key] = _copy(order)
            return
        if staged is not None:
            current = staged.version
        else:
            with self._db.lock:
                stored = self._db.orders.get(key)
                if stored is None:
                    raise NotFound(f"no order {order.id!r}")
                current = stored.version
        if current != order.version:
            raise ConcurrencyConflict(
                f"order {order.number} changed since it was loaded "
                f"(version {order.version}, now {current}); nothing was written"
            )
        self._staged.order_versions.setdefault(key, order.version)
        order.version += 1
        self._staged.orders[key] = _copy(order)

    def _visible(self, shop_id: str) -> list[Order]:
        with self._db.lock:
            found = {k: o for k, o in self._db.orders.items() if o.shop_id == shop_id}
        found.update({k: o for k, o in self._staged.orders.items() if o.shop_id == shop_id})
        return list(found.values())

    def list(
        self,
        shop_id: str,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
    ) -> list[Order]:
        return [_copy(o) for o in self._matching(shop_id, status, customer_id)]

    def summaries(
        self,
        shop_id: str,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
        limit: int | None = None,
        *,
        offset: int = 0,
    ) -> Sequence[OrderSummary]:
        orders = self._matching(shop_id, status, customer_id)
        return [OrderSummary.of(o) for o in _page(orders, limit, offset)]

    def _matching(
        self, shop_id: str, status: OrderStatus | None, customer_id: str | None
    ) -> Sequence[Order]:
        """The shop's orders passing the filters, newest first (not copied)."""
        orders = [
            o for o in self._visible(shop_id)
            if (status is None or o.status is status)
            and (customer_id is None or o.customer_id == customer_id)
        ]
        orders.sort(key=lambda o: (o.created_at, o.number), reverse=True)
        return orders

    def next_number(self, shop_id: str) -> str:
        with self._db.lock:
            n = self._db.numbers.get(shop_id, 0) + 1
            self._db.numbers[shop_id] = n
        return f"{n:05d}"

    def po_payments_due_by(self, day: date) -> Sequence[Order]:
        with self._db.lock:
            candidates = list(self._db.orders.values())
        return [
            _copy(o) for o in candidates
            if o.status is OrderStatus.PO_PAYMENT_DUE
            and o.po is not None and o.po.due_date is not None and o.po.due_date <= day
        ]


class MemoryOutbox:
    def __init__(self, db: MemoryDatabase, staged: _Staged, owner: int) -> None:
        self._db, self._staged, self._owner = db, staged, owner

    def add(self, message: OutboxMessage) -> None:
        self.add_all([message])

    def add_all(self, messages: Sequence[OutboxMessage]) -> None:
        seen: set[str] = set()
        with self._db.lock:
            for message in messages:
                key = message.id
                if key in seen:
                    raise AlreadyExists(f"outbox message {key!r} is given twice")
                if key in self._db.outbox or key in self._staged.outbox:
                    raise AlreadyExists(f"outbox message {key!r} already exists")
                seen.add(key)
        for message in messages:
            self._staged.outbox[message.id] = _copy(message)
            self._staged.new_outbox.add(message.id)

    def get(self, message_id: str) -> OutboxMessage:
        if message_id in self._staged.outbox:
            return _copy(self._staged.outbox[message_id])
        with self._db.lock:
            found = self._db.outbox.get(message_id)
            if found is None:
                raise NotFound(f"no outbox message {message_id!r}")
            return _copy(found)

    def due(self, now: datetime, limit: int, holder: str | None = None) -> list[OutboxMessage]:
        with self._db.lock:
            ready = [
                m for m in self._db.outbox.values()
                if m.status is OutboxStatus.PENDING
                and (m.next_attempt_at is None or m.next_attempt_at <= now
                     or (holder is not None and m.lease_holder == holder))
                and self._db.claims.get(m.id, self._owner) == self._owner
            ]
            ready.sort(key=lambda m: (m.created_at, self._db.outbox_order[m.id]))
            taken = ready[:limit]
            for m in taken:
                self._db.claims[m.id] = self._owner
            return [_copy(m) for m in taken]

    def claim(
        self, now: datetime, limit: int, lease_until: datetime, holder: str | None = None
    ) -> list[OutboxMessage]:
        taken = self.due(now, limit, holder)
        for message in taken:
            message.attempts += 1
            message.next_attempt_at = lease_until
            message.lease_holder = holder
            self._staged.outbox[message.id] = _copy(message)
        return taken

    def update(self, message: OutboxMessage) -> None:
        stored = self.get(message.id)
        self._staged.outbox[message.id] = attrs.evolve(
            stored, status=message.status, attempts=message.attempts,
            next_attempt_at=message.next_attempt_at, last_error=message.last_error,
            sent_at=message.sent_at, lease_holder=message.lease_holder,
        )

    def count(self, status: OutboxStatus) -> int:
        with self._db.lock:
            return sum(1 for m in self._db.outbox.values() if m.status is status)

    def list(
        self,
        status: OutboxStatus | None = None,
        order_id: str | None = None,
        *,
        shop_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[OutboxMessage]:
        with self._db.lock:
            found = dict(self._db.outbox)
        found.update(self._staged.outbox)
        messages = [
            m for m in found.values()
            if (status is None or m.status is status)
            and (order_id is None or m.order_id == order_id)
            and (shop_id is None or m.shop_id == shop_id)
        ]
        order = self._db.outbox_order
        messages.sort(key=lambda m: (m.created_at, order.get(m.id, len(order))))
        return [_copy(m) for m in _page(messages, limit, offset)]


class MemoryAccountRepository:
    def __init__(self, db: MemoryDatabase, staged: _Staged) -> None:
        self._db, self._staged = db, staged

    def _all(self) -> dict[str, Account]:
        with self._db.lock:
            found = dict(self._db.accounts)
        found.update(self._staged.accounts)
        return found

    def _taken(self, account: Account) -> bool:
        return any(a.shop_id == account.shop_id and a.email == account.email
                   and a.id != account.id for a in self._all().values())

    def add(self, account: Account) -> None:
        if account.id in self._all():
            raise AlreadyExists(f"account {account.id!r} already exists")
        if self._taken(account):
            raise AlreadyExists(f"an account with e-mail {account.email} already exists")
        self._staged.accounts[account.id] = _copy(account)
        self._staged.new_accounts.add(account.id)

    def get(self, account_id: str) -> Account:
        found = self._all().get(account_id)
        if found is None:
            raise NotFound(f"no account {account_id!r}")
        return _copy(found)

    def find_by_email(self, shop_id: str, email: str) -> Account | None:
        wanted = email.strip().lower()
        return next((_copy(a) for a in self._all().values()
                     if a.shop_id == shop_id and a.email == wanted), None)

    def find_by_customer(self, customer_id: str) -> Account | None:
        return next((_copy(a) for a in self._all().values() if a.customer_id == customer_id),
                    None)

    def save(self, account: Account) -> None:
        self.get(account.id)
        if self._taken(account):
            raise AlreadyExists(f"an account with e-mail {account.email} already exists")
        self._staged.accounts[account.id] = _copy(account)

    def list(self, shop_id: str, staff: bool) -> list[Account]:
        found = [a for a in self._all().values()
                 if a.shop_id == shop_id and a.role.is_staff == staff]
        return [_copy(a) for a in sorted(found, key=lambda a: a.email)]


class MemorySecretRepository:
    def __init__(self, db: MemoryDatabase, staged: _Staged) -> None:
        self._db, self._staged = db, staged

    def _all(self) -> dict[str, Secret]:
        with self._db.lock:
            found = dict(self._db.secrets)
        found.update(self._staged.secrets)
        return found

    def add(self, secret: Secret) -> None:
        if secret.digest in self._all():
            raise AlreadyExists("a secret with this digest already exists")
        self._staged.secrets[secret.digest] = _copy(secret)
        self._staged.new_secrets.add(secret.digest)

    def get(self, digest: str) -> Secret | None:
        found = self._all().get(digest)
        return None if found is None else _copy(found)

    def save(self, secret: Secret) -> None:
        if secret.digest not in self._all():
            raise NotFound("no such secret")
        self._staged.secrets[secret.digest] = _copy(secret)

    def list(self, shop_id: str, kind: SecretKind) -> list[Secret]:
        found = [s for s in self._all().values() if s.shop_id == shop_id and s.kind is kind]
        return [_copy(s) for s in sorted(found, key=lambda s: (s.created_at, s.digest))]

    def revoke_for_account(self, account_id: str, kind: SecretKind, at: datetime) -> int:
        live = [s for s in self._all().values() if s.account_id == account_id
                and s.kind is kind and s.revoked_at is None]
        for secret in live:
            self._staged.secrets[secret.digest] = attrs.evolve(secret, revoked_at=at)
        return len(live)


def _throttle_step(
    current: tuple[datetime, int] | None, now: datetime, window: timedelta
) -> tuple[datetime, int]:
    if current is None or current[0] + window <= now:
        return now, 1
    return current[0], current[1] + 1


class MemoryThrottleRepository:
    def __init__(self, db: MemoryDatabase, staged: _Staged) -> None:
        self._db, self._staged = db, staged

    def hit(self, key: str, now: datetime, window: timedelta) -> int:
        with self._db.lock:
            current = None if key in self._staged.cleared else self._db.throttle.get(key)
        for staged_key, at, span in self._staged.hits:
            if staged_key == key:
                current = _throttle_step(current, at, span)
        self._staged.hits.append((key, now, window))
        return _throttle_step(current, now, window)[1]

    def clear(self, key: str) -> None:
        self._staged.hits = [h for h in self._staged.hits if h[0] != key]
        self._staged.cleared.add(key)


class MemoryAnalysisRepository:
    def __init__(self, db: MemoryDatabase, staged: _Staged) -> None:
        self._db, self._staged = db, staged

    def get(self, sha256: str, units: str) -> ModelAnalysis | None:
        found = self._staged.analyses.get((sha256, units))
        if found is None:
            with self._db.lock:
                found = self._db.analyses.get((sha256, units))
        return found

    def add(self, sha256: str, units: str, analysis: ModelAnalysis) -> None:
        self._staged.analyses.setdefault((sha256, units), analysis)

    def request(self, sha256: str, units: str) -> AnalysisRequest | None:
        found = self._staged.requests.get((sha256, units))
        if found is None:
            with self._db.lock:
                found = self._db.requests.get((sha256, units))
        return None if found is None else _copy(found)

    def save_request(self, request: AnalysisRequest) -> None:
        self._staged.requests[(request.sha256, request.units.value)] = _copy(request)

    def in_use(self, sha256: str, besides_units: str) -> bool:
        with self._db.lock:
            analyses = {**self._db.analyses, **self._staged.analyses}
            requests = {**self._db.requests, **self._staged.requests}
        return (any(sha == sha256 for sha, _ in analyses)
                or any(sha == sha256 and units != besides_units
                       and request.state is not AnalysisState.REJECTED
                       for (sha, units), request in requests.items()))


class MemoryUnitOfWork:
    """A unit of work over a :class:`MemoryDatabase` (see the port's docs)."""

    shops: MemoryShopRepository
    customers: MemoryCustomerRepository
    orders: MemoryOrderRepository
    outbox: MemoryOutbox
    accounts: MemoryAccountRepository
    secrets: MemorySecretRepository
    throttle: MemoryThrottleRepository
    analyses: MemoryAnalysisRepository

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self._begin()

    def _begin(self) -> None:
        self._staged = _Staged()
        self.shops = MemoryShopRepository(self._db, self._staged)
        self.customers = MemoryCustomerRepository(self._db, self._staged)
        self.orders = MemoryOrderRepository(self._db, self._staged)
        self.outbox = MemoryOutbox(self._db, self._staged, id(self))
        self.accounts = MemoryAccountRepository(self._db, self._staged)
        self.secrets = MemorySecretRepository(self._db, self._staged)
        self.throttle = MemoryThrottleRepository(self._db, self._staged)
        self.analyses = MemoryAnalysisRepository(self._db, self._staged)

    def __enter__(self) -> Self:
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def _release_claims(self) -> None:
        with self._db.lock:
            for key in [k for k, owner in self._db.claims.items() if owner == id(self)]:
                del self._db.claims[key]

    def commit(self) -> None:
        s, db = self._staged, self._db
        with db.lock:
            for key, loaded in s.order_versions.items():
                stored = db.orders.get(key)
                if loaded is None:
                    if stored is not None:
                        raise AlreadyExists(f"order {key!r} already exists")
                elif stored is None or stored.version != loaded:
                    raise ConcurrencyConflict(
                        f"order {key!r} changed since it was loaded; nothing was written"
                    )
            for shop_id in s.new_shops:
                if shop_id in db.shops:
                    raise AlreadyExists(f"shop {shop_id!r} already exists")
            for key in s.new_customers:
                if key in db.customers:
                    raise AlreadyExists(f"customer {key!r} already exists")
            for key in s.new_accounts:
                if key in db.accounts:
                    raise AlreadyExists(f"account {key!r} already exists")
            for key in s.new_secrets:
                if key in db.secrets:
                    raise AlreadyExists("a secret with this digest already exists")
            for shop_id, (start, _) in s.invoice_numbers.items():
                if db.invoice_numbers.get(shop_id, 0) != start:
                    raise ConcurrencyConflict(
                        f"shop {shop_id!r} issued an invoice meanwhile; nothing was written"
                    )
            db.shops.update(s.shops)
            db.catalogs.update(s.catalogs)
            db.customers.update(s.customers)
            db.orders.update(s.orders)
            db.invoice_numbers.update({k: last for k, (_, last) in s.invoice_numbers.items()})
            db.accounts.update(s.accounts)
            db.secrets.update(s.secrets)
            for key in s.cleared:
                db.throttle.pop(key, None)
            for key, at, span in s.hits:
                db.throttle[key] = _throttle_step(db.throttle.get(key), at, span)
            for model_key, analysis in s.analyses.items():
                db.analyses.setdefault(model_key, analysis)
            db.requests.update(s.requests)
            for message_id in s.outbox:
                db.outbox_order.setdefault(message_id, len(db.outbox_order))
            db.outbox.update(s.outbox)
        self._release_claims()
        self._begin()

    def rollback(self) -> None:
        self._release_claims()
        self._begin()


class RecordingMetrics:
    """Metrics kept in memory: status changes by status, analyses by format (count, seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.status_changes: dict[str, int] = {}
        self.analyses: dict[str, tuple[int, float]] = {}

    def status_changed(self, status: str) -> None:
        with self._lock:
            self.status_changes[status] = self.status_changes.get(status, 0) + 1

    def model_analysed(self, file_format: str, seconds: float) -> None:
        with self._lock:
            count, total = self.analyses.get(file_format, (0, 0.0))
            self.analyses[file_format] = (count + 1, total + seconds)
