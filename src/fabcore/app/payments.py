"""Use cases for payment: the payment page, checkout, gateway events, manual payments, invoices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from fabcore.app.runner import Runner
from fabcore.domain import access
from fabcore.domain.actor import Actor
from fabcore.domain.errors import GuardFailed, NotFound, PaymentEventRejected
from fabcore.domain.events import OrderEvent
from fabcore.domain.money import Money
from fabcore.domain.notifications import LinkPurpose
from fabcore.domain.order import Order, PaymentPageState
from fabcore.domain.shop import ShopContext
from fabcore.ports.payments import Checkout, PaymentEvent
from fabcore.ports.repositories import UnitOfWork

if TYPE_CHECKING:
    # Rendering (jinja2, fpdf2) is imported when an invoice is asked for.
    from fabcore.app.rendering.invoice import Invoice


@attrs.frozen
class PaymentPage:
    """What the customer's payment page shows for an order."""

    order_id: str
    number: str
    state: PaymentPageState | None
    total: Money | None

    @property
    def can_pay(self) -> bool:
        return self.state is not None and self.state.can_pay


@attrs.frozen
class PaymentOutcome:
    """What became of an incoming payment event.

    ``flagged``: the payment was recorded in ``Order.payment_issues`` for
    staff instead of being applied (``detail`` says why).
    """

    order_id: str
    applied: bool
    detail: str
    flagged: bool = False


class Payments(Runner):
    __slots__ = ()

    def payment_page(self, actor: Actor, order_id: str) -> PaymentPage:
        with self.uow() as uow:
            order = self._order_for(uow, actor, order_id)
            total = order.quote(uow.shops.catalog(order.shop_id)).total
            return PaymentPage(order.id, order.number, order.payment_page_state, total)

    def open_pay_link(self, token: str, order_id: str | None = None) -> PaymentPage:
        """The payment page a "review and pay" link (PO payment due) points at."""
        target = self._link_target(token, LinkPurpose.PAY, order_id)
        return self.payment_page(target.actor, target.order_id)

    def start_checkout(self, actor: Actor, order_id: str) -> Checkout:
        """A hosted payment page for the order; possible only once it is placed and unpaid."""
        with self.uow() as uow:
            order = self._order_for(uow, actor, order_id)
            total = order.quote(uow.shops.catalog(order.shop_id)).total
        if order.payment_page_state is not PaymentPageState.READY_FOR_PAYMENT or total is None:
            state = order.payment_page_state
            raise GuardFailed(
                f"{order} cannot be paid online now: "
                f"{state.label if state else order.status.label}"
            )
        key = f"{order.id}:{total.amount}:{total.currency}:{order.offer_revision}"
        return self.payments.create_checkout(order.id, order.number, total, key)

    def handle_payment_event(self, payload: bytes, headers: Mapping[str, str]) -> PaymentOutcome:
        """Apply a payment notice from the gateway; repeated deliveries change nothing.

        A payment is recognised by the event id and by its reference, so one
        payment counts once however often and by however many event types it
        is reported, even after the order moved on. A payment whose amount or
        currency differs from the agreed total, or that arrives for an order
        already paid, is kept in ``Order.payment_issues`` and mailed to the
        shop; the payment status stays. ``PaymentEventRejected``, with
        nothing changed, for forged or malformed notices and for orders that
        do not exist, are canceled or are not placed yet.
        """
        event = self.payments.verify_event(payload, headers)
        if event is None:
            return PaymentOutcome("", False, "not a payment event")
        return self._retrying(lambda: self._apply_payment_event(event))

    def _apply_payment_event(self, event: PaymentEvent) -> PaymentOutcome:
        with self.uow() as uow:
            try:
                order = uow.orders.get(event.order_id)
            except NotFound:
                raise PaymentEventRejected(
                    f"payment {event.reference} (event {event.id}) is for an unknown order "
                    f"{event.order_id!r}; nothing was recorded"
                ) from None
            if order.knows_payment(event.reference, event.id):
                return PaymentOutcome(order.id, False, "already recorded")
            state = order.payment_page_state
            if state is None or state in (PaymentPageState.BUDGET_OFFER,
                                          PaymentPageState.FIRM_OFFER):
                raise PaymentEventRejected(
                    f"payment {event.reference} of {event.amount} (event {event.id}) refused: "
                    f"{order} is {order.status.label}; nothing was recorded"
                )
            shop = self._shop(uow, order.shop_id)
            total = order.quote(shop.catalog).total
            if total is None:
                raise PaymentEventRejected(
                    f"{order} has no total to check payment {event.reference} against; "
                    "nothing was recorded"
                )
            actor = Actor.system(order.shop_id, "payment-gateway")
            now = self.clock.now()
            change: OrderEvent
            if not order.paid and event.amount == total:
                change = order.mark_paid(actor, now, event.reference, event.amount,
                                         event_id=event.id)
                outcome = PaymentOutcome(order.id, True, "paid")
            else:
                change = order.record_payment_mismatch(
                    actor, now, event.reference, event.amount, None if order.paid else total,
                    event_id=event.id,
                )
                outcome = PaymentOutcome(order.id, False, change.reason, flagged=True)
            self._save_with_mails(uow, order, [change], shop)
            return outcome

    def record_payment(
        self, actor: Actor, order_id: str, reference: str, amount: Money,
        note: str | None = None, *, key: str | None = None,
    ) -> Order:
        """Staff record a manual payment (bank transfer, cheque, paid PO).

        With an idempotency ``key``, a retry with the same key records nothing more.
        """
        access.require_staff(actor, "record payments")
        return self._change(
            actor, order_id,
            lambda order, _: order.mark_paid(actor, self.clock.now(), reference, amount,
                                             note=note),
            key=key, what="payment",
        )

    def mark_unpaid(self, actor: Actor, order_id: str, note: str | None = None) -> Order:
        access.require_staff(actor, "mark orders unpaid")
        return self._change(
            actor, order_id, lambda order, _: order.mark_unpaid(actor, self.clock.now(), note=note)
        )

    # -- invoices ------------------------------------------------------------------

    def invoice(self, actor: Actor, order_id: str) -> Invoice:
        """The invoice of a placed order, issued on first request under the shop's next number.

        Invoice numbers have no gaps per shop: a number is taken in the same
        unit of work that records the invoice on the order. Later requests
        render the same invoice (number, date, due date).
        """
        from fabcore.app.rendering.invoice import render_invoice

        def work() -> Invoice:
            with self.uow() as uow:
                order = self._order_for(uow, actor, order_id)
                shop = self._shop(uow, order.shop_id)
                if order.invoice is None:
                    self._issue(uow, order, actor, shop)
                record = order.invoice
                if record is None:
                    raise AssertionError(f"{order} has no invoice after issuing it")
                customer = uow.customers.get(order.customer_id) if order.customer_id else None
                return render_invoice(order, customer, shop.shop, order.quote(shop.catalog),
                                      record)

        return self._retrying(work)

    def _issue(self, uow: UnitOfWork, order: Order, actor: Actor, shop: ShopContext) -> None:
        now = self.clock.now()
        if not order.invoiceable:
            raise GuardFailed(f"{order} is {order.status.label}: no invoice before it is placed")
        number = uow.shops.next_invoice_number(order.shop_id)
        order.issue_invoice(actor, now, f"{shop.settings.invoice_prefix}{number:05d}",
                            shop.settings.payment_terms_days)
        uow.orders.save(order)
        uow.commit()

    def invoice_pdf(self, actor: Actor, order_id: str) -> bytes:
        """The invoice of :meth:`invoice` as a PDF document, ready to download."""
        from fabcore.app.rendering.invoice_pdf import render_invoice_pdf  # fpdf2 is slow to import

        return render_invoice_pdf(self.invoice(actor, order_id))
