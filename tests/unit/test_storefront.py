"""The pages' use cases: the cart, parts, their files and units, the order list and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from app_fixtures import ADDRESS
from fabcore.adapters.clock import ManualClock
from fabcore.app.drafting import UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.app.samples import bracket_stl
from fabcore.app.storefront import MAX_PAGE_SIZE, OrderSearch
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import Units
from fabcore.domain.customer import Customer
from fabcore.domain.errors import InvalidInput, NotFound, PermissionDenied
from fabcore.domain.shop import Shop, ShopSettings
from fabcore.domain.status import OrderStatus, PaymentStatus


def test_the_cart_is_the_customers_newest_draft_and_is_started_once(
    app: Fabcore, as_ada: Actor
) -> None:
    cart = app.cart(as_ada)

    assert cart.status is OrderStatus.DRAFT
    assert cart.customer_id == as_ada.id
    assert app.cart(as_ada).id == cart.id


def test_a_placed_cart_makes_way_for_a_new_one(
    app: Fabcore, as_ada: Actor, bracket: UploadedModel
) -> None:
    cart = app.cart(as_ada)
    app.add_part(as_ada, cart.id, bracket)
    app.set_shipping(as_ada, cart.id, "pickup")
    app.place(as_ada, cart.id)

    assert app.cart(as_ada).id != cart.id


def test_only_customers_have_a_cart(app: Fabcore, staff: Actor, shop: Shop) -> None:
    with pytest.raises(PermissionDenied):
        app.cart(staff)
    with pytest.raises(PermissionDenied):
        app.cart(Actor.visitor(shop.id))


def test_a_part_is_added_at_its_cheapest_priced_option(
    app: Fabcore, as_ada: Actor, bracket: UploadedModel
) -> None:
    cart = app.cart(as_ada)
    line = app.add_part(as_ada, cart.id, bracket, quantity=4)

    options = app.quote_options(as_ada, bracket.ref.sha256, Units.MM, 4)
    assert line.spec == options[0].spec
    assert line.units is Units.MM
    assert line.unit_price == options[0].breakdown.unit_price  # type: ignore[union-attr]


def test_a_part_needs_its_model_analysed_in_the_units_given(
    app: Fabcore, as_ada: Actor, bracket: UploadedModel
) -> None:
    with pytest.raises(NotFound):
        app.add_part(as_ada, app.cart(as_ada).id, bracket, Units.INCH)


def test_changing_units_measures_the_model_again_and_prices_it_again(
    app: Fabcore, as_ada: Actor, bracket: UploadedModel
) -> None:
    cart = app.cart(as_ada)
    line = app.add_part(as_ada, cart.id, bracket)

    changed = app.change_units(as_ada, cart.id, line.id, "cm")

    assert changed.units is Units.CM
    assert changed.analysis.bbox_mm[0] == pytest.approx(line.analysis.bbox_mm[0] * 10)
    assert changed.analysis.filename == "bracket.stl"
    assert changed.unit_price != line.unit_price
    assert app.get_order(as_ada, cart.id).line(line.id).units is Units.CM


def test_metres_are_a_unit(app: Fabcore, as_ada: Actor) -> None:
    model = app.upload_model(as_ada, bracket_stl(), "bracket.stl", "m")

    assert model.analysis.bbox_mm[0] > 1000


def test_a_lines_model_file_is_for_whoever_sees_the_order(
    app: Fabcore, as_ada: Actor, staff: Actor, bracket: UploadedModel, shop: Shop
) -> None:
    cart = app.cart(as_ada)
    line = app.add_part(as_ada, cart.id, bracket)

    assert app.line_model(as_ada, cart.id, line.id) == ("bracket.stl", bracket_stl())
    assert app.line_model(staff, cart.id, line.id)[1] == bracket_stl()
    other = app.register_customer(Actor.visitor(shop.id), name="Eve", email="eve@example.com")
    with pytest.raises(NotFound):
        app.line_model(Actor.customer(shop.id, other.id), cart.id, line.id)


def _orders(app: Fabcore, clock: ManualClock, staff: Actor, customers: list[Customer],
            model: UploadedModel) -> list[str]:
    ids = []
    for index, customer in enumerate(customers):
        actor = Actor.customer(customer.shop_id, customer.id)
        order = app.create_order(actor)
        app.add_part(actor, order.id, model)
        app.set_shipping(actor, order.id, "pickup")
        if index % 2 == 0:
            app.place(actor, order.id)
        ids.append(order.id)
        clock.advance(timedelta(days=1))
    return ids


@pytest.fixture
def customers(app: Fabcore, shop: Shop) -> list[Customer]:
    return [app.register_customer(Actor.visitor(shop.id), name=name, email=f"{name.lower()}@"
                                  "example.com", company="Engines Ltd" if name == "Alma" else None,
                                  billing_address=ADDRESS)
            for name in ("Alma", "Grace", "Hedy", "Joan", "Karen")]


def test_the_order_list_counts_each_status_and_filters_by_it(
    app: Fabcore, clock: ManualClock, staff: Actor, customers: list[Customer],
    bracket: UploadedModel,
) -> None:
    _orders(app, clock, staff, customers, bracket)

    everything = app.search_orders(staff, OrderSearch())
    assert everything.total == 5
    assert everything.counts[OrderStatus.PLACED] == 3
    assert everything.counts[OrderStatus.DRAFT] == 2
    assert everything.all_count == 5
    placed = app.search_orders(staff, OrderSearch(status=OrderStatus.PLACED))
    assert [r.summary.status for r in placed.rows] == [OrderStatus.PLACED] * 3
    assert placed.counts == everything.counts
    assert [r.customer_name for r in everything.rows] == ["Karen", "Joan", "Hedy", "Grace",
                                                          "Alma"]


@pytest.mark.parametrize(("text", "names"), [
    ("grace@", ["Grace"]), ("ENGINES", ["Alma"]), ("00003", ["Hedy"]), ("nobody", []),
])
def test_the_order_list_finds_number_customer_and_email(
    app: Fabcore, clock: ManualClock, staff: Actor, customers: list[Customer],
    bracket: UploadedModel, text: str, names: list[str],
) -> None:
    _orders(app, clock, staff, customers, bracket)

    found = app.search_orders(staff, OrderSearch(text=text))

    assert [r.customer_name for r in found.rows] == names


def test_the_order_list_filters_by_payment_and_dates_and_pages(
    app: Fabcore, clock: ManualClock, staff: Actor, customers: list[Customer],
    bracket: UploadedModel,
) -> None:
    ids = _orders(app, clock, staff, customers, bracket)
    placed = app.get_order(staff, ids[0])
    total = app.quote(staff, placed.id).total
    assert total is not None
    app.record_payment(staff, ids[0], "bank-1", total)

    paid = app.search_orders(staff, OrderSearch(payment=PaymentStatus.PAID))
    assert [r.summary.id for r in paid.rows] == [ids[0]]
    day = placed.created_at.date()
    window = app.search_orders(staff, OrderSearch(created_from=day + timedelta(days=1),
                                                  created_to=day + timedelta(days=2)))
    assert [r.customer_name for r in window.rows] == ["Hedy", "Grace"]
    first = app.search_orders(staff, OrderSearch(per_page=2))
    last = app.search_orders(staff, OrderSearch(per_page=2, page=3))
    assert (first.pages, len(first.rows), len(last.rows)) == (3, 2, 1)
    assert last.rows[0].customer_name == "Alma"


def test_customers_cannot_search_the_shops_orders(app: Fabcore, as_ada: Actor) -> None:
    with pytest.raises(PermissionDenied):
        app.search_orders(as_ada, OrderSearch())


@pytest.mark.parametrize("search", [
    {"page": 0}, {"per_page": MAX_PAGE_SIZE + 1}, {"text": "x" * 201},
    {"created_from": date(2026, 12, 2), "created_to": date(2026, 12, 1)},
])
def test_a_search_out_of_bounds_is_refused(search: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        OrderSearch(**search)  # type: ignore[arg-type]


def test_the_csv_lists_every_order_found_and_never_a_formula(
    app: Fabcore, clock: ManualClock, staff: Actor, shop: Shop, bracket: UploadedModel,
) -> None:
    sneaky = app.register_customer(Actor.visitor(shop.id), name="=HYPERLINK(1)",
                                   email="sneaky@example.com", billing_address=ADDRESS)
    _orders(app, clock, staff, [sneaky], bracket)

    rows = list(csv.reader(io.StringIO(app.orders_csv(staff, OrderSearch(per_page=1)))))

    assert rows[0][:4] == ["number", "created_at", "status", "payment_status"]
    assert len(rows) == 2
    assert rows[1][4] == "'=HYPERLINK(1)"
    assert rows[1][2] == "Placed"
    assert rows[1][7] == str(app.quote(staff, app.search_orders(
        staff, OrderSearch()).rows[0].summary.id).total.amount)  # type: ignore[union-attr]


@pytest.mark.parametrize("origins", [["shop.example"], ["https://shop.example/path"],
                                     ["javascript:alert(1)"], "https://shop.example"])
def test_widget_origins_are_origins(origins: object) -> None:
    with pytest.raises(InvalidInput):
        ShopSettings(notify_emails=("a@b.example",), sender_email="a@b.example",
                     widget_origins=origins)  # type: ignore[arg-type]


def test_widget_origins_are_kept_once_in_lower_case() -> None:
    settings = ShopSettings(notify_emails=("a@b.example",), sender_email="a@b.example",
                            widget_origins=["https://Shop.example/", "https://shop.example",
                                            "http://localhost:8080"])

    assert settings.widget_origins == ("https://shop.example", "http://localhost:8080")
