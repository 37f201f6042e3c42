"""A status reached by "Change" is reached exactly as by its named use case.

Each test drives the back office's ``change_status`` where a named use case
exists, and checks what the named use case guarantees: the review policy
and the agreed price on Placed, the locked price and the expiry on Firm
offer sent, mails with the agreed figures, and resumed mails.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from app_fixtures import ADDRESS, START
from fabcore.adapters.clock import ManualClock
from fabcore.adapters.memory import RecordingMailer
from fabcore.app.catalogs import load_sample_catalog
from fabcore.app.drafting import UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Customer
from fabcore.domain.errors import GuardFailed, InvalidInput
from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus, Trigger


def _draft(app: Fabcore, actor: Actor, model: UploadedModel, quantity: int) -> Order:
    order = app.create_order(actor)
    app.add_line(actor, order.id, model, LineSpec("fdm", "pla", quantity=quantity))
    app.set_shipping(actor, order.id, "standard", ADDRESS)
    return app.get_order(actor, order.id)


def _dearer_shipping(app: Fabcore, owner: Actor) -> None:
    catalog = load_sample_catalog()
    standard = attrs.evolve(catalog.shipping["standard"], price=Money("57.90", "EUR"))
    app.update_catalog(owner, attrs.evolve(
        catalog, shipping={**catalog.shipping, "standard": standard}))


def test_change_to_placed_applies_the_review_policy(
    app: Fabcore, staff: Actor, as_ada: Actor, bracket: UploadedModel
) -> None:
    big = _draft(app, as_ada, bracket, quantity=900)
    with pytest.raises(GuardFailed, match=r"submitted for review: .*900 parts is over 500"):
        app.change_status(staff, big.id, OrderStatus.PLACED)
    assert app.get_order(staff, big.id).status is OrderStatus.DRAFT
    with pytest.raises(GuardFailed, match="900 parts is over 500"):
        app.place(as_ada, big.id)


def test_change_to_placed_records_the_agreed_price(
    app: Fabcore, staff: Actor, as_ada: Actor, bracket: UploadedModel
) -> None:
    order = _draft(app, as_ada, bracket, quantity=10)
    quoted = app.quote(as_ada, order.id)
    placed = app.change_status(staff, order.id, "placed")
    assert placed.agreed_quote == quoted
    _dearer_shipping(app, Actor.owner(staff.shop_id, "olga"))
    assert app.quote(as_ada, order.id) == quoted
    assert app.start_checkout(as_ada, order.id).amount == quoted.total


def test_change_to_firm_offer_sent_locks_the_price_and_sets_the_expiry(
    app: Fabcore, clock: ManualClock, staff: Actor, as_ada: Actor, bracket: UploadedModel
) -> None:
    order = _draft(app, as_ada, bracket, quantity=10)
    app.submit_for_review(as_ada, order.id)
    offered = app.change_status(staff, order.id, OrderStatus.FIRM_OFFER_SENT)
    assert offered.offer_expires_at == START + timedelta(days=14)
    assert offered.agreed_quote is not None
    agreed = offered.agreed_quote.total

    _dearer_shipping(app, Actor.owner(staff.shop_id, "olga"))
    accepted = app.accept_offer(as_ada, order.id, offered.offer_revision)
    assert app.quote(as_ada, accepted.id).total == agreed
    assert app.start_checkout(as_ada, order.id).amount == agreed

    later = _draft(app, as_ada, bracket, quantity=10)
    app.submit_for_review(as_ada, later.id)
    app.change_status(staff, later.id, OrderStatus.FIRM_OFFER_SENT)
    clock.advance(timedelta(days=15))
    with pytest.raises(GuardFailed, match="expired"):
        app.accept_offer(as_ada, later.id, 1)


def test_change_with_fields_runs_the_named_path(
    app: Fabcore, staff: Actor, as_ada: Actor, bracket: UploadedModel
) -> None:
    order = _draft(app, as_ada, bracket, quantity=10)
    app.place(as_ada, order.id)
    options = {o.status: o for o in app.reachable_statuses(staff, order.id)}
    assert options[OrderStatus.PO_PROVIDED].trigger is Trigger.PROVIDE_PO
    assert [f.name for f in options[OrderStatus.PO_PROVIDED].fields if f.required] == [
        "po_number"]

    with pytest.raises(InvalidInput, match="provide_po needs po_number"):
        app.change_status(staff, order.id, OrderStatus.PO_PROVIDED)
    app.change_status(staff, order.id, OrderStatus.PO_PROVIDED, {"po_number": "PO-9"})
    due = app.change_status(staff, order.id, OrderStatus.PO_PAYMENT_DUE, {"net_days": "30"})
    assert due.po is not None
    assert due.po.due_date == (START + timedelta(days=30)).date()


def test_mails_carry_the_agreed_figures_and_the_offer_expiry(
    app: Fabcore, mailer: RecordingMailer, staff: Actor, as_ada: Actor, bracket: UploadedModel
) -> None:
    order = _draft(app, as_ada, bracket, quantity=10)
    app.submit_for_review(as_ada, order.id)
    offered = app.change_status(staff, order.id, OrderStatus.FIRM_OFFER_SENT)
    app.relay_outbox()
    quote = offered.agreed_quote
    assert quote is not None
    assert quote.total is not None
    for mail in mailer.sent[-2:]:
        assert f"Shipping (standard): {quote.shipping}" in mail.text
        assert f"Tax 19%: {quote.tax}" in mail.text
        assert f"Order total: {quote.total}" in mail.text
        assert "Payment: Unpaid" in mail.text
        assert "Offer valid until: 2026-11-16 09:00 UTC" in mail.text
        assert "before shipping and tax" not in mail.text

    _dearer_shipping(app, Actor.owner(staff.shop_id, "olga"))
    app.accept_offer(as_ada, order.id, offered.offer_revision)
    app.relay_outbox()
    for mail in mailer.sent[-2:]:
        assert f"Order total: {quote.total}" in mail.text
        assert "57.90" not in mail.text


def test_resuming_to_placed_says_resumed_not_new_order(
    app: Fabcore, mailer: RecordingMailer, staff: Actor, as_ada: Actor, bracket: UploadedModel
) -> None:
    order = _draft(app, as_ada, bracket, quantity=10)
    app.place(as_ada, order.id)
    app.change_status(staff, order.id, OrderStatus.ON_HOLD, note="waiting for resin")
    app.relay_outbox()
    before = len(mailer.sent)
    app.change_status(staff, order.id, OrderStatus.PLACED)
    app.relay_outbox()
    subjects = [m.subject for m in mailer.sent[before:]]
    assert subjects == [f"[Acme Prototyping] Order {order.number} resumed: Placed"] * 2
    assert all("New order" not in s for s in subjects)
    assert 'resumed from "On hold"' in mailer.sent[-2].text


def test_settings_decide_review_and_a_catalog_cannot_override_them(
    app: Fabcore, staff: Actor, as_ada: Actor, ada: Customer, bracket: UploadedModel
) -> None:
    owner = Actor.owner(staff.shop_id, "olga")
    shop = app.get_shop(owner)
    manual = attrs.evolve(shop.settings.review, mode=type(shop.settings.review.mode).MANUAL)
    app.update_shop_settings(owner, attrs.evolve(shop.settings, review=manual))
    order = _draft(app, as_ada, bracket, quantity=1)
    assert app.review_reasons(as_ada, order.id) == ("the shop reviews every order",)
    app.update_catalog(owner, load_sample_catalog())
    assert app.get_shop(owner).settings.review.mode is manual.mode
    with pytest.raises(GuardFailed, match="the shop reviews every order"):
        app.place(as_ada, order.id)
