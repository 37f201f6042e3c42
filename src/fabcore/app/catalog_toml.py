"""A catalog written back as TOML in the catalog file format (:mod:`~fabcore.app.catalog_format`).

:func:`catalog_to_toml` writes exactly the keys the format allows at each
place, leaving out what is unset, so that
``parse_catalog(catalog_to_toml(c)) == c``. Amounts are plain numbers in the
shop's currency; percentages stay percent, the tax rate a fraction. A number
with more digits than a float holds is written as a numeric string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import Decimal

import attrs

from fabcore.app.catalog_format import (
    _PROCESS_TABLES,
    FinishTable,
    MachiningTable,
    MaterialTable,
    ShippingTable,
    ShopTable,
    StockMaterialTable,
    TierTable,
)
from fabcore.domain.catalog import Catalog, DiscountTier, Process
from fabcore.domain.money import Money

__all__ = ["catalog_to_toml"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# A process's own tables and arrays of tables, written after its keys.
_PROCESS_NESTED = ("materials", "finishes", "quantity_discounts")


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Money):
        return _value(value.amount)
    if isinstance(value, Decimal):
        text = format(value.normalize() if value == value.to_integral() else value, "f")
        # A TOML float is read back through the shortest text of the float; a number with
        # more digits than a float holds goes as a numeric string, which the format reads too.
        return text if Decimal(repr(float(text))) == value else json.dumps(text)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, frozenset):
        return _value(sorted(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _pairs(source: object, table: type, skip: Iterable[str] = ()) -> list[str]:
    """``key = value`` for each key ``table`` allows that ``source`` has set."""
    lines = []
    for field in attrs.fields(table):
        if field.name in skip:
            continue
        value = getattr(source, field.name, None)
        if value is None:
            continue
        lines.append(f"{field.name} = {_value(value)}")
    return lines


def _tiers(header: str, tiers: Iterable[DiscountTier]) -> list[str]:
    lines = []
    for tier in tiers:
        lines += ["", f"[[{header}]]", *_pairs(tier, TierTable)]
    return lines


def _process(process: Process) -> list[str]:
    table = _PROCESS_TABLES[process.kind]
    name = f"processes.{_key(process.id)}"
    lines = ["", f"[{name}]", f"kind = {_value(process.kind.value)}",
             *_pairs(process, table, skip=("kind", *_PROCESS_NESTED))]
    if process.quantity_discounts == ():
        lines.append("quantity_discounts = []")
    elif process.quantity_discounts is not None:
        lines += _tiers(f"{name}.quantity_discounts", process.quantity_discounts)
    material_table = StockMaterialTable if issubclass(table, MachiningTable) else MaterialTable
    for material in process.materials.values():
        lines += ["", f"[{name}.materials.{_key(material.id)}]",
                  *_pairs(material, material_table)]
    for finish in process.finishes.values():
        lines += ["", f"[{name}.finishes.{_key(finish.id)}]", *_pairs(finish, FinishTable)]
    return lines


def catalog_to_toml(catalog: Catalog) -> str:
    """The catalog as a TOML file the catalog loader reads back to an equal catalog."""
    lines = ["[shop]", *_pairs(catalog.shop, ShopTable)]
    lines += _tiers("quantity_discounts", catalog.quantity_discounts)
    for process in catalog.processes.values():
        lines += _process(process)
    for method in catalog.shipping.values():
        lines += ["", "[[shipping]]", *_pairs(method, ShippingTable, skip=("pickup",))]
        if method.pickup:
            lines.append("pickup = true")
    return "\n".join(lines) + "\n"
