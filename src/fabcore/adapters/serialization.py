"""The one cattrs converter used at the edges (storage, JSON output).

Decimal travels as a string so no amount ever passes through a float;
datetimes as ISO 8601 in UTC, dates as ``YYYY-MM-DD``; enums by value; Money
as ``{"amount": "12.30", "currency": "EUR"}``. Tuples and frozensets become
lists (frozensets sorted, so equal values give equal text); read-only
mappings (a catalog's processes, materials, ...) become objects and come back
as ``MappingProxyType``. The domain never imports this.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Set
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeVar, get_args

import cattrs

from fabcore.domain.errors import InvalidInput
from fabcore.domain.money import Money

_T = TypeVar("_T")


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


def _structure_date(value: object, _: type) -> date:
    if not isinstance(value, str):
        raise InvalidInput(f"expected an ISO 8601 date string, got {value!r}")
    return date.fromisoformat(value)


def _structure_decimal(value: object, _: type) -> Decimal:
    if isinstance(value, float):
        raise InvalidInput("amounts must be strings or integers, not floats")
    return Decimal(str(value))


def _structure_money(value: object, _: type) -> Money:
    if not isinstance(value, dict):
        raise InvalidInput(f"expected an object with amount and currency, got {value!r}")
    return Money(_structure_decimal(value["amount"], Decimal), str(value["currency"]))


def _is_mapping(cls: Any) -> bool:
    return getattr(cls, "__origin__", None) is Mapping


def _mapping_structure_factory(cls: Any, conv: cattrs.Converter) -> Any:
    key_type, value_type = get_args(cls)
    structure_key = conv.get_structure_hook(key_type)
    structure_value = conv.get_structure_hook(value_type)

    def structure(value: Any, _: Any) -> Mapping[Any, Any]:
        return MappingProxyType(
            {structure_key(k, key_type): structure_value(v, value_type) for k, v in value.items()}
        )

    return structure


def make_converter() -> cattrs.Converter:
    """A fresh converter with fabcore's hooks installed."""
    # Validation lives in the attrs classes' own converters and validators;
    # cattrs' detailed error collection would only slow every load down.
    conv = cattrs.Converter(
        detailed_validation=False, unstruct_collection_overrides={Set: sorted}
    )
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(date, _structure_date)
    conv.register_unstructure_hook(
        Money, lambda m: {"amount": str(m.amount), "currency": m.currency}
    )
    conv.register_structure_hook(Money, _structure_money)
    conv.register_unstructure_hook(enum.Enum, lambda e: e.value)
    conv.register_unstructure_hook(MappingProxyType, lambda m: conv.unstructure(dict(m)))
    conv.register_structure_hook_factory(_is_mapping, lambda cls: _mapping_structure_factory(
        cls, conv
    ))
    return conv


converter = make_converter()


def to_json(value: Any, *, indent: int | None = 2) -> str:
    """Serialise any fabcore value (attrs classes, lists, dicts) to JSON text."""
    return json.dumps(converter.unstructure(value), indent=indent, ensure_ascii=False)


def dumps(value: Any) -> str:
    """Compact JSON text of a fabcore value, as stored in a database column."""
    return json.dumps(converter.unstructure(value), ensure_ascii=False, separators=(",", ":"))


def structure(data: Any, cls: type[_T]) -> _T:
    """Build a ``cls`` from plain data (parsed JSON); ``StorageError`` is the caller's job."""
    return converter.structure(data, cls)
