"""``fabcore demo``: the three ordering cases of a shop, end to end.

1. A regular order: the customer uploads, sees the instant price, places
   the order and pays online; the shop produces and ships.
2. A review: the customer submits for review, the shop sets a firm price
   and sends the offer, the customer accepts from the link in the mail and
   pays by purchase order (with the reminder before the due date).
3. IQT: staff build a draft for a customer, come back to it, send the
   offer; the customer confirms and only then can pay online.

Every status change, the price breakdown and each mail sent (recipients and
subject) are printed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TextIO

from fabcore.adapters.clock import ManualClock
from fabcore.adapters.memory import MemoryPaymentGateway, RecordingMailer
from fabcore.app import report
from fabcore.app.bootstrap import bootstrap
from fabcore.app.catalogs import load_sample_catalog
from fabcore.app.samples import bracket_stl, sample_shop
from fabcore.app.services import Fabcore
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address, BillingContact
from fabcore.domain.errors import FabcoreError
from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus

_LINK = re.compile(r"https?://\S+/offers/\S+")


class _Narrator:
    def __init__(self, app: Fabcore, out: TextIO) -> None:
        self.app, self.out = app, out

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def status(self, order: Order) -> None:
        last = order.history[-1]
        self.say(f"  {order.number}: {last.from_status.label} -> {last.to_status.label}"
                 f"  ({last.trigger.value} by {last.actor.kind.value})")
        self.mails()

    def mails(self) -> None:
        mailer = self.app.mailer
        assert isinstance(mailer, RecordingMailer)
        before = len(mailer.sent)
        self.app.relay_outbox()
        for mail in mailer.sent[before:]:
            cc = f" cc {', '.join(mail.cc)}" if mail.cc else ""
            self.say(f"    mail to {', '.join(mail.to)}{cc}: {mail.subject}")


def _offer_link(app: Fabcore, email: str) -> str:
    mailer = app.mailer
    assert isinstance(mailer, RecordingMailer)
    for mail in reversed(mailer.sent):
        found = _LINK.search(mail.text)
        if email in mail.to and found:
            return found.group(0)
    raise LookupError(f"no offer link mailed to {email}")


def run_demo(out: TextIO, app: Fabcore | None = None) -> int:
    """Run the three cases on ``app`` (default: a fresh in-memory one)."""
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    if app is None:
        app = bootstrap("memory://", clock=clock)
    else:
        clock = app.clock if isinstance(app.clock, ManualClock) else clock
    n = _Narrator(app, out)
    shop = app.create_shop(sample_shop(), load_sample_catalog())
    staff = Actor.staff("sam", shop.id)
    address = Address("Ada Lovelace", "1 Analytical Way", "10115", "Berlin", "DE")
    bracket = bracket_stl()

    n.say("== Case 1: a regular order, paid online ==")
    ada = app.register_customer(shop.id, name="Ada Lovelace", email="ada@example.com",
                                billing_address=address)
    as_ada = Actor.customer(ada.id, shop.id)
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
    n.say(f"  payment page: {app.payment_page(as_ada, order.id).state}")
    checkout = app.start_checkout(as_ada, order.id)
    n.say(f"  checkout {checkout.id} for {checkout.amount}")
    gateway = app.payments
    assert isinstance(gateway, MemoryPaymentGateway)
    payload, headers = gateway.paid_event(order.id, checkout.amount)
    app.handle_payment_event(payload, headers)
    n.say("  payment received")
    n.mails()
    for target in (OrderStatus.MANUFACTURING, OrderStatus.READY_FOR_SHIPPING):
        n.status(app.change_status(staff, order.id, target))
    n.status(app.change_status(staff, order.id, OrderStatus.SHIPPED,
                               tracking_number="1Z999AA10123456784"))
    n.status(app.change_status(staff, order.id, OrderStatus.DELIVERED))

    n.say()
    n.say("== Case 2: review, firm offer, purchase order ==")
    bob = app.register_customer(
        shop.id, name="Bob Builder", email="bob@example.com", company="Builder GmbH",
        billing_address=address,
        billing_contact=BillingContact("Accounts", "accounts@builder.example"),
    )
    as_bob = Actor.customer(bob.id, shop.id)
    model = app.upload_model(as_bob, bracket, "bracket.stl")
    order = app.create_order(as_bob)
    line = app.add_line(as_bob, order.id, model, LineSpec("sls", "pa12", quantity=250))
    app.set_shipping(as_bob, order.id, "pickup")
    order = app.submit_for_review(as_bob, order.id, note="Can you do 250 by next month?")
    n.status(order)
    n.say(f"  payment page: {app.payment_page(as_bob, order.id).state}")
    app.set_firm_price(staff, order.id, line.id, Money(Decimal("6.40"), shop.settings.currency))
    order = app.send_firm_offer(staff, order.id, valid_for=timedelta(days=14))
    n.status(order)
    link = _offer_link(app, bob.email)
    n.say(f"  offer link: {link[:60]}...")
    order = app.accept_offer_link(link.rsplit("/", 1)[1])
    n.status(order)
    n.status(app.provide_po(as_bob, order.id, "PO-4711"))
    due = (clock.now() + timedelta(days=30)).date()
    n.status(app.accept_po(staff, order.id, due_date=due))
    clock.set(datetime.combine(due - timedelta(days=2), datetime.min.time(), UTC))
    queued = app.send_due_reminders()
    app.send_due_reminders()
    n.say(f"  reminder job ran twice two days before {due}: {queued} reminder queued")
    n.mails()

    n.say()
    n.say("== Case 3: IQT, the shop quotes for a customer ==")
    cleo = app.register_customer(shop.id, name="Cleo Maker", email="cleo@example.com",
                                 billing_address=address, actor=staff)
    draft = app.create_order(staff, cleo.id)
    model = app.upload_model(staff, bracket, "bracket.stl")
    app.add_line(staff, draft.id, model, LineSpec("cnc", "aluminium", quantity=4))
    app.set_shipping(staff, draft.id, "express", address)
    n.say(f"  draft {draft.number} saved for {cleo.name}; nothing mailed")
    n.mails()
    as_cleo = Actor.customer(cleo.id, shop.id)
    try:
        app.start_checkout(as_cleo, draft.id)
    except FabcoreError as exc:
        n.say(f"  pay before confirming: refused ({exc})")
    order = app.send_firm_offer(staff, draft.id)
    n.status(order)
    order = app.accept_offer(as_cleo, order.id, order.offer_revision)
    n.status(order)
    checkout = app.start_checkout(as_cleo, order.id)
    n.say(f"  after confirming, checkout {checkout.id} for {checkout.amount}")
    return 0
