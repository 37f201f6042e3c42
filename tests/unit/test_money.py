"""Money: Decimal amounts quantized half-up to the currency's minor unit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fabcore.domain.errors import CurrencyMismatch, InvalidInput
from fabcore.domain.money import Money, minor_unit


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("2.675", "2.68"),  # 2.675 as a float is 2.67499..., as a Decimal it rounds up
        ("19.999", "20.00"),
        ("-0.005", "-0.01"),  # half-up rounds away from zero
        (Decimal("1.125"), "1.13"),  # not banker's rounding (that would give 1.12)
        (7, "7.00"),
    ],
)
def test_amounts_are_quantized_half_up_to_cents(amount: object, expected: str) -> None:
    money = Money(amount, "EUR")
    assert money.amount == Decimal(expected)
    assert money.amount.as_tuple().exponent == -2


def test_yen_has_no_decimals() -> None:
    assert minor_unit("JPY") == 0
    assert Money("1234.5", "JPY").amount == Decimal(1235)
    assert Money("1234.4", "JPY").amount == Decimal(1234)
    assert Money("1234.5", "JPY").amount.as_tuple().exponent == 0


def test_three_decimal_currency() -> None:
    assert Money("1.2345", "KWD").amount == Decimal("1.235")


@pytest.mark.parametrize("value", [0.1, 1.0, float("nan")])
def test_floats_are_refused(value: float) -> None:
    with pytest.raises(InvalidInput, match="float"):
        Money(value, "EUR")


def test_multiplying_by_a_float_is_refused() -> None:
    with pytest.raises(InvalidInput, match="float"):
        Money("1.00", "EUR") * 1.5  # type: ignore[operator]


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-inf", Decimal("NaN")])
def test_nan_and_infinity_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="finite"):
        Money(value, "EUR")


@pytest.mark.parametrize("value", ["abc", "", "1,50", True, None, [1]])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput):
        Money(value, "EUR")


@pytest.mark.parametrize("currency", ["eur", "EURO", "E1R", "", "€"])
def test_currency_must_be_an_iso_code(currency: str) -> None:
    with pytest.raises(InvalidInput, match="ISO 4217"):
        Money(1, currency)


def test_adding_different_currencies_fails() -> None:
    with pytest.raises(CurrencyMismatch, match="EUR with USD"):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(CurrencyMismatch):
        Money(1, "EUR") - Money(1, "USD")


def test_comparing_different_currencies_fails() -> None:
    with pytest.raises(CurrencyMismatch):
        assert Money(1, "EUR") < Money(2, "USD")


def test_arithmetic_keeps_the_currency_and_requantizes() -> None:
    total = Money("0.10", "EUR") + Money("0.20", "EUR")
    assert total == Money("0.30", "EUR")
    assert Money("2.50", "EUR") * 3 == Money("7.50", "EUR")
    assert Money("0.99", "EUR") * Decimal("0.19") == Money("0.19", "EUR")  # 0.1881
    assert -Money("1.00", "EUR") == Money("-1.00", "EUR")
    assert Money("1.00", "EUR") - Money("1.00", "EUR") == Money.zero("EUR")
    assert not Money.zero("EUR")


def test_ordering_within_one_currency() -> None:
    assert Money("1.00", "EUR") < Money("1.01", "EUR")
    assert Money("1.00", "EUR") >= Money("1.00", "EUR")
    assert max(Money("3", "EUR"), Money("12", "EUR")) == Money("12.00", "EUR")


def test_repr_and_str() -> None:
    assert repr(Money("1234.5", "EUR")) == "Money('1234.50', 'EUR')"
    assert str(Money("1234.5", "EUR")) == "1,234.50 EUR"
