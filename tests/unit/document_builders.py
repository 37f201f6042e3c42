"""A realistic shop, customer and order for mail and invoice tests.

The amounts are worked out by hand in the comments; tests compare rendered
documents against these numbers, not against the code that computes them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from fabcore.domain.actor import Actor
from fabcore.domain.analysis import ModelAnalysis
from fabcore.domain.customer import Address, BillingContact, Customer
from fabcore.domain.events import PaymentChanged, PaymentReminderDue, StatusChanged
from fabcore.domain.money import Money
from fabcore.domain.order import Order, OrderLine, PurchaseOrder, Shipping
from fabcore.domain.quote import Fee, LineBreakdown, LineQuote, LineSpec, OrderQuote
from fabcore.domain.shop import BankAccount, Shop, ShopSettings
from fabcore.domain.status import OrderStatus, PaymentStatus, Trigger

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SHOP_ID = "shop-1"
OTHER_SHOP_ID = "shop-2"
CUSTOMER_ID = "cust-1"
CUSTOMER_EMAIL = "grace@example.com"
BILLING_EMAIL = "accounts@example.com"
SHOP_EMAILS = ("orders@shop.example", "boss@shop.example")
SENDER = "noreply@shop.example"
STAFF = Actor.staff(SHOP_ID, "staff-1")
CUSTOMER_ACTOR = Actor.customer(SHOP_ID, CUSTOMER_ID)
ORDER_NUMBER = "2026-0001"
OFFER_EXPIRES = datetime(2026, 3, 16, 9, 30, tzinfo=UTC)
PO_DUE = date(2026, 4, 1)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def shop(shop_id: str = SHOP_ID, name: str = "Acme Additive") -> Shop:
    settings = ShopSettings(
        notify_emails=SHOP_EMAILS, sender_email=SENDER, legal_name="Acme Additive GmbH",
        address=Address("Acme Additive GmbH", "Werkstraße 12", "70565", "Stuttgart", "DE"),
        tax_id="DE123456789",
        bank=BankAccount("Acme Additive GmbH", "DE89370400440532013000", "COBADEFFXXX"),
    )
    return Shop(shop_id, name, settings)


BILLING = Address("Grace Hopper", "7 Compiler Lane", "10117", "Berlin", "DE",
                  company="Hopper Robotics GmbH", line2="Building B")
DELIVERY = Address("Grace Hopper", "9 Dock Street", "20457", "Hamburg", "DE")


def customer(*, name: str = "Grace Hopper", billing_contact: bool = True) -> Customer:
    contact = BillingContact("Accounts", BILLING_EMAIL) if billing_contact else None
    return Customer(CUSTOMER_ID, SHOP_ID, name, CUSTOMER_EMAIL, company="Hopper Robotics GmbH",
                    billing_address=BILLING, billing_contact=contact)


def _analysis(filename: str) -> ModelAnalysis:
    return ModelAnalysis(
        filename=filename, format=filename.rsplit(".", 1)[-1], volume_cm3=18.5,
        area_cm2=60.0, bbox_mm=(40.0, 30.0, 20.0), triangles=1200, bodies=1, watertight=True,
        winding_consistent=True, convex_hull_volume_cm3=24.0, overhang_area_cm2=2.0,
    )


def _instant(spec: LineSpec, unit: str, filename: str) -> LineQuote:
    zero = eur("0")
    breakdown = LineBreakdown(
        material_per_part=eur(unit), machine_hours_per_part=Decimal("0.4"),
        machine_per_part=zero, post_production_per_part=zero, fees=(), fees_total=zero,
        minimum_price_adjustment=zero, discount_percent=Decimal(0), discount=zero,
        unit_price=eur(unit), total=eur(unit) * spec.quantity,
    )
    return LineQuote(spec=spec, breakdown=breakdown, lead_time_days=4, filename=filename)


def lines() -> list[OrderLine]:
    """Two lines: 4 x 12.35 = 49.40; 2 x 87.50 + 45.00 programming = 220.00."""
    bracket = LineSpec("fdm", "pla", finishes=("sanding",), color="black", quantity=4)
    housing = LineSpec("cnc", "aluminium", finishes=("anodized",), quantity=2)
    return [
        OrderLine("l1", "ab" * 32, "bracket.stl", _analysis("bracket.stl"), bracket,
                  quote=_instant(bracket, "12.35", "bracket.stl")),
        OrderLine("l2", "cd" * 32, "housing.step", _analysis("housing.step"), housing,
                  quote=_instant(housing, "91.00", "housing.step"),
                  firm_unit_price=eur("87.50"), line_fees=(Fee("CNC programming", eur("45.00")),)),
    ]


# Subtotal 49.40 + 220.00 = 269.40
SUBTOTAL = eur("269.40")
STARTUP_FEES = (Fee("startup FDM / PLA", eur("5.00")), Fee("startup CNC / Aluminium", eur("10.00")))
SHIPPING_PRICE = eur("12.90")
TAX_RATE = Decimal("0.19")
# Taxable 269.40 + 5.00 + 10.00 + 12.90 = 297.30; tax 297.30 x 0.19 = 56.487 -> 56.49
TAX = eur("56.49")
TOTAL = eur("353.79")


def quote(order: Order) -> OrderQuote:
    return OrderQuote(
        currency="EUR",
        lines=tuple(line.quote for line in order.lines if line.quote is not None),
        subtotal=SUBTOTAL,
        order_fees=STARTUP_FEES,
        minimum_order_adjustment=eur("0"),
        shipping_method="dhl",
        shipping=SHIPPING_PRICE,
        tax_rate=TAX_RATE,
        tax=TAX,
        total=TOTAL,
        lead_time_days=7,
    )


def order(status: OrderStatus = OrderStatus.PLACED, *, shop_id: str = SHOP_ID,
          paid: bool = False) -> Order:
    """The order as stored in ``status``, with the data that status implies."""
    result = Order(
        id="ord-1", shop_id=shop_id, number=ORDER_NUMBER, currency="EUR", created_at=NOW,
        customer_id=CUSTOMER_ID, lines=lines(), shipping=Shipping("dhl", DELIVERY),
        billing_address=BILLING, status=status,
        payment_status=PaymentStatus.PAID if paid else PaymentStatus.UNPAID,
    )
    if status is not OrderStatus.DRAFT:
        result.offer_revision = 2
        result.offer_expires_at = OFFER_EXPIRES
    if status in (OrderStatus.PO_PROVIDED, OrderStatus.PO_PAYMENT_DUE):
        due = PO_DUE if status is OrderStatus.PO_PAYMENT_DUE else None
        result.po = PurchaseOrder("PO-4711", NOW - timedelta(days=1), due_date=due)
    if status is OrderStatus.SHIPPED:
        result.tracking_number = "00340434161094042557"
    if status is OrderStatus.ON_HOLD:
        result.held_from = OrderStatus.MANUFACTURING
    return result


def status_changed(previous: OrderStatus, new: OrderStatus, trigger: Trigger = Trigger.HOLD,
                   note: str | None = None) -> StatusChanged:
    return StatusChanged("ord-1", previous, new, trigger, STAFF, NOW, note)


def paid_event() -> PaymentChanged:
    return PaymentChanged("ord-1", PaymentStatus.UNPAID, PaymentStatus.PAID, STAFF, NOW,
                          reference="TX-991", amount=TOTAL)


REMINDER_AT = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # two days before PO_DUE


def reminder_event(at: datetime = REMINDER_AT) -> PaymentReminderDue:
    return PaymentReminderDue("ord-1", PO_DUE, at)
