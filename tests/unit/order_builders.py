"""Builders for order-lifecycle tests, and a hand-written copy of DESIGN.md's tables.

The tables here are typed out from DESIGN.md on purpose, with plain strings:
the tests compare the code against them, so they must not be derived from it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from fabcore.app.catalogs import parse_catalog
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import DfmWarning, ModelAnalysis, WarningCode
from fabcore.domain.commands import Command, build_command
from fabcore.domain.customer import Address, BillingContact, Customer
from fabcore.domain.events import StatusChanged
from fabcore.domain.money import Money
from fabcore.domain.order import Order, OrderLine, PurchaseOrder, Shipping
from fabcore.domain.quote import LineBreakdown, LineQuote, LineSpec
from fabcore.domain.shop import Shop, ShopContext, ShopSettings
from fabcore.domain.status import OrderStatus, PaymentStatus, Trigger

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHOP_ID = "shop-1"
CUSTOMER_ID = "cust-1"
STAFF = Actor.staff(SHOP_ID, "staff-1")
CUSTOMER = Actor.customer(SHOP_ID, CUSTOMER_ID)
SYSTEM = Actor.system(SHOP_ID)
STRANGER = Actor.customer(SHOP_ID, "cust-2")
OTHER_SHOP_STAFF = Actor.staff("shop-2", "staff-9")

CUSTOMER_EMAIL = "ada@example.com"
BILLING_EMAIL = "accounts@example.com"
SHOP_EMAILS = ("orders@shop.example", "boss@shop.example")

ALL_STATUSES = (
    "draft", "waiting_for_review", "firm_offer_sent", "placed", "po_provided",
    "waiting_for_payment", "po_payment_due", "on_hold", "free_for_manufacturing",
    "manufacturing", "post_production", "re_printing", "ready_for_shipping", "shipped",
    "ready_for_pickup", "delivered", "canceled_by_customer", "canceled_by_admin",
)
LABELS = {
    "draft": "Draft", "waiting_for_review": "Waiting for review",
    "firm_offer_sent": "Firm offer sent", "placed": "Placed", "po_provided": "PO provided",
    "waiting_for_payment": "Waiting for payment", "po_payment_due": "PO Payment due",
    "on_hold": "On hold", "free_for_manufacturing": "Free for manufacturing",
    "manufacturing": "Manufacturing", "post_production": "Post-production",
    "re_printing": "Re-printing", "ready_for_shipping": "Ready for shipping",
    "shipped": "Shipped", "ready_for_pickup": "Ready for pickup", "delivered": "Delivered",
    "canceled_by_customer": "Canceled by customer", "canceled_by_admin": "Canceled by admin",
}
FINAL = frozenset({"delivered", "canceled_by_customer", "canceled_by_admin"})
NOT_FINAL = tuple(s for s in ALL_STATUSES if s not in FINAL)
HOLDABLE = tuple(s for s in NOT_FINAL if s != "on_hold")
BEFORE_PRODUCTION = (
    "draft", "waiting_for_review", "firm_offer_sent", "placed", "po_provided",
    "waiting_for_payment", "po_payment_due",
)
PAYMENT_STAGE = ("placed", "po_provided", "waiting_for_payment", "po_payment_due")

# trigger -> (sources, destination or None for "the status held from", actor: C, S or CS)
TABLE: dict[str, tuple[tuple[str, ...], str | None, str]] = {
    "place": (("draft",), "placed", "CS"),
    "submit_for_review": (("draft",), "waiting_for_review", "CS"),
    "send_firm_offer": (("draft", "waiting_for_review", "firm_offer_sent"), "firm_offer_sent",
                        "S"),
    "accept_offer": (("firm_offer_sent",), "placed", "C"),
    "request_changes": (("firm_offer_sent",), "waiting_for_review", "C"),
    "provide_po": (("placed", "waiting_for_payment"), "po_provided", "CS"),
    "request_payment": (("placed", "po_provided"), "waiting_for_payment", "S"),
    "accept_po": (("po_provided",), "po_payment_due", "S"),
    "release": (PAYMENT_STAGE, "free_for_manufacturing", "S"),
    "start_manufacturing": ((*PAYMENT_STAGE, "free_for_manufacturing", "re_printing"),
                            "manufacturing", "S"),
    "start_post_production": (("manufacturing", "re_printing"), "post_production", "S"),
    "reprint": (("manufacturing", "post_production", "ready_for_shipping", "ready_for_pickup"),
                "re_printing", "S"),
    "mark_ready_for_shipping": (("manufacturing", "post_production"), "ready_for_shipping", "S"),
    "mark_ready_for_pickup": (("manufacturing", "post_production"), "ready_for_pickup", "S"),
    "ship": (("ready_for_shipping",), "shipped", "S"),
    "deliver": (("shipped", "ready_for_pickup"), "delivered", "S"),
    "hold": (HOLDABLE, "on_hold", "S"),
    "resume": (("on_hold",), None, "S"),
    "cancel_by_customer": (BEFORE_PRODUCTION, "canceled_by_customer", "CS"),
    "cancel_by_admin": (NOT_FINAL, "canceled_by_admin", "S"),
}

# status or occasion -> (customer template, shop template, CC billing contact, link)
MAILS: dict[str, tuple[str | None, str | None, bool, str | None]] = {
    "draft": (None, None, False, None),
    "waiting_for_review": ("customer_review_requested", "shop_review_needed", False, None),
    "firm_offer_sent": ("customer_firm_offer", "shop_status_changed", True, "offer"),
    "placed": ("customer_order_placed", "shop_new_order", True, None),
    "po_provided": ("customer_po_provided", "shop_status_changed", True, None),
    "waiting_for_payment": ("customer_waiting_for_payment", "shop_status_changed", False, None),
    "po_payment_due": ("customer_po_payment_due", "shop_status_changed", True, "pay"),
    **dict.fromkeys(
        ("on_hold", "free_for_manufacturing", "manufacturing", "post_production", "re_printing",
         "ready_for_shipping", "shipped", "ready_for_pickup", "delivered",
         "canceled_by_customer", "canceled_by_admin"),
        ("customer_status_changed", "shop_status_changed", False, None),
    ),
    "paid": ("customer_payment_received", "shop_order_paid", False, None),
    "unpaid": (None, None, False, None),
    "po_payment_reminder": ("customer_po_payment_reminder", None, False, "pay"),
    "resumed": ("customer_order_resumed", "shop_order_resumed", False, None),
}


def edges_from(status: str) -> dict[str, str | None]:
    """trigger -> destination for every trigger allowed from ``status`` (per TABLE)."""
    return {trigger: dest for trigger, (sources, dest, _) in TABLE.items() if status in sources}


def actor_for(trigger: str) -> Actor:
    """An actor who may pull ``trigger``."""
    return CUSTOMER if TABLE[trigger][2] == "C" else STAFF


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def settings(*, payment_before_production: bool = False) -> ShopSettings:
    return ShopSettings(
        notify_emails=SHOP_EMAILS,
        sender_email="noreply@shop.example",
        payment_before_production=payment_before_production,
    )


def shop(*, payment_before_production: bool = False) -> Shop:
    strict = payment_before_production
    return Shop(SHOP_ID, "Print Shop", settings(payment_before_production=strict))


# What the builders' lines are made of (fdm / pla) and shipped by (dhl).
CATALOG = parse_catalog("""
[shop]
name = "Print Shop"
currency = "EUR"
tax_rate = 0.19

[processes.fdm]
kind = "fdm"
hourly_rate = 4.0
build_rate_cm3_per_h = 15.0
build_volume_mm = [250, 210, 220]
lead_time_days = 3

[processes.fdm.materials.pla]
price_per_cm3 = 0.12

[[shipping]]
id = "dhl"
price = 7.90
days = 3
""")


def context(*, payment_before_production: bool = False) -> ShopContext:
    """The shop an order of these builders belongs to, with its catalog."""
    return ShopContext(shop(payment_before_production=payment_before_production), CATALOG)


ADDRESS = Address("Ada Lovelace", "1 Engine Way", "10115", "Berlin", "de", company="Analytical")


def customer(*, billing_contact: bool = True) -> Customer:
    contact = BillingContact("Accounts", BILLING_EMAIL) if billing_contact else None
    return Customer(CUSTOMER_ID, SHOP_ID, "Ada Lovelace", CUSTOMER_EMAIL,
                    billing_address=ADDRESS, billing_contact=contact)


def analysis(filename: str = "cube.stl", *, warning: WarningCode | None = None) -> ModelAnalysis:
    warnings = (DfmWarning(warning, f"{warning.value.replace('_', ' ')}"),) if warning else ()
    return ModelAnalysis(
        filename=filename, format="stl", volume_cm3=8.0, area_cm2=24.0,
        bbox_mm=(20.0, 20.0, 20.0), triangles=12, bodies=1, watertight=warning is None,
        winding_consistent=True, convex_hull_volume_cm3=8.0, overhang_area_cm2=0.0,
        warnings=warnings,
    )


def priced_quote(spec: LineSpec, unit: str = "12.50") -> LineQuote:
    zero = eur("0")
    total = eur(unit) * spec.quantity
    breakdown = LineBreakdown(
        material_per_part=eur(unit), machine_hours_per_part=Decimal("0.5"),
        machine_per_part=zero, post_production_per_part=zero, fees=(), fees_total=zero,
        minimum_price_adjustment=zero, discount_percent=Decimal(0), discount=zero,
        unit_price=eur(unit), total=total,
    )
    return LineQuote(spec=spec, breakdown=breakdown, lead_time_days=5)


def line(line_id: str = "l1", *, priced: bool = True, quantity: int = 2,
         filename: str = "cube.stl") -> OrderLine:
    spec = LineSpec("fdm", "pla", quantity=quantity)
    quote = (priced_quote(spec) if priced
             else LineQuote(spec=spec, breakdown=None, lead_time_days=5,
                            review_reasons=("part does not fit the machine",)))
    return OrderLine(line_id, "ab" * 32, filename, analysis(filename), spec, quote=quote)


def draft(**changes: Any) -> Order:
    """A complete draft: customer, one priced line, shipping and billing address."""
    order = Order(
        id="ord-1", shop_id=SHOP_ID, number="1042", currency="EUR", created_at=NOW,
        customer_id=CUSTOMER_ID, lines=[line()], shipping=Shipping("dhl", ADDRESS),
        billing_address=ADDRESS,
    )
    return attrs.evolve(order, **changes)


_PO_STAGE = {"po_provided", "po_payment_due"}


def order_in(status: str, *, held_from: str | None = None, paid: bool = False) -> Order:
    """An order as loaded from storage in ``status``, with the data that status implies."""
    order = draft(status=OrderStatus(status),
                  payment_status=PaymentStatus.PAID if paid else PaymentStatus.UNPAID)
    effective = status
    if status == "on_hold":
        effective = held_from or "placed"
        order.held_from = OrderStatus(effective)
    if effective not in ("draft", "waiting_for_review"):
        order.offer_revision = 1
    if effective in _PO_STAGE:
        order.po = PurchaseOrder("PO-7", NOW - timedelta(days=1))
    if effective == "po_payment_due":
        order.po = PurchaseOrder("PO-7", NOW - timedelta(days=1), due_date=date(2026, 4, 1))
    return order


def command(trigger: str, order: Order, now: datetime = NOW) -> Command:
    """A command for ``trigger`` with valid data."""
    data: dict[str, dict[str, object]] = {
        "send_firm_offer": {"expires_at": now + timedelta(days=14)},
        "accept_offer": {"revision": order.offer_revision or 1},
        "request_changes": {"message": "make it blue"},
        "provide_po": {"po_number": "PO-8", "document_ref": "cd" * 32},
        "accept_po": {"net_days": 30},
        "reprint": {"reason": "layer shift"},
        "ship": {"tracking_number": "TRACK-1"},
        "hold": {"reason": "out of filament"},
        "cancel_by_customer": {"reason": "changed my mind"},
        "cancel_by_admin": {"reason": "cannot make it"},
    }
    return build_command(Trigger(trigger), data.get(trigger, {}))


def fire(order: Order, trigger: str, actor: Actor, now: datetime = NOW,
         shop_context: ShopContext | None = None) -> StatusChanged:
    """Pull ``trigger`` on ``order`` with valid data, through the order's one dispatch."""
    return order.execute(actor, now, command(trigger, order, now), shop_context or context())
