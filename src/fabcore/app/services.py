"""Use cases: every command and query the shop and its customers have.

Each public method of :class:`Fabcore` is one use case. It takes the
:class:`~fabcore.domain.actor.Actor` asking, checks that the actor may see
and do this (``PermissionDenied`` otherwise, with nothing changed), runs the
domain in one unit of work, writes the mails the change causes to the outbox
in that same unit of work, and commits. Mails leave later, through
:meth:`Fabcore.relay_outbox`: a crash or a mail-server outage loses none.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import attrs

from fabcore.app.links import LinkBuilder, LinkSigner
from fabcore.app.relay import RelayResult, relay_outbox
from fabcore.app.rendering.emails import MailRenderer
from fabcore.app.rendering.invoice import Invoice, render_invoice
from fabcore.domain.actor import Actor, ActorKind
from fabcore.domain.analysis import ModelAnalysis, Units
from fabcore.domain.catalog import Catalog
from fabcore.domain.customer import Address, BillingContact, Customer
from fabcore.domain.errors import (
    ConcurrencyConflict,
    GuardFailed,
    InvalidInput,
    NotFound,
    OfferLinkInvalid,
    PaymentEventRejected,
    PermissionDenied,
)
from fabcore.domain.events import OrderEvent
from fabcore.domain.money import Money
from fabcore.domain.notifications import LinkPurpose, mails_for
from fabcore.domain.order import (
    PO_REMINDER_DAYS,
    Order,
    OrderLine,
    PaymentPageState,
    Shipping,
    trigger_parameters,
)
from fabcore.domain.order_quote import quote_order
from fabcore.domain.order_summary import OrderSummary
from fabcore.domain.pricing import price_line
from fabcore.domain.quote import Fee, LineSpec, OrderQuote
from fabcore.domain.review import review_required
from fabcore.domain.shop import Shop
from fabcore.domain.status import OrderStatus, Trigger
from fabcore.ports.clock import Clock
from fabcore.ports.mailer import Mailer
from fabcore.ports.mesh import MeshAnalyser
from fabcore.ports.model_store import ModelRef, ModelStore
from fabcore.ports.outbox import OutboxMessage
from fabcore.ports.payments import Checkout, PaymentEvent, PaymentGateway
from fabcore.ports.repositories import UnitOfWork, UnitOfWorkFactory

_T = TypeVar("_T")

# How often a use case re-runs after losing an optimistic-concurrency race.
_CONFLICT_RETRIES = 3


def _new_id() -> str:
    return uuid.uuid4().hex


@attrs.frozen
class UploadedModel:
    """A stored model file and what the analyser measured of it."""

    ref: ModelRef
    analysis: ModelAnalysis


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


@attrs.define
class Fabcore:
    """The application: every use case, wired to its adapters (see :mod:`fabcore.app.bootstrap`)."""

    uow: UnitOfWorkFactory
    analyser: MeshAnalyser
    models: ModelStore
    mailer: Mailer
    payments: PaymentGateway
    clock: Clock
    links: LinkSigner
    urls: LinkBuilder
    renderer: MailRenderer = attrs.field(factory=MailRenderer)
    offer_validity: timedelta = timedelta(days=14)
    pay_link_validity: timedelta = timedelta(days=60)
    new_id: Callable[[], str] = _new_id

    # -- shops and customers ----------------------------------------------

    def create_shop(self, shop: Shop, catalog: Catalog) -> Shop:
        """Register a shop with its catalog (set-up, no actor)."""
        if catalog.currency != shop.settings.currency:
            raise InvalidInput(
                f"the catalog prices in {catalog.currency}, the shop bills in "
                f"{shop.settings.currency}"
            )
        with self.uow() as uow:
            uow.shops.add(shop, catalog)
            uow.commit()
        return shop

    def update_catalog(self, actor: Actor, catalog: Catalog) -> None:
        """Staff replace their shop's catalog; orders keep the prices they were quoted."""
        _require_staff(actor, "change the catalog")
        with self.uow() as uow:
            shop = uow.shops.get(actor.shop_id)
            if catalog.currency != shop.settings.currency:
                raise InvalidInput(f"the shop bills in {shop.settings.currency}")
            uow.shops.save(shop, catalog)
            uow.commit()

    def catalog(self, actor: Actor) -> Catalog:
        with self.uow() as uow:
            return uow.shops.catalog(actor.shop_id)

    def register_customer(
        self,
        shop_id: str,
        *,
        name: str,
        email: str,
        company: str | None = None,
        billing_address: Address | None = None,
        billing_contact: BillingContact | None = None,
        actor: Actor | None = None,
    ) -> Customer:
        """Create a customer account: by sign-up (no actor) or by the shop's staff."""
        if actor is not None:
            _require_staff(actor, "register customers")
            _same_shop(actor, shop_id)
        customer = Customer(
            id=self.new_id(), shop_id=shop_id, name=name, email=email, company=company,
            billing_address=billing_address, billing_contact=billing_contact,
        )
        with self.uow() as uow:
            uow.shops.get(shop_id)
            uow.customers.add(customer)
            uow.commit()
        return customer

    def get_customer(self, actor: Actor, customer_id: str) -> Customer:
        with self.uow() as uow:
            return self._customer_for(uow, actor, customer_id)

    def find_customer(self, actor: Actor, email: str) -> Customer | None:
        """Staff look a customer of their shop up by e-mail address."""
        _require_staff(actor, "look up customers")
        with self.uow() as uow:
            return uow.customers.find_by_email(actor.shop_id, email)

    def list_customers(self, actor: Actor) -> list[Customer]:
        _require_staff(actor, "list customers")
        with self.uow() as uow:
            return list(uow.customers.list(actor.shop_id))

    # -- models -----------------------------------------------------------

    def upload_model(
        self, actor: Actor, data: bytes, filename: str, units: Units | str = Units.MM
    ) -> UploadedModel:
        """Analyse an uploaded file and keep it (rejected files are not kept)."""
        with self.uow() as uow:
            uow.shops.get(actor.shop_id)
        analysis = self.analyser.analyse(data, filename, units)
        ref = self.models.put(data, filename)
        return UploadedModel(ref, analysis)

    # -- building an order (draft, and staff in review) ---------------------

    def create_order(self, actor: Actor, customer_id: str | None = None) -> Order:
        """Start a draft: a customer for themselves, staff for any customer (IQT) or none yet."""
        if actor.is_customer:
            if customer_id not in (None, actor.id):
                raise PermissionDenied(f"{actor} cannot create orders for another customer")
            customer_id = actor.id
        with self.uow() as uow:
            shop = uow.shops.get(actor.shop_id)
            if customer_id is not None:
                self._customer_for(uow, actor, customer_id)
            customer = uow.customers.get(customer_id) if customer_id else None
            order = Order(
                id=self.new_id(),
                shop_id=shop.id,
                number=uow.orders.next_number(shop.id),
                currency=shop.settings.currency,
                created_at=self.clock.now(),
                customer_id=customer_id,
                billing_address=customer.billing_address if customer else None,
            )
            uow.orders.add(order)
            uow.commit()
        return order

    def add_line(
        self,
        actor: Actor,
        order_id: str,
        model: UploadedModel,
        spec: LineSpec,
        notes: str = "",
    ) -> OrderLine:
        """Add a part to the order, priced instantly from the shop's catalog."""
        if not self.models.exists(model.ref.sha256):
            raise NotFound(f"model {model.ref.filename} ({model.ref.sha256[:12]}) is not stored")

        def change(uow: UnitOfWork, order: Order) -> OrderLine:
            catalog = uow.shops.catalog(order.shop_id)
            quote = price_line(catalog, model.analysis, spec)
            line = OrderLine(
                id=self.new_id(), model_sha256=model.ref.sha256,
                model_filename=model.ref.filename, analysis=model.analysis,
                spec=quote.spec, notes=notes, quote=quote,
            )
            order.set_line(line)
            return line

        return self._edit(actor, order_id, change)

    def update_line(
        self,
        actor: Actor,
        order_id: str,
        line_id: str,
        *,
        spec: LineSpec | None = None,
        notes: str | None = None,
    ) -> OrderLine:
        """Change what was picked for a part (re-priced) or its notes."""

        def change(uow: UnitOfWork, order: Order) -> OrderLine:
            line = order.line(line_id)
            if spec is not None:
                quote = price_line(uow.shops.catalog(order.shop_id), line.analysis, spec)
                line = attrs.evolve(line, spec=quote.spec, quote=quote)
            if notes is not None:
                line = attrs.evolve(line, notes=notes)
            order.set_line(line)
            return line

        return self._edit(actor, order_id, change)

    def remove_line(self, actor: Actor, order_id: str, line_id: str) -> None:
        self._edit(actor, order_id, lambda _, order: order.remove_line(line_id))

    def set_shipping(
        self, actor: Actor, order_id: str, method: str, address: Address | None = None
    ) -> None:
        """Choose a shipping method (pickup needs no address, the others do)."""

        def change(uow: UnitOfWork, order: Order) -> None:
            chosen = uow.shops.catalog(order.shop_id).shipping_method(method)
            if not chosen.pickup and address is None:
                raise InvalidInput(f"shipping by {chosen.label} needs a delivery address")
            order.set_shipping(Shipping(method, None if chosen.pickup else address))

        self._edit(actor, order_id, change)

    def set_billing_address(self, actor: Actor, order_id: str, address: Address) -> None:
        self._edit(actor, order_id, lambda _, order: order.set_billing_address(address))

    def set_customer(self, actor: Actor, order_id: str, customer_id: str) -> None:
        """Staff choose the end customer of an IQT draft."""
        _require_staff(actor, "choose the customer of an order")

        def change(uow: UnitOfWork, order: Order) -> None:
            customer = self._customer_for(uow, actor, customer_id)
            order.set_customer(customer.id)
            if order.billing_address is None:
                order.set_billing_address(customer.billing_address)

        self._edit(actor, order_id, change)

    def set_firm_price(
        self,
        actor: Actor,
        order_id: str,
        line_id: str,
        unit_price: Money | None,
        fees: Sequence[Fee] = (),
    ) -> None:
        """Staff set the price of a line in review (``None`` returns to the instant price)."""
        _require_staff(actor, "set firm prices")
        self._edit(
            actor, order_id, lambda _, order: order.set_firm_price(line_id, unit_price, fees)
        )

    # -- reading ------------------------------------------------------------

    def get_order(self, actor: Actor, order_id: str) -> Order:
        with self.uow() as uow:
            return self._order_for(uow, actor, order_id)

    def get_order_by_number(self, actor: Actor, number: str) -> Order:
        with self.uow() as uow:
            order = uow.orders.get_by_number(actor.shop_id, number)
            _check_access(actor, order)
            return order

    def list_orders(
        self,
        actor: Actor,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
    ) -> list[Order]:
        """Staff see the shop's orders; a customer sees their own."""
        customer_id = _listed_customer(actor, customer_id)
        with self.uow() as uow:
            return list(uow.orders.list(actor.shop_id, status, customer_id))

    def list_order_summaries(
        self,
        actor: Actor,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
        limit: int | None = None,
    ) -> list[OrderSummary]:
        """What a list of orders shows, newest first, without loading the orders.

        Who sees what is as for :meth:`list_orders`; ``limit`` keeps the newest.
        """
        customer_id = _listed_customer(actor, customer_id)
        with self.uow() as uow:
            return list(uow.orders.summaries(actor.shop_id, status, customer_id, limit))

    def quote(self, actor: Actor, order_id: str) -> OrderQuote:
        """The order's price breakdown as it stands."""
        with self.uow() as uow:
            order = self._order_for(uow, actor, order_id)
            return self._quote(uow, order)

    def review_reasons(self, actor: Actor, order_id: str) -> tuple[str, ...]:
        """Why the order must go to review instead of being placed (empty: it may be placed)."""
        with self.uow() as uow:
            order = self._order_for(uow, actor, order_id)
            return self._review_reasons(uow, order)

    def payment_page(self, actor: Actor, order_id: str) -> PaymentPage:
        with self.uow() as uow:
            order = self._order_for(uow, actor, order_id)
            total = self._quote(uow, order).total
            return PaymentPage(order.id, order.number, order.payment_page_state, total)

    def invoice(self, actor: Actor, order_id: str, payment_terms: str | None = None) -> Invoice:
        """The invoice document of a placed order (for paying later by bank transfer)."""
        with self.uow() as uow:
            order = self._order_for(uow, actor, order_id)
            if order.payment_page_state in (None, PaymentPageState.BUDGET_OFFER,
                                            PaymentPageState.FIRM_OFFER):
                raise GuardFailed(
                    f"{order} is {order.status.label}: no invoice before it is placed"
                )
            shop = uow.shops.get(order.shop_id)
            quote = self._quote(uow, order)
            customer = uow.customers.get(order.customer_id) if order.customer_id else None
            terms = payment_terms or _default_terms(order)
            return render_invoice(order, customer, shop, quote,
                                  issued_at=self.clock.now(), payment_terms=terms)

    def invoice_pdf(self, actor: Actor, order_id: str, payment_terms: str | None = None) -> bytes:
        """The invoice of :meth:`invoice` as a PDF document, ready to download."""
        from fabcore.app.rendering.invoice_pdf import render_invoice_pdf  # fpdf2 is slow to import

        return render_invoice_pdf(self.invoice(actor, order_id, payment_terms))

    # -- status changes -------------------------------------------------------

    def place(self, actor: Actor, order_id: str, note: str | None = None) -> Order:
        """Place the order directly (allowed when the review policy does not demand review)."""

        def change(uow: UnitOfWork, order: Order) -> OrderEvent:
            event = order.place(actor, self.clock.now(),
                                review_reasons=self._review_reasons(uow, order), note=note)
            order.agreed_quote = quote_order(uow.shops.catalog(order.shop_id), order)
            return event

        return self._transition(actor, order_id, change)

    def submit_for_review(self, actor: Actor, order_id: str, note: str | None = None) -> Order:
        return self._transition(
            actor, order_id, lambda _, o: o.submit_for_review(actor, self.clock.now(), note=note)
        )

    def send_firm_offer(
        self,
        actor: Actor,
        order_id: str,
        valid_for: timedelta | None = None,
        note: str | None = None,
    ) -> Order:
        """Send the firm offer; the customer's mail links to this revision only."""
        validity = self.offer_validity if valid_for is None else valid_for

        def change(uow: UnitOfWork, order: Order) -> OrderEvent:
            now = self.clock.now()
            quote = quote_order(uow.shops.catalog(order.shop_id), order)
            event = order.send_firm_offer(actor, now, now + validity, note=note)
            order.agreed_quote = quote
            return event

        return self._transition(actor, order_id, change)

    def accept_offer(self, actor: Actor, order_id: str, revision: int) -> Order:
        return self._transition(
            actor, order_id, lambda _, o: o.accept_offer(actor, self.clock.now(), revision)
        )

    def open_offer_link(self, token: str, order_id: str | None = None) -> Order:
        """The order a firm-offer link points at (the link is checked, nothing changes).

        ``order_id``, where the link's URL names the order too, must be the
        order the link was issued for.
        """
        with self.uow() as uow:
            return self._order_from_link(uow, token, LinkPurpose.OFFER, order_id)[0]

    def accept_offer_link(self, token: str, order_id: str | None = None) -> Order:
        """The customer accepts the offer from the link in their mail.

        The link accepts only the revision it was issued for: after a newer
        offer, or once accepted, it is refused with ``OfferLinkInvalid``.
        """
        with self.uow() as uow:
            order, revision = self._order_from_link(uow, token, LinkPurpose.OFFER, order_id)
        if order.customer_id is None:
            raise OfferLinkInvalid("the offer has no customer")
        actor = Actor.customer(order.customer_id, order.shop_id)
        return self.accept_offer(actor, order.id, revision)

    def open_pay_link(self, token: str, order_id: str | None = None) -> PaymentPage:
        """The payment page a "review and pay" link (PO payment due) points at."""
        with self.uow() as uow:
            order, _ = self._order_from_link(uow, token, LinkPurpose.PAY, order_id)
            return PaymentPage(order.id, order.number, order.payment_page_state,
                               self._quote(uow, order).total)

    def request_changes(self, actor: Actor, order_id: str, message: str) -> Order:
        return self._transition(
            actor, order_id, lambda _, o: o.request_changes(actor, self.clock.now(), message)
        )

    def provide_po(
        self,
        actor: Actor,
        order_id: str,
        po_number: str,
        document: bytes | None = None,
        document_name: str = "purchase-order.pdf",
    ) -> Order:
        """Record the customer's purchase order (the document is kept in the model store)."""
        ref = self.models.put(document, document_name).sha256 if document else None
        return self._transition(
            actor, order_id,
            lambda _, o: o.provide_po(actor, self.clock.now(), po_number, document_ref=ref),
        )

    def accept_po(
        self,
        actor: Actor,
        order_id: str,
        due_date: date | None = None,
        net_days: int | None = None,
    ) -> Order:
        return self._transition(
            actor, order_id,
            lambda _, o: o.accept_po(actor, self.clock.now(), due_date=due_date, net_days=net_days),
        )

    def move_po_due_date(self, actor: Actor, order_id: str, due_date: date) -> Order:
        """Staff move a PO's payment due date; the reminder goes out again before the new one."""
        _require_staff(actor, "move payment due dates")

        def work() -> Order:
            with self.uow() as uow:
                order = self._order_for(uow, actor, order_id)
                order.move_po_due_date(actor, self.clock.now(), due_date)
                uow.orders.save(order)
                uow.commit()
                return order

        return self._retrying(work)

    def request_payment(self, actor: Actor, order_id: str) -> Order:
        return self._transition(
            actor, order_id, lambda _, o: o.request_payment(actor, self.clock.now())
        )

    def cancel(self, actor: Actor, order_id: str, reason: str) -> Order:
        """Cancel: a customer before production, staff at any time before the end."""

        def change(_: UnitOfWork, order: Order) -> OrderEvent:
            if actor.is_customer:
                return order.cancel_by_customer(actor, self.clock.now(), reason)
            return order.cancel_by_admin(actor, self.clock.now(), reason)

        return self._transition(actor, order_id, change)

    def change_status(
        self,
        actor: Actor,
        order_id: str,
        target: OrderStatus | str,
        note: str | None = None,
        **data: Any,
    ) -> Order:
        """The back office's "Change" button: move to ``target`` by the trigger that leads there."""
        _require_staff(actor, "change the status")
        status = _status(target)

        def work() -> Order:
            with self.uow() as uow:
                order = self._order_for(uow, actor, order_id)
                shop = uow.shops.get(order.shop_id)
                method_data = dict(data)
                method_data.setdefault("settings", shop.settings)
                trigger = _trigger_to(order, status)
                if trigger is not None and "settings" not in trigger_parameters(trigger):
                    del method_data["settings"]
                event = order.change_status(actor, self.clock.now(), status, note,
                                            **method_data)
                self._save_with_mails(uow, order, [event], shop)
                return order

        return self._retrying(work)

    # -- payments ---------------------------------------------------------------

    def start_checkout(self, actor: Actor, order_id: str) -> Checkout:
        """A hosted payment page for the order; possible only once it is placed and unpaid."""
        with self.uow() as uow:
            order = self._order_for(uow, actor, order_id)
            total = self._quote(uow, order).total
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
        shop; the payment status stays. ``PaymentEventRejected``, with nothing
        changed, for forged events and for orders that do not exist, are
        canceled or are not placed yet.
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
            total = self._quote(uow, order).total
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
            self._save_with_mails(uow, order, [change])
            return outcome

    def record_payment(
        self, actor: Actor, order_id: str, reference: str, amount: Money, note: str | None = None
    ) -> Order:
        """Staff record a manual payment (bank transfer, cheque, paid PO)."""
        _require_staff(actor, "record payments")
        return self._transition(
            actor, order_id,
            lambda _, o: o.mark_paid(actor, self.clock.now(), reference, amount, note=note),
        )

    def mark_unpaid(self, actor: Actor, order_id: str, note: str | None = None) -> Order:
        _require_staff(actor, "mark orders unpaid")
        return self._transition(
            actor, order_id, lambda _, o: o.mark_unpaid(actor, self.clock.now(), note=note)
        )

    # -- jobs ---------------------------------------------------------------------

    def send_due_reminders(self, now: datetime | None = None) -> int:
        """Queue the PO-payment reminder for every order whose day has come, once each.

        Safe to run as often as you like: a reminder is recorded on the order in
        the same unit of work as its mail; a new due date gets a new reminder.
        """
        now = now or self.clock.now()
        sent = 0
        with self.uow() as uow:
            last_day = now.date() + timedelta(days=PO_REMINDER_DAYS)
            candidates = [o.id for o in uow.orders.po_payments_due_by(last_day)]
        for order_id in candidates:
            for attempt in range(_CONFLICT_RETRIES + 1):
                try:
                    with self.uow() as uow:
                        order = uow.orders.get(order_id)
                        event = order.claim_po_payment_reminder(now)
                        if event is None:
                            break
                        self._save_with_mails(uow, order, [event])
                        sent += 1
                        break
                except ConcurrencyConflict:
                    if attempt == _CONFLICT_RETRIES:
                        raise
        return sent

    def relay_outbox(self, now: datetime | None = None, batch: int = 100) -> RelayResult:
        """Hand due mails from the outbox to the mailer (at least once, with retries)."""
        return relay_outbox(self.uow, self.mailer, now or self.clock.now(), batch=batch)

    # -- machinery ------------------------------------------------------------------

    def _customer_for(self, uow: UnitOfWork, actor: Actor, customer_id: str) -> Customer:
        customer = uow.customers.get(customer_id)
        if customer.shop_id != actor.shop_id:
            raise PermissionDenied(f"{actor} cannot see customers of another shop")
        if actor.is_customer and customer.id != actor.id:
            raise PermissionDenied(f"{actor} cannot see another customer")
        return customer

    def _order_for(self, uow: UnitOfWork, actor: Actor, order_id: str) -> Order:
        order = uow.orders.get(order_id)
        _check_access(actor, order)
        return order

    def _quote(self, uow: UnitOfWork, order: Order) -> OrderQuote:
        """The agreed breakdown once there is one, else the current catalog's price."""
        if order.agreed_quote is not None and not order.editable:
            return order.agreed_quote
        return quote_order(uow.shops.catalog(order.shop_id), order)

    def _review_reasons(self, uow: UnitOfWork, order: Order) -> tuple[str, ...]:
        shop = uow.shops.get(order.shop_id)
        quote = self._quote(uow, order)
        return review_required(shop.settings.review, quote, [line.analysis for line in order.lines])

    def _order_from_link(
        self, uow: UnitOfWork, token: str, purpose: LinkPurpose, order_id: str | None = None
    ) -> tuple[Order, int]:
        claims = self.links.verify(token, order_id=order_id, purpose=purpose, now=self.clock.now())
        try:
            order = uow.orders.get(claims.order_id)
        except NotFound:
            raise OfferLinkInvalid("the link is for an order that does not exist") from None
        if purpose is LinkPurpose.OFFER and claims.revision != order.offer_revision:
            raise OfferLinkInvalid(
                f"the link is for offer revision {claims.revision}; {order} has a newer offer "
                f"(revision {order.offer_revision})"
            )
        if purpose is LinkPurpose.OFFER and order.status is not OrderStatus.FIRM_OFFER_SENT:
            raise OfferLinkInvalid(f"{order} is {order.status.label}: the offer is no longer open")
        return order, claims.revision

    def _retrying(self, work: Callable[[], _T]) -> _T:
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                return work()
            except ConcurrencyConflict:
                if attempt == _CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def _edit(
        self, actor: Actor, order_id: str, change: Callable[[UnitOfWork, Order], _T]
    ) -> _T:
        """Edit an order's content: customers in draft, staff in draft and review."""

        def work() -> _T:
            with self.uow() as uow:
                order = self._order_for(uow, actor, order_id)
                if actor.is_customer and order.status is not OrderStatus.DRAFT:
                    raise PermissionDenied(
                        f"{order} is {order.status.label}: only the shop can change it now"
                    )
                result = change(uow, order)
                uow.orders.save(order)
                uow.commit()
                return result

        return self._retrying(work)

    def _transition(
        self, actor: Actor, order_id: str, change: Callable[[UnitOfWork, Order], OrderEvent]
    ) -> Order:
        """Run one status or payment change and queue its mails, atomically."""

        def work() -> Order:
            with self.uow() as uow:
                order = self._order_for(uow, actor, order_id)
                event = change(uow, order)
                self._save_with_mails(uow, order, [event])
                return order

        return self._retrying(work)

    def _save_with_mails(
        self, uow: UnitOfWork, order: Order, events: Sequence[OrderEvent],
        shop: Shop | None = None,
    ) -> None:
        """Save the changed order with the mails its events cause, and commit.

        The mails are rendered before the first write, so the write lock
        (SQLite's, or the order's row) is held for the writes alone.
        ``shop`` is the order's shop when the caller has it already.
        """
        messages = self._queue(uow, order, events, shop)
        uow.orders.save(order)
        uow.outbox.add_all(messages)
        uow.commit()

    def _queue(
        self, uow: UnitOfWork, order: Order, events: Sequence[OrderEvent],
        shop: Shop | None = None,
    ) -> list[OutboxMessage]:
        """The outbox messages of the mails ``events`` cause, rendered."""
        if shop is None:
            shop = uow.shops.get(order.shop_id)
        customer = uow.customers.get(order.customer_id) if order.customer_id else None
        now = self.clock.now()
        messages: list[OutboxMessage] = []
        for event in events:
            for intent in mails_for(event, order, customer, shop):
                link_url = None
                if intent.link is LinkPurpose.OFFER:
                    expires = order.offer_expires_at or now + self.offer_validity
                    token = self.links.issue(order.id, intent.link, order.offer_revision, expires)
                    link_url = self.urls.offer(token)
                elif intent.link is LinkPurpose.PAY:
                    token = self.links.issue(
                        order.id, intent.link, order.offer_revision, now + self.pay_link_validity
                    )
                    link_url = self.urls.pay(token)
                message_id = self.new_id()
                mail = self.renderer.render(
                    intent, order=order, customer=customer, shop=shop,
                    link_url=link_url, message_id=f"<{message_id}@fabcore>",
                )
                messages.append(
                    OutboxMessage(id=message_id, shop_id=shop.id, order_id=order.id,
                                  mail=mail, created_at=now)
                )
        return messages


def _require_staff(actor: Actor, action: str) -> None:
    if actor.kind not in (ActorKind.STAFF, ActorKind.SYSTEM):
        raise PermissionDenied(f"{actor} may not {action}: staff only")


def _same_shop(actor: Actor, shop_id: str) -> None:
    if actor.shop_id != shop_id:
        raise PermissionDenied(f"{actor} does not belong to shop {shop_id!r}")


def _check_access(actor: Actor, order: Order) -> None:
    if order.shop_id != actor.shop_id:
        raise PermissionDenied(f"{actor} cannot see orders of another shop")
    if actor.is_customer and order.customer_id != actor.id:
        raise PermissionDenied(f"{actor} cannot see {order}: it belongs to another customer")


def _listed_customer(actor: Actor, customer_id: str | None) -> str | None:
    """The customer filter a listing runs with: a customer lists their own orders only."""
    if actor.is_customer:
        if customer_id not in (None, actor.id):
            raise PermissionDenied(f"{actor} cannot list another customer's orders")
        return actor.id
    return customer_id


def _status(target: OrderStatus | str) -> OrderStatus:
    if isinstance(target, OrderStatus):
        return target
    try:
        return OrderStatus(target)
    except ValueError:
        choices = ", ".join(s.value for s in OrderStatus)
        raise InvalidInput(f"unknown status {target!r}; statuses are: {choices}") from None


def _trigger_to(order: Order, target: OrderStatus) -> Trigger | None:
    """The trigger ``Order.change_status`` takes to ``target``, if any."""
    return next((t for t, dest in order.reachable() if dest is target), None)


def _default_terms(order: Order) -> str:
    if order.po is not None and order.po.due_date is not None:
        return f"Payable by {order.po.due_date.isoformat()} (purchase order {order.po.number})."
    return "Payable within 14 days of the invoice date by bank transfer or online payment."
