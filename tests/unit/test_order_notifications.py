"""The e-mail matrix: which mails each change causes, to whom, with which link."""

from __future__ import annotations

from datetime import date

import pytest
from order_builders import (
    ALL_STATUSES,
    BILLING_EMAIL,
    CUSTOMER,
    CUSTOMER_EMAIL,
    MAILS,
    NOW,
    SHOP_EMAILS,
    STAFF,
    SYSTEM,
    context,
    customer,
    eur,
    order_in,
    shop,
)

from fabcore.domain.events import PaymentChanged, PaymentReminderDue, StatusChanged
from fabcore.domain.notifications import MAIL_RULES, LinkPurpose, MailIntent, Recipient, mails_for
from fabcore.domain.status import OrderStatus, PaymentStatus, Trigger


def _changed(to: str, previous: str = "draft", note: str | None = None) -> StatusChanged:
    return StatusChanged("ord-1", OrderStatus(previous), OrderStatus(to), Trigger.HOLD, STAFF,
                         NOW, note)


def _summary(mails: list[MailIntent]) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...],
                                                    str | None]]:
    return [(m.kind.value, m.template, m.to, m.cc, m.link.value if m.link else None)
            for m in mails]


def _expected(occasion: str, *, cc: bool = True) -> list[tuple[str, str, tuple[str, ...],
                                                            tuple[str, ...], str | None]]:
    customer_template, shop_template, cc_billing, link = MAILS[occasion]
    out: list[tuple[str, str, tuple[str, ...], tuple[str, ...], str | None]] = []
    if customer_template:
        out.append(("customer", customer_template, (CUSTOMER_EMAIL,),
                    (BILLING_EMAIL,) if cc_billing and cc else (), link))
    if shop_template:
        out.append(("shop", shop_template, SHOP_EMAILS, (), None))
    return out


def test_matrix_covers_every_status_and_payment_occasion() -> None:
    keys = {k.value for k in MAIL_RULES}
    assert keys == set(ALL_STATUSES) | {"paid", "unpaid", "po_payment_reminder",
                                        "payment_flagged", "resumed"}


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_mails_per_status(status: str) -> None:
    order = order_in(status)
    mails = mails_for(_changed(status), order, customer(), shop())
    assert _summary(mails) == _expected(status)


def test_carbon_copy_exactly_on_four_statuses() -> None:
    copied = {s for s in ALL_STATUSES
              if any(m.cc for m in mails_for(_changed(s), order_in(s), customer(), shop()))}
    assert copied == {"firm_offer_sent", "placed", "po_provided", "po_payment_due"}


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_no_carbon_copy_without_a_billing_contact(status: str) -> None:
    mails = mails_for(_changed(status), order_in(status), customer(billing_contact=False), shop())
    assert _summary(mails) == _expected(status, cc=False)


def test_billing_contact_with_the_customers_own_address_gets_no_copy() -> None:
    buyer = customer()
    assert buyer.billing_contact is not None
    buyer.billing_contact = type(buyer.billing_contact)("Self", CUSTOMER_EMAIL.upper())
    [mail, _] = mails_for(_changed("placed"), order_in("placed"), buyer, shop())
    assert mail.cc == ()


def test_links_only_on_offer_and_po_payment_due() -> None:
    linked = {s: m.link for s in ALL_STATUSES
              for m in mails_for(_changed(s), order_in(s), customer(), shop()) if m.link}
    assert linked == {"firm_offer_sent": LinkPurpose.OFFER, "po_payment_due": LinkPurpose.PAY}


def test_context_names_previous_and_new_status_and_the_offer_revision() -> None:
    order = order_in("waiting_for_review")
    event = order.send_firm_offer(STAFF, NOW, context())
    [to_customer, to_shop] = mails_for(event, order, customer(), shop())
    for mail in (to_customer, to_shop):
        assert mail.context["order_number"] == "1042"
        assert mail.context["previous_status"] == "waiting_for_review"
        assert mail.context["previous_status_label"] == "Waiting for review"
        assert mail.context["new_status"] == "firm_offer_sent"
        assert mail.context["new_status_label"] == "Firm offer sent"
        assert mail.context["offer_revision"] == "1"
        assert mail.context["shop_name"] == "Print Shop"
    assert to_customer.kind is Recipient.CUSTOMER
    assert to_shop.kind is Recipient.SHOP


def test_context_carries_note_and_due_date() -> None:
    order = order_in("po_provided")
    event = order.accept_po(STAFF, NOW, due_date=date(2026, 4, 1), note="net 30 agreed")
    [mail, _] = mails_for(event, order, customer(), shop())
    assert mail.context["note"] == "net 30 agreed"
    assert mail.context["due_date"] == "2026-04-01"


def test_paid_mails_both_sides_and_unpaid_nobody() -> None:
    order = order_in("placed")
    paid = order.mark_paid(SYSTEM, NOW, "pi_9", eur("25.00"))
    mails = mails_for(paid, order, customer(), shop())
    assert _summary(mails) == _expected("paid")
    assert mails[0].context["amount"] == "25.00 EUR"
    assert mails[0].context["payment_reference"] == "pi_9"

    unpaid = PaymentChanged("ord-1", PaymentStatus.PAID, PaymentStatus.UNPAID, STAFF, NOW)
    assert mails_for(unpaid, order, customer(), shop()) == []


def test_po_payment_reminder_goes_to_the_customer_alone() -> None:
    order = order_in("po_payment_due")
    reminder = PaymentReminderDue("ord-1", date(2026, 4, 1), NOW)
    mails = mails_for(reminder, order, customer(), shop())
    assert _summary(mails) == _expected("po_payment_reminder")
    assert mails[0].context["due_date"] == "2026-04-01"


def test_without_a_customer_only_the_shop_is_mailed() -> None:
    mails = mails_for(_changed("waiting_for_review"), order_in("waiting_for_review"), None, shop())
    assert [(m.kind, m.template) for m in mails] == [(Recipient.SHOP, "shop_review_needed")]


def test_a_customer_action_mails_like_any_other() -> None:
    order = order_in("firm_offer_sent")
    event = order.accept_offer(CUSTOMER, NOW, revision=1)
    assert _summary(mails_for(event, order, customer(), shop())) == _expected("placed")


@pytest.mark.parametrize("held_from", ["placed", "firm_offer_sent", "po_payment_due", "shipped"])
def test_resuming_says_resumed_and_never_repeats_the_status_mails(held_from: str) -> None:
    order = order_in("on_hold", held_from=held_from)
    event = order.resume(STAFF, NOW)
    mails = mails_for(event, order, customer(), shop())
    assert [(m.template, m.to, m.cc, m.link) for m in mails] == [
        ("customer_order_resumed", (CUSTOMER_EMAIL,), (), None),
        ("shop_order_resumed", SHOP_EMAILS, (), None)]
    assert mails[0].context["previous_status_label"] == "On hold"
    assert mails[0].context["new_status"] == held_from
