"""Use cases that read: orders, their price, customers, and where a mailed link leads."""

from __future__ import annotations

from fabcore.app.links import parse_link
from fabcore.app.runner import LinkTarget, Runner
from fabcore.domain import access
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Customer
from fabcore.domain.order import Order
from fabcore.domain.order_summary import OrderSummary
from fabcore.domain.quote import OrderQuote
from fabcore.domain.status import OrderStatus


class Queries(Runner):
    __slots__ = ()

    def get_order(self, actor: Actor, order_id: str) -> Order:
        with self.uow() as uow:
            return self._order_for(uow, actor, order_id)

    def get_order_by_number(self, actor: Actor, number: str) -> Order:
        with self.uow() as uow:
            order = uow.orders.get_by_number(actor.shop_id, number)
            access.visible_order(actor, order, f"order number {number!r}")
            return order

    def list_orders(
        self,
        actor: Actor,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
    ) -> list[Order]:
        """Staff see the shop's orders; a customer sees their own (newest first)."""
        customer_id = access.listed_customer(actor, customer_id)
        with self.uow() as uow:
            return list(uow.orders.list(actor.shop_id, status, customer_id))

    def list_order_summaries(
        self,
        actor: Actor,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
        limit: int | None = None,
        *,
        offset: int = 0,
    ) -> list[OrderSummary]:
        """What a list of orders shows, newest first, without loading the orders.

        Who sees what is as for :meth:`list_orders`; the newest ``offset``
        are skipped, then at most ``limit`` kept.
        """
        customer_id = access.listed_customer(actor, customer_id)
        with self.uow() as uow:
            return list(uow.orders.summaries(actor.shop_id, status, customer_id, limit,
                                             offset=offset))

    def quote(self, actor: Actor, order_id: str) -> OrderQuote:
        """What the order costs: the agreed breakdown once there is one, else today's price."""
        with self.uow() as uow:
            order = self._order_for(uow, actor, order_id)
            return order.quote(uow.shops.catalog(order.shop_id))

    def review_reasons(self, actor: Actor, order_id: str) -> tuple[str, ...]:
        """Why the order must go to review instead of being placed (empty: it may be placed)."""
        with self.uow() as uow:
            order = self._order_for(uow, actor, order_id)
            return order.review_reasons(self._shop(uow, order.shop_id))

    def get_customer(self, actor: Actor, customer_id: str) -> Customer:
        with self.uow() as uow:
            return self._customer_for(uow, actor, customer_id)

    def find_customer(self, actor: Actor, email: str) -> Customer | None:
        """Staff look a customer of their shop up by e-mail address."""
        access.require_staff(actor, "look up customers")
        with self.uow() as uow:
            return uow.customers.find_by_email(actor.shop_id, email)

    def list_customers(
        self, actor: Actor, *, limit: int | None = None, offset: int = 0
    ) -> list[Customer]:
        """Staff list their shop's customers by id; ``offset`` skipped, then ``limit``."""
        access.require_staff(actor, "list customers")
        with self.uow() as uow:
            return list(uow.customers.list(actor.shop_id, limit=limit, offset=offset))

    def open_link(self, url: str) -> LinkTarget:
        """Where a link from a mail (firm offer, review and pay) leads, once checked.

        ``OfferLinkInvalid`` names why a link does not open (altered,
        expired, another purpose, an offer no longer open).
        """
        purpose, token = parse_link(url)
        return self._link_target(token, purpose)
