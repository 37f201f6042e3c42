"""Properties of catalog loading and pricing over generated catalogs and models.

Catalogs are drawn as plain data, as a TOML file parses to, with every
process kind, in one of three styles: everyday figures, every figure at one
end of its range, or figures anywhere in their ranges; half of them then get
one figure replaced by a value around or far outside its range. Models are
everyday parts, parts as large as pricing takes, or any finite, non-negative
figures. Whatever the loader accepts, pricing any model in any quantity a
line may have gives a quote or a refusal (``InvalidInput``), never another
exception; and the loader, given anything, builds a catalog or raises
``CatalogError``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import attrs
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fabcore.app import catalog_format as f
from fabcore.app.catalogs import catalog_from_mapping
from fabcore.domain import catalog as c
from fabcore.domain.analysis import DfmWarning, ModelAnalysis, WarningCode
from fabcore.domain.catalog import Catalog, ProcessKind, Range
from fabcore.domain.errors import CatalogError, InvalidInput
from fabcore.domain.money import minor_unit
from fabcore.domain.pricing import MAX_AMOUNT, options_for, price_line, price_order
from fabcore.domain.quote import MAX_QUANTITY, LineQuote, LineSpec

T = TypeVar("T")
Draw = Callable[[st.SearchStrategy[Any]], Any]

# --- catalogs ----------------------------------------------------------------

STYLES = st.sampled_from(["everyday", "ends", "anywhere"])


def _toml_number(value: Decimal, how: str) -> object:
    """``value`` as a TOML file or a caller could give it."""
    if how == "float":
        return float(value)
    if how == "str":
        return str(value)
    if how == "int" and value == value.to_integral_value():
        return int(value)
    return value


def numbers(allowed: Range, style: str) -> st.SearchStrategy[object]:
    """Numbers within ``allowed``, in the catalog's style."""
    high = allowed.high - Decimal("0.000001") if allowed.below else allowed.high
    values: st.SearchStrategy[Any]
    if style == "ends":
        values = st.sampled_from([allowed.low, high])
    elif allowed.whole:
        top = min(high, Decimal(20)) if style == "everyday" else high
        values = st.integers(int(allowed.low), int(top))
    elif style == "everyday":
        values = st.decimals(
            min_value=max(allowed.low, Decimal("0.01")), max_value=min(high, Decimal(50)), places=2
        )
    else:
        values = st.decimals(
            min_value=allowed.low, max_value=high, allow_nan=False, allow_infinity=False
        )
    if allowed.whole:
        return values.map(int)
    return st.builds(_toml_number, values, st.sampled_from(["decimal", "float", "str", "int"]))


def amounts(currency: str, style: str) -> st.SearchStrategy[object]:
    """Fixed amounts within PRICE, with no more decimals than the currency has."""
    values: st.SearchStrategy[Decimal]
    if style == "ends":
        values = st.sampled_from([c.PRICE.low, c.PRICE.high])
    else:
        top = Decimal(100) if style == "everyday" else c.PRICE.high
        values = st.decimals(min_value=0, max_value=top, places=minor_unit(currency))
    return st.builds(_toml_number, values, st.sampled_from(["decimal", "str", "int"]))


def _maybe(draw: Draw, table: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        table[key] = draw(values)


@st.composite
def tiers(draw: Draw, style: str) -> list[dict[str, object]]:
    quantity = (
        st.integers(1, 100)
        if style == "everyday"
        else st.one_of(st.sampled_from([1, 10, MAX_QUANTITY]), st.integers(1, MAX_QUANTITY))
    )
    percent = numbers(c.DISCOUNT_PERCENT, style)
    return [
        {"min_quantity": q, "percent": draw(percent)}
        for q in draw(st.lists(quantity, max_size=3, unique=True))
    ]


@st.composite
def materials(draw: Draw, kind: ProcessKind, style: str) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for material_id in draw(st.sampled_from([["m0"], ["m0", "m1"]])):
        material: dict[str, object] = {}
        if draw(st.booleans()):
            price_key = "stock_price_per_cm3" if kind.machining else "price_per_cm3"
            material[price_key] = draw(numbers(c.PRICE, style))
        else:
            material["price_per_kg"] = draw(numbers(c.PRICE, style))
            material["density_g_cm3"] = draw(numbers(c.DENSITY_G_CM3, style))
        _maybe(draw, material, "volume_exponent", numbers(c.VOLUME_EXPONENT, style))
        _maybe(draw, material, "colors", st.sampled_from([["black"], ["white", "black"]]))
        _maybe(draw, material, "lead_time_days", numbers(c.DAYS, style))
        found[material_id] = material
    return found


@st.composite
def finishes(draw: Draw, material_ids: list[str], style: str) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for finish_id in draw(st.sampled_from([[], ["f0"], ["f0", "f1"]])):
        finish: dict[str, object] = {}
        _maybe(draw, finish, "price_per_part", numbers(c.PRICE, style))
        _maybe(draw, finish, "price_per_cm2", numbers(c.PRICE, style))
        _maybe(draw, finish, "percent", numbers(c.FINISH_PERCENT, style))
        _maybe(draw, finish, "materials", st.sampled_from([material_ids, material_ids[:1]]))
        _maybe(draw, finish, "lead_time_days", numbers(c.DAYS, style))
        found[finish_id] = finish
    return found


@st.composite
def processes(draw: Draw, kind: ProcessKind, currency: str, style: str) -> dict[str, object]:
    size = (
        st.integers(100, 1000)
        if style == "everyday"
        else st.one_of(st.just(c.SIZE_MM.high), numbers(c.SIZE_MM, style))
    )
    process: dict[str, Any] = {
        "kind": kind.value,
        "hourly_rate": draw(numbers(c.PRICE, style)),
        "build_volume_mm": [draw(size) for _ in range(3)],
        "lead_time_days": draw(numbers(c.DAYS, style)),
        "materials": draw(materials(kind, style)),
    }
    process["finishes"] = draw(finishes(list(process["materials"]), style))
    for key in ("startup_fee", "min_price_per_part"):
        _maybe(draw, process, key, amounts(currency, style))
    _maybe(draw, process, "overhead_h_per_part", numbers(c.OVERHEAD_H, style))
    _maybe(draw, process, "quantity_discounts", tiers(style))
    if kind.additive:
        rates = ["build", "build+layers"]
        if kind is not ProcessKind.FDM:
            rates += ["growth", "layers", "build+growth"]
        chosen = draw(st.sampled_from(rates))
        if "build" in chosen:
            process["build_rate_cm3_per_h"] = draw(numbers(c.SPEED, style))
        if "growth" in chosen:
            process["growth_rate_mm_per_h"] = draw(numbers(c.SPEED, style))
        if "layers" in chosen:
            process["layer_height_mm"] = draw(numbers(c.SIZE_MM, style))
            process["layer_time_s"] = draw(numbers(c.LAYER_TIME_S, style))
        _maybe(draw, process, "overhead_h_per_build", numbers(c.OVERHEAD_H, style))
        _maybe(draw, process, "packing_density", numbers(c.PACKING_DENSITY, style))
        if kind in (ProcessKind.FDM, ProcessKind.SLA):
            _maybe(draw, process, "support_cm3_per_cm2", numbers(c.SUPPORT_CM3_PER_CM2, style))
    elif kind.machining:
        process["removal_rate_cm3_per_h"] = draw(numbers(c.SPEED, style))
        _maybe(draw, process, "stock_margin_mm", numbers(c.STOCK_MARGIN_MM, style))
        _maybe(draw, process, "programming_fee", amounts(currency, style))
    elif kind is ProcessKind.SHEET_METAL:
        process["processing_rate_cm2_per_h"] = draw(numbers(c.SPEED, style))
        low = draw(st.decimals(min_value=c.SIZE_MM.low, max_value=50_000, places=3))
        process["min_thickness_mm"] = low
        process["max_thickness_mm"] = low + draw(
            st.decimals(min_value="0.001", max_value=50_000, places=3)
        )
        _maybe(draw, process, "programming_fee", amounts(currency, style))
    else:
        process["tooling_cost"] = draw(amounts(currency, style))
        process["cycle_time_s"] = draw(numbers(c.CYCLE_TIME_S, style))
        _maybe(draw, process, "cavities", numbers(c.CAVITIES, style))
    return process


def _paths(node: object, path: str = "") -> list[tuple[str, object]]:
    """Every entry of catalog data with its path, as the loader names it."""
    found: list[tuple[str, object]] = [(path.lstrip("."), node)] if path else []
    if isinstance(node, dict):
        found += [p for key, value in node.items() for p in _paths(value, f"{path}.{key}")]
    elif isinstance(node, list):
        found += [p for i, value in enumerate(node) for p in _paths(value, f"{path}[{i}]")]
    return found


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, Decimal | float | int | str):
        return False
    try:
        Decimal(str(value))
    except ArithmeticError:
        return False
    return True


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _replace(data: dict[str, Any], path: str, value: object) -> None:
    steps: list[str | int] = [name or int(index) for name, index in _STEP.findall(path)]
    node: Any = data
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = value


# Around the ranges: just outside, far outside, and beyond what Decimal holds.
STRAY_NUMBERS = [
    -1, Decimal("-0.001"), 0, Decimal("0.0005"), 1e-300, Decimal("1e-300"), 1001, 10**6 + 1,
    Decimal("1e12") + Decimal("0.01"), Decimal("100000.001"), 1e300, "1E+100000", "-1E+100000",
    10**30, "1e999999999999999999999", True,
]


@st.composite
def catalog_data(draw: Draw) -> dict[str, Any]:
    currency = draw(st.sampled_from(["EUR", "JPY", "KWD"]))
    style = draw(STYLES)
    shop: dict[str, object] = {
        "name": "Fab",
        "currency": currency,
        "tax_rate": draw(numbers(c.TAX_RATE, style)),
    }
    _maybe(draw, shop, "minimum_order_value", amounts(currency, style))
    kinds = draw(st.lists(st.sampled_from(list(ProcessKind)), min_size=1, max_size=2))
    data: dict[str, Any] = {
        "shop": shop,
        "processes": {
            f"p{i}": draw(processes(kind, currency, style)) for i, kind in enumerate(kinds)
        },
        "quantity_discounts": draw(tiers(style)),
        "shipping": [
            {"id": "pickup", "pickup": True},
            {
                "id": "parcel",
                "price": draw(amounts(currency, style)),
                "days": draw(numbers(c.DAYS, style)),
            },
        ],
    }
    if draw(st.booleans()):
        figures = [path for path, value in _paths(data) if _is_number(value)]
        _replace(data, draw(st.sampled_from(figures)), draw(st.sampled_from(STRAY_NUMBERS)))
    return data


def load(data: object) -> Catalog | CatalogError:
    try:
        return catalog_from_mapping(data)
    except CatalogError as exc:
        return exc


# --- models and quantities -----------------------------------------------------

ANY_FIGURE = st.one_of(
    st.sampled_from([0.0, 5e-324, 1e-300, 1e6, 1e15, 1e16, 1.7e308]),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
)
LARGE_SIZE = st.one_of(st.sampled_from([90.0, 1e5]), st.floats(min_value=1, max_value=1e5))
LARGE_FIGURE = st.one_of(st.sampled_from([1e6, 1e12, 1e15]), st.floats(0.1, 1e15))
WARNINGS = [DfmWarning(code, code.value) for code in WarningCode]


@st.composite
def analyses(draw: Draw) -> ModelAnalysis:
    """Everyday parts, parts as large as pricing takes, or any finite, non-negative figures."""
    style = draw(st.sampled_from(["everyday", "large", "any"]))
    if style == "everyday":
        size, figure = st.floats(min_value=1, max_value=90), st.floats(0.1, 700)
    elif style == "large":
        size, figure = LARGE_SIZE, LARGE_FIGURE
    else:
        size, figure = ANY_FIGURE, ANY_FIGURE
    anything = style == "any"
    return ModelAnalysis(
        filename="part.stl",
        format="stl",
        volume_cm3=draw(figure),
        area_cm2=draw(figure),
        bbox_mm=(draw(size), draw(size), draw(size)),
        triangles=12,
        bodies=draw(st.integers(0, 3)) if anything else 1,
        watertight=True,
        winding_consistent=True,
        convex_hull_volume_cm3=draw(figure),
        overhang_area_cm2=draw(figure),
        warnings=tuple(draw(st.lists(st.sampled_from(WARNINGS), max_size=2))) if anything else (),
    )


QUANTITIES = st.one_of(
    st.sampled_from([1, 10, 99, 100, MAX_QUANTITY]), st.integers(1, MAX_QUANTITY)
)


def quote_or_refusal(price: Callable[[], T]) -> T | None:
    """What ``price`` returns, or None when it refuses; any other exception fails the test."""
    try:
        return price()
    except InvalidInput:
        return None


def check_line(line: LineQuote, catalog: Catalog) -> None:
    if line.breakdown is None:
        assert line.review_reasons
        return
    total = line.breakdown.total
    assert total.currency == catalog.currency
    assert 0 <= total.amount <= MAX_AMOUNT
    assert line.breakdown.unit_price * line.spec.quantity == total


def corner(**fdm: object) -> dict[str, Any]:
    """A catalog of one fdm process, free but for ``fdm``'s settings."""
    process: dict[str, object] = {
        "kind": "fdm",
        "hourly_rate": 0,
        "build_rate_cm3_per_h": c.SPEED.high,
        "build_volume_mm": [c.SIZE_MM.high] * 3,
        "lead_time_days": 0,
        "materials": {"m0": {"price_per_cm3": 0}},
        "finishes": {"f0": {}},
        **fdm,
    }
    return {
        "shop": {"name": "Fab", "currency": "KWD", "tax_rate": "0.999999"},
        "processes": {"p0": process},
    }


def model(size: float, figure: float) -> ModelAnalysis:
    return ModelAnalysis(
        filename="part.stl", format="stl", volume_cm3=figure, area_cm2=figure,
        bbox_mm=(size, size, size), triangles=12, bodies=1, watertight=True,
        winding_consistent=True, convex_hull_volume_cm3=figure, overhang_area_cm2=figure,
    )


LARGEST = model(float(c.SIZE_MM.high), 1e15)
DEAREST = str(c.PRICE.high)


@settings(max_examples=60, deadline=None)
@given(
    data=catalog_data(),
    analysis=analyses(),
    quantity=QUANTITIES,
    shipping=st.sampled_from([None, "pickup", "parcel"]),
)
# The corners where one of pricing's bounds is what keeps it from failing: the
# dearest material, machine hour and finish on the largest model, and the
# dearest part a million times.
@example(corner(materials={"m0": {"price_per_cm3": DEAREST}}), LARGEST, 1, None)
@example(corner(hourly_rate=DEAREST, build_rate_cm3_per_h=c.SPEED.low), LARGEST, 1, None)
@example(corner(finishes={"f0": {"price_per_cm2": DEAREST}}), LARGEST, 1, None)
@example(corner(min_price_per_part=DEAREST), model(10.0, 1.0), MAX_QUANTITY, "pickup")
def test_an_accepted_catalog_prices_any_model_or_refuses(
    data: dict[str, Any], analysis: ModelAnalysis, quantity: int, shipping: str | None
) -> None:
    catalog = load(data)
    if isinstance(catalog, CatalogError):
        assert catalog.key.startswith(("shop.", "processes.", "quantity_discounts[", "shipping["))
        return
    lines: list[LineQuote] = []
    for process_id, process in catalog.processes.items():
        for material_id in process.materials:
            offered = tuple(
                finish.id for finish in process.finishes.values() if finish.allows(material_id)
            )
            for chosen in dict.fromkeys([(), offered]):
                spec = LineSpec(process_id, material_id, finishes=chosen, quantity=quantity)
                line = quote_or_refusal(functools.partial(price_line, catalog, analysis, spec))
                if line is not None:
                    check_line(line, catalog)
                    lines.append(line)
    options = quote_or_refusal(functools.partial(options_for, catalog, analysis, quantity))
    for option in options or []:
        check_line(option, catalog)
    order = quote_or_refusal(functools.partial(price_order, catalog, lines, shipping))
    if order is not None and order.total is not None:
        fees = sum((fee.amount for fee in order.order_fees), order.minimum_order_adjustment)
        assert order.total == order.subtotal + fees + order.shipping + order.tax


# --- arbitrary data --------------------------------------------------------------

# The keys of the format, so that arbitrary data often looks like a catalog.
KEYS = sorted(
    {
        name
        for table in (
            f.CatalogFile, f.ShopTable, f.TierTable, f.ShippingTable, f.MaterialTable,
            f.StockMaterialTable, f.FinishTable, f.FdmTable, f.SlaTable, f.PowderBedTable,
            f.MachiningTable, f.SheetMetalTable, f.MoldingTable,
        )
        for name in attrs.fields_dict(table)
    }
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(),
    st.text(max_size=6),
    st.sampled_from([kind.value for kind in ProcessKind] + ["EUR", "1e3", ""]),
)
ANY_DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=4)), inner, max_size=5),
    ),
    max_leaves=25,
)


@st.composite
def damaged_catalog_data(draw: Draw) -> object:
    """Catalog data with one entry replaced by arbitrary data."""
    data = draw(catalog_data())
    path = draw(st.sampled_from([path for path, _ in _paths(data)]))
    _replace(data, path, draw(ANY_DATA))
    return data


@settings(max_examples=60, deadline=None)
@given(data=st.one_of(ANY_DATA, damaged_catalog_data()))
def test_the_loader_raises_nothing_but_catalog_errors(data: object) -> None:
    catalog = load(data)
    if isinstance(catalog, CatalogError):
        assert catalog.reason
    else:
        assert catalog.processes
