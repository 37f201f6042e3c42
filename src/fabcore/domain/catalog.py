"""A shop's catalog: processes, materials, finishes, discounts and shipping.

:meth:`Catalog.from_mapping` builds a catalog from plain data (what a TOML or
JSON file parses to) and validates it. Every problem raises
:class:`~fabcore.domain.errors.CatalogError` whose ``key`` is the dotted path
of the offending entry, e.g. ``processes.fdm.materials.pla.price_per_cm3``;
array entries are written ``shipping[1].price``. Unknown keys are errors that
name the keys allowed at that place, so a typo never passes silently.

Numbers may be given as ints, floats, ``Decimal`` or numeric strings. Floats
are read through their shortest decimal text (``0.12`` becomes
``Decimal("0.12")``): a TOML float is a decimal literal, and money never goes
through binary arithmetic here. Fixed amounts (fees, shipping prices) become
:class:`~fabcore.domain.money.Money` and may not carry more decimals than the
currency has; rates (per cm3, per hour, ...) stay ``Decimal`` at full
precision. Percentages are written as percent (``15`` for 15 %); the tax rate
is a fraction (``0.19`` for 19 %).

Lookups by id (:meth:`Catalog.process`, :meth:`Process.material`, ...) raise
:class:`~fabcore.domain.errors.InvalidInput` naming the valid choices.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TypeVar

import attrs

from fabcore.domain.errors import CatalogError, InvalidInput
from fabcore.domain.money import Money, minor_unit


class ProcessKind(enum.Enum):
    """Manufacturing technology a process uses; it selects the cost model."""

    FDM = "fdm"
    SLA = "sla"
    SLS = "sls"
    MJF = "mjf"
    CNC_MILLING = "cnc_milling"
    CNC_TURNING = "cnc_turning"
    SHEET_METAL = "sheet_metal"
    INJECTION_MOLDING = "injection_molding"

    @property
    def additive(self) -> bool:
        return self in _ADDITIVE

    @property
    def machining(self) -> bool:
        return self in _MACHINING

    @property
    def single_body(self) -> bool:
        """True when one model must be one solid (a billet, a blank, a mold cavity)."""
        return not self.additive


_ADDITIVE = frozenset({ProcessKind.FDM, ProcessKind.SLA, ProcessKind.SLS, ProcessKind.MJF})
_MACHINING = frozenset({ProcessKind.CNC_MILLING, ProcessKind.CNC_TURNING})


@attrs.frozen
class DiscountTier:
    """From ``min_quantity`` parts on, per-part prices are ``percent`` lower."""

    min_quantity: int
    percent: Decimal


@attrs.frozen
class Material:
    """A material of one process, priced per cm3 or per kg.

    For additive processes, sheet metal and injection molding the price
    applies to the part's volume (plus support material); for machining it
    applies to the stock the part is cut from (``stock_price_per_cm3``).
    Cost grows as ``volume ** volume_exponent``: below 1 big parts get
    cheaper per cm3.
    """

    id: str
    label: str
    price_per_cm3: Decimal | None = None
    stock_price_per_cm3: Decimal | None = None
    price_per_kg: Decimal | None = None
    density_g_cm3: Decimal | None = None
    volume_exponent: Decimal = Decimal(1)
    colors: tuple[str, ...] = ("natural",)
    lead_time_days: int = 0

    @property
    def cost_per_cm3(self) -> Decimal:
        """Price of one cm3 of part (or stock) volume, in the shop's currency."""
        if self.price_per_cm3 is not None:
            return self.price_per_cm3
        if self.stock_price_per_cm3 is not None:
            return self.stock_price_per_cm3
        if self.price_per_kg is not None and self.density_g_cm3 is not None:
            return self.price_per_kg * self.density_g_cm3 / 1000
        raise InvalidInput(f"material {self.id!r} has no price")

    @property
    def default_color(self) -> str:
        return self.colors[0]


@attrs.frozen
class Finish:
    """A finish or post-production step; its charges add up per part.

    ``percent`` is a share of the part's material and machine cost.
    ``materials`` limits the finish to those materials; ``None`` allows all.
    """

    id: str
    label: str
    price_per_part: Decimal = Decimal(0)
    price_per_cm2: Decimal = Decimal(0)
    percent: Decimal = Decimal(0)
    materials: frozenset[str] | None = None
    lead_time_days: int = 0

    def allows(self, material: str) -> bool:
        return self.materials is None or material in self.materials


@attrs.frozen
class Process:
    """A machine (or machine park) with its settings, materials and finishes.

    Which settings are used depends on ``kind``; see :mod:`fabcore.domain.pricing`
    for the cost model of each kind. Times are in hours unless the name says
    otherwise; lengths in mm, areas in cm2, volumes in cm3.
    """

    id: str
    kind: ProcessKind
    label: str
    hourly_rate: Decimal
    build_volume_mm: tuple[Decimal, Decimal, Decimal]
    lead_time_days: int
    materials: Mapping[str, Material]
    finishes: Mapping[str, Finish] = attrs.field(factory=lambda: MappingProxyType({}))
    startup_fee: Money | None = None
    min_price_per_part: Money | None = None
    programming_fee: Money | None = None
    tooling_cost: Money | None = None
    quantity_discounts: tuple[DiscountTier, ...] | None = None
    build_rate_cm3_per_h: Decimal | None = None
    growth_rate_mm_per_h: Decimal | None = None
    layer_height_mm: Decimal | None = None
    layer_time_s: Decimal | None = None
    overhead_h_per_part: Decimal = Decimal(0)
    overhead_h_per_build: Decimal = Decimal(0)
    packing_density: Decimal = Decimal(1)
    support_cm3_per_cm2: Decimal = Decimal(0)
    removal_rate_cm3_per_h: Decimal | None = None
    stock_margin_mm: Decimal = Decimal(2)
    cycle_time_s: Decimal | None = None
    cavities: int = 1
    processing_rate_cm2_per_h: Decimal | None = None
    min_thickness_mm: Decimal | None = None
    max_thickness_mm: Decimal | None = None

    def material(self, material_id: str) -> Material:
        """The material ``material_id``; InvalidInput naming the choices if unknown."""
        try:
            return self.materials[material_id]
        except KeyError:
            raise InvalidInput(
                f"process {self.id!r} has no material {material_id!r}; "
                f"choose one of: {_choices(self.materials)}"
            ) from None

    def finish(self, finish_id: str) -> Finish:
        """The finish ``finish_id``; InvalidInput naming the choices if unknown."""
        try:
            return self.finishes[finish_id]
        except KeyError:
            raise InvalidInput(
                f"process {self.id!r} has no finish {finish_id!r}; "
                f"choose one of: {_choices(self.finishes)}"
            ) from None


@attrs.frozen
class ShippingMethod:
    """A way to get parts to the customer; pickup is free and needs no address."""

    id: str
    label: str
    price: Money
    days: int
    pickup: bool = False


@attrs.frozen
class ShopTerms:
    """Shop-wide terms of sale: currency, tax, minimum order value.

    How orders reach the shop (its review policy) is a shop setting, not part
    of the catalog.
    """

    name: str
    currency: str
    tax_rate: Decimal
    minimum_order_value: Money


@attrs.frozen
class Catalog:
    """Everything a shop sells and how it prices it."""

    shop: ShopTerms
    processes: Mapping[str, Process]
    quantity_discounts: tuple[DiscountTier, ...] = ()
    shipping: Mapping[str, ShippingMethod] = attrs.field(factory=lambda: MappingProxyType({}))

    @property
    def currency(self) -> str:
        return self.shop.currency

    def process(self, process_id: str) -> Process:
        """The process ``process_id``; InvalidInput naming the choices if unknown."""
        try:
            return self.processes[process_id]
        except KeyError:
            raise InvalidInput(
                f"unknown process {process_id!r}; choose one of: {_choices(self.processes)}"
            ) from None

    def shipping_method(self, method_id: str) -> ShippingMethod:
        """The shipping method ``method_id``; InvalidInput naming the choices if unknown."""
        try:
            return self.shipping[method_id]
        except KeyError:
            raise InvalidInput(
                f"unknown shipping method {method_id!r}; choose one of: {_choices(self.shipping)}"
            ) from None

    def discounts_for(self, process: Process) -> tuple[DiscountTier, ...]:
        """The process's own tiers when it has them, else the shop-wide tiers."""
        if process.quantity_discounts is not None:
            return process.quantity_discounts
        return self.quantity_discounts

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Catalog:
        """Validate plain data (parsed TOML/JSON) and build a catalog.

        Raises :class:`CatalogError` naming the dotted key of the first problem.
        """
        return _parse_catalog(data)


def _choices(mapping: Mapping[str, object]) -> str:
    return ", ".join(sorted(mapping)) or "(none)"


# --- parsing ---------------------------------------------------------------

_COMMON_PROCESS_KEYS = frozenset(
    {
        "kind",
        "label",
        "hourly_rate",
        "build_volume_mm",
        "lead_time_days",
        "materials",
        "finishes",
        "startup_fee",
        "min_price_per_part",
        "quantity_discounts",
        "overhead_h_per_part",
    }
)
_ADDITIVE_KEYS = frozenset(
    {
        "build_rate_cm3_per_h",
        "layer_height_mm",
        "layer_time_s",
        "overhead_h_per_build",
        "packing_density",
    }
)
_PROCESS_KEYS: dict[ProcessKind, frozenset[str]] = {
    ProcessKind.FDM: _COMMON_PROCESS_KEYS | _ADDITIVE_KEYS | {"support_cm3_per_cm2"},
    ProcessKind.SLA: _COMMON_PROCESS_KEYS
    | _ADDITIVE_KEYS
    | {"growth_rate_mm_per_h", "support_cm3_per_cm2"},
    ProcessKind.SLS: _COMMON_PROCESS_KEYS | _ADDITIVE_KEYS | {"growth_rate_mm_per_h"},
    ProcessKind.MJF: _COMMON_PROCESS_KEYS | _ADDITIVE_KEYS | {"growth_rate_mm_per_h"},
    ProcessKind.CNC_MILLING: _COMMON_PROCESS_KEYS
    | {"removal_rate_cm3_per_h", "stock_margin_mm", "programming_fee"},
    ProcessKind.CNC_TURNING: _COMMON_PROCESS_KEYS
    | {"removal_rate_cm3_per_h", "stock_margin_mm", "programming_fee"},
    ProcessKind.SHEET_METAL: _COMMON_PROCESS_KEYS
    | {"processing_rate_cm2_per_h", "min_thickness_mm", "max_thickness_mm", "programming_fee"},
    ProcessKind.INJECTION_MOLDING: _COMMON_PROCESS_KEYS
    | {"tooling_cost", "cycle_time_s", "cavities"},
}
_MATERIAL_KEYS = frozenset(
    {
        "label",
        "price_per_kg",
        "density_g_cm3",
        "volume_exponent",
        "colors",
        "lead_time_days",
    }
)
_FINISH_KEYS = frozenset(
    {
        "label",
        "price_per_part",
        "price_per_cm2",
        "percent",
        "materials",
        "lead_time_days",
    }
)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: object) -> str:
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


class _Table:
    """One table of the catalog data, read with the dotted path kept for errors."""

    def __init__(self, data: object, path: str, allowed: Iterable[str]) -> None:
        if not isinstance(data, Mapping):
            raise CatalogError(path, f"must be a table, got {_show(data)}")
        allowed_keys = frozenset(allowed)
        for key in data:
            if not isinstance(key, str):
                raise CatalogError(path, f"keys must be strings, got {key!r}")
            if key not in allowed_keys:
                raise CatalogError(
                    _join(path, key),
                    f"unknown key; allowed here: {', '.join(sorted(allowed_keys))}",
                )
        self.data: Mapping[str, object] = data
        self.path = path

    def key(self, name: str) -> str:
        return _join(self.path, name)

    def has(self, name: str) -> bool:
        return name in self.data

    def required(self, name: str) -> object:
        if name not in self.data:
            raise CatalogError(self.key(name), "is required")
        return self.data[name]

    def string(self, name: str, default: str | None = None) -> str:
        if name not in self.data and default is not None:
            return default
        value = self.required(name)
        if not isinstance(value, str) or not value.strip():
            raise CatalogError(self.key(name), f"must be a non-empty string, got {_show(value)}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise CatalogError(self.key(name), f"must be true or false, got {_show(value)}")
        return value

    def integer(self, name: str, minimum: int, default: int | None = None) -> int:
        if name not in self.data and default is not None:
            return default
        value = self.required(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise CatalogError(
                self.key(name), f"must be a whole number >= {minimum}, got {_show(value)}"
            )
        return value

    def number(
        self,
        name: str,
        *,
        positive: bool = False,
        maximum: Decimal | None = None,
        below_max: bool = False,
    ) -> Decimal:
        """A required number; ``positive`` excludes zero, ``maximum`` caps it."""
        return _number(self.required(name), self.key(name), positive, maximum, below_max)

    def optional_number(
        self, name: str, *, positive: bool = False, maximum: Decimal | None = None
    ) -> Decimal | None:
        if name not in self.data:
            return None
        return self.number(name, positive=positive, maximum=maximum)

    def number_or(
        self,
        name: str,
        default: Decimal,
        *,
        positive: bool = False,
        maximum: Decimal | None = None,
        below_max: bool = False,
    ) -> Decimal:
        if name not in self.data:
            return default
        return self.number(name, positive=positive, maximum=maximum, below_max=below_max)

    def money(self, name: str, currency: str) -> Money:
        return _money(self.required(name), self.key(name), currency)

    def optional_money(self, name: str, currency: str) -> Money | None:
        if name not in self.data:
            return None
        return self.money(name, currency)

    def table(self, name: str, allowed: Iterable[str]) -> _Table:
        return _Table(self.required(name), self.key(name), allowed)

    def entries(self, name: str, *, required: bool) -> list[tuple[str, object]]:
        """The ``id -> table`` entries of a keyed table (processes, materials, ...)."""
        if name not in self.data and not required:
            return []
        value = self.required(name)
        if not isinstance(value, Mapping):
            raise CatalogError(self.key(name), f"must be a table, got {_show(value)}")
        if required and not value:
            raise CatalogError(self.key(name), "must list at least one entry")
        result: list[tuple[str, object]] = []
        for key, entry in value.items():
            if not isinstance(key, str) or not key.strip():
                raise CatalogError(self.key(name), f"ids must be non-empty strings, got {key!r}")
            result.append((key, entry))
        return result

    def array(self, name: str) -> list[object]:
        if name not in self.data:
            return []
        value = self.data[name]
        if not isinstance(value, list | tuple):
            raise CatalogError(self.key(name), f"must be a list, got {_show(value)}")
        return list(value)

    def strings(self, name: str, default: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if name not in self.data:
            return default
        items = self.array(name)
        if not items:
            raise CatalogError(self.key(name), "must list at least one entry")
        seen: list[str] = []
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise CatalogError(
                    f"{self.key(name)}[{i}]", f"must be a non-empty string, got {_show(item)}"
                )
            if item in seen:
                raise CatalogError(f"{self.key(name)}[{i}]", f"duplicate entry {item!r}")
            seen.append(item)
        return tuple(seen)


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(str(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def _number(
    value: object, key: str, positive: bool, maximum: Decimal | None, below_max: bool
) -> Decimal:
    what = "a positive number" if positive else "a non-negative number"
    if maximum is not None:
        what += f" {'below' if below_max else 'up to'} {maximum}"
    result = _decimal(value)
    if (
        result is None
        or result < 0
        or (positive and result == 0)
        or (maximum is not None and (result >= maximum if below_max else result > maximum))
    ):
        raise CatalogError(key, f"must be {what}, got {_show(value)}")
    return result


def _money(value: object, key: str, currency: str) -> Money:
    amount = _number(value, key, False, None, False)
    places = minor_unit(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise CatalogError(
            key, f"has more decimals than {currency} allows ({places}), got {_show(value)}"
        )
    return Money(amount, currency)


def _parse_catalog(data: Mapping[str, object]) -> Catalog:
    root = _Table(data, "", {"shop", "processes", "quantity_discounts", "shipping"})
    shop_data = root.required("shop")
    if isinstance(shop_data, Mapping) and "review" in shop_data:
        raise CatalogError("shop.review", REVIEW_MOVED)
    shop = _parse_shop(
        root.table("shop", {"name", "currency", "tax_rate", "minimum_order_value"})
    )
    currency = shop.currency
    processes = {
        pid: _parse_process(pid, entry, root.key("processes"), currency)
        for pid, entry in root.entries("processes", required=True)
    }
    tiers = _parse_tiers(root.array("quantity_discounts"), "quantity_discounts")
    shipping: dict[str, ShippingMethod] = {}
    for i, entry in enumerate(root.array("shipping")):
        method = _parse_shipping(entry, f"shipping[{i}]", currency)
        if method.id in shipping:
            raise CatalogError(f"shipping[{i}].id", f"duplicate shipping method {method.id!r}")
        shipping[method.id] = method
    return Catalog(
        shop=shop,
        processes=MappingProxyType(processes),
        quantity_discounts=tiers,
        shipping=MappingProxyType(shipping),
    )


def _parse_shop(table: _Table) -> ShopTerms:
    currency_value = table.required("currency")
    if not isinstance(currency_value, str):
        raise CatalogError(table.key("currency"), f"must be a string, got {_show(currency_value)}")
    try:
        Money.zero(currency_value)
    except InvalidInput as exc:
        raise CatalogError(table.key("currency"), str(exc)) from None
    currency = currency_value
    tax_value = table.required("tax_rate")
    tax = _decimal(tax_value)
    if tax is None or not 0 <= tax < 1:
        raise CatalogError(
            table.key("tax_rate"),
            f"must be a fraction from 0 to below 1 (0.19 for 19 %), got {_show(tax_value)}",
        )
    minimum = (
        table.money("minimum_order_value", currency)
        if table.has("minimum_order_value")
        else Money.zero(currency)
    )
    return ShopTerms(
        name=table.string("name"),
        currency=currency,
        tax_rate=tax,
        minimum_order_value=minimum,
    )


REVIEW_MOVED = (
    "review settings are shop settings now: set the review mode and thresholds with "
    "the shop's settings, not in the catalog"
)


_E = TypeVar("_E", bound=enum.Enum)


def _enum(enum_type: type[_E], value: object, key: str) -> _E:
    for member in enum_type:
        if member.value == value:
            return member
    allowed = ", ".join(str(m.value) for m in enum_type)
    raise CatalogError(key, f"must be one of {allowed}; got {_show(value)}")


def _parse_tiers(items: list[object], path: str) -> tuple[DiscountTier, ...]:
    tiers: dict[int, DiscountTier] = {}
    for i, item in enumerate(items):
        table = _Table(item, f"{path}[{i}]", {"min_quantity", "percent"})
        quantity = table.integer("min_quantity", 1)
        if quantity in tiers:
            raise CatalogError(table.key("min_quantity"), f"duplicate tier for {quantity} parts")
        percent = table.number("percent", maximum=Decimal(100), below_max=True)
        tiers[quantity] = DiscountTier(quantity, percent)
    return tuple(tiers[q] for q in sorted(tiers))


def _parse_shipping(item: object, path: str, currency: str) -> ShippingMethod:
    table = _Table(item, path, {"id", "label", "price", "days", "pickup"})
    method_id = table.string("id")
    pickup = table.boolean("pickup", False)
    if pickup:
        price = table.money("price", currency) if table.has("price") else Money.zero(currency)
        if price:
            raise CatalogError(table.key("price"), "pickup is free; leave the price out or 0")
        days = table.integer("days", 0, default=0)
    else:
        price = table.money("price", currency)
        days = table.integer("days", 0)
    return ShippingMethod(
        id=method_id,
        label=table.string("label", default=method_id),
        price=price,
        days=days,
        pickup=pickup,
    )


def _parse_process(process_id: str, data: object, path: str, currency: str) -> Process:
    key = _join(path, process_id)
    if not isinstance(data, Mapping):
        raise CatalogError(key, f"must be a table, got {_show(data)}")
    if "kind" not in data:
        raise CatalogError(_join(key, "kind"), "is required")
    kind = _enum(ProcessKind, data["kind"], _join(key, "kind"))
    table = _Table(data, key, _PROCESS_KEYS[kind])

    materials = {
        mid: _parse_material(mid, entry, table.key("materials"), kind)
        for mid, entry in table.entries("materials", required=True)
    }
    finishes = {
        fid: _parse_finish(fid, entry, table.key("finishes"), materials)
        for fid, entry in table.entries("finishes", required=False)
    }
    build_volume = _parse_build_volume(table)
    tiers = (
        _parse_tiers(table.array("quantity_discounts"), table.key("quantity_discounts"))
        if table.has("quantity_discounts")
        else None
    )

    layer_height = table.optional_number("layer_height_mm", positive=True)
    layer_time = table.optional_number("layer_time_s")
    if (layer_height is None) != (layer_time is None):
        missing = "layer_time_s" if layer_time is None else "layer_height_mm"
        raise CatalogError(table.key(missing), "is required with layer_height_mm / layer_time_s")
    growth = table.optional_number("growth_rate_mm_per_h", positive=True)
    if growth is not None and layer_time is not None:
        raise CatalogError(
            table.key("growth_rate_mm_per_h"),
            "give either growth_rate_mm_per_h or layer_height_mm + layer_time_s, not both",
        )
    build_rate = table.optional_number("build_rate_cm3_per_h", positive=True)
    if kind is ProcessKind.FDM and build_rate is None:
        raise CatalogError(table.key("build_rate_cm3_per_h"), "is required for fdm")
    if kind.additive and build_rate is None and growth is None and layer_time is None:
        raise CatalogError(
            table.key("build_rate_cm3_per_h"),
            "an additive process needs build_rate_cm3_per_h, growth_rate_mm_per_h "
            "or layer_height_mm + layer_time_s",
        )

    removal_rate = table.optional_number("removal_rate_cm3_per_h", positive=True)
    if kind.machining and removal_rate is None:
        raise CatalogError(table.key("removal_rate_cm3_per_h"), f"is required for {kind.value}")

    min_thickness = max_thickness = processing_rate = None
    if kind is ProcessKind.SHEET_METAL:
        processing_rate = table.number("processing_rate_cm2_per_h", positive=True)
        min_thickness = table.number("min_thickness_mm", positive=True)
        max_thickness = table.number("max_thickness_mm", positive=True)
        if max_thickness <= min_thickness:
            raise CatalogError(
                table.key("max_thickness_mm"), "must be larger than min_thickness_mm"
            )

    tooling = cycle_time = None
    if kind is ProcessKind.INJECTION_MOLDING:
        tooling = table.money("tooling_cost", currency)
        cycle_time = table.number("cycle_time_s", positive=True)

    return Process(
        id=process_id,
        kind=kind,
        label=table.string("label", default=process_id),
        hourly_rate=table.number("hourly_rate"),
        build_volume_mm=build_volume,
        lead_time_days=table.integer("lead_time_days", 0),
        materials=MappingProxyType(materials),
        finishes=MappingProxyType(finishes),
        startup_fee=table.optional_money("startup_fee", currency),
        min_price_per_part=table.optional_money("min_price_per_part", currency),
        programming_fee=table.optional_money("programming_fee", currency),
        tooling_cost=tooling,
        quantity_discounts=tiers,
        build_rate_cm3_per_h=build_rate,
        growth_rate_mm_per_h=growth,
        layer_height_mm=layer_height,
        layer_time_s=layer_time,
        overhead_h_per_part=table.number_or("overhead_h_per_part", Decimal(0)),
        overhead_h_per_build=table.number_or("overhead_h_per_build", Decimal(0)),
        packing_density=table.number_or(
            "packing_density", Decimal(1), positive=True, maximum=Decimal(1)
        ),
        support_cm3_per_cm2=table.number_or("support_cm3_per_cm2", Decimal(0)),
        removal_rate_cm3_per_h=removal_rate,
        stock_margin_mm=table.number_or("stock_margin_mm", Decimal(2)),
        cycle_time_s=cycle_time,
        cavities=table.integer("cavities", 1, default=1),
        processing_rate_cm2_per_h=processing_rate,
        min_thickness_mm=min_thickness,
        max_thickness_mm=max_thickness,
    )


def _parse_build_volume(table: _Table) -> tuple[Decimal, Decimal, Decimal]:
    key = table.key("build_volume_mm")
    items = table.array("build_volume_mm") if table.has("build_volume_mm") else None
    if items is None:
        raise CatalogError(key, "is required")
    if len(items) != 3:
        raise CatalogError(key, f"must list three sizes [x, y, z] in mm, got {len(items)}")
    x, y, z = (_number(v, f"{key}[{i}]", True, None, False) for i, v in enumerate(items))
    return (x, y, z)


def _parse_material(material_id: str, data: object, path: str, kind: ProcessKind) -> Material:
    price_key = "stock_price_per_cm3" if kind.machining else "price_per_cm3"
    table = _Table(data, _join(path, material_id), _MATERIAL_KEYS | {price_key})
    per_cm3 = table.optional_number(price_key)
    per_kg = table.optional_number("price_per_kg")
    density = table.optional_number("density_g_cm3", positive=True)
    if per_cm3 is not None and per_kg is not None:
        raise CatalogError(
            table.key("price_per_kg"), f"give either {price_key} or price_per_kg, not both"
        )
    if per_cm3 is None and per_kg is None:
        raise CatalogError(table.key(price_key), "is required (or price_per_kg with density_g_cm3)")
    if per_kg is not None and density is None:
        raise CatalogError(table.key("density_g_cm3"), "is required with price_per_kg")
    colors = table.strings("colors", ("natural",)) or ("natural",)
    return Material(
        id=material_id,
        label=table.string("label", default=material_id),
        price_per_cm3=None if kind.machining else per_cm3,
        stock_price_per_cm3=per_cm3 if kind.machining else None,
        price_per_kg=per_kg,
        density_g_cm3=density,
        volume_exponent=table.number_or("volume_exponent", Decimal(1), positive=True),
        colors=colors,
        lead_time_days=table.integer("lead_time_days", 0, default=0),
    )


def _parse_finish(
    finish_id: str, data: object, path: str, materials: Mapping[str, Material]
) -> Finish:
    table = _Table(data, _join(path, finish_id), _FINISH_KEYS)
    allowed = table.strings("materials", None)
    if allowed is not None:
        for i, material in enumerate(allowed):
            if material not in materials:
                raise CatalogError(
                    f"{table.key('materials')}[{i}]",
                    f"unknown material {material!r}; choose from: {_choices(materials)}",
                )
    return Finish(
        id=finish_id,
        label=table.string("label", default=finish_id),
        price_per_part=table.number_or("price_per_part", Decimal(0)),
        price_per_cm2=table.number_or("price_per_cm2", Decimal(0)),
        percent=table.number_or("percent", Decimal(0)),
        materials=None if allowed is None else frozenset(allowed),
        lead_time_days=table.integer("lead_time_days", 0, default=0),
    )
