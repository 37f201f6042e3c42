"""Which e-mails an order change causes, and to whom.

:data:`MAIL_RULES` is the whole policy in one table, keyed by the status an
order moved to, or by a payment :class:`Notice`. Every status change mails
the customer and the shop, except a draft (nothing). The customer's billing
contact gets a carbon copy on Firm offer sent, Placed, PO provided and PO
Payment due. Paid mails both sides; Unpaid mails nobody. A payment that
arrived but was not applied (wrong amount or currency, or a second payment)
mails the shop alone, so staff refund it or settle the difference. The
purchase-order payment reminder goes to the customer alone.

Resuming an order from On hold is its own occasion: both sides are told the
order was resumed, from On hold back to the status it was held from (not,
say, "new order received" again on resuming to Placed).

Nothing is rendered here: a :class:`MailIntent` names a template and gives
it plain-string context; the app layer renders it (jinja2) and puts it in
the outbox.
"""

from __future__ import annotations

import enum

import attrs

from fabcore.domain.customer import Customer
from fabcore.domain.events import (
    OrderEvent,
    PaymentChanged,
    PaymentFlagged,
    PaymentReminderDue,
    StatusChanged,
)
from fabcore.domain.order import Order
from fabcore.domain.shop import Shop
from fabcore.domain.status import OrderStatus, PaymentStatus, Trigger


class Notice(enum.Enum):
    """Mail occasions that are not an order status."""

    PAID = "paid"
    UNPAID = "unpaid"
    PO_PAYMENT_REMINDER = "po_payment_reminder"
    PAYMENT_FLAGGED = "payment_flagged"
    RESUMED = "resumed"

    @property
    def label(self) -> str:
        return {Notice.PAID: "Paid", Notice.UNPAID: "Unpaid",
                Notice.PO_PAYMENT_REMINDER: "PO payment reminder",
                Notice.PAYMENT_FLAGGED: "Payment needs attention",
                Notice.RESUMED: "Resumed from On hold (any status)"}[self]


class Recipient(enum.Enum):
    CUSTOMER = "customer"
    SHOP = "shop"


class LinkPurpose(enum.Enum):
    """The signed link a customer mail carries; the app issues the token."""

    OFFER = "offer"  # view and accept this offer revision
    PAY = "pay"      # review and pay the order


@attrs.frozen
class MailRule:
    """Templates for one occasion; ``None`` means that side gets no mail."""

    customer: str | None
    shop: str | None
    cc_billing: bool = False
    link: LinkPurpose | None = None


_ST = OrderStatus
_CHANGED = MailRule("customer_status_changed", "shop_status_changed")

MAIL_RULES: dict[OrderStatus | Notice, MailRule] = {
    _ST.DRAFT:                  MailRule(None, None),
    _ST.WAITING_FOR_REVIEW:     MailRule("customer_review_requested", "shop_review_needed"),
    _ST.FIRM_OFFER_SENT:        MailRule("customer_firm_offer", "shop_status_changed",
                                         cc_billing=True, link=LinkPurpose.OFFER),
    _ST.PLACED:                 MailRule("customer_order_placed", "shop_new_order",
                                         cc_billing=True),
    _ST.PO_PROVIDED:            MailRule("customer_po_provided", "shop_status_changed",
                                         cc_billing=True),
    _ST.WAITING_FOR_PAYMENT:    MailRule("customer_waiting_for_payment", "shop_status_changed"),
    _ST.PO_PAYMENT_DUE:         MailRule("customer_po_payment_due", "shop_status_changed",
                                         cc_billing=True, link=LinkPurpose.PAY),
    _ST.ON_HOLD:                _CHANGED,
    _ST.FREE_FOR_MANUFACTURING: _CHANGED,
    _ST.MANUFACTURING:          _CHANGED,
    _ST.POST_PRODUCTION:        _CHANGED,
    _ST.RE_PRINTING:            _CHANGED,
    _ST.READY_FOR_SHIPPING:     _CHANGED,
    _ST.SHIPPED:                _CHANGED,
    _ST.READY_FOR_PICKUP:       _CHANGED,
    _ST.DELIVERED:              _CHANGED,
    _ST.CANCELED_BY_CUSTOMER:   _CHANGED,
    _ST.CANCELED_BY_ADMIN:      _CHANGED,
    Notice.PAID:                MailRule("customer_payment_received", "shop_order_paid"),
    Notice.UNPAID:              MailRule(None, None),
    Notice.PO_PAYMENT_REMINDER: MailRule("customer_po_payment_reminder", None,
                                         link=LinkPurpose.PAY),
    Notice.PAYMENT_FLAGGED:     MailRule(None, "shop_payment_flagged"),
    Notice.RESUMED:             MailRule("customer_order_resumed", "shop_order_resumed"),
}


@attrs.frozen
class MailIntent:
    """One mail to send: template id, recipients, link to issue, template context."""

    template: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    kind: Recipient
    link: LinkPurpose | None
    context: dict[str, str]


def _occasion(event: OrderEvent) -> OrderStatus | Notice:
    if isinstance(event, StatusChanged):
        return Notice.RESUMED if event.trigger is Trigger.RESUME else event.to_status
    if isinstance(event, PaymentChanged):
        return Notice.PAID if event.to_status is PaymentStatus.PAID else Notice.UNPAID
    if isinstance(event, PaymentFlagged):
        return Notice.PAYMENT_FLAGGED
    return Notice.PO_PAYMENT_REMINDER


def _context(event: OrderEvent, order: Order, shop: Shop) -> dict[str, str]:
    context = {
        "order_id": order.id,
        "order_number": order.number,
        "shop_name": shop.name,
        "status": order.status.value,
        "status_label": order.status.label,
        "at": event.at.isoformat(),
    }
    if isinstance(event, StatusChanged):
        context |= {
            "previous_status": event.from_status.value,
            "previous_status_label": event.from_status.label,
            "new_status": event.to_status.value,
            "new_status_label": event.to_status.label,
            "trigger": event.trigger.value,
        }
        if event.note:
            context["note"] = event.note
    elif isinstance(event, PaymentChanged):
        context |= {
            "previous_payment_status": event.from_status.value,
            "payment_status": event.to_status.value,
        }
        if event.amount is not None:
            context["amount"] = str(event.amount)
        if event.reference is not None:
            context["payment_reference"] = event.reference
    elif isinstance(event, PaymentFlagged):
        context |= {
            "amount": str(event.amount),
            "payment_reference": event.reference,
            "payment_issue": event.reason,
            "expected_amount": str(event.expected) if event.expected is not None else "",
        }
    if isinstance(event, PaymentReminderDue):
        context["due_date"] = event.due_date.isoformat()
    elif order.po is not None and order.po.due_date is not None:
        context["due_date"] = order.po.due_date.isoformat()
    if order.offer_revision:
        context["offer_revision"] = str(order.offer_revision)
    if order.offer_expires_at is not None:
        context["offer_expires_at"] = order.offer_expires_at.isoformat()
    if order.tracking_number is not None:
        context["tracking_number"] = order.tracking_number
    return context


def mails_for(
    event: OrderEvent, order: Order, customer: Customer | None, shop: Shop
) -> list[MailIntent]:
    """The mails ``event`` causes, per :data:`MAIL_RULES` (customer's first).

    ``order`` is the order after the change. Without a ``customer`` (a draft
    made for nobody yet) only the shop is mailed.
    """
    rule = MAIL_RULES[_occasion(event)]
    context = _context(event, order, shop)
    mails: list[MailIntent] = []
    if rule.customer is not None and customer is not None:
        contact = customer.billing_contact
        cc = ((contact.email,) if rule.cc_billing and contact is not None
              and contact.email.lower() != customer.email.lower() else ())
        mails.append(MailIntent(rule.customer, (customer.email,), cc, Recipient.CUSTOMER,
                                rule.link, dict(context)))
    if rule.shop is not None:
        mails.append(MailIntent(rule.shop, shop.settings.notify_emails, (), Recipient.SHOP,
                                None, dict(context)))
    return mails
