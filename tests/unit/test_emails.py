"""Rendering order mails: every template, the seed's wording, links, CC, overrides, escaping."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import jinja2
import pytest
from document_builders import (
    BILLING_EMAIL,
    CUSTOMER_EMAIL,
    NOW,
    ORDER_NUMBER,
    OTHER_SHOP_ID,
    REMINDER_AT,
    SENDER,
    SHOP_EMAILS,
    TOTAL,
    customer,
    eur,
    order,
    paid_event,
    quote,
    reminder_event,
    shop,
    status_changed,
)

from fabcore.app.rendering.emails import MailRenderer
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Customer
from fabcore.domain.errors import ConfigurationError, InvalidInput
from fabcore.domain.events import OrderEvent, PaymentFlagged
from fabcore.domain.notifications import MAIL_RULES, MailIntent, Notice, mails_for
from fabcore.domain.order import Order
from fabcore.domain.quote import OrderQuote
from fabcore.domain.shop import Shop
from fabcore.domain.status import OrderStatus, Trigger
from fabcore.ports.mailer import Mail

S = OrderStatus
LINK = "https://shop.example/offers/k1.eyJ0b2tlbiI6MX0.c2lnbmF0dXJl"
PAY_LINK = "https://shop.example/pay/k1.cGF5.c2ln"

# A plausible status each status is reached from.
PREVIOUS: dict[OrderStatus, OrderStatus] = {
    S.WAITING_FOR_REVIEW: S.DRAFT,
    S.FIRM_OFFER_SENT: S.WAITING_FOR_REVIEW,
    S.PLACED: S.FIRM_OFFER_SENT,
    S.PO_PROVIDED: S.PLACED,
    S.WAITING_FOR_PAYMENT: S.PLACED,
    S.PO_PAYMENT_DUE: S.PO_PROVIDED,
    S.ON_HOLD: S.MANUFACTURING,
    S.FREE_FOR_MANUFACTURING: S.PLACED,
    S.MANUFACTURING: S.FREE_FOR_MANUFACTURING,
    S.POST_PRODUCTION: S.MANUFACTURING,
    S.RE_PRINTING: S.POST_PRODUCTION,
    S.READY_FOR_SHIPPING: S.POST_PRODUCTION,
    S.SHIPPED: S.READY_FOR_SHIPPING,
    S.READY_FOR_PICKUP: S.POST_PRODUCTION,
    S.DELIVERED: S.SHIPPED,
    S.CANCELED_BY_CUSTOMER: S.PLACED,
    S.CANCELED_BY_ADMIN: S.MANUFACTURING,
}
STATUS_OCCASIONS = tuple(PREVIOUS)
TEMPLATE_IDS = sorted(
    {t for rule in MAIL_RULES.values() for t in (rule.customer, rule.shop) if t is not None}
)


def _situation(occasion: OrderStatus | Notice) -> tuple[OrderEvent, Order]:
    if occasion is Notice.PAID:
        return paid_event(), order(S.PLACED, paid=True)
    if occasion is Notice.PO_PAYMENT_REMINDER:
        return reminder_event(), order(S.PO_PAYMENT_DUE)
    if occasion is Notice.PAYMENT_FLAGGED:
        flagged = PaymentFlagged("ord-1", "pi_short", eur("300.00"), TOTAL,
                                 "paid 300.00 EUR, but order 2026-0001 is due 353.79 EUR: "
                                 "short by 53.79 EUR", Actor.system("shop-1"), NOW)
        return flagged, order(S.PLACED)
    if occasion is Notice.RESUMED:
        return status_changed(S.ON_HOLD, S.MANUFACTURING, Trigger.RESUME), order(S.MANUFACTURING)
    assert isinstance(occasion, OrderStatus)
    return status_changed(PREVIOUS[occasion], occasion), order(occasion)


def _link_for(intent: MailIntent) -> str | None:
    if intent.link is None:
        return None
    return LINK if intent.link.value == "offer" else PAY_LINK


def render_all(
    event: OrderEvent,
    the_order: Order,
    *,
    the_customer: Customer | None = None,
    the_shop: Shop | None = None,
    renderer: MailRenderer | None = None,
    the_quote: OrderQuote | None = None,
) -> dict[str, Mail]:
    """Every mail ``event`` causes, rendered, by template id."""
    cust = the_customer if the_customer is not None else customer()
    sh = the_shop if the_shop is not None else shop()
    r = renderer or MailRenderer()
    return {
        intent.template: r.render(intent, order=the_order, customer=cust, shop=sh,
                                  link_url=_link_for(intent),
                                  message_id=f"<{intent.template}@test>", quote=the_quote)
        for intent in mails_for(event, the_order, cust, sh)
    }


OCCASIONS: tuple[OrderStatus | Notice, ...] = (
    *STATUS_OCCASIONS, Notice.PAID, Notice.PO_PAYMENT_REMINDER, Notice.PAYMENT_FLAGGED,
    Notice.RESUMED,
)


@pytest.mark.parametrize("occasion", OCCASIONS, ids=lambda o: o.value)
def test_every_mail_renders_text_and_html_naming_the_order(occasion: OrderStatus | Notice) -> None:
    mails = render_all(*_situation(occasion))
    assert mails
    for template, mail in mails.items():
        assert mail.subject.startswith("[Acme Additive] "), template
        assert ORDER_NUMBER in mail.subject
        assert "\n" not in mail.subject
        assert ORDER_NUMBER in mail.text
        assert ORDER_NUMBER in mail.html
        assert mail.html.lstrip().startswith("<!DOCTYPE html>")
        assert f"<title>{mail.subject}</title>" in mail.html
        assert "bracket.stl" in mail.text
        assert "housing.step" in mail.html
        assert mail.sender == SENDER
        assert mail.message_id == f"<{template}@test>"


def test_every_template_id_of_the_rules_is_rendered_above() -> None:
    rendered = {t for occasion in OCCASIONS for t in render_all(*_situation(occasion))}
    assert rendered == set(TEMPLATE_IDS)
    assert len(TEMPLATE_IDS) == 16


@pytest.mark.parametrize("status", STATUS_OCCASIONS, ids=lambda s: s.value)
def test_status_mails_name_previous_and_new_status(status: OrderStatus) -> None:
    mails = render_all(*_situation(status))
    assert len(mails) == 2
    previous, new = PREVIOUS[status].label, status.label
    for template, mail in mails.items():
        assert new in mail.subject, template
        assert f'"{previous}"' in mail.text, template
        assert f'"{new}"' in mail.text, template
        assert f"&ldquo;{previous}&rdquo;" in mail.html, template
        assert new in mail.html, template


def test_subject_follows_the_house_format() -> None:
    mails = render_all(*_situation(S.FIRM_OFFER_SENT))
    expected = "[Acme Additive] Order 2026-0001: Firm offer sent"
    assert mails["customer_firm_offer"].subject == expected
    assert mails["shop_status_changed"].subject == expected
    placed = render_all(*_situation(S.PLACED))
    assert placed["shop_new_order"].subject == "[Acme Additive] New order 2026-0001: Placed"


# The seed's wording per status: what each side is told.
SEED_WORDING: list[tuple[OrderStatus | Notice, str, str]] = [
    (S.PLACED, "customer_order_placed", "has received your order 2026-0001"),
    (S.PLACED, "shop_new_order", "New order received: order 2026-0001 from Grace Hopper"),
    (S.WAITING_FOR_REVIEW, "customer_review_requested", "has received your submittal"),
    (S.WAITING_FOR_REVIEW, "shop_review_needed", "needs reviewing"),
    (S.FIRM_OFFER_SENT, "customer_firm_offer",
     "Your manufacturing offer for order 2026-0001 is ready"),
    (S.FIRM_OFFER_SENT, "shop_status_changed",
     'has been changed from "Waiting for review" to "Firm offer sent"'),
    (S.PO_PROVIDED, "customer_po_provided", 'has been updated to "PO provided"'),
    (S.PO_PROVIDED, "shop_status_changed", 'has been changed from "Placed" to "PO provided"'),
    (S.WAITING_FOR_PAYMENT, "customer_waiting_for_payment",
     "Your order 2026-0001 is waiting for payment"),
    (S.WAITING_FOR_PAYMENT, "shop_status_changed",
     'has been changed from "Placed" to "Waiting for payment"'),
    (S.PO_PAYMENT_DUE, "customer_po_payment_due",
     'has been changed from "PO provided" to "PO Payment due"'),
    (S.PO_PAYMENT_DUE, "customer_po_payment_due", "Review and pay your order"),
    (S.MANUFACTURING, "customer_status_changed",
     'has been changed from "Free for manufacturing" to "Manufacturing"'),
    (S.DELIVERED, "shop_status_changed", 'has been changed from "Shipped" to "Delivered"'),
    (Notice.PAID, "customer_payment_received", "We received your payment of 353.79 EUR"),
    (Notice.PAID, "shop_order_paid", "has paid 353.79 EUR for order 2026-0001"),
    (Notice.PO_PAYMENT_REMINDER, "customer_po_payment_reminder",
     "is due in 2 days, on 2026-04-01"),
    (Notice.PAYMENT_FLAGGED, "shop_payment_flagged",
     "A payment of 300.00 EUR arrived for order 2026-0001, but it was not applied: paid "
     "300.00 EUR, but order 2026-0001 is due 353.79 EUR: short by 53.79 EUR."),
]


@pytest.mark.parametrize(("occasion", "template", "phrase"), SEED_WORDING,
                         ids=[f"{t}:{p[:24]}" for _, t, p in SEED_WORDING])
def test_wording_per_status_follows_the_seed(
    occasion: OrderStatus | Notice, template: str, phrase: str
) -> None:
    mail = render_all(*_situation(occasion))[template]
    assert phrase in mail.text


def test_firm_offer_mail_links_to_the_offer() -> None:
    mail = render_all(*_situation(S.FIRM_OFFER_SENT))["customer_firm_offer"]
    assert LINK in mail.text
    assert f'href="{LINK}"' in mail.html
    assert "revision 2" in mail.text
    assert "valid until 2026-03-16 09:30 UTC" in mail.text


def test_po_payment_due_mail_links_to_review_and_pay_with_the_due_date() -> None:
    mail = render_all(*_situation(S.PO_PAYMENT_DUE))["customer_po_payment_due"]
    assert PAY_LINK in mail.text
    assert f'href="{PAY_LINK}"' in mail.html
    assert "payment is due on 2026-04-01" in mail.text
    assert "PO-4711" in mail.text


def test_reminder_mentions_the_due_date_and_links_to_pay() -> None:
    mails = render_all(reminder_event(), order(S.PO_PAYMENT_DUE))
    assert set(mails) == {"customer_po_payment_reminder"}
    mail = mails["customer_po_payment_reminder"]
    assert mail.subject == "[Acme Additive] Order 2026-0001: payment due in 2 days (2026-04-01)"
    assert "2026-04-01" in mail.html
    assert PAY_LINK in mail.text


def test_late_reminder_counts_the_days_that_are_left() -> None:
    late = reminder_event(REMINDER_AT + timedelta(days=1))  # 2026-03-31, due 2026-04-01
    mail = render_all(late, order(S.PO_PAYMENT_DUE))["customer_po_payment_reminder"]
    assert "is due tomorrow, on 2026-04-01" in mail.text


def test_billing_contact_is_copied_where_the_intent_says_so() -> None:
    mails = render_all(*_situation(S.FIRM_OFFER_SENT))
    to_customer, to_shop = mails["customer_firm_offer"], mails["shop_status_changed"]
    assert to_customer.to == (CUSTOMER_EMAIL,)
    assert to_customer.cc == (BILLING_EMAIL,)
    assert to_shop.to == SHOP_EMAILS
    assert to_shop.cc == ()
    manufacturing = render_all(*_situation(S.MANUFACTURING))["customer_status_changed"]
    assert manufacturing.cc == ()


def test_replies_go_to_the_other_side() -> None:
    mails = render_all(*_situation(S.PLACED))
    assert mails["customer_order_placed"].reply_to == SHOP_EMAILS[0]
    assert mails["shop_new_order"].reply_to == CUSTOMER_EMAIL


def test_details_show_lines_and_amounts_from_decimal() -> None:
    mail = render_all(*_situation(S.PLACED))["customer_order_placed"]
    text = mail.text
    for expected in ("1. bracket.stl", "fdm / pla, black, finishes: sanding", "Quantity: 4",
                     "Unit price: 12.35 EUR", "Line total: 49.40 EUR",
                     "2. housing.step", "cnc / aluminium, finishes: anodized",
                     "Unit price: 87.50 EUR", "+ CNC programming: 45.00 EUR",
                     "Line total: 220.00 EUR",
                     "Order total (before shipping and tax): 269.40 EUR",
                     "Shipping: dhl", "9 Dock Street", "20457 Hamburg"):
        assert expected in text
    assert "49.40 EUR" in mail.html
    assert "269.40 EUR" in mail.html


def test_details_with_the_quote_show_fees_shipping_tax_and_total() -> None:
    event, the_order = _situation(S.PLACED)
    mail = render_all(event, the_order, the_quote=quote(the_order))["customer_order_placed"]
    for expected in ("Subtotal: 269.40 EUR", "startup FDM / PLA: 5.00 EUR",
                     "Shipping (dhl): 12.90 EUR", "Tax 19%: 56.49 EUR",
                     "Order total: 353.79 EUR"):
        assert expected in mail.text
    assert "353.79 EUR" in mail.html


def test_unpriced_lines_in_review_are_marked_to_be_quoted() -> None:
    the_order = order(S.WAITING_FOR_REVIEW)
    the_order.lines[1].quote = None
    the_order.lines[1].firm_unit_price = None
    mail = render_all(status_changed(S.DRAFT, S.WAITING_FOR_REVIEW), the_order)
    text = mail["shop_review_needed"].text
    assert "Unit price: to be quoted" in text
    assert "to be confirmed by the shop" in text


def test_shipped_mail_carries_the_tracking_number() -> None:
    mail = render_all(*_situation(S.SHIPPED))["customer_status_changed"]
    assert "Tracking number: 00340434161094042557" in mail.text


def test_reason_of_a_cancellation_is_shown_as_reason() -> None:
    event = status_changed(S.PLACED, S.CANCELED_BY_ADMIN, Trigger.CANCEL_BY_ADMIN,
                           note="material out of stock")
    mail = render_all(event, order(S.CANCELED_BY_ADMIN))["customer_status_changed"]
    assert "Reason: material out of stock" in mail.text


def test_html_part_escapes_customer_input_text_part_keeps_it() -> None:
    evil = "<script>alert('x')</script>"
    event = status_changed(S.FIRM_OFFER_SENT, S.WAITING_FOR_REVIEW, Trigger.REQUEST_CHANGES,
                           note=f"please {evil} make it blue")
    mails = render_all(event, order(S.WAITING_FOR_REVIEW), the_customer=customer(name=evil))
    for mail in mails.values():
        assert "<script>" not in mail.html
        assert "&lt;script&gt;" in mail.html
        assert f"please {evil} make it blue" in mail.text
    assert f"Hello {evil}," in mails["customer_review_requested"].text
    assert f"from {evil}" in mails["shop_review_needed"].text
    assert "Message from the customer: please" in mails["shop_review_needed"].text


def test_subject_is_one_line_whatever_the_shop_name() -> None:
    odd = shop(name="Acme\r\nBcc: everyone@example.com")
    mails = render_all(*_situation(S.PLACED), the_shop=odd)
    for mail in mails.values():
        assert "\n" not in mail.subject
        assert "\r" not in mail.subject
        assert mail.subject.startswith("[Acme Bcc: everyone@example.com] ")


def test_a_mail_that_needs_a_link_refuses_to_render_without_one() -> None:
    event, the_order = _situation(S.FIRM_OFFER_SENT)
    intent = mails_for(event, the_order, customer(), shop())[0]
    assert intent.template == "customer_firm_offer"
    with pytest.raises(InvalidInput, match="needs a offer link"):
        MailRenderer().render(intent, order=the_order, customer=customer(), shop=shop(),
                              link_url=None, message_id="<m@test>")


def test_order_of_another_shop_is_refused() -> None:
    event, the_order = _situation(S.MANUFACTURING)
    intent = mails_for(event, the_order, customer(), shop())[0]
    with pytest.raises(InvalidInput, match="does not belong"):
        MailRenderer().render(intent, order=the_order, customer=customer(),
                              shop=shop(OTHER_SHOP_ID), link_url=None, message_id="<m@test>")


# -- per-shop overrides ------------------------------------------------------


def _override(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


def test_override_wins_for_its_shop_only(tmp_path: Path) -> None:
    folder = _override(tmp_path / "shop-1", {
        "customer_status_changed.txt": (
            '{% extends "base.txt" %}\n'
            "{% block subject %}Your parts: {{ new_status_label }}{% endblock %}\n"
            "{% block body %}Ahoy! Order {{ order_number }} is now {{ new_status_label }}."
            "{% endblock %}\n"
        ),
    })
    renderer = MailRenderer({"shop-1": folder})
    event = _situation(S.MANUFACTURING)[0]

    own = render_all(event, order(S.MANUFACTURING), renderer=renderer)["customer_status_changed"]
    assert own.subject == "Your parts: Manufacturing"
    assert "Ahoy! Order 2026-0001 is now Manufacturing." in own.text
    assert "bracket.stl" in own.text  # the packaged layout and details still apply
    assert "Ahoy" not in own.html  # only the .txt was overridden

    other_shop = shop(OTHER_SHOP_ID)
    other = render_all(event, order(S.MANUFACTURING, shop_id=OTHER_SHOP_ID),
                       the_shop=other_shop, renderer=renderer)["customer_status_changed"]
    assert other.subject == "[Acme Additive] Order 2026-0001: Manufacturing"
    assert "Ahoy" not in other.text


def test_overridden_layout_applies_to_every_mail_of_that_shop(tmp_path: Path) -> None:
    folder = _override(tmp_path / "brand", {
        "base.html": (
            "<!DOCTYPE html><html><head><title>{{ subject }}</title></head>"
            '<body class="brand-acme">{% block body %}{% endblock %}</body></html>'
        ),
    })
    renderer = MailRenderer({"shop-1": folder})
    mails = render_all(*_situation(S.PLACED), renderer=renderer)
    assert all('class="brand-acme"' in m.html for m in mails.values())
    plain = render_all(*_situation(S.PLACED))
    assert not any("brand-acme" in m.html for m in plain.values())


def test_missing_variable_in_an_override_fails_loudly(tmp_path: Path) -> None:
    folder = _override(tmp_path / "broken", {
        "customer_status_changed.html": (
            '{% extends "base.html" %}{% block body %}{{ order_nubmer }}{% endblock %}'
        ),
    })
    renderer = MailRenderer({"shop-1": folder})
    with pytest.raises(ConfigurationError, match="order_nubmer") as caught:
        render_all(*_situation(S.MANUFACTURING), renderer=renderer)
    assert "customer_status_changed.html" in str(caught.value)
    assert isinstance(caught.value.__cause__, jinja2.UndefinedError)


def test_override_without_a_subject_block_is_refused(tmp_path: Path) -> None:
    folder = _override(tmp_path / "nosubject", {
        "shop_status_changed.txt": '{% extends "base.txt" %}{% block body %}x{% endblock %}',
    })
    with pytest.raises(ConfigurationError, match=r"no \{% block subject %\}"):
        render_all(*_situation(S.MANUFACTURING), renderer=MailRenderer({"shop-1": folder}))


def test_syntax_error_in_an_override_names_the_template(tmp_path: Path) -> None:
    folder = _override(tmp_path / "syntax", {"shop_status_changed.html": "{% if %}"})
    with pytest.raises(ConfigurationError, match=r"shop_status_changed\.html"):
        render_all(*_situation(S.MANUFACTURING), renderer=MailRenderer({"shop-1": folder}))


def test_override_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a directory"):
        MailRenderer({"shop-1": tmp_path / "missing"})


# -- start-up ----------------------------------------------------------------


def test_a_prepared_renderer_compiles_no_template_when_it_renders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renderer = MailRenderer()
    renderer.prepare()
    compiled: list[str | None] = []
    compile_template = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: str, name: str | None = None,
                 *args: object, **kwargs: object) -> object:
        compiled.append(name)
        return compile_template(self, source, name, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    for occasion in OCCASIONS:
        assert render_all(*_situation(occasion), renderer=renderer)
    assert compiled == []
    assert render_all(*_situation(OrderStatus.PLACED), renderer=MailRenderer())
    assert compiled, "an unprepared renderer compiles at its first mail"
