"""Money: a ``Decimal`` amount in one ISO 4217 currency.

Amounts are always quantized half-up to the currency's minor unit, so a
``Money`` is exactly what a customer sees and pays. Floats are refused: a
price that went through binary floating point cannot be trusted to the cent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import attrs

from fabcore.domain import checks
from fabcore.domain.errors import CurrencyMismatch, InvalidInput

# Minor units per ISO 4217; currencies not listed use two decimals.
_MINOR_UNITS: dict[str, int] = {
    "BHD": 3, "CLP": 0, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0,
    "KWD": 3, "OMR": 3, "TND": 3, "UGX": 0, "VND": 0,
}


def minor_unit(currency: str) -> int:
    """Number of decimals the currency is quoted in (2 for EUR, 0 for JPY)."""
    return _MINOR_UNITS.get(currency, 2)


def to_decimal(value: object, what: str = "amount") -> Decimal:
    """Convert ``value`` (Decimal, int or numeric string) to a finite Decimal.

    Floats are refused on purpose; so are NaN and infinities.
    """
    if isinstance(value, (bool, float)):
        raise InvalidInput(f"{what} must be a Decimal, int or string, not {type(value).__name__}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise InvalidInput(f"{what} is not a number: {value!r}") from None
    else:
        raise InvalidInput(f"{what} must be a Decimal, int or string, not {type(value).__name__}")
    if not result.is_finite():
        raise InvalidInput(f"{what} must be finite, got {value!r}")
    return result


# The quantum of each currency checked so far, e.g. Decimal("0.01") for EUR.
# Lists of orders build Money by the ten thousand: checking the code and
# working out its quantum once per currency halves the cost of each one.
_QUANTUM: dict[str, Decimal] = {}


def _quantum(currency: str) -> Decimal:
    if type(currency) is str:
        quantum = _QUANTUM.get(currency)
        if quantum is not None:
            return quantum
    code = checks.currency(currency)
    quantum = _QUANTUM[code] = Decimal(1).scaleb(-minor_unit(code))
    return quantum


@attrs.frozen(init=False, order=False, repr=False)
class Money:
    """An amount of one currency, quantized to its minor unit.

    >>> Money("19.999", "EUR")
    Money('20.00', 'EUR')
    """

    amount: Decimal
    currency: str

    def __init__(self, amount: object, currency: str) -> None:
        quantum = _quantum(currency)
        if type(amount) is not Decimal or not amount.is_finite():
            amount = to_decimal(amount)
        self.__attrs_init__(amount.quantize(quantum, rounding=ROUND_HALF_UP), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * to_decimal(factor, "factor"), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    def __repr__(self) -> str:
        return f"Money({str(self.amount)!r}, {self.currency!r})"

    def __str__(self) -> str:
        return f"{self.amount:,} {self.currency}"
