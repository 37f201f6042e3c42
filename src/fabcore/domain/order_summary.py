"""The list view of an order: what a list of orders shows, without the order itself."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.status import OrderStatus, PaymentStatus


# Not frozen: lists build these by the ten thousand, and a frozen class takes
# two to three times as long to build (each field set through object.__setattr__).
@attrs.define
class OrderSummary:
    """One row of a list of orders (see ``OrderRepository.summaries``).

    A snapshot taken when the list was read: changing it changes nothing stored.
    ``total`` is the total of the ``agreed_quote`` (shipping and tax
    included), so it is set once the order was placed or a firm offer was
    sent, and ``None`` before that or while the agreed quote has unpriced
    lines. It is kept as its amount and currency and made a :class:`Money`
    when read, so a list of thousands pays only for the totals it shows.
    ``lines`` counts the order's lines; ``created_at`` is in UTC.
    """

    id: str
    shop_id: str
    number: str
    status: OrderStatus
    payment_status: PaymentStatus
    customer_id: str | None
    created_at: datetime
    total_amount: Decimal | None
    total_currency: str | None
    lines: int

    @property
    def total(self) -> Money | None:
        """The agreed total, or ``None`` (see the class docs)."""
        if self.total_amount is None or self.total_currency is None:
            return None
        return Money(self.total_amount, self.total_currency)

    @classmethod
    def of(cls, order: Order) -> OrderSummary:
        """The summary of ``order`` as it stands."""
        quote = order.agreed_quote
        total = quote.total if quote is not None else None
        return cls(
            id=order.id,
            shop_id=order.shop_id,
            number=order.number,
            status=order.status,
            payment_status=order.payment_status,
            customer_id=order.customer_id,
            created_at=order.created_at,
            total_amount=total.amount if total is not None else None,
            total_currency=total.currency if total is not None else None,
            lines=len(order.lines),
        )
