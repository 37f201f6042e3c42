"""Incoming payments through the use cases: idempotent, mismatches flagged, bad orders refused.

Driven like production: the gateway double signs each event, and
``Fabcore.handle_payment_event`` verifies and applies it. The concurrency
test runs on whatever unit of work the ``app`` fixture is built on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from app_fixtures import ADDRESS
from fabcore.adapters.clock import ManualClock
from fabcore.adapters.memory import MemoryPaymentGateway, RecordingMailer
from fabcore.app.drafting import UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.app.payments import PaymentOutcome
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Customer
from fabcore.domain.errors import GuardFailed, InvalidInput, PaymentEventRejected
from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus, PaymentStatus
from fabcore.ports.mailer import Mail

SHOP_INBOX = ("orders@acme-prototyping.example",)


def _placed(app: Fabcore, actor: Actor, model: UploadedModel) -> tuple[Order, Money]:
    order = app.create_order(actor)
    app.add_line(actor, order.id, model, LineSpec("fdm", "pla", quantity=10))
    app.set_shipping(actor, order.id, "standard", ADDRESS)
    order = app.place(actor, order.id)
    total = app.quote(actor, order.id).total
    assert total is not None
    return order, total


def _gateway(app: Fabcore) -> MemoryPaymentGateway:
    assert isinstance(app.payments, MemoryPaymentGateway)
    return app.payments


def _new_mails(app: Fabcore, mailer: RecordingMailer) -> list[Mail]:
    """Mails queued since the last call (relays the outbox)."""
    start = len(mailer.sent)
    app.relay_outbox()
    return mailer.sent[start:]


@pytest.fixture
def placed(
    app: Fabcore, mailer: RecordingMailer, as_ada: Actor, bracket: UploadedModel
) -> tuple[Order, Money]:
    order, total = _placed(app, as_ada, bracket)
    _new_mails(app, mailer)
    return order, total


def deliver_concurrently(
    app: Fabcore, payload: bytes, headers: dict[str, str], *, threads: int = 8, times: int = 10
) -> list[PaymentOutcome]:
    """``threads`` threads, started together, each deliver the event ``times`` times."""
    barrier = threading.Barrier(threads)
    outcomes: list[PaymentOutcome] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(times):
                outcome = app.handle_payment_event(payload, headers)
                with lock:
                    outcomes.append(outcome)
        except BaseException as exc:  # collected and re-raised in the test thread
            with lock:
                errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(w.is_alive() for w in workers)
    if errors:
        raise errors[0]
    return outcomes


def _assert_paid_once(order: Order, total: Money, mails: Sequence[Mail], ada: Customer) -> None:
    assert order.payment_status is PaymentStatus.PAID
    assert [(p.status, p.amount) for p in order.payments] == [(PaymentStatus.PAID, total)]
    assert order.payment_issues == []
    assert sorted(m.to for m in mails) == sorted([(ada.email,), SHOP_INBOX])
    assert all("Payment received" in m.subject or m.subject.endswith(": Paid") for m in mails)


# -- idempotency ---------------------------------------------------------------------------


def test_the_same_event_delivered_ten_times_counts_once(
    app: Fabcore, mailer: RecordingMailer, as_ada: Actor, ada: Customer,
    placed: tuple[Order, Money],
) -> None:
    order, total = placed
    payload, headers = _gateway(app).paid_event(order.id, total, event_id="evt_1")

    outcomes = [app.handle_payment_event(payload, headers) for _ in range(10)]

    assert [o.applied for o in outcomes] == [True] + [False] * 9
    assert {o.detail for o in outcomes[1:]} == {"already recorded"}
    stored = app.get_order(as_ada, order.id)
    _assert_paid_once(stored, total, _new_mails(app, mailer), ada)
    assert stored.payments[0].event_id == "evt_1"
    assert len([h for h in stored.history if h.to_status is OrderStatus.PLACED]) == 1


def test_the_same_event_delivered_concurrently_counts_once(
    app: Fabcore, mailer: RecordingMailer, as_ada: Actor, ada: Customer,
    placed: tuple[Order, Money],
) -> None:
    order, total = placed
    payload, headers = _gateway(app).paid_event(order.id, total, event_id="evt_1")

    outcomes = deliver_concurrently(app, payload, headers, threads=8, times=10)

    assert len(outcomes) == 80
    assert sum(o.applied for o in outcomes) == 1
    assert not any(o.flagged for o in outcomes)
    _assert_paid_once(app.get_order(as_ada, order.id), total, _new_mails(app, mailer), ada)


def test_two_events_reporting_one_payment_count_once(
    app: Fabcore, mailer: RecordingMailer, as_ada: Actor, ada: Customer,
    placed: tuple[Order, Money],
) -> None:
    order, total = placed
    gateway = _gateway(app)
    first = gateway.paid_event(order.id, total, event_id="evt_session", reference="pi_1")
    second = gateway.paid_event(order.id, total, event_id="evt_intent", reference="pi_1")

    assert app.handle_payment_event(*first).applied
    assert app.handle_payment_event(*second) == PaymentOutcome(order.id, False, "already recorded")
    _assert_paid_once(app.get_order(as_ada, order.id), total, _new_mails(app, mailer), ada)


def test_two_different_payments_at_once_pay_once_and_flag_the_other(
    app: Fabcore, mailer: RecordingMailer, as_ada: Actor, placed: tuple[Order, Money],
) -> None:
    order, total = placed
    gateway = _gateway(app)
    events = [gateway.paid_event(order.id, total, event_id=f"evt_{n}", reference=f"pi_{n}")
              for n in (1, 2)]
    barrier = threading.Barrier(2)
    outcomes: list[PaymentOutcome] = []

    def run(n: int) -> None:
        barrier.wait(timeout=30)
        outcomes.append(app.handle_payment_event(*events[n]))

    workers = [threading.Thread(target=run, args=(n,)) for n in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert sorted((o.applied, o.flagged) for o in outcomes) == [(False, True), (True, False)]
    stored = app.get_order(as_ada, order.id)
    assert stored.paid
    assert len(stored.payments) == 1
    [issue] = stored.payment_issues
    assert {issue.reference, stored.payments[0].reference} == {"pi_1", "pi_2"}
    assert "already paid" in issue.reason
    subjects = [m.subject for m in _new_mails(app, mailer)]
    assert len(subjects) == 3
    assert sum("Payment needs attention" in s for s in subjects) == 1


# -- amounts that do not match -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("paid", "reason"),
    [
        ("short", "short by"),
        ("over", "over by"),
        ("currency", "wrong currency"),
    ],
)
def test_a_payment_that_does_not_match_the_total_is_recorded_and_flagged(
    app: Fabcore, mailer: RecordingMailer, as_ada: Actor, staff: Actor,
    placed: tuple[Order, Money], paid: str, reason: str,
) -> None:
    order, total = placed
    amount = {"short": total - Money("10.00", "EUR"), "over": total + Money("0.01", "EUR"),
              "currency": Money(total.amount, "USD")}[paid]
    payload, headers = _gateway(app).paid_event(order.id, amount, event_id="evt_odd",
                                                reference="pi_odd")

    outcome = app.handle_payment_event(payload, headers)

    assert (outcome.applied, outcome.flagged) == (False, True)
    assert reason in outcome.detail
    stored = app.get_order(staff, order.id)
    assert stored.payment_status is PaymentStatus.UNPAID
    assert stored.payments == []
    [issue] = stored.payment_issues
    assert (issue.reference, issue.amount, issue.expected, issue.event_id) == (
        "pi_odd", amount, total, "evt_odd")
    assert reason in issue.reason
    [mail] = _new_mails(app, mailer)
    assert mail.to == SHOP_INBOX
    assert "Payment needs attention" in mail.subject
    assert order.number in mail.subject
    assert str(amount) in mail.text
    assert f"Amount due: {total}" in mail.text
    assert reason in mail.html

    assert app.handle_payment_event(payload, headers).detail == "already recorded"
    assert len(app.get_order(staff, order.id).payment_issues) == 1
    assert _new_mails(app, mailer) == []


def test_after_a_flagged_payment_the_right_one_still_pays(
    app: Fabcore, mailer: RecordingMailer, as_ada: Actor, placed: tuple[Order, Money],
) -> None:
    order, total = placed
    gateway = _gateway(app)
    app.handle_payment_event(*gateway.paid_event(order.id, Money("1.00", "EUR")))
    assert app.handle_payment_event(*gateway.paid_event(order.id, total)).applied
    stored = app.get_order(as_ada, order.id)
    assert stored.paid
    assert len(stored.payment_issues) == 1


def test_a_second_payment_for_a_paid_order_is_flagged_not_lost(
    app: Fabcore, mailer: RecordingMailer, staff: Actor, placed: tuple[Order, Money],
) -> None:
    order, total = placed
    gateway = _gateway(app)
    app.handle_payment_event(*gateway.paid_event(order.id, total, reference="pi_1"))
    _new_mails(app, mailer)

    outcome = app.handle_payment_event(*gateway.paid_event(order.id, total, reference="pi_2"))

    assert (outcome.applied, outcome.flagged) == (False, True)
    stored = app.get_order(staff, order.id)
    assert stored.paid
    assert [p.reference for p in stored.payments] == ["pi_1"]
    [issue] = stored.payment_issues
    assert (issue.reference, issue.expected) == ("pi_2", None)
    assert "already paid (reference pi_1)" in issue.reason
    [mail] = _new_mails(app, mailer)
    assert mail.to == SHOP_INBOX


def test_record_payment_mismatch_refuses_a_matching_amount(placed: tuple[Order, Money],
                                                           staff: Actor) -> None:
    order, total = placed
    with pytest.raises(InvalidInput, match="record it with mark_paid"):
        order.record_payment_mismatch(staff, order.created_at, "pi_1", total, total)
    with pytest.raises(InvalidInput, match="give the amount it is due"):
        order.record_payment_mismatch(staff, order.created_at, "pi_1", total, None)
    assert order.payment_issues == []
    assert not order.knows_payment("pi_1")


def test_record_payment_mismatch_refuses_a_canceled_order(
    app: Fabcore, staff: Actor, placed: tuple[Order, Money],
) -> None:
    order, total = placed
    canceled = app.cancel(staff, order.id, "duplicate order")
    with pytest.raises(GuardFailed, match="Canceled by admin: payment is possible only"):
        canceled.record_payment_mismatch(staff, canceled.created_at, "pi_1",
                                         Money("1.00", "EUR"), total)
    assert canceled.payment_issues == []


# -- refused events -----------------------------------------------------------------------------


def _snapshot(app: Fabcore, actor: Actor, order_id: str) -> tuple[object, ...]:
    order = app.get_order(actor, order_id)
    with app.uow() as uow:
        queued = len(uow.outbox.list())
    return (order.version, order.payment_status, list(order.payments),
            list(order.payment_issues), queued)


def test_an_event_for_an_unknown_order_is_refused(
    app: Fabcore, staff: Actor, placed: tuple[Order, Money],
) -> None:
    order, total = placed
    before = _snapshot(app, staff, order.id)
    payload, headers = _gateway(app).paid_event("no-such-order", total, event_id="evt_x")
    with pytest.raises(PaymentEventRejected, match=r"event evt_x.*unknown order 'no-such-order'"):
        app.handle_payment_event(payload, headers)
    assert _snapshot(app, staff, order.id) == before


@pytest.mark.parametrize("by", ["customer", "staff"])
def test_an_event_for_a_canceled_order_is_refused(
    app: Fabcore, as_ada: Actor, staff: Actor, placed: tuple[Order, Money], by: str,
) -> None:
    order, total = placed
    app.cancel(as_ada if by == "customer" else staff, order.id, "changed my mind")
    before = _snapshot(app, staff, order.id)
    payload, headers = _gateway(app).paid_event(order.id, total)
    label = "Canceled by customer" if by == "customer" else "Canceled by admin"
    with pytest.raises(PaymentEventRejected, match=f"refused: order {order.number} is {label}"):
        app.handle_payment_event(payload, headers)
    assert _snapshot(app, staff, order.id) == before


def test_an_event_for_an_order_in_review_is_refused(
    app: Fabcore, as_ada: Actor, staff: Actor, bracket: UploadedModel,
) -> None:
    order = app.create_order(as_ada)
    app.add_line(as_ada, order.id, bracket, LineSpec("fdm", "pla", quantity=10))
    order = app.submit_for_review(as_ada, order.id)
    before = _snapshot(app, staff, order.id)
    payload, headers = _gateway(app).paid_event(order.id, Money("10.00", "EUR"))
    with pytest.raises(PaymentEventRejected, match="Waiting for review; nothing was recorded"):
        app.handle_payment_event(payload, headers)
    assert _snapshot(app, staff, order.id) == before


def test_a_forged_event_is_refused(
    app: Fabcore, staff: Actor, placed: tuple[Order, Money],
) -> None:
    order, total = placed
    before = _snapshot(app, staff, order.id)
    payload, headers = _gateway(app).paid_event(order.id, total)
    forged = payload.replace(str(total.amount).encode(), b"0.01")
    with pytest.raises(PaymentEventRejected, match="signature"):
        app.handle_payment_event(forged, headers)
    assert _snapshot(app, staff, order.id) == before


def test_a_repeated_event_is_recognised_after_the_order_moved_on(
    app: Fabcore, staff: Actor, placed: tuple[Order, Money],
) -> None:
    order, total = placed
    payload, headers = _gateway(app).paid_event(order.id, total, event_id="evt_1")
    assert app.handle_payment_event(payload, headers).applied
    app.cancel(staff, order.id, "customer went bankrupt")
    app.mark_unpaid(staff, order.id, note="refunded")
    before = _snapshot(app, staff, order.id)

    assert app.handle_payment_event(payload, headers).detail == "already recorded"
    assert _snapshot(app, staff, order.id) == before


def test_a_payment_for_an_order_on_hold_is_applied(
    app: Fabcore, staff: Actor, placed: tuple[Order, Money],
) -> None:
    order, total = placed
    app.change_status(staff, order.id, OrderStatus.ON_HOLD, note="waiting for material")
    assert app.handle_payment_event(*_gateway(app).paid_event(order.id, total)).applied
    stored = app.get_order(staff, order.id)
    assert (stored.status, stored.paid) == (OrderStatus.ON_HOLD, True)


# -- manual payment ------------------------------------------------------------------------------


def _shape(mails: Sequence[Mail], number: str) -> list[tuple[object, ...]]:
    return sorted((m.to, m.cc, m.subject.replace(number, "#")) for m in mails)


def test_a_manual_payment_sends_the_same_paid_mails_as_an_online_one(
    app: Fabcore, mailer: RecordingMailer, clock: ManualClock, as_ada: Actor, staff: Actor,
    bracket: UploadedModel,
) -> None:
    online, total = _placed(app, as_ada, bracket)
    manual, _ = _placed(app, as_ada, bracket)
    _new_mails(app, mailer)

    app.handle_payment_event(*_gateway(app).paid_event(online.id, total, reference="pi_1"))
    online_mails = _new_mails(app, mailer)
    paid = app.record_payment(staff, manual.id, "bank transfer 2026-11-02", total,
                              note="received on the business account")
    manual_mails = _new_mails(app, mailer)

    assert paid.payment_status is PaymentStatus.PAID
    assert paid.payments[-1].actor == staff
    assert len(manual_mails) == 2
    assert _shape(manual_mails, manual.number) == _shape(online_mails, online.number)
    customer_mail = next(m for m in manual_mails if m.to != SHOP_INBOX)
    assert f"We received your payment of {total}" in customer_mail.text
    assert "bank transfer 2026-11-02" in customer_mail.text
