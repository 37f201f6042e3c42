"""The three ordering cases, PO payment and reminders, through the use cases."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from app_fixtures import ADDRESS
from fabcore.adapters.clock import ManualClock
from fabcore.adapters.memory import MemoryPaymentGateway, RecordingMailer
from fabcore.app.drafting import UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Customer
from fabcore.domain.errors import GuardFailed, InvalidInput, OfferLinkInvalid
from fabcore.domain.money import Money
from fabcore.domain.order import Order, PaymentPageState
from fabcore.domain.quote import LineSpec
from fabcore.domain.shop import Shop
from fabcore.domain.status import OrderStatus, PaymentStatus
from fabcore.ports.outbox import OutboxStatus

OFFER_LINK = re.compile(r"http://localhost:8000/w/[a-z0-9-]+/offers/([A-Za-z0-9_\-.=]+)")
PAY_LINK = re.compile(r"http://localhost:8000/w/[a-z0-9-]+/pay/([A-Za-z0-9_\-.=]+)")


def _draft(app: Fabcore, actor: Actor, model: UploadedModel, qty: int = 10) -> Order:
    order = app.create_order(actor)
    app.add_line(actor, order.id, model, LineSpec("fdm", "pla", quantity=qty))
    app.set_shipping(actor, order.id, "standard", ADDRESS)
    return app.get_order(actor, order.id)


def _sent(app: Fabcore, mailer: RecordingMailer) -> list[tuple[tuple[str, ...], str]]:
    start = len(mailer.sent)
    app.relay_outbox()
    return [(m.to, m.subject) for m in mailer.sent[start:]]


def test_case_1_place_and_pay_online(
    app: Fabcore, mailer: RecordingMailer, as_ada: Actor, ada: Customer, bracket: UploadedModel
) -> None:
    order = _draft(app, as_ada, bracket)
    assert app.review_reasons(as_ada, order.id) == ()
    quote = app.quote(as_ada, order.id)
    assert quote.total is not None
    assert quote.total == quote.subtotal + sum(
        (f.amount for f in quote.order_fees), Money.zero("EUR")
    ) + quote.minimum_order_adjustment + quote.shipping + quote.tax
    assert _sent(app, mailer) == []  # a draft sends nothing

    order = app.place(as_ada, order.id)
    assert order.status is OrderStatus.PLACED
    result = app.relay_outbox()
    assert result.sent == 2
    customer_mail, shop_mail = mailer.sent[-2:]
    assert customer_mail.to == (ada.email,)
    assert customer_mail.cc == ("accounts@example.com",)
    assert shop_mail.to == ("orders@acme-prototyping.example",)
    assert order.number in customer_mail.subject
    assert order.number in shop_mail.subject

    page = app.payment_page(as_ada, order.id)
    assert page.state is PaymentPageState.READY_FOR_PAYMENT
    assert page.can_pay
    assert page.total == quote.total
    checkout = app.start_checkout(as_ada, order.id)
    assert checkout.amount == quote.total
    assert app.start_checkout(as_ada, order.id) == checkout  # idempotent per order + amount

    gateway = app.payments
    assert isinstance(gateway, MemoryPaymentGateway)
    payload, headers = gateway.paid_event(order.id, checkout.amount, event_id="evt_1")
    assert app.handle_payment_event(payload, headers).applied
    assert not app.handle_payment_event(payload, headers).applied  # repeated delivery
    order = app.get_order(as_ada, order.id)
    assert order.payment_status is PaymentStatus.PAID
    assert len(order.payments) == 1
    paid_mails = _sent(app, mailer)
    assert len(paid_mails) == 2
    assert app.payment_page(as_ada, order.id).state is PaymentPageState.PAID


def test_payment_with_wrong_amount_is_flagged_not_applied(
    app: Fabcore, as_ada: Actor, bracket: UploadedModel
) -> None:
    order = app.place(as_ada, _draft(app, as_ada, bracket).id)
    gateway = app.payments
    assert isinstance(gateway, MemoryPaymentGateway)
    payload, headers = gateway.paid_event(order.id, Money("1.00", "EUR"))
    outcome = app.handle_payment_event(payload, headers)
    assert (outcome.applied, outcome.flagged) == (False, True)
    assert "short by" in outcome.detail
    order = app.get_order(as_ada, order.id)
    assert order.payment_status is PaymentStatus.UNPAID
    assert [i.amount for i in order.payment_issues] == [Money("1.00", "EUR")]


def test_case_2_review_offer_link_and_po(
    app: Fabcore, mailer: RecordingMailer, clock: ManualClock, staff: Actor, as_ada: Actor,
    ada: Customer, bracket: UploadedModel,
) -> None:
    order = _draft(app, as_ada, bracket)
    order = app.submit_for_review(as_ada, order.id)
    assert order.status is OrderStatus.WAITING_FOR_REVIEW
    page = app.payment_page(as_ada, order.id)
    assert page.state is PaymentPageState.BUDGET_OFFER
    assert not page.can_pay
    with pytest.raises(GuardFailed):
        app.start_checkout(as_ada, order.id)
    assert len(_sent(app, mailer)) == 2

    line = order.lines[0]
    app.set_firm_price(staff, order.id, line.id, Money("2.50", "EUR"))
    order = app.send_firm_offer(staff, order.id)
    assert order.status is OrderStatus.FIRM_OFFER_SENT
    assert order.offer_revision == 1
    app.relay_outbox()
    offer_mail = next(m for m in reversed(mailer.sent) if m.to == (ada.email,))
    assert offer_mail.cc == ("accounts@example.com",)
    match = OFFER_LINK.search(offer_mail.text)
    assert match is not None
    first_token = match.group(1)
    assert app.payment_page(as_ada, order.id).state is PaymentPageState.FIRM_OFFER

    # The customer asks for changes; the shop sends revision 2; the old link is stale.
    app.request_changes(as_ada, order.id, "Please quote 12 parts")
    app.update_line(staff, order.id, line.id, spec=LineSpec("fdm", "pla", quantity=12))
    app.set_firm_price(staff, order.id, line.id, Money("2.40", "EUR"))
    app.send_firm_offer(staff, order.id)
    app.relay_outbox()
    second = OFFER_LINK.search(
        next(m for m in reversed(mailer.sent) if m.to == (ada.email,)).text
    )
    assert second is not None
    with pytest.raises(OfferLinkInvalid, match="revision 1"):
        app.accept_offer_link(first_token)
    order = app.accept_offer_link(second.group(1))
    assert order.status is OrderStatus.PLACED
    assert order.lines[0].spec.quantity == 12
    with pytest.raises(OfferLinkInvalid):
        app.accept_offer_link(second.group(1))  # second accept

    order = app.provide_po(as_ada, order.id, "PO-4711", document=b"%PDF-1.4 po")
    assert order.po is not None
    assert order.po.document_ref is not None
    due = (clock.now() + timedelta(days=30)).date()
    order = app.accept_po(staff, order.id, due_date=due)
    assert order.status is OrderStatus.PO_PAYMENT_DUE
    app.relay_outbox()
    due_mail = next(m for m in reversed(mailer.sent) if m.to == (ada.email,))
    assert PAY_LINK.search(due_mail.text) is not None
    assert due_mail.cc == ("accounts@example.com",)


def test_offer_link_expires(
    app: Fabcore, mailer: RecordingMailer, clock: ManualClock, staff: Actor, as_ada: Actor,
    ada: Customer, bracket: UploadedModel,
) -> None:
    order = app.submit_for_review(as_ada, _draft(app, as_ada, bracket).id)
    app.send_firm_offer(staff, order.id, valid_for=timedelta(days=3))
    app.relay_outbox()
    match = OFFER_LINK.search(next(m for m in mailer.sent if "offer" in m.subject.lower()
                                   and m.to == (ada.email,)).text)
    assert match is not None
    clock.advance(timedelta(days=3, seconds=1))
    with pytest.raises(OfferLinkInvalid, match="expired"):
        app.accept_offer_link(match.group(1))
    assert app.get_order(as_ada, order.id).status is OrderStatus.FIRM_OFFER_SENT


def test_tampered_offer_link_changes_nothing(
    app: Fabcore, mailer: RecordingMailer, staff: Actor, as_ada: Actor, ada: Customer,
    bracket: UploadedModel,
) -> None:
    order = app.submit_for_review(as_ada, _draft(app, as_ada, bracket).id)
    app.send_firm_offer(staff, order.id)
    app.relay_outbox()
    match = OFFER_LINK.search(mailer.sent[-2].text + mailer.sent[-1].text)
    assert match is not None
    token = match.group(1)
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    with pytest.raises(OfferLinkInvalid):
        app.accept_offer_link(flipped)
    assert app.get_order(as_ada, order.id).status is OrderStatus.FIRM_OFFER_SENT


def test_case_3_iqt_draft_offer_confirm_then_pay(
    app: Fabcore, mailer: RecordingMailer, staff: Actor, shop: Shop,
) -> None:
    cleo = app.register_customer(staff, name="Cleo", email="cleo@example.com",
                                 billing_address=ADDRESS)
    model = app.upload_model(staff, _bracket(), "b.stl")
    draft = app.create_order(staff, cleo.id)
    app.add_line(staff, draft.id, model, LineSpec("cnc", "aluminium", quantity=4))
    app.set_shipping(staff, draft.id, "pickup")
    assert _sent(app, mailer) == []  # saving a draft mails nobody
    again = app.get_order(staff, draft.id)  # come back to it later
    assert again.status is OrderStatus.DRAFT
    assert len(again.lines) == 1

    as_cleo = Actor.customer(shop.id, cleo.id)
    with pytest.raises(GuardFailed):
        app.start_checkout(as_cleo, draft.id)
    order = app.send_firm_offer(staff, draft.id)
    assert [to for to, _ in _sent(app, mailer)] == [
        ("cleo@example.com",), ("orders@acme-prototyping.example",)
    ]
    with pytest.raises(GuardFailed):
        app.start_checkout(as_cleo, order.id)  # accept first
    order = app.accept_offer(as_cleo, order.id, order.offer_revision)
    assert order.status is OrderStatus.PLACED
    assert app.start_checkout(as_cleo, order.id).amount == app.quote(as_cleo, order.id).total


def _bracket() -> bytes:
    from fabcore.app.samples import bracket_stl

    return bracket_stl()


def _po_due(app: Fabcore, staff: Actor, actor: Actor, model: UploadedModel,
            clock: ManualClock) -> Order:
    order = app.place(actor, _draft(app, actor, model).id)
    app.provide_po(actor, order.id, "PO-1")
    return app.accept_po(staff, order.id, due_date=(clock.now() + timedelta(days=10)).date())


def test_reminder_is_sent_once_however_often_the_job_runs(
    app: Fabcore, mailer: RecordingMailer, clock: ManualClock, staff: Actor, as_ada: Actor,
    ada: Customer, bracket: UploadedModel,
) -> None:
    order = _po_due(app, staff, as_ada, bracket, clock)
    app.relay_outbox()
    assert app.send_due_reminders() == 0  # ten days early
    clock.advance(timedelta(days=8))
    assert app.send_due_reminders() == 1
    assert app.send_due_reminders() == 0
    clock.advance(timedelta(hours=5))
    assert app.send_due_reminders() == 0
    mails = _sent(app, mailer)
    assert mails == [((ada.email,), mails[0][1])]
    assert "reminder" in mails[0][1].lower() or "due" in mails[0][1].lower()

    # The shop moves the due date: one new reminder before the new date.
    assert order.po is not None
    assert order.po.due_date is not None
    new_due = order.po.due_date + timedelta(days=20)
    app.move_po_due_date(staff, order.id, new_due)
    assert app.send_due_reminders() == 0
    clock.advance(timedelta(days=20))
    assert app.send_due_reminders() == 1
    assert app.send_due_reminders() == 0
    assert len(_sent(app, mailer)) == 1


def test_reminder_not_sent_when_paid(
    app: Fabcore, clock: ManualClock, staff: Actor, as_ada: Actor, bracket: UploadedModel,
) -> None:
    order = _po_due(app, staff, as_ada, bracket, clock)
    total = app.quote(staff, order.id).total
    assert total is not None
    app.record_payment(staff, order.id, "bank-123", total)
    clock.advance(timedelta(days=9))
    assert app.send_due_reminders() == 0


def test_semi_manual_policy_sends_big_orders_to_review(
    app: Fabcore, as_ada: Actor, bracket: UploadedModel,
) -> None:
    order = _draft(app, as_ada, bracket, qty=600)  # over max_quantity 500
    reasons = app.review_reasons(as_ada, order.id)
    assert any("600 parts" in r for r in reasons)
    with pytest.raises(GuardFailed, match="review"):
        app.place(as_ada, order.id)
    assert app.submit_for_review(as_ada, order.id).status is OrderStatus.WAITING_FOR_REVIEW


def test_change_status_reports_reachable_statuses(
    app: Fabcore, staff: Actor, as_ada: Actor, bracket: UploadedModel,
) -> None:
    order = app.place(as_ada, _draft(app, as_ada, bracket).id)
    with pytest.raises(Exception, match="reachable") as info:
        app.change_status(staff, order.id, OrderStatus.SHIPPED)
    assert "Manufacturing" in str(info.value)
    with pytest.raises(InvalidInput, match="unknown status"):
        app.change_status(staff, order.id, "teleported")
    moved = app.change_status(staff, order.id, "manufacturing")
    assert moved.status is OrderStatus.MANUFACTURING


def test_hold_and_resume_through_change_status(
    app: Fabcore, mailer: RecordingMailer, staff: Actor, as_ada: Actor, bracket: UploadedModel,
) -> None:
    order = app.place(as_ada, _draft(app, as_ada, bracket).id)
    app.relay_outbox()
    held = app.change_status(staff, order.id, OrderStatus.ON_HOLD, note="out of filament")
    assert held.held_from is OrderStatus.PLACED
    resumed = app.change_status(staff, order.id, OrderStatus.PLACED)
    assert resumed.status is OrderStatus.PLACED
    assert len(_sent(app, mailer)) == 4


def test_failing_mailer_keeps_mails_pending(
    app: Fabcore, mailer: RecordingMailer, as_ada: Actor, bracket: UploadedModel,
    clock: ManualClock,
) -> None:
    app.place(as_ada, _draft(app, as_ada, bracket).id)
    mailer.fail_next(2)
    result = app.relay_outbox()
    assert result.sent == 0
    assert result.retried == 2
    with app.uow() as uow:
        pending = uow.outbox.list(OutboxStatus.PENDING)
    assert len(pending) == 2
    assert all(m.attempts == 1 and m.last_error for m in pending)
    clock.advance(timedelta(hours=2))
    assert app.relay_outbox().sent == 2
    with app.uow() as uow:
        assert uow.outbox.list(OutboxStatus.PENDING) == []


def test_invoice_adds_up(app: Fabcore, as_ada: Actor, bracket: UploadedModel) -> None:
    order = _draft(app, as_ada, bracket)
    with pytest.raises(GuardFailed):
        app.invoice(as_ada, order.id)
    order = app.place(as_ada, order.id)
    invoice = app.invoice(as_ada, order.id)
    total = app.quote(as_ada, order.id).total
    assert total is not None
    assert f"{total.amount:,}" in invoice.text or str(total.amount) in invoice.text
    assert order.number in invoice.text


def test_firm_price_must_be_in_shop_currency(
    app: Fabcore, staff: Actor, as_ada: Actor, bracket: UploadedModel,
) -> None:
    order = app.submit_for_review(as_ada, _draft(app, as_ada, bracket).id)
    with pytest.raises(InvalidInput):
        app.set_firm_price(staff, order.id, order.lines[0].id, Money(Decimal(3), "USD"))


def test_offer_and_pay_links_refuse_misuse(
    app: Fabcore, mailer: RecordingMailer, clock: ManualClock, staff: Actor, as_ada: Actor,
    ada: Customer, bracket: UploadedModel,
) -> None:
    order_a = app.submit_for_review(as_ada, _draft(app, as_ada, bracket).id)
    order_b = app.submit_for_review(as_ada, _draft(app, as_ada, bracket).id)
    app.send_firm_offer(staff, order_a.id)
    app.relay_outbox()
    offer = OFFER_LINK.search(
        next(m for m in reversed(mailer.sent) if m.to == (ada.email,)).text
    )
    assert offer is not None
    token = offer.group(1)

    with pytest.raises(OfferLinkInvalid, match="another order"):
        app.accept_offer_link(token, order_id=order_b.id)  # A's link on B's page
    with pytest.raises(OfferLinkInvalid, match="is for 'offer', not 'pay'"):
        app.open_pay_link(token)  # an offer link is no payment link
    assert app.open_offer_link(token, order_id=order_a.id).id == order_a.id
    for order in (order_a, order_b):
        assert app.get_order(as_ada, order.id).status is not OrderStatus.PLACED

    placed = app.accept_offer_link(token, order_id=order_a.id)
    app.provide_po(as_ada, placed.id, "PO-9")
    app.accept_po(staff, placed.id, net_days=14)
    app.relay_outbox()
    pay = PAY_LINK.search(next(m for m in reversed(mailer.sent) if m.to == (ada.email,)).text)
    assert pay is not None
    page = app.open_pay_link(pay.group(1))
    assert page.order_id == order_a.id
    assert page.state is PaymentPageState.READY_FOR_PAYMENT
    assert page.total == app.quote(as_ada, order_a.id).total
    with pytest.raises(OfferLinkInvalid):
        app.accept_offer_link(pay.group(1))  # a payment link accepts no offer
