"""Aggregates with every field filled in, for storage contract tests.

Each builder returns a fresh object; the keyword arguments set what a test
needs to vary (ids, status, times). Values are chosen to catch lossy
storage: Decimals with trailing zeros, times with microseconds, tuples,
frozensets, read-only mappings, ``None`` next to set values, non-ASCII text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from fabcore.app.catalogs import catalog_from_mapping
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import DfmWarning, ModelAnalysis, WarningCode
from fabcore.domain.catalog import Catalog
from fabcore.domain.customer import Address, BillingContact, Customer
from fabcore.domain.money import Money
from fabcore.domain.order import (
    HistoryEntry,
    InvoiceRecord,
    Order,
    OrderLine,
    PaymentEntry,
    PurchaseOrder,
    Shipping,
)
from fabcore.domain.quote import Fee, LineBreakdown, LineQuote, LineSpec, OrderQuote
from fabcore.domain.review import ReviewMode, ReviewPolicy
from fabcore.domain.shop import BankAccount, Shop, ShopSettings
from fabcore.domain.status import OrderStatus, PaymentStatus, Trigger
from fabcore.ports.mailer import Mail
from fabcore.ports.outbox import OutboxMessage, OutboxStatus

T0 = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
ADDRESS = Address(
    "Zoë Brontë", "Hauptstraße 1", "10115", "Berlin", "DE",
    company="Ünïcode GmbH", line2="Hinterhaus", region="BE",
)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def catalog() -> Catalog:
    """A catalog with two processes, finishes limited to materials, tiers and pickup."""
    return catalog_from_mapping({
        "shop": {
            "name": "Prüfstand", "currency": "EUR", "tax_rate": "0.19",
            "minimum_order_value": "25.00",
        },
        "quantity_discounts": [{"min_quantity": 10, "percent": "5"},
                               {"min_quantity": 50, "percent": "12.5"}],
        "processes": {
            "fdm": {
                "kind": "fdm", "label": "FDM", "hourly_rate": "4.00",
                "build_rate_cm3_per_h": "15.0", "layer_height_mm": "0.2",
                "layer_time_s": "2.0", "overhead_h_per_part": "0.10",
                "build_volume_mm": ["250", "210", "220"], "startup_fee": "5.00",
                "min_price_per_part": "2.00", "lead_time_days": 3,
                "materials": {
                    "pla": {"label": "PLA", "price_per_cm3": "0.120",
                            "colors": ["white", "black"]},
                    "petg": {"label": "PETG", "price_per_kg": "90.00",
                             "density_g_cm3": "1.27", "lead_time_days": 2},
                },
                "finishes": {
                    "sanding": {"label": "Sanding", "price_per_cm2": "0.015",
                                "materials": ["pla", "petg"]},
                    "dyeing": {"label": "Dyeing", "percent": "10", "materials": ["pla"]},
                },
                "quantity_discounts": [{"min_quantity": 20, "percent": "7"}],
            },
            "cnc": {
                "kind": "cnc_milling", "label": "CNC milling", "hourly_rate": "65.00",
                "removal_rate_cm3_per_h": "40", "build_volume_mm": ["500", "400", "300"],
                "programming_fee": "45.00", "lead_time_days": 7,
                "materials": {"alu": {"label": "Aluminium 6082",
                                      "stock_price_per_cm3": "0.05"}},
            },
        },
        "shipping": [
            {"id": "standard", "label": "DHL", "price": "9.90", "days": 2},
            {"id": "pickup", "label": "Pickup", "pickup": True},
        ],
    })


def shop(shop_id: str = "shop-1", *, name: str = "Prüfstand") -> Shop:
    return Shop(shop_id, name, ShopSettings(
        notify_emails=("orders@shop.example", "boss@shop.example"),
        sender_email="no-reply@shop.example",
        review=ReviewPolicy(ReviewMode.SEMI_MANUAL, eur("2500.00"), 500, False),
        payment_before_production=True,
        offer_validity_days=21,
        payment_terms_days=30,
        legal_name="Prüfstand Fertigung GmbH",
        address=ADDRESS,
        tax_id="DE 123 456 789",
        bank=BankAccount("Prüfstand Fertigung GmbH", "DE89370400440532013000", "COBADEFFXXX",
                         "Commerzbank"),
        invoice_prefix="RE-2026/",
    ))


def customer(
    customer_id: str = "cust-1", shop_id: str = "shop-1", email: str = "Ada@Example.com"
) -> Customer:
    return Customer(
        customer_id, shop_id, "Ada Lovelace", email, company="Analytical Engines Ltd",
        billing_address=ADDRESS, billing_contact=BillingContact("Accounts", "acc@example.com"),
        tax_id="GB 123 4567 89",
    )


def analysis(filename: str = "bracket.stl") -> ModelAnalysis:
    return ModelAnalysis(
        filename=filename, format="stl", volume_cm3=12.345678901234, area_cm2=98.7,
        bbox_mm=(60.0, 40.0, 30.000001), triangles=1234, bodies=2, watertight=False,
        winding_consistent=True, convex_hull_volume_cm3=20.5, overhang_area_cm2=3.25,
        warnings=(DfmWarning(WarningCode.NOT_WATERTIGHT, "the mesh has 3 holes"),
                  DfmWarning(WarningCode.MULTIPLE_BODIES, "2 separate bodies")),
    )


def _breakdown(unit: str, quantity: int) -> LineBreakdown:
    fee = Fee("startup", eur("5.00"))
    return LineBreakdown(
        material_per_part=eur("1.48"), machine_hours_per_part=Decimal("0.8230"),
        machine_per_part=eur("3.29"), post_production_per_part=eur("0.50"),
        fees=(fee,), fees_total=eur("5.00"), minimum_price_adjustment=eur("0.00"),
        discount_percent=Decimal("5.0"), discount=eur("0.26"), unit_price=eur(unit),
        total=eur(unit) * quantity, notes=("startup fee spread over the parts", "estimate"),
    )


def line_quote(spec: LineSpec, unit: str = "10.50") -> LineQuote:
    return LineQuote(spec, _breakdown(unit, spec.quantity), 5, (), "bracket.stl")


def order(
    order_id: str = "ord-1",
    *,
    shop_id: str = "shop-1",
    number: str = "00042",
    customer_id: str | None = "cust-1",
    status: OrderStatus = OrderStatus.PO_PAYMENT_DUE,
    created_at: datetime = T0,
    due_date: date | None = date(2026, 4, 1),
) -> Order:
    """An order with two lines (one priced, one waiting for a firm price), PO, history, payments."""
    priced = LineSpec("fdm", "pla", ("sanding", "dyeing"), "black", 12)
    unpriced = LineSpec("cnc", "alu", (), None, 1)
    lines = [
        OrderLine("line-1", "ab" * 32, "bracket.stl", analysis(), priced,
                  notes="handle with care ✓", quote=line_quote(priced)),
        OrderLine("line-2", "cd" * 32, "housing.step", analysis("housing.step"), unpriced,
                  quote=LineQuote(unpriced, None, 0, ("the part does not fit the machine",),
                                  "housing.step"),
                  firm_unit_price=eur("120.00"),
                  line_fees=(Fee("fixture", eur("30.00")), Fee("programming", eur("45.00")))),
    ]
    staff = Actor.staff(shop_id, "sam")
    buyer = Actor.customer(shop_id, customer_id or "nobody")
    at = created_at
    history = [
        HistoryEntry(OrderStatus.DRAFT, OrderStatus.WAITING_FOR_REVIEW,
                     Trigger.SUBMIT_FOR_REVIEW, buyer, at + timedelta(minutes=5)),
        HistoryEntry(OrderStatus.WAITING_FOR_REVIEW, OrderStatus.FIRM_OFFER_SENT,
                     Trigger.SEND_FIRM_OFFER, staff, at + timedelta(hours=1), "revised"),
        HistoryEntry(OrderStatus.FIRM_OFFER_SENT, OrderStatus.PLACED, Trigger.ACCEPT_OFFER,
                     buyer, at + timedelta(hours=2)),
        HistoryEntry(OrderStatus.PLACED, OrderStatus.PO_PROVIDED, Trigger.PROVIDE_PO, buyer,
                     at + timedelta(hours=3)),
        HistoryEntry(OrderStatus.PO_PROVIDED, OrderStatus.PO_PAYMENT_DUE, Trigger.ACCEPT_PO,
                     staff, at + timedelta(hours=4), "net 30"),
    ]
    agreed = OrderQuote(
        currency="EUR", lines=(line_quote(priced), lines[1].quote or line_quote(unpriced)),
        subtotal=eur("321.00"), order_fees=(Fee("packaging", eur("2.50")),),
        minimum_order_adjustment=eur("0.00"), shipping_method="standard",
        shipping=eur("9.90"), tax_rate=Decimal("0.19"), tax=eur("63.35"),
        total=eur("396.75"), lead_time_days=9, review_reasons=("reviewed by staff",),
    )
    po = PurchaseOrder("PO-2026-17", at + timedelta(hours=3), "ef" * 32, due_date,
                       at + timedelta(days=1))
    return Order(
        id=order_id, shop_id=shop_id, number=number, currency="EUR", created_at=created_at,
        customer_id=customer_id, lines=lines, shipping=Shipping("standard", ADDRESS),
        billing_address=ADDRESS, status=status, payment_status=PaymentStatus.UNPAID,
        offer_revision=2, offer_expires_at=at + timedelta(days=14), po=po,
        held_from=OrderStatus.PO_PAYMENT_DUE if status is OrderStatus.ON_HOLD else None,
        tracking_number="TRACK-1",
        history=history,
        payments=[
            PaymentEntry(PaymentStatus.PAID, Actor.system(shop_id, "gateway"),
                         at + timedelta(hours=5), "pay_1", eur("396.75"), "card"),
            PaymentEntry(PaymentStatus.UNPAID, staff, at + timedelta(hours=6),
                         note="charge-back"),
        ],
        agreed_quote=agreed,
        invoice=InvoiceRecord("RE-2026/00017", at + timedelta(hours=4, microseconds=7),
                              date(2026, 4, 1)),
    )


def draft(
    order_id: str, number: str, *, shop_id: str = "shop-1", customer_id: str | None = "cust-1",
    created_at: datetime = T0,
) -> Order:
    """A bare draft, as ``create_order`` makes it."""
    return Order(id=order_id, shop_id=shop_id, number=number, currency="EUR",
                 created_at=created_at, customer_id=customer_id)


def mail(subject: str = "Order 00042: PO Payment due") -> Mail:
    return Mail(
        message_id="<m1@fabcore>", sender="no-reply@shop.example",
        to=("ada@example.com",), subject=subject, text="Grüße\nline two",
        html="<p>Grüße &amp; more</p>", cc=("acc@example.com",), reply_to="orders@shop.example",
    )


def message(
    message_id: str = "msg-1",
    *,
    shop_id: str = "shop-1",
    order_id: str | None = "ord-1",
    created_at: datetime = T0,
    subject: str = "Order 00042: PO Payment due",
) -> OutboxMessage:
    return OutboxMessage(id=message_id, shop_id=shop_id, order_id=order_id,
                         mail=mail(subject), created_at=created_at)


def sent_message(message_id: str = "msg-sent") -> OutboxMessage:
    """A message with every delivery field set."""
    found = message(message_id)
    found.status = OutboxStatus.SENT
    found.attempts = 3
    found.next_attempt_at = T0 + timedelta(minutes=2)
    found.last_error = "421 try again later"
    found.sent_at = T0 + timedelta(minutes=3)
    return found
