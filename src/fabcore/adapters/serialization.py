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
from collections.abc import Callable, Mapping, Set
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType, NoneType, UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

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


def _money_structure(size: int = 4096) -> Callable[[object, type], Money]:
    """Structures Money; equal stored amounts share one (immutable) Money, up to ``size`` of them.

    Orders repeat the same few amounts (fees, zeros, catalog prices), and
    building a Money checks and quantizes its amount.
    """
    known: dict[tuple[str, str], Money] = {}

    def structure(value: object, _: type) -> Money:
        if not isinstance(value, dict):
            raise InvalidInput(f"expected an object with amount and currency, got {value!r}")
        amount, currency = value["amount"], value["currency"]
        if not (isinstance(amount, str) and isinstance(currency, str)):
            return Money(_structure_decimal(amount, Decimal), str(currency))
        found = known.get((amount, currency))
        if found is None:
            found = Money(_structure_decimal(amount, Decimal), currency)
            if len(known) >= size:
                known.clear()
            known[amount, currency] = found
        return found

    return structure


def _is_optional(cls: Any) -> bool:
    args = get_args(cls)
    return (
        get_origin(cls) in (Union, UnionType) and len(args) == 2 and NoneType in args
    )


def _optional_structure_factory(cls: Any, conv: cattrs.Converter) -> Any:
    """``X | None`` with the hook of ``X`` looked up once, not on every value."""
    inner = next(arg for arg in get_args(cls) if arg is not NoneType)
    structure_inner = conv.get_structure_hook(inner)

    def structure(value: Any, _: Any) -> Any:
        return None if value is None else structure_inner(value, inner)

    return structure


def _is_homogeneous_tuple(cls: Any) -> bool:
    args = get_args(cls)
    return get_origin(cls) is tuple and len(args) == 2 and args[1] is Ellipsis


def _tuple_structure_factory(cls: Any, conv: cattrs.Converter) -> Any:
    """``tuple[X, ...]`` with the hook of ``X`` looked up once, not on every value."""
    item = get_args(cls)[0]
    structure_item = conv.get_structure_hook(item)

    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        return tuple([structure_item(v, item) for v in value])

    return structure


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
    conv.register_structure_hook(Money, _money_structure())
    conv.register_unstructure_hook(enum.Enum, lambda e: e.value)
    conv.register_unstructure_hook(MappingProxyType, lambda m: conv.unstructure(dict(m)))
    conv.register_structure_hook_factory(_is_mapping, lambda cls: _mapping_structure_factory(
        cls, conv
    ))
    conv.register_structure_hook_factory(
        _is_optional, lambda cls: _optional_structure_factory(cls, conv)
    )
    conv.register_structure_hook_factory(
        _is_homogeneous_tuple, lambda cls: _tuple_structure_factory(cls, conv)
    )
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
