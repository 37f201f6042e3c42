"""The catalog file format: TOML-shaped tables structured with cattrs.

A catalog is plain data (what a TOML file parses to) with these tables::

    [shop]                            name, currency, tax_rate, minimum_order_value
    [[quantity_discounts]]            min_quantity, percent   (shop-wide tiers)
    [processes.<id>]                  kind, label, hourly_rate, build_volume_mm,
                                      lead_time_days, startup_fee, min_price_per_part,
                                      quantity_discounts, overhead_h_per_part,
                                      and the settings of its kind
    [processes.<id>.materials.<id>]   label, price_per_cm3 (stock_price_per_cm3 for
                                      machining), price_per_kg, density_g_cm3,
                                      volume_exponent, colors, lead_time_days
    [processes.<id>.finishes.<id>]    label, price_per_part, price_per_cm2, percent,
                                      materials, lead_time_days
    [[shipping]]                      id, label, price, days, pickup

Each table is an attrs class below whose fields are exactly the keys allowed
there; a process's ``kind`` picks its class, so each kind takes only its own
settings. :func:`catalog_from_mapping` structures the data with a cattrs
converter that has ``detailed_validation=True`` and
``forbid_extra_keys=True``: an unknown key (a typo) is an error naming the
keys allowed at that place. Values are read strictly: numbers may be ints,
floats, ``Decimal`` or numeric strings, and a float is read through its
shortest decimal text (``0.12`` becomes ``Decimal("0.12")``: a TOML float is
a decimal literal, and money never goes through binary arithmetic); whole
numbers must be ints, text a non-empty string, flags true or false, lists
lists and tables tables. A key left out takes its default; a key given as
null (JSON) is refused like any other wrong value.

The tables then become the classes of :mod:`fabcore.domain.catalog`, which
check everything else: the range of every number, the settings a kind needs,
either/or prices, distinct colors, finishes limited to known materials,
sorted distinct discount tiers. Here a label defaults to its id, a process
keeps the domain's defaults for the settings it leaves out, its
``build_volume_mm`` lists three sizes, shipping is listed as an array (ids
must be distinct) and needs a price and days unless it is a pickup, and
fixed amounts (fees, shipping prices, the minimum order value) become Money
of the shop's currency, refused with more decimals than the currency has.
Review settings (``[shop.review]``) are refused: they are shop settings.

Every problem raises :class:`~fabcore.domain.errors.CatalogError` whose
``key`` is the dotted path of the entry, e.g.
``processes.fdm.materials.pla.price_per_cm3``, with array entries written
``shipping[1].price``. The path of a structuring error comes from the notes
cattrs attaches to it (``AttributeValidationNote``,
``IterableValidationNote``), the rest of it from the domain error's own key.
When several entries are wrong, one is reported: problems of form (keys,
types) before those of value (ranges, invariants), and within a table
unknown keys before the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from types import MappingProxyType, NoneType, UnionType
from typing import Any, NewType, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import list_structure_factory, mapping_structure_factory
from cattrs.errors import (
    BaseValidationError,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)
from cattrs.gen import make_dict_structure_fn

from fabcore.domain.catalog import (
    Catalog,
    DiscountTier,
    Finish,
    Material,
    Process,
    ProcessKind,
    ShippingMethod,
    ShopTerms,
    currency_code,
    fixed_amount,
)
from fabcore.domain.errors import CatalogError
from fabcore.domain.money import Money

__all__ = ["REVIEW_MOVED", "catalog_from_mapping"]

REVIEW_MOVED = (
    "review settings are shop settings now: set the review mode and thresholds with "
    "the shop's settings, not in the catalog"
)

Currency = NewType("Currency", str)


# --- the tables --------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ShopTable:
    name: str
    currency: Currency
    tax_rate: Decimal
    minimum_order_value: Decimal | None = None


@attrs.frozen(kw_only=True)
class TierTable:
    min_quantity: int
    percent: Decimal


@attrs.frozen(kw_only=True)
class _MaterialKeys:
    label: str | None = None
    price_per_kg: Decimal | None = None
    density_g_cm3: Decimal | None = None
    volume_exponent: Decimal | None = None
    colors: list[str] | None = None
    lead_time_days: int | None = None


@attrs.frozen(kw_only=True)
class MaterialTable(_MaterialKeys):
    price_per_cm3: Decimal | None = None


@attrs.frozen(kw_only=True)
class StockMaterialTable(_MaterialKeys):
    """A material of a machining process: priced by the stock it is cut from."""

    stock_price_per_cm3: Decimal | None = None


@attrs.frozen(kw_only=True)
class FinishTable:
    label: str | None = None
    price_per_part: Decimal | None = None
    price_per_cm2: Decimal | None = None
    percent: Decimal | None = None
    materials: list[str] | None = None
    lead_time_days: int | None = None


@attrs.frozen(kw_only=True)
class ProcessTable:
    """The keys every kind of process takes."""

    kind: ProcessKind
    label: str | None = None
    hourly_rate: Decimal
    build_volume_mm: list[Decimal]
    lead_time_days: int
    materials: Mapping[str, _MaterialKeys]
    finishes: Mapping[str, FinishTable] | None = None
    startup_fee: Decimal | None = None
    min_price_per_part: Decimal | None = None
    quantity_discounts: list[TierTable] | None = None
    overhead_h_per_part: Decimal | None = None


@attrs.frozen(kw_only=True)
class _AdditiveTable(ProcessTable):
    materials: Mapping[str, MaterialTable]
    build_rate_cm3_per_h: Decimal | None = None
    layer_height_mm: Decimal | None = None
    layer_time_s: Decimal | None = None
    overhead_h_per_build: Decimal | None = None
    packing_density: Decimal | None = None


@attrs.frozen(kw_only=True)
class FdmTable(_AdditiveTable):
    support_cm3_per_cm2: Decimal | None = None


@attrs.frozen(kw_only=True)
class SlaTable(_AdditiveTable):
    growth_rate_mm_per_h: Decimal | None = None
    support_cm3_per_cm2: Decimal | None = None


@attrs.frozen(kw_only=True)
class PowderBedTable(_AdditiveTable):
    """SLS and MJF."""

    growth_rate_mm_per_h: Decimal | None = None


@attrs.frozen(kw_only=True)
class MachiningTable(ProcessTable):
    """CNC milling and turning."""

    materials: Mapping[str, StockMaterialTable]
    removal_rate_cm3_per_h: Decimal | None = None
    stock_margin_mm: Decimal | None = None
    programming_fee: Decimal | None = None


@attrs.frozen(kw_only=True)
class SheetMetalTable(ProcessTable):
    materials: Mapping[str, MaterialTable]
    processing_rate_cm2_per_h: Decimal | None = None
    min_thickness_mm: Decimal | None = None
    max_thickness_mm: Decimal | None = None
    programming_fee: Decimal | None = None


@attrs.frozen(kw_only=True)
class MoldingTable(ProcessTable):
    materials: Mapping[str, MaterialTable]
    tooling_cost: Decimal | None = None
    cycle_time_s: Decimal | None = None
    cavities: int | None = None


_PROCESS_TABLES: dict[ProcessKind, type[ProcessTable]] = {
    ProcessKind.FDM: FdmTable,
    ProcessKind.SLA: SlaTable,
    ProcessKind.SLS: PowderBedTable,
    ProcessKind.MJF: PowderBedTable,
    ProcessKind.CNC_MILLING: MachiningTable,
    ProcessKind.CNC_TURNING: MachiningTable,
    ProcessKind.SHEET_METAL: SheetMetalTable,
    ProcessKind.INJECTION_MOLDING: MoldingTable,
}


@attrs.frozen(kw_only=True)
class ShippingTable:
    id: str
    label: str | None = None
    price: Decimal | None = None
    days: int | None = None
    pickup: bool = False


@attrs.frozen(kw_only=True)
class CatalogFile:
    shop: ShopTable
    processes: Mapping[str, ProcessTable]
    quantity_discounts: list[TierTable] = attrs.Factory(list)
    shipping: list[ShippingTable] = attrs.Factory(list)


# --- structuring -------------------------------------------------------------


def _show(value: object) -> str:
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def _number(value: object, _: type) -> Decimal:
    result: Decimal | None = None
    with contextlib.suppress(ArithmeticError):
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, int) and not isinstance(value, bool):
            result = Decimal(value)
        elif isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, str):
            result = Decimal(value.strip())
    if result is None or not result.is_finite():
        raise CatalogError("", f"must be a number, got {_show(value)}")
    return result


def _whole(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CatalogError("", f"must be a whole number, got {_show(value)}")
    return value


def _flag(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise CatalogError("", f"must be true or false, got {_show(value)}")
    return value


def _text(value: object, _: type) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CatalogError("", f"must be a non-empty string, got {_show(value)}")
    return value


def _currency(value: object, _: type) -> Currency:
    return Currency(currency_code(value))


def _kind(value: object, _: type) -> ProcessKind:
    for kind in ProcessKind:
        if kind.value == value:
            return kind
    allowed = ", ".join(kind.value for kind in ProcessKind)
    raise CatalogError("", f"must be one of {allowed}; got {_show(value)}")


Hook = Callable[[Any, Any], Any]


def _table_hook(cls: type, conv: cattrs.Converter) -> Hook:
    structure: Hook = make_dict_structure_fn(cls, conv)

    def hook(value: object, _: type) -> Any:
        if not isinstance(value, Mapping):
            raise CatalogError("", f"must be a table, got {_show(value)}")
        return structure(value, cls)

    return hook


def _shop_hook(conv: cattrs.Converter) -> Hook:
    table = _table_hook(ShopTable, conv)

    def hook(value: object, cls: type) -> ShopTable:
        if isinstance(value, Mapping) and "review" in value:
            raise CatalogError("review", REVIEW_MOVED)
        shop: ShopTable = table(value, cls)
        return shop

    return hook


def _process_hook(conv: cattrs.Converter) -> Hook:
    def hook(value: object, _: type) -> ProcessTable:
        if not isinstance(value, Mapping):
            raise CatalogError("", f"must be a table, got {_show(value)}")
        if "kind" not in value:
            raise CatalogError("kind", "is required")
        try:
            kind = _kind(value["kind"], ProcessKind)
        except CatalogError as exc:
            raise CatalogError("kind", exc.reason) from None
        table: ProcessTable = conv.structure(value, _PROCESS_TABLES[kind])
        return table

    return hook


def _is_list(cls: Any) -> bool:
    return get_origin(cls) is list


def _list_hook(cls: Any, conv: cattrs.Converter) -> Hook:
    structure = list_structure_factory(cls, conv)

    def hook(value: object, _: type) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise CatalogError("", f"must be a list, got {_show(value)}")
        items: list[Any] = structure(value, cls)
        return items

    return hook


def _is_mapping(cls: Any) -> bool:
    return get_origin(cls) is Mapping


def _mapping_hook(cls: Any, conv: cattrs.Converter) -> Hook:
    structure: Hook = mapping_structure_factory(cls, conv)

    def hook(value: object, _: type) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise CatalogError("", f"must be a table, got {_show(value)}")
        for key in value:
            if not isinstance(key, str) or not key.strip():
                raise CatalogError("", f"ids must be non-empty strings, got {key!r}")
        items: Mapping[str, Any] = structure(value, cls)
        return items

    return hook


def _is_optional(cls: Any) -> bool:
    return get_origin(cls) in (Union, UnionType) and NoneType in get_args(cls)


def _optional_hook(cls: Any, conv: cattrs.Converter) -> Hook:
    # A key left out keeps the field's default; a key given as null (JSON) is
    # checked as a value like any other, and refused.
    (inner,) = (arg for arg in get_args(cls) if arg is not NoneType)
    structure = conv.get_structure_hook(inner)
    return lambda value, _: structure(value, inner)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    conv.register_structure_hook(Decimal, _number)
    conv.register_structure_hook(int, _whole)
    conv.register_structure_hook(bool, _flag)
    conv.register_structure_hook(str, _text)
    conv.register_structure_hook(Currency, _currency)
    conv.register_structure_hook(ProcessKind, _kind)
    conv.register_structure_hook_factory(_is_optional, lambda cls: _optional_hook(cls, conv))
    conv.register_structure_hook_factory(_is_list, lambda cls: _list_hook(cls, conv))
    conv.register_structure_hook_factory(_is_mapping, lambda cls: _mapping_hook(cls, conv))
    conv.register_structure_hook_factory(attrs.has, lambda cls: _table_hook(cls, conv))
    # By predicate, not by class: a hook registered for a class serves its subclasses too.
    conv.register_structure_hook_func(lambda cls: cls is ShopTable, _shop_hook(conv))
    conv.register_structure_hook_func(lambda cls: cls is ProcessTable, _process_hook(conv))
    return conv


_converter = _make_converter()


# --- errors ------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    if not path or not key:
        return path or key
    return f"{path}{key}" if key.startswith("[") else f"{path}.{key}"


def _problems(exc: BaseException, path: str) -> Iterator[tuple[str, str]]:
    """``(key, reason)`` of every problem in a cattrs error tree, unknown keys first."""
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for inner in without:
            yield from _problems(inner, path)
        for inner, note in with_notes:
            yield from _problems(inner, _join(path, note.name))
    elif isinstance(exc, IterableValidationError):
        items, without = exc.group_exceptions()
        for inner in without:
            yield from _problems(inner, path)
        for inner, item in items:
            index = f"[{item.index}]" if isinstance(item.index, int) else item.index
            yield from _problems(inner, _join(path, index))
    elif isinstance(exc, ForbiddenExtraKeysError):
        allowed = ", ".join(sorted(field.name for field in attrs.fields(exc.cl)))
        for key in sorted(exc.extra_fields, key=str):
            yield _join(path, str(key)), f"unknown key; allowed here: {allowed}"
    elif isinstance(exc, CatalogError):
        yield _join(path, exc.key), exc.reason
    elif isinstance(exc, KeyError):
        yield path, "is required"
    else:
        raise exc


@contextlib.contextmanager
def _at(path: str) -> Iterator[None]:
    """Put ``path`` in front of the key of a CatalogError raised inside."""
    try:
        yield
    except CatalogError as exc:
        raise CatalogError(_join(path, exc.key), exc.reason) from None


# --- building the domain classes -----------------------------------------------


def catalog_from_mapping(data: object) -> Catalog:
    """Validate plain data (parsed TOML or JSON) and build a catalog.

    Raises :class:`CatalogError` naming the dotted key of the first problem.
    """
    try:
        tables = _converter.structure(data, CatalogFile)
    except (BaseValidationError, CatalogError) as exc:
        key, reason = next(_problems(exc, ""))
        raise CatalogError(key, reason) from None
    with _at("shop"):
        shop = _shop(tables.shop)
    processes: dict[str, Process] = {}
    for process_id, table in tables.processes.items():
        with _at(f"processes.{process_id}"):
            processes[process_id] = _process(process_id, table, shop.currency)
    shipping: dict[str, ShippingMethod] = {}
    for i, entry in enumerate(tables.shipping):
        with _at(f"shipping[{i}]"):
            method = _shipping(entry, shop.currency)
            if method.id in shipping:
                raise CatalogError("id", f"duplicate shipping method {method.id!r}")
        shipping[method.id] = method
    return Catalog(
        shop=shop,
        processes=MappingProxyType(processes),
        quantity_discounts=_tiers(tables.quantity_discounts),
        shipping=MappingProxyType(shipping),
    )


def _given(
    table: attrs.AttrsInstance, *, omit: frozenset[str] = frozenset(), **defaults: object
) -> dict[str, Any]:
    """``defaults`` updated with the keys the table was given (not None), but those in ``omit``.

    Table fields and domain fields share their names, so what is left out
    keeps the domain's default.
    """
    given = dict(defaults)
    for field in attrs.fields(type(table)):
        value = getattr(table, field.name)
        if value is not None and field.name not in omit:
            given[field.name] = value
    return given


def _shop(table: ShopTable) -> ShopTerms:
    minimum = Money.zero(table.currency)
    if table.minimum_order_value is not None:
        with _at("minimum_order_value"):
            minimum = fixed_amount(table.minimum_order_value, table.currency)
    return ShopTerms(
        name=table.name,
        currency=table.currency,
        tax_rate=table.tax_rate,
        minimum_order_value=minimum,
    )


def _tiers(tables: list[TierTable]) -> list[DiscountTier]:
    tiers = []
    for i, table in enumerate(tables):
        with _at(f"quantity_discounts[{i}]"):
            tiers.append(DiscountTier(table.min_quantity, table.percent))
    return tiers


_AMOUNTS = ("startup_fee", "min_price_per_part", "programming_fee", "tooling_cost")
_BUILT_HERE = frozenset(
    {*_AMOUNTS, "materials", "finishes", "quantity_discounts", "build_volume_mm"}
)


def _process(process_id: str, table: ProcessTable, currency: str) -> Process:
    settings = _given(table, omit=_BUILT_HERE, label=process_id)
    for name in _AMOUNTS:
        amount = getattr(table, name, None)  # not every kind has every fee
        if amount is not None:
            with _at(name):
                settings[name] = fixed_amount(amount, currency)
    materials: dict[str, Material] = {}
    for material_id, material in table.materials.items():
        with _at(f"materials.{material_id}"):
            materials[material_id] = Material(id=material_id, **_given(material, label=material_id))
    finishes: dict[str, Finish] = {}
    for finish_id, finish in (table.finishes or {}).items():
        with _at(f"finishes.{finish_id}"):
            finishes[finish_id] = Finish(id=finish_id, **_given(finish, label=finish_id))
    if len(table.build_volume_mm) != 3:
        raise CatalogError(
            "build_volume_mm",
            f"must list three sizes [x, y, z] in mm, got {len(table.build_volume_mm)}",
        )
    x, y, z = table.build_volume_mm
    return Process(
        id=process_id,
        build_volume_mm=(x, y, z),
        materials=MappingProxyType(materials),
        finishes=MappingProxyType(finishes),
        quantity_discounts=(
            None if table.quantity_discounts is None else _tiers(table.quantity_discounts)
        ),
        **settings,
    )


def _shipping(table: ShippingTable, currency: str) -> ShippingMethod:
    if table.price is not None:
        with _at("price"):
            price = fixed_amount(table.price, currency)
    elif table.pickup:
        price = Money.zero(currency)
    else:
        raise CatalogError("price", "is required")
    if table.days is None and not table.pickup:
        raise CatalogError("days", "is required")
    return ShippingMethod(
        id=table.id,
        label=table.label or table.id,
        price=price,
        days=table.days or 0,
        pickup=table.pickup,
    )
