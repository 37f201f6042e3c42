"""Review policy: how a shop wants orders to reach it.

- ``instant``: a complete, instantly priced order may be placed directly.
- ``semi_manual``: orders over a price or quantity threshold, or whose
  models carry a DFM warning, must be submitted for review.
- ``manual``: prices are hidden and every order is reviewed.

The customer may always choose review instead of placing. Lines the
pricing cannot price instantly always go to review, whatever the mode.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from fabcore.domain.analysis import ModelAnalysis
from fabcore.domain.money import Money
from fabcore.domain.quote import OrderQuote


class ReviewMode(enum.Enum):
    INSTANT = "instant"
    SEMI_MANUAL = "semi_manual"
    MANUAL = "manual"


@attrs.frozen
class ReviewPolicy:
    """A shop's review settings, part of its :class:`~fabcore.domain.shop.ShopSettings`."""

    mode: ReviewMode = ReviewMode.INSTANT
    max_order_total: Money | None = None
    max_quantity: int | None = None
    dfm_warnings_require_review: bool = True


def review_required(
    policy: ReviewPolicy, quote: OrderQuote, analyses: Iterable[ModelAnalysis] = ()
) -> tuple[str, ...]:
    """Why an order must be submitted for review instead of placed (empty: it may be placed).

    Any line or order the pricing could not price needs review in every
    mode. ``manual`` reviews everything. ``semi_manual`` also reviews orders
    whose total exceeds ``max_order_total``, whose number of parts (over
    all lines) exceeds ``max_quantity``, and, when
    ``dfm_warnings_require_review``, orders with a model carrying a DFM
    warning.
    """
    reasons: list[str] = []
    if policy.mode is ReviewMode.MANUAL:
        reasons.append("the shop reviews every order")
    reasons.extend(quote.review_reasons)
    # price_order already names every unpriced line in the order's reasons;
    # a quote built without them still gets its lines' reasons here.
    for number, line in enumerate(() if quote.review_reasons else quote.lines, start=1):
        if line.needs_review or not line.priced:
            why = "; ".join(line.review_reasons) or "not priced instantly"
            reasons.append(f"line {number} ({line.spec.process}, {line.spec.material}): {why}")
    if policy.mode is ReviewMode.SEMI_MANUAL:
        limit = policy.max_order_total
        if limit is not None and quote.total is not None and quote.total > limit:
            reasons.append(f"order total {quote.total} is over {limit}")
        parts = sum(line.spec.quantity for line in quote.lines)
        if policy.max_quantity is not None and parts > policy.max_quantity:
            reasons.append(f"{parts} parts is over {policy.max_quantity}")
        if policy.dfm_warnings_require_review:
            reasons.extend(
                f"{analysis.filename}: {warning.message}"
                for analysis in analyses for warning in analysis.warnings
            )
    return tuple(reasons)
