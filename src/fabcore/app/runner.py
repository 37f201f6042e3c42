"""What every use case shares: its adapters, and one way to run a change.

A change runs in one unit of work: load what it needs, check who may see
it (:mod:`fabcore.domain.access`), let the domain change it, store it with
the mails it causes (rendered by :class:`~fabcore.app.notify.Notifier` into
the outbox, in the same transaction), commit. When another change won the
race for the same order (``ConcurrencyConflict``), the whole unit of work
runs again, a few times, from a fresh load; nothing of a lost attempt was
written.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self, TypeVar

import attrs

from fabcore.app.context import current_request_id
from fabcore.app.notify import Notifier
from fabcore.app.options_cache import OptionsCache
from fabcore.domain import access
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Customer
from fabcore.domain.errors import (
    ConcurrencyConflict,
    InfrastructureError,
    NotFound,
    OfferLinkInvalid,
    PermissionDenied,
)
from fabcore.domain.events import OrderEvent, StatusChanged
from fabcore.domain.notifications import LinkPurpose
from fabcore.domain.order import Order
from fabcore.domain.shop import ShopContext
from fabcore.domain.status import OrderStatus
from fabcore.ports.clock import Clock
from fabcore.ports.jobs import JobQueue
from fabcore.ports.mailer import Mailer
from fabcore.ports.mesh import MeshAnalyser
from fabcore.ports.metrics import Metrics
from fabcore.ports.model_store import ModelStore
from fabcore.ports.payments import PaymentGateway
from fabcore.ports.repositories import UnitOfWork, UnitOfWorkFactory
from fabcore.ports.security import PasswordHasher

_T = TypeVar("_T")

log = logging.getLogger("fabcore.app")

# How often a use case re-runs after losing an optimistic-concurrency race.
CONFLICT_RETRIES = 3


# Namespace of the ids derived from idempotency keys.
_IDEMPOTENCY = uuid.UUID("5f0c8a52-61f4-4bd4-9d0c-3f1f1e7f6b1e")


def new_id() -> str:
    return uuid.uuid4().hex


def key_id(*parts: str) -> str:
    """The id a retried request with the same idempotency key gets again."""
    return uuid.uuid5(_IDEMPOTENCY, "/".join(parts)).hex


@attrs.frozen
class LinkTarget:
    """Where a link from a mail leads: the order, and the customer the link stands for.

    A pay link's ``actor`` may open the payment page and start a checkout
    for ``order_id``; an offer link's may accept offer ``revision``.
    """

    purpose: LinkPurpose
    order_id: str
    revision: int
    actor: Actor


@attrs.define
class Runner:
    """The adapters of the application and the machinery its use cases share.

    ``closers`` are called by :meth:`close` (database pools, connections).
    ``jobs`` takes the work that runs after a use case (relaying the mails
    it queued, analysing a large upload); ``metrics`` counts for operators.
    """

    uow: UnitOfWorkFactory
    analyser: MeshAnalyser
    models: ModelStore
    mailer: Mailer
    payments: PaymentGateway
    clock: Clock
    notifier: Notifier
    hasher: PasswordHasher
    jobs: JobQueue
    metrics: Metrics
    new_id: Callable[[], str] = new_id
    options: OptionsCache = attrs.field(factory=OptionsCache)
    closers: Sequence[Callable[[], None]] = ()

    def close(self) -> None:
        """Release what the adapters hold (connections, pools); the app is unusable after."""
        for close in self.closers:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- loading, with the access rules applied -------------------------------

    def _retrying(self, work: Callable[[], _T]) -> _T:
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                return work()
            except ConcurrencyConflict:
                if attempt == CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _shop(uow: UnitOfWork, shop_id: str) -> ShopContext:
        return ShopContext(uow.shops.get(shop_id), uow.shops.catalog(shop_id))

    @staticmethod
    def _order_for(uow: UnitOfWork, actor: Actor, order_id: str) -> Order:
        order = uow.orders.get(order_id)
        access.visible_order(actor, order, f"order {order_id!r}")
        return order

    @staticmethod
    def _customer_for(uow: UnitOfWork, actor: Actor, customer_id: str) -> Customer:
        customer = uow.customers.get(customer_id)
        access.visible_customer(actor, customer, customer_id)
        return customer

    def _link_target(
        self, token: str, purpose: LinkPurpose, order_id: str | None = None
    ) -> LinkTarget:
        """Check a link token; what it opens (``OfferLinkInvalid`` naming why it does not).

        An offer link opens only the revision it was issued for, while the
        offer is open.
        """
        claims = self.notifier.links.verify(token, order_id=order_id, purpose=purpose,
                                            now=self.clock.now())
        with self.uow() as uow:
            try:
                order = uow.orders.get(claims.order_id)
            except NotFound:
                raise OfferLinkInvalid("the link is for an order that does not exist") from None
        if order.customer_id is None:
            raise OfferLinkInvalid("the link is for an order without a customer")
        if purpose is LinkPurpose.OFFER:
            if claims.revision != order.offer_revision:
                raise OfferLinkInvalid(
                    f"the link is for offer revision {claims.revision}; {order} has a newer "
                    f"offer (revision {order.offer_revision})"
                )
            if order.status is not OrderStatus.FIRM_OFFER_SENT:
                raise OfferLinkInvalid(
                    f"{order} is {order.status.label}: the offer is no longer open"
                )
        return LinkTarget(purpose, order.id, claims.revision,
                          Actor.customer(order.shop_id, order.customer_id))

    # -- changing an order -------------------------------------------------------

    def _edit(
        self, actor: Actor, order_id: str,
        change: Callable[[UnitOfWork, Order, ShopContext], _T],
    ) -> _T:
        """Edit an order's content: customers in draft, staff in draft and review."""

        def work() -> _T:
            with self.uow() as uow:
                order = self._order_for(uow, actor, order_id)
                if actor.is_customer and order.status is not OrderStatus.DRAFT:
                    raise PermissionDenied(
                        f"{order} is {order.status.label}: only the shop can change it now"
                    )
                access.require_signed_in(actor, "change orders")
                result = change(uow, order, self._shop(uow, order.shop_id))
                uow.orders.save(order)
                uow.commit()
                return result

        return self._retrying(work)

    def _change(
        self, actor: Actor, order_id: str,
        change: Callable[[Order, ShopContext], OrderEvent],
        *, key: str | None = None, what: str = "",
    ) -> Order:
        """Run one status or payment change and queue its mails, atomically.

        With an idempotency ``key`` (the client's, one per change it means
        to make), the entries the change adds to the order's history and
        payments carry an id derived from the key, the actor and ``what``
        (the kind of change); asking again with the same key finds them and
        returns the order without changing it again.
        """
        request_key = (key_id("change", order_id, actor.kind.value, actor.id, what, key)
                       if key is not None else None)

        def work() -> Order:
            with self.uow() as uow:
                order = self._order_for(uow, actor, order_id)
                if request_key is not None and _made_by(order, request_key):
                    return order
                shop = self._shop(uow, order.shop_id)
                history, payments = len(order.history), len(order.payments)
                event = change(order, shop)
                if request_key is not None:
                    order.history[history:] = [attrs.evolve(entry, request_key=request_key)
                                               for entry in order.history[history:]]
                    order.payments[payments:] = [attrs.evolve(entry, request_key=request_key)
                                                 for entry in order.payments[payments:]]
                self._save_with_mails(uow, order, [event], shop)
                return order

        return self._retrying(work)

    def _save_with_mails(
        self, uow: UnitOfWork, order: Order, events: Sequence[OrderEvent], shop: ShopContext
    ) -> None:
        """Save the changed order with the mails its events cause, and commit.

        The mails are rendered before the first write, so the write lock
        (SQLite's, or the order's row) is held for the writes alone.
        """
        customer = uow.customers.get(order.customer_id) if order.customer_id else None
        messages = self.notifier.messages(events, order, customer, shop, self.clock.now())
        uow.orders.save(order)
        uow.outbox.add_all(messages)
        uow.commit()
        for event in events:
            if isinstance(event, StatusChanged):
                self.metrics.status_changed(event.to_status.value)
        if messages:
            self._mails_queued()

    def _mails_queued(self) -> None:
        """Mails were committed: wake the relay (the outbox sweep sends them if this fails)."""
        try:
            self.jobs.relay_outbox(current_request_id())
        except InfrastructureError as exc:
            log.warning("mails queued but the relay could not be woken; the sweep will send "
                        "them: %s", exc)


def _made_by(order: Order, request_key: str) -> bool:
    """Whether a change of the order was made by the request with this key's id."""
    return (any(entry.request_key == request_key for entry in order.history)
            or any(entry.request_key == request_key for entry in order.payments))
