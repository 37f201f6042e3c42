"""Customers keep their details current; owners manage settings and the catalog; invoices."""

from __future__ import annotations

from importlib import resources

import attrs
import pytest

from app_fixtures import ADDRESS
from fabcore.adapters.memory import RecordingMailer
from fabcore.app.catalogs import load_sample_catalog, parse_catalog
from fabcore.app.drafting import UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.app.samples import create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address, BillingContact, Customer
from fabcore.domain.errors import (
    AlreadyExists,
    GuardFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from fabcore.domain.order import Order
from fabcore.domain.quote import LineSpec
from fabcore.domain.shop import ShopSettings
from fabcore.domain.status import OrderStatus


def _placed(app: Fabcore, actor: Actor, model: UploadedModel) -> Order:
    order = app.create_order(actor)
    app.add_line(actor, order.id, model, LineSpec("fdm", "pla", quantity=2))
    app.set_shipping(actor, order.id, "pickup")
    return app.place(actor, order.id)


def test_a_customer_updates_their_contact_and_billing_details(
    app: Fabcore, as_ada: Actor, ada: Customer
) -> None:
    moved = Address("Ada Lovelace", "12 Babbage Street", "10117", "Berlin", "DE")
    updated = app.update_customer(as_ada, ada.id, name="Ada King", company="Analytical Ltd",
                                  tax_id="DE111222333", billing_address=moved)
    assert (updated.name, updated.company, updated.tax_id, updated.billing_address) == (
        "Ada King", "Analytical Ltd", "DE111222333", moved)
    assert updated.email == ada.email
    assert app.get_customer(as_ada, ada.id) == updated

    cleared = app.update_customer(as_ada, ada.id, company=None, tax_id=None)
    assert (cleared.company, cleared.tax_id, cleared.name) == (None, None, "Ada King")


def test_the_billing_contact_can_be_added_changed_and_removed_later(
    app: Fabcore, mailer: RecordingMailer, as_ada: Actor, staff: Actor, ada: Customer,
    bracket: UploadedModel,
) -> None:
    assert app.set_billing_contact(as_ada, ada.id, None).billing_contact is None
    order = _placed(app, as_ada, bracket)
    app.relay_outbox()
    placed_mail = mailer.sent[-2]
    assert placed_mail.cc == ()

    contact = BillingContact("Payables", "payables@example.com")
    assert app.set_billing_contact(staff, ada.id, contact).billing_contact == contact
    app.provide_po(as_ada, order.id, "PO-1")
    app.relay_outbox()
    po_mail = mailer.sent[-2]
    assert po_mail.cc == ("payables@example.com",)


def test_an_e_mail_address_stays_unique_in_the_shop(
    app: Fabcore, as_ada: Actor, ada: Customer
) -> None:
    app.register_customer(Actor.visitor(ada.shop_id), name="Eve", email="eve@example.com")
    with pytest.raises(AlreadyExists, match=r"has the e-mail EVE@example\.com"):
        app.update_customer(as_ada, ada.id, email="EVE@example.com")
    assert app.update_customer(as_ada, ada.id, email="ada@lovelace.example").email == (
        "ada@lovelace.example")
    with pytest.raises(InvalidInput, match="e-mail"):
        app.update_customer(as_ada, ada.id, email="not an address")


def test_customers_cannot_touch_other_customers(app: Fabcore, as_ada: Actor, ada: Customer) -> None:
    eve = app.register_customer(Actor.visitor(ada.shop_id), name="Eve", email="eve@example.com")
    with pytest.raises(NotFound):
        app.update_customer(as_ada, eve.id, name="Mallory")
    with pytest.raises(NotFound):
        app.set_billing_contact(as_ada, eve.id, None)
    with pytest.raises(PermissionDenied):
        app.register_customer(as_ada, name="Again", email="again@example.com")
    assert app.get_customer(Actor.staff(ada.shop_id, "sam"), eve.id).name == "Eve"


def test_only_owners_change_settings_and_the_catalog(app: Fabcore, staff: Actor) -> None:
    owner = Actor.owner(staff.shop_id, "olga")
    settings = attrs.evolve(app.get_shop(staff).settings, payment_before_production=True,
                            offer_validity_days=30)
    with pytest.raises(PermissionDenied, match="owners only"):
        app.update_shop_settings(staff, settings)
    with pytest.raises(PermissionDenied, match="owners only"):
        app.update_catalog(staff, load_sample_catalog())
    assert app.update_shop_settings(owner, settings).settings == settings
    assert app.get_shop(staff).settings.offer_validity_days == 30
    system = Actor.system(staff.shop_id, "erp-sync")
    assert app.update_shop_settings(system, ShopSettings.for_email("new@example.com"))


def test_the_currency_is_fixed_once_the_shop_has_orders(
    app: Fabcore, staff: Actor, as_ada: Actor
) -> None:
    owner = Actor.owner(staff.shop_id, "olga")
    sample = resources.files("fabcore").joinpath("data", "sample_catalog.toml").read_text("utf-8")
    in_usd = parse_catalog(sample.replace('currency = "EUR"', 'currency = "USD"'))
    app.create_order(as_ada)
    with pytest.raises(InvalidInput, match="orders are in EUR"):
        app.update_catalog(owner, in_usd)
    assert app.catalog(staff).currency == "EUR"


def test_invoices_are_numbered_without_gaps_per_shop(
    app: Fabcore, staff: Actor, as_ada: Actor, bracket: UploadedModel
) -> None:
    first, second = _placed(app, as_ada, bracket), _placed(app, as_ada, bracket)
    draft = app.create_order(as_ada)
    with pytest.raises(GuardFailed, match="no invoice before it is placed"):
        app.invoice(as_ada, draft.id)  # refused before a number is taken
    assert app.invoice(as_ada, second.id).number == "INV-00001"
    assert app.invoice(staff, first.id).number == "INV-00002"
    assert app.invoice(as_ada, second.id).number == "INV-00001"  # issued once
    assert app.get_order(staff, second.id).invoice is not None

    other = create_sample_shop(app, "other")
    buyer = app.register_customer(Actor.visitor(other.id), name="Bo", email="bo@example.com",
                                  billing_address=ADDRESS)
    as_bo = Actor.customer(other.id, buyer.id)
    theirs = _placed(app, as_bo, bracket)
    assert app.invoice(as_bo, theirs.id).number == "INV-00001"


def test_a_canceled_order_gets_no_invoice(
    app: Fabcore, staff: Actor, as_ada: Actor, bracket: UploadedModel
) -> None:
    order = _placed(app, as_ada, bracket)
    app.change_status(staff, order.id, OrderStatus.CANCELED_BY_ADMIN, note="no stock")
    with pytest.raises(GuardFailed, match="no invoice before it is placed"):
        app.invoice(as_ada, order.id)
    assert app.invoice(as_ada, _placed(app, as_ada, bracket).id).number == "INV-00001"
