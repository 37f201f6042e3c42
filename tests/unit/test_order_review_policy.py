"""review_required: when an order must go to the shop for review."""

from __future__ import annotations

from decimal import Decimal

import pytest
from order_builders import analysis, eur, priced_quote

from fabcore.app.samples import sample_shop
from fabcore.domain.analysis import ModelAnalysis, WarningCode
from fabcore.domain.errors import CurrencyMismatch
from fabcore.domain.money import Money
from fabcore.domain.quote import LineQuote, LineSpec, OrderQuote
from fabcore.domain.review import ReviewMode, ReviewPolicy, review_required


def _quote(*lines: LineQuote, total: str | None = "100.00",
           reasons: tuple[str, ...] = ()) -> OrderQuote:
    zero = eur("0")
    return OrderQuote(
        currency="EUR", lines=lines, subtotal=zero, order_fees=(),
        minimum_order_adjustment=zero, shipping_method="dhl", shipping=zero,
        tax_rate=Decimal("0.19"), tax=zero, total=eur(total) if total else None,
        lead_time_days=5, review_reasons=reasons,
    )


def _line(quantity: int = 1) -> LineQuote:
    return priced_quote(LineSpec("fdm", "pla", quantity=quantity))


def _unpriced() -> LineQuote:
    return LineQuote(LineSpec("cnc_milling", "alu"), None, 10,
                     review_reasons=("part does not fit the machine",))


CLEAN = (analysis("cube.stl"),)
LEAKY = (analysis("cube.stl"), analysis("vase.stl", warning=WarningCode.NOT_WATERTIGHT))
SEMI = ReviewPolicy(ReviewMode.SEMI_MANUAL, max_order_total=eur("500.00"), max_quantity=10)


def test_instant_mode_places_priced_orders_even_with_warnings() -> None:
    assert review_required(ReviewPolicy(), _quote(_line()), LEAKY) == ()


def test_manual_mode_always_reviews() -> None:
    assert review_required(ReviewPolicy(ReviewMode.MANUAL), _quote(_line()), CLEAN) == (
        "the shop reviews every order",)


@pytest.mark.parametrize("mode", list(ReviewMode))
def test_unpriced_lines_always_need_review(mode: ReviewMode) -> None:
    reasons = review_required(ReviewPolicy(mode), _quote(_line(), _unpriced(), total=None), CLEAN)
    assert "line 2 (cnc_milling, alu): part does not fit the machine" in reasons


def test_order_level_reasons_are_passed_on() -> None:
    quote = _quote(_line(), reasons=("shipping method unavailable",))
    assert review_required(ReviewPolicy(), quote, CLEAN) == ("shipping method unavailable",)


@pytest.mark.parametrize(
    ("total", "expected"),
    [("500.00", ()), ("500.01", ("order total 500.01 EUR is over 500.00 EUR",))],
)
def test_semi_manual_total_threshold(total: str, expected: tuple[str, ...]) -> None:
    assert review_required(SEMI, _quote(_line(), total=total), CLEAN) == expected


def test_semi_manual_quantity_counts_parts_over_all_lines() -> None:
    assert review_required(SEMI, _quote(_line(5), _line(5)), CLEAN) == ()
    assert review_required(SEMI, _quote(_line(5), _line(6)), CLEAN) == ("11 parts is over 10",)


def test_semi_manual_dfm_warnings() -> None:
    assert review_required(SEMI, _quote(_line()), LEAKY) == ("vase.stl: not watertight",)
    lenient = ReviewPolicy(ReviewMode.SEMI_MANUAL, dfm_warnings_require_review=False)
    assert review_required(lenient, _quote(_line()), LEAKY) == ()


def test_semi_manual_without_thresholds_places_clean_orders() -> None:
    policy = ReviewPolicy(ReviewMode.SEMI_MANUAL)
    analyses: tuple[ModelAnalysis, ...] = CLEAN
    assert review_required(policy, _quote(_line(1000), total="99999.00"), analyses) == ()


def test_threshold_in_another_currency_is_an_error() -> None:
    policy = ReviewPolicy(ReviewMode.SEMI_MANUAL, max_order_total=Money("10", "USD"))
    with pytest.raises(CurrencyMismatch):
        review_required(policy, _quote(_line()), CLEAN)


def test_the_sample_shop_reviews_big_orders_and_models_with_warnings() -> None:
    assert sample_shop().settings.review == ReviewPolicy(
        ReviewMode.SEMI_MANUAL,
        max_order_total=Money("2500.00", "EUR"),
        max_quantity=500,
        dfm_warnings_require_review=True,
    )
