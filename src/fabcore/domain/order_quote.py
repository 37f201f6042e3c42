"""The price of a whole order as it stands: instant prices, firm prices, shipping, tax."""

from __future__ import annotations

import attrs

from fabcore.domain.catalog import Catalog
from fabcore.domain.money import Money
from fabcore.domain.order import Order, OrderLine
from fabcore.domain.pricing import price_order
from fabcore.domain.quote import LineBreakdown, LineQuote, OrderQuote


def effective_line_quote(line: OrderLine) -> LineQuote:
    """The line's quote with the shop's firm price and fees applied, when set.

    A firm price replaces the instant unit price; line fees are added to the
    line total. An instant quote made for another spec counts as unpriced.
    """
    quote = line.quote
    base = (
        quote if quote is not None and quote.spec == line.spec
        else LineQuote(line.spec, None, 0, ("changed since it was quoted",), line.model_filename)
    )
    if line.firm_unit_price is None and not line.line_fees:
        return base
    unit = line.unit_price
    total = line.total
    if unit is None or total is None:
        return base
    zero = Money.zero(unit.currency)
    fees_total = sum((fee.amount for fee in line.line_fees), zero)
    if base.breakdown is not None:
        breakdown = attrs.evolve(
            base.breakdown,
            unit_price=unit,
            total=total,
            fees=base.breakdown.fees + line.line_fees,
            fees_total=base.breakdown.fees_total + fees_total,
            notes=(*base.breakdown.notes, "firm price set by the shop"),
        )
    else:
        breakdown = LineBreakdown(
            material_per_part=zero,
            machine_hours_per_part=zero.amount,
            machine_per_part=zero,
            post_production_per_part=zero,
            fees=line.line_fees,
            fees_total=fees_total,
            minimum_price_adjustment=zero,
            discount_percent=zero.amount,
            discount=zero,
            unit_price=unit,
            total=total,
            notes=("firm price set by the shop",),
        )
    return attrs.evolve(base, breakdown=breakdown, review_reasons=())


def quote_order(catalog: Catalog, order: Order) -> OrderQuote:
    """Subtotal, order fees, minimum-order adjustment, shipping, tax and total of ``order``."""
    lines = [effective_line_quote(line) for line in order.lines]
    method = order.shipping.method if order.shipping is not None else None
    return price_order(catalog, lines, method)

