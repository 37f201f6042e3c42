"""Repositories and the unit of work that makes their changes atomic.

Every adapter raises the same errors: ``NotFound`` for unknown ids,
``AlreadyExists`` for a duplicate ``add``, ``ConcurrencyConflict`` when an
order's version moved since it was loaded (checked at the latest on
``commit``, which then writes nothing), ``StorageError`` for backend
failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from fabcore.domain.accounts import Account, Secret, SecretKind
from fabcore.domain.analysis import AnalysisRequest, ModelAnalysis
from fabcore.domain.catalog import Catalog
from fabcore.domain.customer import Customer
from fabcore.domain.order import Order
from fabcore.domain.order_summary import OrderSummary
from fabcore.domain.shop import Shop
from fabcore.domain.status import OrderStatus
from fabcore.ports.outbox import Outbox


class ShopRepository(Protocol):
    """Shops and their catalogs."""

    def add(self, shop: Shop, catalog: Catalog) -> None: ...

    def get(self, shop_id: str) -> Shop: ...

    def catalog(self, shop_id: str) -> Catalog: ...

    def save(self, shop: Shop, catalog: Catalog | None = None) -> None:
        """Update a shop's settings (and its catalog, when given)."""
        ...

    def next_invoice_number(self, shop_id: str) -> int:
        """The shop's next invoice number (1, 2, ...), part of this unit of work.

        Numbers have no gaps: a rolled-back unit of work gives its number
        back, and two units of work never commit the same number (the later
        one waits, or fails with ``ConcurrencyConflict`` at commit).
        """
        ...


class CustomerRepository(Protocol):
    """End customers, always within one shop."""

    def add(self, customer: Customer) -> None:
        """Store a new customer; ``AlreadyExists`` for a taken id or e-mail in the shop."""
        ...

    def get(self, customer_id: str) -> Customer:
        """A customer by its (globally unique) id; the caller checks the shop."""
        ...

    def find_by_email(self, shop_id: str, email: str) -> Customer | None: ...

    def save(self, customer: Customer) -> None: ...

    def list(
        self, shop_id: str, *, limit: int | None = None, offset: int = 0
    ) -> Sequence[Customer]:
        """The shop's customers by id; ``offset`` skipped, then at most ``limit``."""
        ...


class OrderRepository(Protocol):
    """Orders, the aggregate with optimistic concurrency."""

    def add(self, order: Order) -> None:
        """Store a new order (version 0); ``AlreadyExists`` for a taken id or number."""
        ...

    def get(self, order_id: str) -> Order:
        """Load an order by its (globally unique) id; the caller checks the shop.

        Its ``version`` is what ``save`` will compare against.
        """
        ...

    def get_by_number(self, shop_id: str, number: str) -> Order: ...

    def save(self, order: Order) -> None:
        """Store changes; the version it was loaded with must still be current.

        On success ``order.version`` is incremented. A moved version raises
        ``ConcurrencyConflict`` (now or at commit) and nothing is written.
        """
        ...

    def list(
        self,
        shop_id: str,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
    ) -> Sequence[Order]:
        """Orders of a shop, newest first, optionally filtered."""
        ...

    def summaries(
        self,
        shop_id: str,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
        limit: int | None = None,
        *,
        offset: int = 0,
    ) -> Sequence[OrderSummary]:
        """The :class:`OrderSummary` of a shop's orders, filtered and ordered like ``list``.

        The newest ``offset`` are skipped, then at most ``limit`` returned
        (``InvalidInput`` when either is negative). Adapters keep what a
        summary needs beside each order, so listing thousands of orders does
        not load them; a summary always matches the order as last added or
        saved, in this unit of work too.
        """
        ...

    def next_number(self, shop_id: str) -> str:
        """The next free order number of a shop (never reused)."""
        ...

    def po_payments_due_by(self, day: date) -> Sequence[Order]:
        """Orders of every shop in PO Payment due with a due date on or before ``day``."""
        ...


class AccountRepository(Protocol):
    """Accounts of people who sign in, always within one shop."""

    def add(self, account: Account) -> None:
        """Store a new account; ``AlreadyExists`` for a taken id or e-mail in the shop."""
        ...

    def get(self, account_id: str) -> Account:
        """An account by its (globally unique) id; ``NotFound`` when unknown."""
        ...

    def find_by_email(self, shop_id: str, email: str) -> Account | None:
        """The shop's account with this e-mail address (any case), or ``None``."""
        ...

    def find_by_customer(self, customer_id: str) -> Account | None: ...

    def save(self, account: Account) -> None:
        """Store changes (``AlreadyExists`` if the new e-mail is taken in the shop)."""
        ...

    def list(self, shop_id: str, staff: bool) -> Sequence[Account]:
        """The shop's staff accounts (``staff``) or customer accounts, by e-mail."""
        ...


class SecretRepository(Protocol):
    """Hashed secret tokens: sessions, single-use links, API keys."""

    def add(self, secret: Secret) -> None:
        """Store a new secret; ``AlreadyExists`` for a digest already stored."""
        ...

    def get(self, digest: str) -> Secret | None:
        """The secret with this SHA-256, or ``None``."""
        ...

    def save(self, secret: Secret) -> None:
        """Store its use or revocation; ``NotFound`` when unknown."""
        ...

    def list(self, shop_id: str, kind: SecretKind) -> Sequence[Secret]:
        """The shop's secrets of one kind, oldest first."""
        ...

    def revoke_for_account(self, account_id: str, kind: SecretKind, at: datetime) -> int:
        """Revoke every live secret of ``kind`` of an account; how many were."""
        ...


class ThrottleRepository(Protocol):
    """Counters of attempts per key (an e-mail address, a network address) in a time window."""

    def hit(self, key: str, now: datetime, window: timedelta) -> int:
        """Count one attempt; the attempts of ``key`` in its current window, this one included.

        A window starts with the first attempt after the previous one ended.
        """
        ...

    def clear(self, key: str) -> None:
        """Forget the attempts of ``key`` (after a successful sign-in)."""
        ...


class AnalysisRepository(Protocol):
    """Analyses of stored model files, so the same file is never analysed twice."""

    def get(self, sha256: str, units: str) -> ModelAnalysis | None: ...

    def add(self, sha256: str, units: str, analysis: ModelAnalysis) -> None:
        """Keep an analysis; storing one already kept changes nothing."""
        ...

    def request(self, sha256: str, units: str) -> AnalysisRequest | None:
        """The request to analyse a stored file in a worker, if one was made."""
        ...

    def save_request(self, request: AnalysisRequest) -> None:
        """Store a request (new, or its new state), keyed by its file and units."""
        ...

    def in_use(self, sha256: str, besides_units: str) -> bool:
        """Whether anything but the request in ``besides_units`` needs the stored file.

        That is an analysis of it in any units, or a request in other units
        that was not rejected.
        """
        ...


class UnitOfWork(Protocol):
    """One transaction over all repositories and the outbox.

    Use it as a context manager; leaving the block without ``commit()``
    rolls back. ``commit`` may be called once per block.
    """

    @property
    def shops(self) -> ShopRepository: ...

    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def accounts(self) -> AccountRepository: ...

    @property
    def secrets(self) -> SecretRepository: ...

    @property
    def throttle(self) -> ThrottleRepository: ...

    @property
    def analyses(self) -> AnalysisRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per use case call."""

    def __call__(self) -> UnitOfWork: ...
