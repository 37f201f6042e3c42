"""Domain events: what an order method changed, for the app layer to act on.

The app layer stores the mails these cause (see
:func:`fabcore.domain.notifications.mails_for`) in the same unit of work as
the order, and sends them after the commit.
"""

from __future__ import annotations

from datetime import date, datetime

import attrs

from fabcore.domain.actor import Actor
from fabcore.domain.money import Money
from fabcore.domain.status import OrderStatus, PaymentStatus, Trigger


@attrs.frozen
class StatusChanged:
    """An order moved along one edge of the status machine."""

    order_id: str
    from_status: OrderStatus
    to_status: OrderStatus
    trigger: Trigger
    actor: Actor
    at: datetime
    note: str | None = None


@attrs.frozen
class PaymentChanged:
    """An order's payment status was set (by a gateway event or by staff)."""

    order_id: str
    from_status: PaymentStatus
    to_status: PaymentStatus
    actor: Actor
    at: datetime
    reference: str | None = None
    amount: Money | None = None


@attrs.frozen
class PaymentFlagged:
    """A payment arrived but was not applied (see ``Order.record_payment_mismatch``)."""

    order_id: str
    reference: str
    amount: Money
    expected: Money | None
    reason: str
    actor: Actor
    at: datetime


@attrs.frozen
class PaymentReminderDue:
    """The one reminder before a purchase order's payment due date is to be sent."""

    order_id: str
    due_date: date
    at: datetime


OrderEvent = StatusChanged | PaymentChanged | PaymentReminderDue | PaymentFlagged
