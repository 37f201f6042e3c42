"""Payment status, the customer's payment page, and the PO payment reminder."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from order_builders import CUSTOMER, NOW, STAFF, SYSTEM, eur, order_in

from fabcore.domain.errors import (
    CurrencyMismatch,
    GuardFailed,
    InvalidInput,
    PermissionDenied,
)
from fabcore.domain.money import Money
from fabcore.domain.order import PaymentPageState, PurchaseOrder
from fabcore.domain.status import OrderStatus, PaymentStatus

PAGE = PaymentPageState


@pytest.mark.parametrize(
    ("status", "held_from", "paid", "expected"),
    [
        ("draft", None, False, None),
        ("waiting_for_review", None, False, PAGE.BUDGET_OFFER),
        ("firm_offer_sent", None, False, PAGE.FIRM_OFFER),
        ("placed", None, False, PAGE.READY_FOR_PAYMENT),
        ("placed", None, True, PAGE.PAID),
        ("po_payment_due", None, False, PAGE.READY_FOR_PAYMENT),
        ("manufacturing", None, False, PAGE.READY_FOR_PAYMENT),
        ("delivered", None, True, PAGE.PAID),
        ("delivered", None, False, PAGE.READY_FOR_PAYMENT),
        ("on_hold", "waiting_for_review", False, PAGE.BUDGET_OFFER),
        ("on_hold", "firm_offer_sent", False, PAGE.FIRM_OFFER),
        ("on_hold", "shipped", False, PAGE.READY_FOR_PAYMENT),
        ("canceled_by_customer", None, False, None),
        ("canceled_by_admin", None, True, None),
    ],
)
def test_payment_page_state(
    status: str, held_from: str | None, paid: bool, expected: PaymentPageState | None
) -> None:
    order = order_in(status, held_from=held_from, paid=paid)
    assert order.payment_page_state is expected
    can_pay = expected is PAGE.READY_FOR_PAYMENT
    assert (order.payment_page_state is not None and order.payment_page_state.can_pay) is can_pay


def test_payment_page_labels() -> None:
    assert [p.label for p in PAGE] == ["Budget offer", "Firm offer", "Ready for payment", "Paid"]


@pytest.mark.parametrize("actor", [STAFF, SYSTEM], ids=["staff", "gateway"])
def test_mark_paid_records_the_payment(actor: object) -> None:
    order = order_in("placed")
    event = order.mark_paid(actor, NOW, "pi_123", eur("25.00"))  # type: ignore[arg-type]
    assert order.payment_status is PaymentStatus.PAID
    assert (event.from_status, event.to_status, event.reference, event.amount) == (
        PaymentStatus.UNPAID, PaymentStatus.PAID, "pi_123", eur("25.00"))
    assert [(p.status, p.reference) for p in order.payments] == [(PaymentStatus.PAID, "pi_123")]
    assert order.status is OrderStatus.PLACED
    assert order.history == []


@pytest.mark.parametrize(
    ("status", "held_from"),
    [("draft", None), ("waiting_for_review", None), ("firm_offer_sent", None),
     ("on_hold", "firm_offer_sent"), ("canceled_by_customer", None), ("canceled_by_admin", None)],
)
def test_payment_only_once_placed(status: str, held_from: str | None) -> None:
    order = order_in(status, held_from=held_from)
    with pytest.raises(GuardFailed, match="only once the order is placed"):
        order.mark_paid(SYSTEM, NOW, "pi_1", eur("25.00"))
    assert order.payment_status is PaymentStatus.UNPAID


@pytest.mark.parametrize(
    ("status", "held_from"),
    [("placed", None), ("po_payment_due", None), ("on_hold", "manufacturing"),
     ("delivered", None)],
)
def test_payment_accepted_from_placement_on(status: str, held_from: str | None) -> None:
    order = order_in(status, held_from=held_from)
    order.mark_paid(SYSTEM, NOW, "pi_1", eur("25.00"))
    assert order.paid


def test_mark_paid_checks_its_input() -> None:
    order = order_in("placed")
    with pytest.raises(PermissionDenied):
        order.mark_paid(CUSTOMER, NOW, "pi_1", eur("1.00"))
    with pytest.raises(CurrencyMismatch):
        order.mark_paid(STAFF, NOW, "pi_1", Money("1.00", "USD"))
    with pytest.raises(InvalidInput, match="positive"):
        order.mark_paid(STAFF, NOW, "pi_1", eur("0"))
    with pytest.raises(InvalidInput, match="reference"):
        order.mark_paid(STAFF, NOW, " ", eur("1.00"))
    assert order.payment_status is PaymentStatus.UNPAID
    assert order.payments == []


def test_paying_twice_is_refused() -> None:
    order = order_in("placed")
    order.mark_paid(SYSTEM, NOW, "pi_1", eur("25.00"))
    with pytest.raises(GuardFailed, match="already paid"):
        order.mark_paid(SYSTEM, NOW, "pi_2", eur("25.00"))
    assert len(order.payments) == 1


def test_mark_unpaid() -> None:
    order = order_in("placed", paid=True)
    with pytest.raises(PermissionDenied):
        order.mark_unpaid(CUSTOMER, NOW)
    event = order.mark_unpaid(STAFF, NOW, note="chargeback")
    assert order.payment_status is PaymentStatus.UNPAID
    assert (event.from_status, event.to_status) == (PaymentStatus.PAID, PaymentStatus.UNPAID)
    assert order.payments[-1].note == "chargeback"
    with pytest.raises(GuardFailed, match="not paid"):
        order.mark_unpaid(STAFF, NOW)


# -- PO payment reminder -------------------------------------------------------

DUE = date(2026, 4, 1)


def test_reminder_is_claimed_once_two_days_before_due() -> None:
    order = order_in("po_payment_due")
    order.po = PurchaseOrder("PO-7", NOW, due_date=DUE)
    assert order.po_reminder_date() == date(2026, 3, 30)

    day_before_window = NOW.replace(month=3, day=29, hour=23)
    assert order.claim_po_payment_reminder(day_before_window) is None

    first = NOW.replace(month=3, day=30, hour=0)
    reminder = order.claim_po_payment_reminder(first)
    assert reminder is not None
    assert (reminder.order_id, reminder.due_date, reminder.at) == (order.id, DUE, first)
    assert order.po.reminder_sent_at == first
    assert order.claim_po_payment_reminder(first + timedelta(hours=1)) is None
    assert order.po_reminder_date() is None


@pytest.mark.parametrize(
    "day",
    [date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1)],
)
def test_reminder_window_reaches_the_due_date(day: date) -> None:
    order = order_in("po_payment_due")
    order.po = PurchaseOrder("PO-7", NOW, due_date=DUE)
    assert order.claim_po_payment_reminder(NOW.replace(month=day.month, day=day.day)) is not None


def test_no_reminder_after_due_date_or_when_paid_or_moved_on() -> None:
    late = order_in("po_payment_due")
    late.po = PurchaseOrder("PO-7", NOW, due_date=DUE)
    assert late.claim_po_payment_reminder(NOW.replace(month=4, day=2)) is None

    paid = order_in("po_payment_due", paid=True)
    paid.po = PurchaseOrder("PO-7", NOW, due_date=DUE)
    assert paid.claim_po_payment_reminder(NOW.replace(month=3, day=31)) is None

    released = order_in("free_for_manufacturing")
    released.po = PurchaseOrder("PO-7", NOW, due_date=DUE)
    assert released.claim_po_payment_reminder(NOW.replace(month=3, day=31)) is None


def test_accepting_the_po_sets_up_the_reminder() -> None:
    order = order_in("po_provided")
    order.accept_po(STAFF, NOW, net_days=10)
    assert order.po_reminder_date() == NOW.date() + timedelta(days=8)
