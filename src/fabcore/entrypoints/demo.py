"""``fabcore demo``: the three ordering cases of a shop, end to end.

1. A regular order: the customer uploads, sees the instant price, places
   the order and pays online; the shop produces and ships.
2. A review: the customer submits for review, the shop sets a firm price
   and sends the offer, the customer accepts from the link in the mail and
   pays by purchase order (with the reminder before the due date).
3. IQT: staff build a draft for a customer, come back to it, send the
   offer; the customer confirms and only then can pay online.

Every status change, the price breakdown and each mail sent (recipients and
subject) are printed. Run it again on the same database and it adds three
more orders for the same shop and customers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import TextIO

from fabcore.adapters.memory import MemoryPaymentGateway
from fabcore.app.bootstrap import bootstrap
from fabcore.app.catalogs import load_sample_catalog
from fabcore.app.facade import Fabcore
from fabcore.app.rendering import report
from fabcore.app.samples import bracket_stl, sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address, BillingContact, Customer
from fabcore.domain.errors import AlreadyExists, FabcoreError
from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus
from fabcore.ports.mailer import Mail, Mailer

_OFFER_LINK = re.compile(r"https?://\S+/offers/(\S+)")


class _Tee:
    """Passes mails on to the real mailer and keeps a copy to show."""

    def __init__(self, inner: Mailer) -> None:
        self.inner = inner
        self.sent: list[Mail] = []

    def send(self, mail: Mail) -> None:
        self.inner.send(mail)
        self.sent.append(mail)

    def check(self) -> None:
        self.inner.check()


class _Narrator:
    def __init__(self, app: Fabcore, tee: _Tee, out: TextIO) -> None:
        self.app, self.tee, self.out = app, tee, out

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def status(self, order: Order) -> None:
        last = order.history[-1]
        self.say(f"  {order.number}: {last.from_status.label} -> {last.to_status.label}"
                 f"  ({last.trigger.value} by {last.actor.kind.value})")
        self.mails()

    def mails(self) -> None:
        before = len(self.tee.sent)
        self.app.relay_outbox()
        for mail in self.tee.sent[before:]:
            cc = f" cc {', '.join(mail.cc)}" if mail.cc else ""
            self.say(f"    mail to {', '.join(mail.to)}{cc}: {mail.subject}")

    def offer_token(self, email: str) -> str:
        for mail in reversed(self.tee.sent):
            found = _OFFER_LINK.search(mail.text)
            if email in mail.to and found:
                return found.group(1)
        raise LookupError(f"no offer link was mailed to {email}")


def _customer(
    app: Fabcore,
    staff: Actor,
    name: str,
    email: str,
    address: Address,
    *,
    company: str | None = None,
    billing_contact: BillingContact | None = None,
) -> Customer:
    """The customer with this e-mail, registered on the first run."""
    found = app.find_customer(staff, email)
    if found is not None:
        return found
    return app.register_customer(
        staff, name=name, email=email, company=company,
        billing_address=address, billing_contact=billing_contact,
    )


def _page(app: Fabcore, actor: Actor, order: Order) -> str:
    page = app.payment_page(actor, order.id)
    state = page.state.label if page.state else "none"
    return f"{state}, " + ("with a pay button" if page.can_pay else "no pay button")


def run_demo(out: TextIO, app: Fabcore | None = None, shop_id: str = "acme") -> int:
    """Run the three cases on ``app`` (default: a fresh in-memory one)."""
    app = app or bootstrap("memory://")
    tee = _Tee(app.mailer)
    app.mailer = tee
    n = _Narrator(app, tee, out)
    sample = sample_shop(shop_id)
    try:
        shop = app.create_shop(shop_id, name=sample.name, catalog=load_sample_catalog(),
                               settings=sample.settings)
    except AlreadyExists:
        n.say(f"(shop {shop_id} exists: adding to it)")
        shop = app.get_shop(Actor.system(shop_id))
    staff = Actor.staff(shop.id, "sam")
    address = Address("Ada Lovelace", "1 Analytical Way", "10115", "Berlin", "DE")
    bracket = bracket_stl()
    currency = app.catalog(staff).currency

    n.say("== Case 1: a regular order, paid online ==")
    ada = _customer(app, staff, "Ada Lovelace", "ada@example.com", address)
    as_ada = Actor.customer(shop.id, ada.id)
    model = app.upload_model(as_ada, bracket, "bracket.stl")
    n.say(report.analysis_table(model.analysis))
    order = app.create_order(as_ada)
    app.add_line(as_ada, order.id, model, LineSpec("fdm", "pla", quantity=10))
    app.set_shipping(as_ada, order.id, "standard", address)
    n.say()
    n.say(report.order_breakdown(app.quote(as_ada, order.id)))
    n.say()
    order = app.place(as_ada, order.id)
    n.status(order)
    n.say(f"  payment page: {_page(app, as_ada, order)}")
    checkout = app.start_checkout(as_ada, order.id)
    n.say(f"  checkout {checkout.id} for {checkout.amount}")
    gateway = app.payments
    if isinstance(gateway, MemoryPaymentGateway):
        payload, headers = gateway.paid_event(order.id, checkout.amount)
        app.handle_payment_event(payload, headers)
        n.say("  the gateway reports the payment")
    else:
        app.record_payment(staff, order.id, "demo-transfer", checkout.amount)
        n.say("  payment recorded by staff")
    n.mails()
    for target in (OrderStatus.MANUFACTURING, OrderStatus.READY_FOR_SHIPPING):
        n.status(app.change_status(staff, order.id, target))
    n.status(app.change_status(staff, order.id, OrderStatus.SHIPPED,
                               {"tracking_number": "1Z999AA10123456784"}))
    n.status(app.change_status(staff, order.id, OrderStatus.DELIVERED))

    n.say()
    n.say("== Case 2: review, firm offer, purchase order ==")
    bob = _customer(
        app, staff, "Bob Builder", "bob@example.com", address, company="Builder GmbH",
        billing_contact=BillingContact("Accounts", "accounts@builder.example"),
    )
    as_bob = Actor.customer(shop.id, bob.id)
    model = app.upload_model(as_bob, bracket, "bracket.stl")
    order = app.create_order(as_bob)
    line = app.add_line(as_bob, order.id, model, LineSpec("sls", "pa12", quantity=250))
    app.set_shipping(as_bob, order.id, "pickup")
    order = app.submit_for_review(as_bob, order.id, note="Can you do 250 by next month?")
    n.status(order)
    n.say(f"  payment page: {_page(app, as_bob, order)}")
    app.set_firm_price(staff, order.id, line.id, Money(Decimal("6.40"), currency))
    order = app.send_firm_offer(staff, order.id, valid_for=timedelta(days=14))
    n.status(order)
    order = app.accept_offer_link(n.offer_token(bob.email))
    n.say("  the customer accepts from the link in the offer mail")
    n.status(order)
    n.status(app.provide_po(as_bob, order.id, "PO-4711"))
    due = (app.clock.now() + timedelta(days=30)).date()
    n.status(app.accept_po(staff, order.id, due_date=due))
    reminder_day = datetime.combine(due - timedelta(days=2), time(9), UTC)
    queued = app.send_due_reminders(reminder_day)
    again = app.send_due_reminders(reminder_day + timedelta(hours=1))
    n.say(f"  reminder job on {reminder_day.date()}, run twice: {queued + again} reminder queued")
    n.mails()

    n.say()
    n.say("== Case 3: IQT, the shop quotes for a customer ==")
    cleo = _customer(app, staff, "Cleo Maker", "cleo@example.com", address)
    draft = app.create_order(staff, cleo.id)
    model = app.upload_model(staff, bracket, "bracket.stl")
    app.add_line(staff, draft.id, model, LineSpec("cnc", "aluminium", quantity=4))
    app.set_shipping(staff, draft.id, "express", address)
    n.say(f"  draft {draft.number} saved for {cleo.name}; nothing is mailed for a draft")
    n.mails()
    as_cleo = Actor.customer(shop.id, cleo.id)
    try:
        app.start_checkout(as_cleo, draft.id)
    except FabcoreError as exc:
        n.say(f"  paying before confirming is refused: {exc}")
    order = app.send_firm_offer(staff, draft.id)
    n.status(order)
    order = app.accept_offer(as_cleo, order.id, order.offer_revision)
    n.status(order)
    checkout = app.start_checkout(as_cleo, order.id)
    n.say(f"  after confirming, checkout {checkout.id} for {checkout.amount}")
    return 0
