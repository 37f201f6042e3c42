"""The one cattrs converter used at the edges (storage, JSON output).

Decimal travels as a string so no amount ever passes through a float;
datetimes as ISO 8601 in UTC; enums by value; Money as
``{"amount": "12.30", "currency": "EUR"}``. The domain never imports this.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import cattrs

from fabcore.domain.errors import InvalidInput
from fabcore.domain.money import Money


def _unstructure_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise InvalidInput(f"naive datetime {value!r} cannot be stored; use UTC")
    return value.astimezone(UTC).isoformat()


def _structure_datetime(value: object, _: type) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"expected an ISO 8601 datetime string, got {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise InvalidInput(f"datetime {value!r} has no time zone")
    return parsed.astimezone(UTC)


def _structure_decimal(value: object, _: type) -> Decimal:
    if isinstance(value, float):
        raise InvalidInput("amounts must be strings or integers, not floats")
    return Decimal(str(value))


def _structure_money(value: object, _: type) -> Money:
    if not isinstance(value, dict):
        raise InvalidInput(f"expected an object with amount and currency, got {value!r}")
    return Money(_structure_decimal(value["amount"], Decimal), str(value["currency"]))


def make_converter() -> cattrs.Converter:
    """A fresh converter with fabcore's hooks installed."""
    conv = cattrs.Converter()
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(
        Money, lambda m: {"amount": str(m.amount), "currency": m.currency}
    )
    conv.register_structure_hook(Money, _structure_money)
    conv.register_unstructure_hook(enum.Enum, lambda e: e.value)
    return conv


converter = make_converter()


def to_json(value: Any, *, indent: int | None = 2) -> str:
    """Serialise any fabcore value (attrs classes, lists, dicts) to JSON text."""
    return json.dumps(converter.unstructure(value), indent=indent, ensure_ascii=False)
