"""Shared jinja2 setup and the plain view of an order that mail and invoice templates show."""

from __future__ import annotations

from decimal import Decimal

import attrs
import jinja2

from fabcore.domain.customer import Address
from fabcore.domain.money import Money
from fabcore.domain.order import Order, OrderLine
from fabcore.domain.quote import Fee, LineSpec


def money(value: Money | None, missing: str = "to be quoted") -> str:
    """``1,234.50 EUR``, straight from the Decimal amount."""
    return missing if value is None else str(value)


def percent(rate: Decimal) -> str:
    """A fraction as a percentage without trailing zeros: ``0.19`` -> ``19%``."""
    return f"{(rate * 100).normalize():f}%"


def make_environment(loader: jinja2.BaseLoader, *, auto_reload: bool = True) -> jinja2.Environment:
    """Autoescaping for ``.html`` only, loud on undefined names, tidy whitespace.

    ``auto_reload=False`` for templates that cannot change while running
    (those in the package): jinja2 then stops checking their files' times
    on every use.
    """
    env = jinja2.Environment(
        loader=loader,
        auto_reload=auto_reload,
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = money
    env.filters["percent"] = percent
    return env


def address_lines(address: Address | None) -> tuple[str, ...]:
    """An address as the lines of an envelope."""
    if address is None:
        return ()
    city = " ".join(part for part in (address.postal_code, address.city) if part)
    lines = (address.name, address.company, address.line1, address.line2, city,
             address.region, address.country)
    return tuple(line for line in lines if line)


def describe(spec: LineSpec) -> str:
    """``fdm / pla, black, finishes: sanding, dyeing``."""
    parts = [f"{spec.process} / {spec.material}"]
    if spec.color:
        parts.append(spec.color)
    if spec.finishes:
        parts.append(f"finishes: {', '.join(spec.finishes)}")
    return ", ".join(parts)


@attrs.frozen
class LineView:
    """One order line as templates show it; prices are ``None`` while unpriced."""

    position: int
    filename: str
    details: str
    quantity: int
    unit_price: Money | None
    fees: tuple[Fee, ...]
    total: Money | None
    notes: str


def line_view(position: int, line: OrderLine) -> LineView:
    return LineView(
        position=position,
        filename=line.model_filename,
        details=describe(line.spec),
        quantity=line.spec.quantity,
        unit_price=line.unit_price,
        fees=line.line_fees,
        total=line.total,
        notes=line.notes,
    )


def line_views(order: Order) -> tuple[LineView, ...]:
    return tuple(line_view(i, line) for i, line in enumerate(order.lines, start=1))
