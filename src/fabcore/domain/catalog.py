"""A shop's catalog: processes, materials, finishes, discounts and shipping.

The classes keep their own invariants: building one with a value out of its
range, or with settings that contradict each other, raises
:class:`~fabcore.domain.errors.CatalogError` whose ``key`` names the field
relative to the object being built (``hourly_rate``, ``build_volume_mm[1]``,
``materials.pla.price_per_cm3``). The catalog file loader
(:mod:`fabcore.app.catalog_format`) puts the path of the object in front, so
its errors name the full dotted key.

Every number has a :class:`Range` (the constants below), chosen so that
pricing can compute with it and wide enough for any shop in any currency:

- prices per unit (cm3, kg, cm2, hour, part) and fixed amounts: 0 to 10^12
  of the currency (``PRICE``);
- work per hour (cm3, mm or cm2 an hour): 0.001 to 10^9 (``SPEED``);
- machine sizes, layer heights, sheet thicknesses: 0.001 mm to 100 m
  (``SIZE_MM``); stock margin up to 1 m;
- times: overheads up to 10,000 h, layer time up to a day, cycle time from
  0.001 s to a day;
- density 0.001 to 100 g/cm3, volume exponent 0.1 to 2, packing density
  0.001 to 1, support up to 100 cm3/cm2;
- finish surcharge up to 1,000 %, quantity discount below 100 %, tax rate
  below 1;
- whole numbers: lead times and shipping days up to 1,000, cavities 1 to
  1,000, discount tiers up to the most parts a line may have.

Rates are ``Decimal`` at full precision; fixed amounts (fees, shipping
prices, the minimum order value) are :class:`~fabcore.domain.money.Money`,
which :func:`fixed_amount` builds without rounding: a number with more
decimals than the currency has is refused. Percentages are written as
percent (``15`` for 15 %); the tax rate is a fraction (``0.19`` for 19 %).

Lookups by id (:meth:`Catalog.process`, :meth:`Process.material`, ...) raise
:class:`~fabcore.domain.errors.InvalidInput` naming the valid choices.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from fabcore.domain.errors import CatalogError, InvalidInput
from fabcore.domain.money import Money, minor_unit
from fabcore.domain.quote import MAX_QUANTITY


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


def _show(value: object) -> str:
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return str(value)
    return repr(value)


@attrs.frozen
class Range:
    """The values a catalog figure may take; as an attrs validator it raises CatalogError.

    ``low`` and ``high`` are allowed, unless ``below`` excludes ``high``.
    ``whole`` asks for an ``int``, otherwise a finite ``Decimal``.
    """

    low: Decimal
    high: Decimal
    below: bool = False
    whole: bool = False
    hint: str = ""

    def allows(self, value: object) -> bool:
        if self.whole:
            if isinstance(value, bool) or not isinstance(value, int):
                return False
            number: Decimal | int = value
        elif isinstance(value, Decimal) and value.is_finite():
            number = value
        else:
            return False
        return self.low <= number and (number < self.high if self.below else number <= self.high)

    def describe(self) -> str:
        what = "a whole number" if self.whole else "a number"
        top = f"to below {self.high:,}" if self.below else f"to {self.high:,}"
        return f"{what} from {self.low:,} {top}{self.hint}"

    def check(self, key: str, value: object) -> None:
        if not self.allows(value):
            raise CatalogError(key, f"must be {self.describe()}, got {_show(value)}")

    def __call__(self, _: object, attribute: attrs.Attribute[Any], value: object) -> None:
        self.check(attribute.name, value)


#: Prices per cm3, kg, cm2, hour or part, and fixed amounts, in units of the
#: currency: room for any currency, the dong and the won included.
PRICE = Range(Decimal(0), Decimal(10) ** 12)
#: Work per hour: cm3, mm of build height or cm2 of blank an hour.
SPEED = Range(Decimal("0.001"), Decimal(10) ** 9)
#: Machine sizes, layer heights and sheet thicknesses in mm (up to 100 m).
SIZE_MM = Range(Decimal("0.001"), Decimal(100_000))
STOCK_MARGIN_MM = Range(Decimal(0), Decimal(1_000))
OVERHEAD_H = Range(Decimal(0), Decimal(10_000))
LAYER_TIME_S = Range(Decimal(0), Decimal(86_400))
CYCLE_TIME_S = Range(Decimal("0.001"), Decimal(86_400))
SUPPORT_CM3_PER_CM2 = Range(Decimal(0), Decimal(100))
PACKING_DENSITY = Range(Decimal("0.001"), Decimal(1))
DENSITY_G_CM3 = Range(Decimal("0.001"), Decimal(100))
VOLUME_EXPONENT = Range(Decimal("0.1"), Decimal(2))
FINISH_PERCENT = Range(Decimal(0), Decimal(1_000))
DISCOUNT_PERCENT = Range(Decimal(0), Decimal(100), below=True)
TAX_RATE = Range(Decimal(0), Decimal(1), below=True, hint=" (a fraction: 0.19 for 19 %)")
DAYS = Range(Decimal(0), Decimal(1_000), whole=True)
CAVITIES = Range(Decimal(1), Decimal(1_000), whole=True)
#: A tier from more parts than a line may have would never apply.
MIN_QUANTITY = Range(Decimal(1), Decimal(MAX_QUANTITY), whole=True)


def fixed_amount(value: Decimal, currency: str) -> Money:
    """``value`` as Money of ``currency``, not rounded.

    Raises :class:`CatalogError` with an empty key when ``value`` is out of
    :data:`PRICE` or has more decimals than the currency.
    """
    PRICE.check("", value)
    places = minor_unit(currency)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise CatalogError(
            "", f"has more decimals than {currency} allows ({places}), got {_show(value)}"
        )
    return Money(value, currency)


def currency_code(value: object) -> str:
    """``value`` when it is an ISO 4217 code; :class:`CatalogError` with an empty key if not."""
    try:
        if isinstance(value, str):
            return Money.zero(value).currency
    except InvalidInput:
        pass
    raise CatalogError("", f"must be a three-letter ISO 4217 code such as EUR, got {_show(value)}")


def _currency(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    try:
        currency_code(value)
    except CatalogError as exc:
        raise CatalogError(attribute.name, exc.reason) from None


def _text(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(attribute.name, f"must be a non-empty string, got {_show(value)}")


def _amount(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Money):
        raise CatalogError(attribute.name, f"must be Money, got {_show(value)}")
    PRICE.check(attribute.name, value.amount)


def _not_empty(_: object, attribute: attrs.Attribute[Any], value: Mapping[str, object]) -> None:
    if not value:
        raise CatalogError(attribute.name, "must list at least one entry")


def _names(field: str, values: Iterable[str]) -> tuple[str, ...]:
    """Non-empty, distinct names, in order; errors name the entry (``colors[1]``)."""
    if isinstance(values, str):
        raise CatalogError(field, f"must be a list of names, got {values!r}")
    names = tuple(values)
    if not names:
        raise CatalogError(field, "must list at least one entry")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise CatalogError(f"{field}[{i}]", f"must be a non-empty string, got {_show(name)}")
        if name in names[:i]:
            raise CatalogError(f"{field}[{i}]", f"duplicate entry {name!r}")
    return names


def _colors(values: Iterable[str]) -> tuple[str, ...]:
    return _names("colors", values)


def _material_ids(values: Iterable[str]) -> frozenset[str]:
    return frozenset(_names("materials", values))


@attrs.frozen
class DiscountTier:
    """From ``min_quantity`` parts on, per-part prices are ``percent`` lower."""

    min_quantity: int = attrs.field(validator=MIN_QUANTITY)
    percent: Decimal = attrs.field(validator=DISCOUNT_PERCENT)


def _tiers(tiers: Iterable[DiscountTier]) -> tuple[DiscountTier, ...]:
    """The tiers sorted by quantity; two for the same quantity are refused."""
    given = tuple(tiers)
    for i, tier in enumerate(given):
        if any(other.min_quantity == tier.min_quantity for other in given[:i]):
            raise CatalogError(
                f"quantity_discounts[{i}].min_quantity",
                f"duplicate tier for {tier.min_quantity} parts",
            )
    return tuple(sorted(given, key=lambda tier: tier.min_quantity))


@attrs.frozen
class Material:
    """A material of one process, priced per cm3 or per kg.

    For additive processes, sheet metal and injection molding the price
    applies to the part's volume (plus support material); for machining it
    applies to the stock the part is cut from (``stock_price_per_cm3``).
    A material has one price: per cm3 (of part or of stock), or per kg
    together with its density. Cost grows as ``volume ** volume_exponent``:
    below 1 big parts get cheaper per cm3.
    """

    id: str = attrs.field(validator=_text)
    label: str = attrs.field(validator=_text)
    price_per_cm3: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(PRICE)
    )
    stock_price_per_cm3: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(PRICE)
    )
    price_per_kg: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(PRICE)
    )
    density_g_cm3: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(DENSITY_G_CM3)
    )
    volume_exponent: Decimal = attrs.field(default=Decimal(1), validator=VOLUME_EXPONENT)
    colors: tuple[str, ...] = attrs.field(default=("natural",), converter=_colors)
    lead_time_days: int = attrs.field(default=0, validator=DAYS)

    def __attrs_post_init__(self) -> None:
        if self.price_per_cm3 is not None and self.stock_price_per_cm3 is not None:
            raise CatalogError(
                "stock_price_per_cm3",
                "give either price_per_cm3 or stock_price_per_cm3, not both",
            )
        per_cm3 = "price_per_cm3" if self.stock_price_per_cm3 is None else "stock_price_per_cm3"
        if getattr(self, per_cm3) is not None and self.price_per_kg is not None:
            raise CatalogError("price_per_kg", f"give either {per_cm3} or price_per_kg, not both")
        if self.price_per_kg is not None and self.density_g_cm3 is None:
            raise CatalogError("density_g_cm3", "is required with price_per_kg")

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

    id: str = attrs.field(validator=_text)
    label: str = attrs.field(validator=_text)
    price_per_part: Decimal = attrs.field(default=Decimal(0), validator=PRICE)
    price_per_cm2: Decimal = attrs.field(default=Decimal(0), validator=PRICE)
    percent: Decimal = attrs.field(default=Decimal(0), validator=FINISH_PERCENT)
    materials: frozenset[str] | None = attrs.field(
        default=None, converter=attrs.converters.optional(_material_ids)
    )
    lead_time_days: int = attrs.field(default=0, validator=DAYS)

    def allows(self, material: str) -> bool:
        return self.materials is None or material in self.materials


def _build_volume(
    _: object, attribute: attrs.Attribute[Any], value: tuple[Decimal, Decimal, Decimal]
) -> None:
    if not isinstance(value, tuple) or len(value) != 3:
        raise CatalogError(attribute.name, f"must be three sizes (x, y, z) in mm, got {value!r}")
    for i, size in enumerate(value):
        SIZE_MM.check(f"{attribute.name}[{i}]", size)


# Settings a kind cannot do without, besides the additive kinds' rates.
_REQUIRED: dict[ProcessKind, tuple[str, ...]] = {
    ProcessKind.FDM: ("build_rate_cm3_per_h",),
    ProcessKind.CNC_MILLING: ("removal_rate_cm3_per_h",),
    ProcessKind.CNC_TURNING: ("removal_rate_cm3_per_h",),
    ProcessKind.SHEET_METAL: ("processing_rate_cm2_per_h", "min_thickness_mm", "max_thickness_mm"),
    ProcessKind.INJECTION_MOLDING: ("tooling_cost", "cycle_time_s"),
}


@attrs.frozen
class Process:
    """A machine (or machine park) with its settings, materials and finishes.

    Which settings are used depends on ``kind``; see :mod:`fabcore.domain.pricing`
    for the cost model of each kind. Times are in hours unless the name says
    otherwise; lengths in mm, areas in cm2, volumes in cm3.

    Besides the ranges: at least one material, each priced the way the kind
    prices (machining by ``stock_price_per_cm3``, the others by
    ``price_per_cm3``, any kind by ``price_per_kg``); finishes limited to the
    process's materials; the settings the kind needs (fdm a build rate,
    the other additive kinds a build rate, a growth rate or a layer height
    and time, never both of the last two; machining a removal rate; sheet
    metal a processing rate and a thickness range with its maximum above its
    minimum; injection molding a tooling cost and a cycle time).
    """

    id: str = attrs.field(validator=_text)
    kind: ProcessKind
    label: str = attrs.field(validator=_text)
    hourly_rate: Decimal = attrs.field(validator=PRICE)
    build_volume_mm: tuple[Decimal, Decimal, Decimal] = attrs.field(validator=_build_volume)
    lead_time_days: int = attrs.field(validator=DAYS)
    materials: Mapping[str, Material] = attrs.field(validator=_not_empty)
    finishes: Mapping[str, Finish] = attrs.field(factory=lambda: MappingProxyType({}))
    startup_fee: Money | None = attrs.field(
        default=None, validator=attrs.validators.optional(_amount)
    )
    min_price_per_part: Money | None = attrs.field(
        default=None, validator=attrs.validators.optional(_amount)
    )
    programming_fee: Money | None = attrs.field(
        default=None, validator=attrs.validators.optional(_amount)
    )
    tooling_cost: Money | None = attrs.field(
        default=None, validator=attrs.validators.optional(_amount)
    )
    quantity_discounts: tuple[DiscountTier, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(_tiers)
    )
    build_rate_cm3_per_h: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(SPEED)
    )
    growth_rate_mm_per_h: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(SPEED)
    )
    layer_height_mm: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(SIZE_MM)
    )
    layer_time_s: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(LAYER_TIME_S)
    )
    overhead_h_per_part: Decimal = attrs.field(default=Decimal(0), validator=OVERHEAD_H)
    overhead_h_per_build: Decimal = attrs.field(default=Decimal(0), validator=OVERHEAD_H)
    packing_density: Decimal = attrs.field(default=Decimal(1), validator=PACKING_DENSITY)
    support_cm3_per_cm2: Decimal = attrs.field(default=Decimal(0), validator=SUPPORT_CM3_PER_CM2)
    removal_rate_cm3_per_h: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(SPEED)
    )
    stock_margin_mm: Decimal = attrs.field(default=Decimal(2), validator=STOCK_MARGIN_MM)
    cycle_time_s: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(CYCLE_TIME_S)
    )
    cavities: int = attrs.field(default=1, validator=CAVITIES)
    processing_rate_cm2_per_h: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(SPEED)
    )
    min_thickness_mm: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(SIZE_MM)
    )
    max_thickness_mm: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(SIZE_MM)
    )

    def __attrs_post_init__(self) -> None:
        self._check_settings()
        self._check_materials()

    def _check_settings(self) -> None:
        layer_height, layer_time = self.layer_height_mm, self.layer_time_s
        if (layer_height is None) != (layer_time is None):
            missing = "layer_time_s" if layer_time is None else "layer_height_mm"
            raise CatalogError(missing, "is required with layer_height_mm / layer_time_s")
        growth = self.growth_rate_mm_per_h
        if growth is not None and layer_time is not None:
            raise CatalogError(
                "growth_rate_mm_per_h",
                "give either growth_rate_mm_per_h or layer_height_mm + layer_time_s, not both",
            )
        for name in _REQUIRED.get(self.kind, ()):
            if getattr(self, name) is None:
                raise CatalogError(name, f"is required for {self.kind.value}")
        rates = (self.build_rate_cm3_per_h, growth, layer_time)
        if self.kind.additive and all(rate is None for rate in rates):
            raise CatalogError(
                "build_rate_cm3_per_h",
                "an additive process needs build_rate_cm3_per_h, growth_rate_mm_per_h "
                "or layer_height_mm + layer_time_s",
            )
        low, high = self.min_thickness_mm, self.max_thickness_mm
        if low is not None and high is not None and high <= low:
            raise CatalogError("max_thickness_mm", "must be larger than min_thickness_mm")

    def _check_materials(self) -> None:
        price, other = "price_per_cm3", "stock_price_per_cm3"
        if self.kind.machining:
            price, other = other, price
        for material_id, material in self.materials.items():
            if getattr(material, other) is not None:
                raise CatalogError(
                    f"materials.{material_id}.{other}",
                    f"{self.kind.value} prices a material by {price} or price_per_kg",
                )
            if getattr(material, price) is None and material.price_per_kg is None:
                raise CatalogError(
                    f"materials.{material_id}.{price}",
                    "is required (or price_per_kg with density_g_cm3)",
                )
        for finish_id, finish in self.finishes.items():
            unknown = sorted((finish.materials or frozenset()) - set(self.materials))
            if unknown:
                raise CatalogError(
                    f"finishes.{finish_id}.materials",
                    f"unknown material {unknown[0]!r}; choose from: {_choices(self.materials)}",
                )

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

    id: str = attrs.field(validator=_text)
    label: str = attrs.field(validator=_text)
    price: Money = attrs.field(validator=_amount)
    days: int = attrs.field(validator=DAYS)
    pickup: bool = False

    def __attrs_post_init__(self) -> None:
        if self.pickup and self.price:
            raise CatalogError("price", "pickup is free; leave the price out or 0")


@attrs.frozen
class ShopTerms:
    """Shop-wide terms of sale: currency, tax, minimum order value.

    How orders reach the shop (its review policy) is a shop setting, not part
    of the catalog.
    """

    name: str = attrs.field(validator=_text)
    currency: str = attrs.field(validator=_currency)
    tax_rate: Decimal = attrs.field(validator=TAX_RATE)
    minimum_order_value: Money = attrs.field(validator=_amount)

    def __attrs_post_init__(self) -> None:
        if self.minimum_order_value.currency != self.currency:
            raise CatalogError("minimum_order_value", f"must be in {self.currency}")


@attrs.frozen
class Catalog:
    """Everything a shop sells and how it prices it."""

    shop: ShopTerms
    processes: Mapping[str, Process] = attrs.field(validator=_not_empty)
    quantity_discounts: tuple[DiscountTier, ...] = attrs.field(default=(), converter=_tiers)
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


def _choices(mapping: Mapping[str, object]) -> str:
    return ", ".join(sorted(mapping)) or "(none)"
