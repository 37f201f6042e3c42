"""Review policy: how a shop wants orders to reach it.

- ``instant``: a complete, instantly priced order may be placed directly.
- ``semi_manual``: orders over a price or quantity threshold, or whose
  models carry a DFM warning, must be submitted for review.
- ``manual``: prices are hidden and every order is reviewed.

The customer may always choose review instead of placing.
"""

from __future__ import annotations

import enum

import attrs

from fabcore.domain.money import Money


class ReviewMode(enum.Enum):
    INSTANT = "instant"
    SEMI_MANUAL = "semi_manual"
    MANUAL = "manual"


@attrs.frozen
class ReviewPolicy:
    """A shop's review settings (the ``[review]`` table of its catalog)."""

    mode: ReviewMode = ReviewMode.INSTANT
    max_order_total: Money | None = None
    max_quantity: int | None = None
    dfm_warnings_require_review: bool = True
