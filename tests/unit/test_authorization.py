"""Every use case refuses the wrong customer, visitors and other shops' staff, changing nothing.

Who may not see an order (another customer, another shop's staff, a
visitor) is told it does not exist (``NotFound``), so nobody can probe for
other people's orders; who sees it but may not do something (a customer
asking for a staff-only move) gets ``PermissionDenied``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import attrs
import pytest

from app_fixtures import ADDRESS
from fabcore.app.catalogs import load_sample_catalog
from fabcore.app.drafting import UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.app.samples import create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Customer
from fabcore.domain.errors import NotFound, PermissionDenied
from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.quote import LineSpec
from fabcore.domain.shop import Shop
from fabcore.domain.status import OrderStatus

UseCase = Callable[[Fabcore, Actor, Order], Any]

# Use cases on an existing order, each called with a given actor.
ORDER_USE_CASES: dict[str, UseCase] = {
    "get_order": lambda app, who, o: app.get_order(who, o.id),
    "get_order_by_number": lambda app, who, o: app.get_order_by_number(who, o.number),
    "quote": lambda app, who, o: app.quote(who, o.id),
    "review_reasons": lambda app, who, o: app.review_reasons(who, o.id),
    "payment_page": lambda app, who, o: app.payment_page(who, o.id),
    "invoice": lambda app, who, o: app.invoice(who, o.id),
    "update_line": lambda app, who, o: app.update_line(who, o.id, o.lines[0].id, notes="x"),
    "remove_line": lambda app, who, o: app.remove_line(who, o.id, o.lines[0].id),
    "set_shipping": lambda app, who, o: app.set_shipping(who, o.id, "pickup"),
    "set_billing_address": lambda app, who, o: app.set_billing_address(who, o.id, ADDRESS),
    "place": lambda app, who, o: app.place(who, o.id),
    "submit_for_review": lambda app, who, o: app.submit_for_review(who, o.id),
    "send_firm_offer": lambda app, who, o: app.send_firm_offer(who, o.id),
    "accept_offer": lambda app, who, o: app.accept_offer(who, o.id, 1),
    "request_changes": lambda app, who, o: app.request_changes(who, o.id, "more"),
    "provide_po": lambda app, who, o: app.provide_po(who, o.id, "PO-1"),
    "accept_po": lambda app, who, o: app.accept_po(who, o.id, net_days=30),
    "request_payment": lambda app, who, o: app.request_payment(who, o.id),
    "cancel": lambda app, who, o: app.cancel(who, o.id, "no"),
    "change_status": lambda app, who, o: app.change_status(who, o.id, OrderStatus.ON_HOLD,
                                                           note="wait"),
    "start_checkout": lambda app, who, o: app.start_checkout(who, o.id),
    "record_payment": lambda app, who, o: app.record_payment(who, o.id, "r", Money(1, "EUR")),
    "mark_unpaid": lambda app, who, o: app.mark_unpaid(who, o.id),
    "set_firm_price": lambda app, who, o: app.set_firm_price(who, o.id, o.lines[0].id, None),
    "set_customer": lambda app, who, o: app.set_customer(who, o.id, o.customer_id or ""),
    "move_po_due_date": lambda app, who, o: app.move_po_due_date(who, o.id, date(2027, 1, 1)),
}

# Use cases only staff may run, even on the customer's own order.
STAFF_ONLY = {
    "send_firm_offer", "accept_po", "request_payment", "change_status", "record_payment",
    "mark_unpaid", "set_firm_price", "set_customer", "move_po_due_date",
}


@pytest.fixture
def other_shop(app: Fabcore) -> Shop:
    return create_sample_shop(app, "other")


@pytest.fixture
def order(app: Fabcore, as_ada: Actor, bracket: UploadedModel) -> Order:
    order = app.create_order(as_ada)
    app.add_line(as_ada, order.id, bracket, LineSpec("fdm", "pla", quantity=2))
    app.set_shipping(as_ada, order.id, "pickup")
    return app.get_order(as_ada, order.id)


def _snapshot(app: Fabcore, order_id: str) -> tuple[Order, int]:
    with app.uow() as uow:
        return uow.orders.get(order_id), len(uow.outbox.list())


@pytest.mark.parametrize("name", sorted(ORDER_USE_CASES))
def test_another_customer_is_refused(
    app: Fabcore, shop: Shop, order: Order, name: str
) -> None:
    eve: Customer = app.register_customer(
        Actor.visitor(shop.id), name="Eve", email="eve@example.com"
    )
    before = _snapshot(app, order.id)
    with pytest.raises((NotFound, PermissionDenied)) as refused:
        ORDER_USE_CASES[name](app, Actor.customer(shop.id, eve.id), order)
    # Staff-only use cases may refuse for that reason before looking the order up.
    assert refused.type is NotFound or name in STAFF_ONLY
    assert _snapshot(app, order.id) == before


@pytest.mark.parametrize("name", sorted(ORDER_USE_CASES))
def test_a_visitor_is_refused(app: Fabcore, shop: Shop, order: Order, name: str) -> None:
    before = _snapshot(app, order.id)
    with pytest.raises((NotFound, PermissionDenied)) as refused:
        ORDER_USE_CASES[name](app, Actor.visitor(shop.id), order)
    assert refused.type is NotFound or name in STAFF_ONLY
    assert _snapshot(app, order.id) == before


# Order numbers are per shop: another shop's number lookup searches its own orders.
CROSS_SHOP = sorted(set(ORDER_USE_CASES) - {"get_order_by_number"})


@pytest.mark.parametrize("name", CROSS_SHOP)
def test_another_shops_staff_is_refused(
    app: Fabcore, other_shop: Shop, order: Order, name: str
) -> None:
    before = _snapshot(app, order.id)
    with pytest.raises(NotFound):
        ORDER_USE_CASES[name](app, Actor.staff(other_shop.id, "mallory"), order)
    assert _snapshot(app, order.id) == before


@pytest.mark.parametrize("name", sorted(STAFF_ONLY))
def test_customer_may_not_run_staff_use_cases(
    app: Fabcore, as_ada: Actor, order: Order, name: str
) -> None:
    before = _snapshot(app, order.id)
    with pytest.raises(PermissionDenied):
        ORDER_USE_CASES[name](app, as_ada, order)
    assert _snapshot(app, order.id) == before


def test_customer_cannot_create_orders_for_others(
    app: Fabcore, shop: Shop, as_ada: Actor
) -> None:
    eve = app.register_customer(Actor.visitor(shop.id), name="Eve", email="eve@example.com")
    with pytest.raises(PermissionDenied):
        app.create_order(as_ada, eve.id)
    with pytest.raises(PermissionDenied):
        app.list_orders(as_ada, customer_id=eve.id)
    with pytest.raises(PermissionDenied):
        app.list_order_summaries(as_ada, customer_id=eve.id)
    with pytest.raises(NotFound):
        app.get_customer(as_ada, eve.id)
    with pytest.raises(PermissionDenied):
        app.list_customers(as_ada)


def test_other_shops_staff_cannot_see_this_shops_customers(
    app: Fabcore, shop: Shop, other_shop: Shop, ada: Customer
) -> None:
    mallory = Actor.staff(other_shop.id, "mallory")
    with pytest.raises(NotFound):
        app.create_order(mallory, ada.id)
    with pytest.raises(NotFound):
        app.get_customer(mallory, ada.id)
    with pytest.raises(NotFound):
        app.update_customer(mallory, ada.id, name="Mallory")
    assert app.get_customer(Actor.staff(shop.id, "sam"), ada.id).name == ada.name
    assert app.list_orders(mallory) == []
    assert app.list_order_summaries(mallory) == []


def test_a_customer_lists_only_their_own_orders(
    app: Fabcore, shop: Shop, as_ada: Actor, staff: Actor, order: Order
) -> None:
    eve = app.register_customer(Actor.visitor(shop.id), name="Eve", email="eve@example.com")
    theirs = app.create_order(Actor.customer(shop.id, eve.id))
    everyone = [s.id for s in app.list_order_summaries(staff)]
    assert set(everyone) == {order.id, theirs.id}
    assert [s.id for s in app.list_order_summaries(as_ada)] == [order.id]
    assert [s.id for s in app.list_order_summaries(as_ada, customer_id=as_ada.id)] == [order.id]
    assert [s.id for s in app.list_order_summaries(staff, customer_id=eve.id)] == [theirs.id]
    assert len(app.list_order_summaries(staff, limit=1)) == 1


def test_customer_cannot_edit_once_submitted(
    app: Fabcore, as_ada: Actor, staff: Actor, order: Order
) -> None:
    app.submit_for_review(as_ada, order.id)
    with pytest.raises(PermissionDenied):
        app.update_line(as_ada, order.id, order.lines[0].id, notes="changed my mind")
    app.update_line(staff, order.id, order.lines[0].id, notes="checked by the shop")
    assert app.get_order(as_ada, order.id).lines[0].notes == "checked by the shop"


def test_catalog_change_after_placing_does_not_change_the_price(
    app: Fabcore, as_ada: Actor, staff: Actor, order: Order
) -> None:
    placed = app.place(as_ada, order.id)
    before = app.quote(as_ada, placed.id)
    cheaper = load_sample_catalog()
    app.update_catalog(Actor.owner(staff.shop_id, "olga"), attrs.evolve(
        cheaper, shop=attrs.evolve(cheaper.shop, minimum_order_value=Money(0, "EUR"))
    ))
    assert app.quote(as_ada, placed.id) == before
    assert app.start_checkout(as_ada, placed.id).amount == before.total
