"""Instant pricing: from a measured model and a choice to a readable quote.

Pure functions over a :class:`~fabcore.domain.catalog.Catalog`:

- :func:`price_line` prices one part choice (process, material, color,
  finishes, quantity), or says in plain words why the shop must review it;
- :func:`price_order` adds up lines, order fees, minimum order value,
  shipping and tax;
- :func:`options_for` lists everything a part can be made of, cheapest first.

Cost model per part
-------------------
``material + machine time x hourly rate + post-production``, raised to the
process's minimum price per part, less the quantity discount; one-off fees of
the line (CNC programming, mold tooling) are spread over the quantity.

Additive processes (fdm, sla, sls, mjf) follow the build-time models of
Alexander, Allen & Dutta (1998), "Part orientation and build cost
determination in layered manufacturing", Computer-Aided Design 30(5), and
Ruffo, Tuck & Hague (2006), "Cost estimation for rapid manufacturing - laser
sintering production for low to medium volumes", Proc. IMechE Part B 220(9)::

    t = V / build_rate  +  n_layers x t_layer  +  overhead

``V`` is the part volume plus estimated support (fdm, sla: overhang area x
``support_cm3_per_cm2``). The part is built in the orientation that fits with
the lowest height. The layer term depends on the kind:

- fdm: the nozzle draws every layer of every part, so the part pays all of
  its own layers: ``ceil(h / layer_height) x layer_time``;
- sla (vat): a build is one platform load; the part pays its own height
  (``h / growth_rate`` or its layer count x layer time) times its share of the
  platform, ``footprint / (platform area x packing_density)``;
- sls, mjf (powder bed): a build is one full chamber; the part pays the
  chamber's height-driven time times its share of the chamber,
  ``bounding-box volume / (chamber volume x packing_density)``. As in Ruffo
  et al., cost per part is build cost over the parts sharing the build.

Per-build overhead (warm-up, cool-down, bed preparation) is shared the same
way; per-part overhead (removal, cleaning) is paid in full. Shares are capped
at one whole build.

CNC milling: the stock is the bounding box plus ``stock_margin_mm`` on every
side; time = (stock - part volume) / removal rate + per-part overhead; the
material price applies to the stock. CNC turning uses a round bar: the
turning axis is the bounding-box axis whose cross-section is closest to
square, the bar diameter its larger side plus margin. A programming fee is
charged once per model (line).

Injection molding: the tooling cost is a one-off fee of the line; per part,
machine time = cycle time / cavities, plus the material.

Sheet metal: bends, holes and cut length cannot be measured from a mesh, so
parts are priced by a flat-area approximation: the blank is about half the
surface area (the two faces of the sheet; edges neglected), the sheet
thickness about volume / blank area, and processing time = blank area /
``processing_rate_cm2_per_h`` (a rate that must average cutting and bending).
Parts whose estimated thickness is outside the shop's range go to review.

Rounding
--------
Component amounts are rounded half-up to the currency's minor unit. The unit
price is rounded once, from the exact per-part amount including the spread
fees, and the line total is ``unit_price x quantity`` exactly.

Quantity discounts come in tiers, which would make, e.g., 95 parts dearer
than 100. Price-break protection caps every line at what the next tiers'
minimum quantities would cost, so the unrounded line amount never falls as
the quantity grows. The rounded total can still dip by less than one minor
unit per part: a unit price in whole cents cannot follow an amount that grows
by less than a cent for each added part (one-off fees spread over many parts,
or the flat stretch below a price break). Protected unit prices are rounded
down, so they never exceed the price break they are capped at.

Bounds
------
Every figure of a catalog has a range (:mod:`fabcore.domain.catalog`), a
line holds at most :data:`~fabcore.domain.quote.MAX_QUANTITY` parts, and a
model larger than :data:`MAX_SIZE_MM` a side (the mesh analyser's own limit),
or with a volume or area beyond :data:`MAX_VOLUME_CM3` / :data:`MAX_AREA_CM2`,
is refused with ``InvalidInput``. Within those bounds every intermediate
figure stays far inside the exponent range of ``Decimal``, but the extremes
combined (the dearest rate on the largest model, a million times) would not
fit a quote of 28 digits: a line whose machine time per part exceeds
:data:`MAX_HOURS`, or any of whose amounts exceeds :data:`MAX_AMOUNT`, is
refused with ``InvalidInput`` naming the amount, before anything is rounded.
An order adds up such lines, so its amounts stay computable too.

Review instead of a price
-------------------------
A line gets ``breakdown=None`` and plain-language ``review_reasons`` when the
model has no volume, its volume is not reliable (a warning such as a mesh
that is not watertight), it does not fit the machine in any axis-aligned
orientation, it has several bodies but the process makes one solid part per
model (machining, sheet metal, molding), or its estimated sheet thickness is
out of range. Additive processes price several bodies together as one part:
they are printed in the same build anyway; whether such a model needs a
person's look is the review policy's call (``multiple_bodies`` is a DFM
warning). Ids the caller gets wrong (process, material, color, finish,
shipping method) are :class:`~fabcore.domain.errors.InvalidInput` naming the
valid choices.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

import attrs

from fabcore.domain.analysis import UNRELIABLE_VOLUME, ModelAnalysis, WarningCode
from fabcore.domain.catalog import Catalog, DiscountTier, Finish, Material, Process, ProcessKind
from fabcore.domain.errors import InvalidInput
from fabcore.domain.money import Money, minor_unit
from fabcore.domain.quote import Fee, LineBreakdown, LineQuote, LineSpec, OrderQuote

__all__ = [
    "MAX_AMOUNT",
    "MAX_AREA_CM2",
    "MAX_HOURS",
    "MAX_SIZE_MM",
    "MAX_VOLUME_CM3",
    "options_for",
    "price_line",
    "price_order",
]

#: Largest size of a model, in mm a side: the mesh analyser's limit.
MAX_SIZE_MM = Decimal(1_000_000)
#: Largest volume of a model: a cube of :data:`MAX_SIZE_MM`.
MAX_VOLUME_CM3 = Decimal(10) ** 15
#: Largest surface or overhang area of a model.
MAX_AREA_CM2 = Decimal(10) ** 15
#: Largest machine time of one part (over 100,000 years).
MAX_HOURS = Decimal(10) ** 9
#: Largest amount of a line, per part or in total, in units of the currency.
MAX_AMOUNT = Decimal(10) ** 15

_CONTEXT = Context(
    prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_HOURS = Decimal("0.0001")
_PERCENT = Decimal("0.01")
_PI = Decimal("3.141592653589793238462643383")
_SECONDS_PER_HOUR = Decimal(3600)
_MM3_PER_CM3 = Decimal(1000)

Dims = tuple[Decimal, Decimal, Decimal]


def price_line(catalog: Catalog, analysis: ModelAnalysis, spec: LineSpec) -> LineQuote:
    """Price one line, or return it unpriced with the reasons it needs review.

    The returned ``spec`` has its color filled in (the material's first color
    when none was chosen). Unknown ids, a color or finish the material does
    not offer, and figures or amounts out of bounds raise ``InvalidInput``.
    """
    with localcontext(_CONTEXT):
        return _price_line(catalog, analysis, spec)


def price_order(
    catalog: Catalog, lines: Sequence[LineQuote], shipping_method: str | None = None
) -> OrderQuote:
    """Add up priced lines into an order quote.

    Order fees are the startup fee of each (process, material) pair in the
    order, charged once. The minimum order adjustment lifts subtotal + fees to
    the shop's minimum order value. Tax is charged on subtotal + fees +
    adjustment + shipping. Lead time is the slowest line plus shipping days.
    ``shipping_method=None`` means none chosen yet: no shipping cost or days.
    When a line is unpriced (or there are no lines) ``total`` is None, the
    review reasons say why, and the other amounts cover the priced lines.
    """
    with localcontext(_CONTEXT):
        return _price_order(catalog, lines, shipping_method)


def options_for(catalog: Catalog, analysis: ModelAnalysis, quantity: int = 1) -> list[LineQuote]:
    """Every process and material, in its default color without finishes.

    Priced options come first, cheapest line total first (catalog order
    breaks ties); options that need review follow with their reasons.
    """
    quotes = [
        price_line(catalog, analysis, LineSpec(process_id, material_id, quantity=quantity))
        for process_id, process in catalog.processes.items()
        for material_id in process.materials
    ]
    priced = [
        (quote.breakdown.total.amount, index)
        for index, quote in enumerate(quotes)
        if quote.breakdown is not None
    ]
    order = [index for _, index in sorted(priced)]
    order += [index for index, quote in enumerate(quotes) if quote.breakdown is None]
    return [quotes[index] for index in order]


# --- one line ----------------------------------------------------------------


@attrs.frozen
class _Geometry:
    volume: Decimal
    area: Decimal
    bbox: Dims
    overhang: Decimal


@attrs.frozen
class _PartCost:
    material: Decimal
    hours: Decimal
    fees: tuple[Fee, ...]
    notes: tuple[str, ...]


def _price_line(catalog: Catalog, analysis: ModelAnalysis, spec: LineSpec) -> LineQuote:
    process = catalog.process(spec.process)
    material = process.material(spec.material)
    quantity = spec.quantity
    color = material.default_color if spec.color is None else spec.color
    if color not in material.colors:
        raise InvalidInput(
            f"material {material.id!r} comes in {', '.join(material.colors)}; not {color!r}"
        )
    finishes = _finishes(process, material, spec.finishes)
    spec = attrs.evolve(spec, color=color)
    lead_time = (
        process.lead_time_days
        + material.lead_time_days
        + sum(finish.lead_time_days for finish in finishes)
    )

    geometry, reasons = _check(process, analysis)
    orientation: Dims | None = None
    blank: Dims | None = None
    if geometry is not None:
        orientation, blank, fit_reason = _fit(process, geometry)
        if orientation is None:
            reasons.append(fit_reason)
    if reasons or geometry is None or orientation is None or blank is None:
        return LineQuote(spec, None, lead_time, tuple(reasons), filename=analysis.filename)

    cost = _part_cost(
        process, material, geometry, orientation=orientation, blank=blank, bodies=analysis.bodies
    )
    breakdown = _breakdown(
        catalog,
        process,
        material,
        finishes=finishes,
        area=geometry.area,
        cost=cost,
        quantity=quantity,
    )
    return LineQuote(spec, breakdown, lead_time, (), filename=analysis.filename)


def _finishes(process: Process, material: Material, ids: Sequence[str]) -> tuple[Finish, ...]:
    finishes: list[Finish] = []
    for finish_id in ids:
        finish = process.finish(finish_id)
        if finish in finishes:
            raise InvalidInput(f"finish {finish_id!r} is chosen twice")
        if not finish.allows(material.id):
            offered = sorted(f.id for f in process.finishes.values() if f.allows(material.id))
            raise InvalidInput(
                f"finish {finish_id!r} is not available for material {material.id!r}; "
                f"available: {', '.join(offered) or '(none)'}"
            )
        finishes.append(finish)
    return tuple(finishes)


def _decimal(value: float) -> Decimal | None:
    number = float(value)
    return Decimal(str(number)) if math.isfinite(number) else None


def _check(process: Process, analysis: ModelAnalysis) -> tuple[_Geometry | None, list[str]]:
    """Measured geometry as Decimals, and the reasons it cannot be priced.

    The geometry is None only when the model's size is unknown; a part with
    an unreliable volume still gets its size checked against the machine.
    """
    reasons: list[str] = []
    volume = _decimal(analysis.volume_cm3)
    area = _decimal(analysis.area_cm2)
    overhang = _decimal(analysis.overhang_area_cm2)
    bbox = [_decimal(v) for v in analysis.bbox_mm]
    _check_bounds(analysis.filename, "volume", volume, MAX_VOLUME_CM3, "cm3")
    _check_bounds(analysis.filename, "surface area", area, MAX_AREA_CM2, "cm2")
    _check_bounds(analysis.filename, "overhang area", overhang, MAX_AREA_CM2, "cm2")
    for size in bbox:
        _check_bounds(analysis.filename, "size", size, MAX_SIZE_MM, "mm")
    if volume is None or volume <= 0 or analysis.has(WarningCode.ZERO_VOLUME):
        reasons.append("the model has no measurable volume")
    for warning in analysis.warnings:
        if warning.code in UNRELIABLE_VOLUME and warning.code is not WarningCode.ZERO_VOLUME:
            reasons.append(warning.message)
    if area is None or area <= 0:
        reasons.append("the model's surface area could not be measured")
    if analysis.bodies > 1 and process.kind.single_body:
        reasons.append(
            f"the model has {analysis.bodies} separate bodies; "
            f"{process.label} makes one solid part per model"
        )
    sizes = [v for v in bbox if v is not None and v > 0]
    if len(sizes) != 3 or len(bbox) != 3:
        reasons.append("the model's size could not be measured")
        return None, reasons
    geometry = _Geometry(
        volume=volume if volume is not None and volume > 0 else Decimal(0),
        area=area if area is not None and area > 0 else Decimal(0),
        bbox=(sizes[0], sizes[1], sizes[2]),
        overhang=overhang if overhang is not None and overhang > 0 else Decimal(0),
    )
    if process.kind is ProcessKind.SHEET_METAL and not reasons:
        thickness = _sheet_thickness(geometry)
        low, high = process.min_thickness_mm, process.max_thickness_mm
        if low is not None and high is not None and not low <= thickness <= high:
            reasons.append(
                f"its estimated sheet thickness of {thickness:.2f} mm (volume / half the "
                f"surface area) is outside the {_plain(low)}-{_plain(high)} mm range of "
                f"{process.label}"
            )
    return geometry, reasons


def _check_bounds(
    filename: str, what: str, value: Decimal | None, limit: Decimal, unit: str
) -> None:
    if value is not None and value > limit:
        raise InvalidInput(
            f"{filename}: the model's {what} of {value:.3E} {unit} is more than pricing "
            f"takes (up to {limit:,} {unit})"
        )


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _size(dims: Sequence[Decimal]) -> str:
    return " x ".join(f"{v:.1f}" for v in dims)


def _fit(process: Process, geometry: _Geometry) -> tuple[Dims | None, Dims, str]:
    """The lowest orientation of the part (or its stock) that fits the machine."""
    margin = 2 * process.stock_margin_mm
    x, y, z = geometry.bbox
    if process.kind is ProcessKind.CNC_MILLING:
        blank: Dims = (x + margin, y + margin, z + margin)
        what = f"with {_plain(process.stock_margin_mm)} mm stock margin the blank measures"
    elif process.kind is ProcessKind.CNC_TURNING:
        diameter, length = _turning_bar(geometry.bbox)
        blank = (diameter + margin, diameter + margin, length + margin)
        what = f"with {_plain(process.stock_margin_mm)} mm stock margin the bar measures"
    else:
        blank = geometry.bbox
        what = "the part measures"
    envelope = process.build_volume_mm
    fitting = [
        p
        for p in itertools.permutations(blank)
        if all(size <= limit for size, limit in zip(p, envelope, strict=True))
    ]
    if not fitting:
        reason = (
            f"{what} {_size(blank)} mm and does not fit the "
            f"{' x '.join(_plain(v) for v in envelope)} mm build volume of "
            f"{process.label} in any orientation"
        )
        return None, blank, reason
    best = min(fitting, key=lambda p: p[2])
    return (best[0], best[1], best[2]), blank, ""


def _turning_bar(bbox: Dims) -> tuple[Decimal, Decimal]:
    """(diameter, length) of a bar holding the part, turned about its roundest axis."""
    candidates = []
    for axis in range(3):
        a, b = (bbox[i] for i in range(3) if i != axis)
        candidates.append((abs(a - b), -bbox[axis], max(a, b), bbox[axis]))
    _, _, diameter, length = min(candidates)
    return diameter, length


def _sheet_thickness(geometry: _Geometry) -> Decimal:
    blank_cm2 = geometry.area / 2
    return geometry.volume / blank_cm2 * 10


def _material_cost(material: Material, volume: Decimal) -> Decimal:
    exponent = material.volume_exponent
    scaled = volume if exponent == 1 else volume**exponent
    return material.cost_per_cm3 * scaled


def _layer_hours(process: Process, height: Decimal) -> Decimal:
    if process.growth_rate_mm_per_h is not None:
        return height / process.growth_rate_mm_per_h
    if process.layer_height_mm is not None and process.layer_time_s is not None:
        layers = (height / process.layer_height_mm).to_integral_value(rounding=ROUND_CEILING)
        return layers * process.layer_time_s / _SECONDS_PER_HOUR
    return Decimal(0)


def _setting(process: Process, name: str, value: Decimal | None) -> Decimal:
    if value is None:
        raise InvalidInput(f"process {process.id!r} ({process.kind.value}) has no {name}")
    return value


def _part_cost(
    process: Process,
    material: Material,
    geometry: _Geometry,
    *,
    orientation: Dims,
    blank: Dims,
    bodies: int,
) -> _PartCost:
    kind = process.kind
    if kind.additive:
        return _additive_cost(process, material, geometry, orientation, bodies)
    fees: list[Fee] = []
    notes: list[str] = []
    if kind.machining:
        if kind is ProcessKind.CNC_TURNING:
            stock = _PI / 4 * blank[0] * blank[0] * blank[2] / _MM3_PER_CM3
        else:
            stock = blank[0] * blank[1] * blank[2] / _MM3_PER_CM3
        removed = max(Decimal(0), stock - geometry.volume)
        rate = _setting(process, "removal_rate_cm3_per_h", process.removal_rate_cm3_per_h)
        hours = removed / rate + process.overhead_h_per_part
        material_cost = _material_cost(material, stock)
        notes.append(f"stock {stock:.2f} cm3 ({_size(blank)} mm), {removed:.2f} cm3 machined away")
        if process.programming_fee:
            fees.append(Fee("programming fee", process.programming_fee))
    elif kind is ProcessKind.SHEET_METAL:
        blank_cm2 = geometry.area / 2
        rate = _setting(process, "processing_rate_cm2_per_h", process.processing_rate_cm2_per_h)
        hours = blank_cm2 / rate + process.overhead_h_per_part
        material_cost = _material_cost(material, geometry.volume)
        notes.append(
            f"flat-area approximation: blank about {blank_cm2:.2f} cm2 (half the surface "
            f"area), sheet about {_sheet_thickness(geometry):.2f} mm thick; "
            "bends and cut length are not counted"
        )
        if process.programming_fee:
            fees.append(Fee("programming fee", process.programming_fee))
    else:
        cycle = _setting(process, "cycle_time_s", process.cycle_time_s)
        hours = cycle / process.cavities / _SECONDS_PER_HOUR + process.overhead_h_per_part
        material_cost = _material_cost(material, geometry.volume)
        notes.append(f"{process.cavities}-cavity mold, {_plain(cycle)} s cycle")
        if process.tooling_cost:
            fees.append(Fee("mold tooling", process.tooling_cost))
    return _PartCost(material_cost, hours, tuple(fees), tuple(notes))


def _additive_cost(
    process: Process, material: Material, geometry: _Geometry, orientation: Dims, bodies: int
) -> _PartCost:
    notes: list[str] = []
    support = geometry.overhang * process.support_cm3_per_cm2
    volume = geometry.volume + support
    if support:
        notes.append(
            f"support about {support:.2f} cm3, estimated from {geometry.overhang:.2f} cm2 "
            "of overhang"
        )
    if bodies > 1:
        notes.append(f"{bodies} bodies priced together as one part")

    width, depth, height = orientation
    build_x, build_y, build_z = process.build_volume_mm
    packing = process.packing_density
    platform_share = min(Decimal(1), width * depth / (build_x * build_y * packing))
    chamber_share = min(
        Decimal(1), width * depth * height / (build_x * build_y * build_z * packing)
    )

    hours = Decimal(0)
    if process.build_rate_cm3_per_h is not None:
        hours += volume / process.build_rate_cm3_per_h
    if process.kind is ProcessKind.FDM:
        hours += _layer_hours(process, height)
        build_share = platform_share
    elif process.kind is ProcessKind.SLA:
        hours += _layer_hours(process, height) * platform_share
        build_share = platform_share
    else:
        hours += _layer_hours(process, build_z) * chamber_share
        build_share = chamber_share
    hours += process.overhead_h_per_part + process.overhead_h_per_build * build_share
    return _PartCost(_material_cost(material, volume), hours, (), tuple(notes))


def _tier_percent(tiers: Sequence[DiscountTier], quantity: int) -> Decimal:
    percent = Decimal(0)
    for tier in tiers:
        if tier.min_quantity <= quantity:
            percent = tier.percent
    return percent


def _breakdown(
    catalog: Catalog,
    process: Process,
    material: Material,
    *,
    finishes: Sequence[Finish],
    area: Decimal,
    cost: _PartCost,
    quantity: int,
) -> LineBreakdown:
    currency = catalog.currency
    zero = Money.zero(currency)

    def bounded(amount: Decimal, what: str) -> Decimal:
        if amount > MAX_AMOUNT:
            raise InvalidInput(
                f"{what} of {quantity} x {process.id} {material.id} would be {amount:.3E} "
                f"{currency}, more than pricing takes (up to {MAX_AMOUNT:,}): the model's "
                "figures or the catalog's prices are out of range"
            )
        return amount

    if cost.hours > MAX_HOURS:
        raise InvalidInput(
            f"the machine time per part of {quantity} x {process.id} {material.id} would be "
            f"{cost.hours:.3E} h, more than pricing takes (up to {MAX_HOURS:,} h): the "
            "model's figures or the catalog's rates are out of range"
        )
    material_pp = Money(bounded(cost.material, "the material cost per part"), currency)
    machine_pp = Money(
        bounded(cost.hours * process.hourly_rate, "the machine cost per part"), currency
    )
    made = material_pp + machine_pp
    post = sum(
        (
            finish.price_per_part + finish.price_per_cm2 * area + finish.percent / 100 * made.amount
            for finish in finishes
        ),
        Decimal(0),
    )
    post_pp = Money(bounded(post, "the post-production cost per part"), currency)
    before_minimum = made + post_pp
    minimum = process.min_price_per_part
    adjustment = minimum - before_minimum if minimum and minimum > before_minimum else zero
    base = before_minimum + adjustment

    tiers = catalog.discounts_for(process)

    def net(count: int) -> tuple[Decimal, Money]:
        percent = _tier_percent(tiers, count)
        return percent, base - Money(base.amount * percent / 100, currency)

    percent, net_pp = net(quantity)
    goods = net_pp.amount * quantity
    capped_at: int | None = None
    for tier in tiers:
        if tier.min_quantity > quantity:
            alternative = net(tier.min_quantity)[1].amount * tier.min_quantity
            if alternative < goods:
                goods, capped_at = alternative, tier.min_quantity

    fees_total = sum((fee.amount for fee in cost.fees), zero)
    bounded(goods + fees_total.amount, "the total")
    exponent = Decimal(1).scaleb(-minor_unit(currency))
    notes = list(cost.notes)
    exact_unit = (goods + fees_total.amount) / quantity
    if capped_at is None:
        discount = base - net_pp
        unit = Money(exact_unit.quantize(exponent, rounding=ROUND_HALF_UP), currency)
    else:
        discount_amount = base.amount - goods / quantity
        discount = Money(discount_amount, currency)
        percent = (
            (discount_amount / base.amount * 100).quantize(_PERCENT, rounding=ROUND_HALF_UP)
            if base
            else Decimal(0)
        )
        unit = Money(exact_unit.quantize(exponent, rounding=ROUND_DOWN), currency)
        notes.append(
            f"price-break protection: {quantity} parts cost no more than {capped_at} parts would"
        )
    return LineBreakdown(
        material_per_part=material_pp,
        machine_hours_per_part=cost.hours.quantize(_HOURS, rounding=ROUND_HALF_UP),
        machine_per_part=machine_pp,
        post_production_per_part=post_pp,
        fees=cost.fees,
        fees_total=fees_total,
        minimum_price_adjustment=adjustment,
        discount_percent=percent,
        discount=discount,
        unit_price=unit,
        total=unit * quantity,
        notes=tuple(notes),
    )


# --- the order ---------------------------------------------------------------


def _price_order(
    catalog: Catalog, lines: Sequence[LineQuote], shipping_method: str | None
) -> OrderQuote:
    currency = catalog.currency
    zero = Money.zero(currency)
    reasons: list[str] = []
    if not lines:
        reasons.append("the order has no lines")

    subtotal = zero
    fees: list[Fee] = []
    seen: set[tuple[str, str]] = set()
    for number, line in enumerate(lines, start=1):
        process = catalog.process(line.spec.process)
        material = process.material(line.spec.material)
        if line.breakdown is None:
            name = f" ({line.filename})" if line.filename else ""
            why = "; ".join(line.review_reasons) or "not priced"
            reasons.append(f"line {number}{name} needs review: {why}")
        else:
            subtotal += line.breakdown.total
        pair = (process.id, material.id)
        if pair not in seen:
            seen.add(pair)
            if process.startup_fee:
                fees.append(
                    Fee(f"startup {material.label} on {process.label}", process.startup_fee)
                )

    fees_total = sum((fee.amount for fee in fees), zero)
    goods = subtotal + fees_total
    minimum = catalog.shop.minimum_order_value
    adjustment = minimum - goods if lines and minimum > goods else zero

    shipping, shipping_days = zero, 0
    if shipping_method is not None:
        method = catalog.shipping_method(shipping_method)
        shipping, shipping_days = method.price, method.days

    taxable = goods + adjustment + shipping
    tax = Money(taxable.amount * catalog.shop.tax_rate, currency)
    lead_time = max((line.lead_time_days for line in lines), default=0) + shipping_days
    return OrderQuote(
        currency=currency,
        lines=tuple(lines),
        subtotal=subtotal,
        order_fees=tuple(fees),
        minimum_order_adjustment=adjustment,
        shipping_method=shipping_method,
        shipping=shipping,
        tax_rate=catalog.shop.tax_rate,
        tax=tax,
        total=None if reasons else taxable + tax,
        lead_time_days=lead_time,
        review_reasons=tuple(reasons),
    )
