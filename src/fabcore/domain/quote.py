"""The result of pricing: a breakdown a person can read.

A line that cannot be priced instantly (the part does not fit the machine,
the mesh cannot be measured reliably, the option does not exist for the
part) carries ``breakdown=None`` and the reasons it needs review.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import attrs

from fabcore.domain.errors import InvalidInput
from fabcore.domain.money import Money

#: Most parts one line may order; pricing's amounts are bounded for up to this many.
MAX_QUANTITY = 1_000_000


def _finish_ids(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise InvalidInput(f"finishes must be a list of finish ids, not the string {values!r}")
    return tuple(values)


def _check_quantity(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        raise InvalidInput(
            f"quantity must be a whole number from 1 to {MAX_QUANTITY:,}, got {value!r}"
        )


@attrs.frozen
class LineSpec:
    """What the customer picked for one part: from 1 to :data:`MAX_QUANTITY` of it."""

    process: str
    material: str
    finishes: tuple[str, ...] = attrs.field(default=(), converter=_finish_ids)
    color: str | None = None
    quantity: int = attrs.field(default=1, validator=_check_quantity)


@attrs.frozen
class Fee:
    """A one-off charge on a line or order (startup, programming, tooling)."""

    name: str
    amount: Money


@attrs.frozen
class LineBreakdown:
    """Per-part and per-line amounts for one priced line.

    ``unit_price * quantity == total``; one-off fees are spread over the
    quantity so the unit price is what one part really costs.
    ``minimum_price_adjustment`` and ``discount`` are per part, like the
    amounts named ``*_per_part``; ``fees_total`` and ``total`` are per line.
    ``notes`` says in plain words how the price was reached where that is
    not obvious (estimates, approximations, price-break protection).
    """

    material_per_part: Money
    machine_hours_per_part: Decimal
    machine_per_part: Money
    post_production_per_part: Money
    fees: tuple[Fee, ...]
    fees_total: Money
    minimum_price_adjustment: Money
    discount_percent: Decimal
    discount: Money
    unit_price: Money
    total: Money
    notes: tuple[str, ...] = ()


@attrs.frozen
class LineQuote:
    """Price of one line, or the reasons it must be reviewed by the shop."""

    spec: LineSpec
    breakdown: LineBreakdown | None
    lead_time_days: int
    review_reasons: tuple[str, ...] = ()
    filename: str = ""

    @property
    def priced(self) -> bool:
        return self.breakdown is not None

    @property
    def needs_review(self) -> bool:
        return bool(self.review_reasons)


@attrs.frozen
class OrderQuote:
    """Totals of an order. ``total`` is None when any line is unpriced."""

    currency: str
    lines: tuple[LineQuote, ...]
    subtotal: Money
    order_fees: tuple[Fee, ...]
    minimum_order_adjustment: Money
    shipping_method: str | None
    shipping: Money
    tax_rate: Decimal
    tax: Money
    total: Money | None
    lead_time_days: int
    review_reasons: tuple[str, ...] = ()

    @property
    def needs_review(self) -> bool:
        return bool(self.review_reasons) or any(line.needs_review for line in self.lines)
