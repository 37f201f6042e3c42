"""Pricing against a small explicit catalog; expected amounts are worked by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fabcore.app.catalogs import catalog_from_mapping
from fabcore.domain.analysis import DfmWarning, ModelAnalysis, WarningCode
from fabcore.domain.errors import InvalidInput
from fabcore.domain.money import Money
from fabcore.domain.pricing import options_for, price_line, price_order
from fabcore.domain.quote import MAX_QUANTITY, Fee, LineBreakdown, LineQuote, LineSpec

CATALOG_DATA: dict[str, Any] = {
    "shop": {
        "name": "Test Fab",
        "currency": "EUR",
        "tax_rate": "0.19",
        "minimum_order_value": "50.00",
    },
    "quantity_discounts": [
        {"min_quantity": 10, "percent": 10},
        {"min_quantity": 100, "percent": 20},
    ],
    "processes": {
        "fdm": {
            "kind": "fdm",
            "hourly_rate": "6",
            "build_rate_cm3_per_h": "10",
            "layer_height_mm": "0.2",
            "layer_time_s": "3.6",  # 0.001 h per layer
            "overhead_h_per_part": "0.1",
            "support_cm3_per_cm2": "0.1",
            "build_volume_mm": [200, 150, 100],
            "startup_fee": "5.00",
            "min_price_per_part": "2.00",
            "lead_time_days": 2,
            "materials": {
                "pla": {"price_per_cm3": "0.10", "colors": ["white", "black"]},
                "petg": {"price_per_kg": "20", "density_g_cm3": "1.25", "lead_time_days": 1},
            },
            "finishes": {
                "sanding": {"price_per_cm2": "0.02", "lead_time_days": 1},
                "paint": {
                    "price_per_part": "3",
                    "percent": 10,
                    "materials": ["pla"],
                    "lead_time_days": 2,
                },
            },
        },
        "sls": {
            "kind": "sls",
            "hourly_rate": "30",
            "growth_rate_mm_per_h": "20",
            "overhead_h_per_build": "10",
            "packing_density": "0.5",
            "build_volume_mm": [100, 100, 200],
            "lead_time_days": 5,
            "quantity_discounts": [],
            "materials": {"pa12": {"price_per_cm3": "0.50"}},
        },
        "cnc": {
            "kind": "cnc_milling",
            "hourly_rate": "60",
            "removal_rate_cm3_per_h": "20",
            "stock_margin_mm": "5",
            "overhead_h_per_part": "0.5",
            "programming_fee": "50.00",
            "build_volume_mm": [400, 300, 200],
            "min_price_per_part": "10.00",
            "lead_time_days": 7,
            "materials": {"alu": {"stock_price_per_cm3": "0.02"}},
        },
        "im": {
            "kind": "injection_molding",
            "hourly_rate": "36",
            "tooling_cost": "3000.00",
            "cycle_time_s": "20",
            "cavities": 2,
            "startup_fee": "100.00",
            "build_volume_mm": [200, 200, 100],
            "lead_time_days": 30,
            "quantity_discounts": [],
            "materials": {"abs": {"price_per_kg": "4", "density_g_cm3": "1.25"}},
        },
        "sheet": {
            "kind": "sheet_metal",
            "hourly_rate": "60",
            "processing_rate_cm2_per_h": "1000",
            "min_thickness_mm": "1",
            "max_thickness_mm": "4",
            "build_volume_mm": [1000, 500, 200],
            "lead_time_days": 4,
            "materials": {"steel": {"price_per_kg": "2", "density_g_cm3": "8"}},
        },
    },
    "shipping": [
        {"id": "pickup", "label": "Pickup", "pickup": True},
        {"id": "std", "label": "Parcel", "price": "10.00", "days": 3},
    ],
}

CATALOG = catalog_from_mapping(CATALOG_DATA)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def part(
    volume: float = 10.0,
    bbox: tuple[float, float, float] = (20.0, 20.0, 20.0),
    area: float = 30.0,
    *,
    overhang: float = 0.0,
    bodies: int = 1,
    warnings: tuple[DfmWarning, ...] = (),
    filename: str = "part.stl",
) -> ModelAnalysis:
    return ModelAnalysis(
        filename=filename,
        format="stl",
        volume_cm3=volume,
        area_cm2=area,
        bbox_mm=bbox,
        triangles=12,
        bodies=bodies,
        watertight=not warnings,
        winding_consistent=True,
        convex_hull_volume_cm3=volume,
        overhang_area_cm2=overhang,
        warnings=warnings,
    )


def priced(
    analysis: ModelAnalysis, process: str, material: str, quantity: int = 1, **kw: Any
) -> LineBreakdown:
    quote = price_line(CATALOG, analysis, LineSpec(process, material, quantity=quantity, **kw))
    assert quote.review_reasons == ()
    assert quote.breakdown is not None
    return quote.breakdown


# --- FDM -------------------------------------------------------------------
# 10 cm3, 20 mm tall: material 10 x 0.10 = 1.00; time 10/10 h + 100 layers x
# 0.001 h + 0.1 h = 1.2 h x 6 = 7.20; 8.20 a part before discounts.


def test_fdm_single_part() -> None:
    b = priced(part(), "fdm", "pla")
    assert b.material_per_part == eur("1.00")
    assert b.machine_hours_per_part == Decimal("1.2000")
    assert b.machine_per_part == eur("7.20")
    assert b.post_production_per_part == eur("0.00")
    assert b.minimum_price_adjustment == eur("0.00")
    assert b.discount_percent == 0
    assert b.discount == eur("0.00")
    assert b.fees == ()
    assert b.fees_total == eur("0.00")
    assert b.unit_price == eur("8.20")
    assert b.total == eur("8.20")


def test_quantity_discount_tiers() -> None:
    ten = priced(part(), "fdm", "pla", 10)
    assert ten.discount_percent == 10
    assert ten.discount == eur("0.82")
    assert ten.unit_price == eur("7.38")
    assert ten.total == eur("73.80")
    hundred = priced(part(), "fdm", "pla", 100)
    assert hundred.discount_percent == 20
    assert hundred.unit_price == eur("6.56")
    assert hundred.total == eur("656.00")


def test_fewer_parts_never_cost_more_than_the_next_price_break() -> None:
    # 88 x 7.38 = 649.44 is below 100 parts' 656.00; 89 x 7.38 = 656.82 is not.
    below = priced(part(), "fdm", "pla", 88)
    assert below.total == eur("649.44")
    assert below.notes == ()
    capped = priced(part(), "fdm", "pla", 89)
    assert capped.unit_price == eur("7.37")  # 656.00 / 89 = 7.3707, rounded down
    assert capped.total == eur("655.93")
    assert capped.discount_percent == Decimal("10.11")
    assert any("100 parts" in note for note in capped.notes)
    almost = priced(part(), "fdm", "pla", 99)
    assert almost.unit_price == eur("6.62")  # 656.00 / 99 = 6.6263
    assert almost.total == eur("655.38")


def test_petg_priced_per_kg() -> None:
    # 20 EUR/kg x 1.25 g/cm3 = 0.025 EUR/cm3 x 10 cm3 = 0.25
    b = priced(part(), "fdm", "petg")
    assert b.material_per_part == eur("0.25")
    assert b.unit_price == eur("7.45")


def test_part_is_laid_down_to_fit_with_fewest_layers() -> None:
    # 150 mm tall does not fit 100 mm of height upright; lying down it is 10 mm
    # tall: 50 layers = 0.05 h; 1 + 0.05 + 0.1 = 1.15 h x 6 = 6.90.
    b = priced(part(bbox=(10.0, 10.0, 150.0)), "fdm", "pla")
    assert b.machine_hours_per_part == Decimal("1.1500")
    assert b.unit_price == eur("7.90")


def test_support_from_overhang_adds_material_and_time() -> None:
    # 5 cm2 x 0.1 cm3/cm2 = 0.5 cm3 support: material 1.05; time 1.05 + 0.1 + 0.1 h
    b = priced(part(overhang=5.0), "fdm", "pla")
    assert b.material_per_part == eur("1.05")
    assert b.machine_per_part == eur("7.50")
    assert b.unit_price == eur("8.55")
    assert any("support" in note for note in b.notes)


def test_finishes_per_area_per_part_and_percent() -> None:
    # sanding 30 cm2 x 0.02 = 0.60; paint 3.00 + 10 % of (1.00 + 7.20) = 3.82
    quote = price_line(CATALOG, part(), LineSpec("fdm", "pla", finishes=("sanding", "paint")))
    assert quote.breakdown is not None
    assert quote.breakdown.post_production_per_part == eur("4.42")
    assert quote.breakdown.unit_price == eur("12.62")
    assert quote.lead_time_days == 2 + 1 + 2


def test_minimum_price_per_part() -> None:
    # 0.5 cm3, 5 mm: 0.05 material; 0.05 + 25 x 0.001 + 0.1 = 0.175 h = 1.05
    small = part(volume=0.5, bbox=(5.0, 5.0, 5.0), area=1.5)
    one = priced(small, "fdm", "pla")
    assert one.material_per_part + one.machine_per_part == eur("1.10")
    assert one.minimum_price_adjustment == eur("0.90")
    assert one.unit_price == eur("2.00")
    ten = priced(small, "fdm", "pla", 10)
    assert ten.discount == eur("0.20")
    assert ten.unit_price == eur("1.80")
    assert ten.total == eur("18.00")


def test_color_defaults_to_the_first_and_is_checked() -> None:
    quote = price_line(CATALOG, part(), LineSpec("fdm", "pla"))
    assert quote.spec.color == "white"
    assert price_line(CATALOG, part(), LineSpec("fdm", "pla", color="black")).priced
    with pytest.raises(InvalidInput, match="comes in white, black; not 'pink'"):
        price_line(CATALOG, part(), LineSpec("fdm", "pla", color="pink"))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (LineSpec("mjf", "pa12"), "unknown process 'mjf'; choose one of: cnc, fdm, im, sheet, sls"),
        (LineSpec("fdm", "abs"), "process 'fdm' has no material 'abs'; choose one of: petg, pla"),
        (LineSpec("fdm", "pla", finishes=("polish",)), "no finish 'polish'"),
        (
            LineSpec("fdm", "petg", finishes=("paint",)),
            "finish 'paint' is not available for material 'petg'; available: sanding",
        ),
        (LineSpec("fdm", "pla", finishes=("sanding", "sanding")), "chosen twice"),
    ],
)
def test_bad_choices_are_invalid_input(spec: LineSpec, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        price_line(CATALOG, part(), spec)


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1, 10**29, True, 2.0])
def test_line_quantity_is_a_whole_number_up_to_the_maximum(quantity: Any) -> None:
    with pytest.raises(
        InvalidInput, match=r"quantity must be a whole number from 1 to 1,000,000, got"
    ):
        LineSpec("fdm", "pla", quantity=quantity)


def test_the_largest_quantity_is_priced() -> None:
    b = priced(part(), "fdm", "pla", MAX_QUANTITY)
    assert b.unit_price == eur("6.56")  # 20 % off 8.20
    assert b.total == eur("6560000.00")


def test_line_finishes_become_a_tuple_so_the_spec_stays_hashable() -> None:
    spec = LineSpec("fdm", "pla", finishes=["sanding", "paint"])
    assert spec.finishes == ("sanding", "paint")
    assert hash(spec) == hash(LineSpec("fdm", "pla", finishes=("sanding", "paint")))
    with pytest.raises(InvalidInput, match="finishes must be a list of finish ids"):
        LineSpec("fdm", "pla", finishes="sanding")


@pytest.mark.parametrize(
    ("analysis", "message"),
    [
        (part(volume=1e300), r"part.stl: the model's volume of 1.000E\+300 cm3 is more than "
         r"pricing takes \(up to 1,000,000,000,000,000 cm3\)"),
        (part(area=1e16), "the model's surface area of 1.000E[+]16 cm2"),
        (part(overhang=1e16), "the model's overhang area of 1.000E[+]16 cm2"),
        (part(bbox=(20.0, 2e6, 20.0)), r"the model's size of 2.000E\+6 mm .* 1,000,000 mm"),
    ],
)
def test_model_figures_beyond_the_bounds_are_refused(
    analysis: ModelAnalysis, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        price_line(CATALOG, analysis, LineSpec("fdm", "pla"))


def test_largest_model_that_does_not_fit_goes_to_review() -> None:
    huge = part(volume=1e15, bbox=(1e6, 1e6, 1e6), area=6e10)
    assert all(not quote.priced for quote in options_for(CATALOG, huge))


def test_machine_time_beyond_the_bound_is_refused() -> None:
    # 10^15 cm3 (the largest volume taken) at 10 cm3/h is 10^14 hours.
    with pytest.raises(InvalidInput, match=r"machine time per part of 1 x fdm pla would be "
                       r"1.000E\+14 h, more than pricing takes \(up to 1,000,000,000 h\)"):
        price_line(CATALOG, part(volume=1e15), LineSpec("fdm", "pla"))


def test_amounts_beyond_the_bound_are_refused() -> None:
    # 10^15 cm3 of ABS at 0.005 EUR/cm3 is 5 x 10^12 EUR a part, 5 x 10^15 for 1000.
    analysis = part(volume=1e15)
    assert price_line(CATALOG, analysis, LineSpec("im", "abs", quantity=100)).priced
    with pytest.raises(InvalidInput, match=r"the total of 1000 x im abs would be 5.000E\+15 "
                       r"EUR, more than pricing takes \(up to 1,000,000,000,000,000\)"):
        price_line(CATALOG, analysis, LineSpec("im", "abs", quantity=1000))


# --- review instead of a price -----------------------------------------------


def test_part_too_big_for_the_machine_goes_to_review() -> None:
    quote = price_line(CATALOG, part(bbox=(250.0, 160.0, 50.0)), LineSpec("fdm", "pla"))
    assert quote.breakdown is None
    assert quote.review_reasons == (
        "the part measures 250.0 x 160.0 x 50.0 mm and does not fit the 200 x 150 x 100 mm "
        "build volume of fdm in any orientation",
    )
    assert quote.lead_time_days == 2


def test_cnc_fit_counts_the_stock_margin() -> None:
    quote = price_line(CATALOG, part(bbox=(395.0, 100.0, 100.0)), LineSpec("cnc", "alu"))
    assert quote.review_reasons == (
        "with 5 mm stock margin the blank measures 405.0 x 110.0 x 110.0 mm and does not "
        "fit the 400 x 300 x 200 mm build volume of cnc in any orientation",
    )


def test_unreliable_mesh_goes_to_review_naming_the_warning() -> None:
    holes = DfmWarning(WarningCode.NOT_WATERTIGHT, "the mesh has 3 holes")
    quote = price_line(CATALOG, part(warnings=(holes,)), LineSpec("fdm", "pla"))
    assert quote.breakdown is None
    assert quote.review_reasons == ("the mesh has 3 holes",)


def test_all_reasons_are_given_at_once() -> None:
    holes = DfmWarning(WarningCode.NOT_WATERTIGHT, "the mesh has 3 holes")
    analysis = part(bbox=(395.0, 100.0, 100.0), bodies=2, warnings=(holes,))
    quote = price_line(CATALOG, analysis, LineSpec("cnc", "alu"))
    assert quote.review_reasons == (
        "the mesh has 3 holes",
        "the model has 2 separate bodies; cnc makes one solid part per model",
        "with 5 mm stock margin the blank measures 405.0 x 110.0 x 110.0 mm and does not "
        "fit the 400 x 300 x 200 mm build volume of cnc in any orientation",
    )


def test_unmeasurable_size_goes_to_review() -> None:
    quote = price_line(CATALOG, part(bbox=(20.0, float("nan"), 20.0)), LineSpec("fdm", "pla"))
    assert quote.review_reasons == ("the model's size could not be measured",)


def test_zero_volume_goes_to_review() -> None:
    quote = price_line(CATALOG, part(volume=0.0), LineSpec("fdm", "pla"))
    assert quote.review_reasons == ("the model has no measurable volume",)


def test_several_bodies_review_for_machining_but_print_together() -> None:
    cnc = price_line(CATALOG, part(bodies=2), LineSpec("cnc", "alu"))
    assert cnc.review_reasons == (
        "the model has 2 separate bodies; cnc makes one solid part per model",
    )
    fdm = price_line(CATALOG, part(bodies=2), LineSpec("fdm", "pla"))
    assert fdm.breakdown is not None
    assert fdm.breakdown.unit_price == eur("8.20")
    assert "2 bodies priced together as one part" in fdm.breakdown.notes


# --- other processes -----------------------------------------------------------


def test_sls_shares_the_chamber_and_uses_its_own_empty_tiers() -> None:
    # bounding box 8000 mm3 of 100 x 100 x 200 x 0.5 = 1e6 mm3: share 0.008.
    # Layers: 200 mm / 20 mm/h = 10 h; overhead 10 h; (10 + 10) x 0.008 = 0.16 h.
    b = priced(part(volume=4.0), "sls", "pa12", 10)
    assert b.machine_hours_per_part == Decimal("0.1600")
    assert b.machine_per_part == eur("4.80")
    assert b.material_per_part == eur("2.00")
    assert b.discount_percent == 0
    assert b.total == eur("68.00")


def test_sls_share_is_capped_at_a_whole_build() -> None:
    # A 100 x 100 x 200 box would be two builds at 50 % packing: one build, 20 h.
    b = priced(part(volume=100.0, bbox=(100.0, 100.0, 200.0), area=1000.0), "sls", "pa12")
    assert b.machine_hours_per_part == Decimal("20.0000")


def test_cnc_prices_stock_and_removed_volume_plus_programming() -> None:
    # Stock 30 x 30 x 20 mm = 18 cm3 at 0.02 = 0.36; removed 15 cm3 / 20 = 0.75 h
    # + 0.5 h = 1.25 h x 60 = 75.00.
    analysis = part(volume=3.0, bbox=(20.0, 20.0, 10.0))
    one = priced(analysis, "cnc", "alu")
    assert one.material_per_part == eur("0.36")
    assert one.machine_per_part == eur("75.00")
    assert one.fees == (Fee("programming fee", eur("50.00")),)
    assert one.unit_price == eur("125.36")
    three = priced(analysis, "cnc", "alu", 3)
    assert three.unit_price == eur("92.03")  # 75.36 + 50 / 3 = 92.0267
    assert three.total == eur("276.09")
    ten = priced(analysis, "cnc", "alu", 10)
    assert ten.discount == eur("7.54")  # 10 % of 75.36, not of the fee
    assert ten.unit_price == eur("72.82")  # 67.82 + 5.00
    assert ten.total == eur("728.20")


def test_injection_molding_tooling_and_cycle_cost() -> None:
    # 8 cm3 x 0.005 EUR/cm3 = 0.04; 20 s / 2 cavities = 10 s = 0.10 at 36 EUR/h.
    analysis = part(volume=8.0)
    b = priced(analysis, "im", "abs", 1000)
    assert b.material_per_part == eur("0.04")
    assert b.machine_hours_per_part == Decimal("0.0028")
    assert b.machine_per_part == eur("0.10")
    assert b.fees == (Fee("mold tooling", eur("3000.00")),)
    assert b.unit_price == eur("3.14")
    assert b.total == eur("3140.00")


def test_sheet_metal_flat_area_approximation() -> None:
    # 100 cm2 surface: blank 50 cm2, 2 mm thick; 50 / 1000 h x 60 = 3.00;
    # 10 cm3 x 0.016 = 0.16.
    b = priced(part(volume=10.0, bbox=(100.0, 50.0, 2.0), area=100.0), "sheet", "steel")
    assert b.machine_per_part == eur("3.00")
    assert b.material_per_part == eur("0.16")
    assert b.unit_price == eur("3.16")
    assert any("flat-area approximation" in note for note in b.notes)


def test_sheet_metal_too_thick_goes_to_review() -> None:
    quote = price_line(CATALOG, part(volume=8.0, area=24.0), LineSpec("sheet", "steel"))
    assert quote.review_reasons == (
        "its estimated sheet thickness of 6.67 mm (volume / half the surface area) is "
        "outside the 1-4 mm range of sheet",
    )


# --- orders --------------------------------------------------------------------


def line(spec: LineSpec, analysis: ModelAnalysis | None = None) -> LineQuote:
    return price_line(CATALOG, analysis or part(), spec)


def test_order_with_startup_fee_once_per_material_shipping_and_tax() -> None:
    lines = [
        line(LineSpec("fdm", "pla")),  # 8.20
        line(LineSpec("fdm", "pla", quantity=10)),  # 73.80
        line(LineSpec("fdm", "petg")),  # 7.45
    ]
    order = price_order(CATALOG, lines, "std")
    assert order.subtotal == eur("89.45")
    assert [fee.amount for fee in order.order_fees] == [eur("5.00"), eur("5.00")]
    assert order.minimum_order_adjustment == eur("0.00")
    assert order.shipping == eur("10.00")
    assert order.tax_rate == Decimal("0.19")
    assert order.tax == eur("20.80")  # 19 % of 109.45 = 20.7955
    assert order.total == eur("130.25")
    assert order.lead_time_days == 3 + 3  # petg adds a day; parcel takes three
    assert order.review_reasons == ()


def test_minimum_order_value_and_free_pickup() -> None:
    order = price_order(CATALOG, [line(LineSpec("fdm", "pla"))], "pickup")
    assert order.subtotal == eur("8.20")
    assert order.minimum_order_adjustment == eur("36.80")  # 50.00 - (8.20 + 5.00)
    assert order.shipping == eur("0.00")
    assert order.tax == eur("9.50")
    assert order.total == eur("59.50")
    assert order.lead_time_days == 2


def test_no_shipping_chosen_yet() -> None:
    order = price_order(CATALOG, [line(LineSpec("fdm", "pla", quantity=10))], None)
    assert order.shipping == eur("0.00")
    assert order.tax == eur("14.97")  # 19 % of 78.80 = 14.972
    assert order.total == eur("93.77")
    assert order.lead_time_days == 2


def test_unpriced_line_leaves_the_total_open() -> None:
    big = part(bbox=(250.0, 160.0, 50.0), filename="big.stl")
    order = price_order(
        CATALOG, [line(LineSpec("fdm", "pla")), line(LineSpec("fdm", "pla"), big)], "std"
    )
    assert order.total is None
    assert order.subtotal == eur("8.20")
    assert len(order.review_reasons) == 1
    assert order.review_reasons[0].startswith("line 2 (big.stl) needs review: the part measures")
    assert order.needs_review


def test_empty_order_needs_lines() -> None:
    order = price_order(CATALOG, [], None)
    assert order.total is None
    assert order.review_reasons == ("the order has no lines",)
    assert order.minimum_order_adjustment == eur("0.00")


def test_unknown_shipping_method_names_the_choices() -> None:
    with pytest.raises(InvalidInput, match="shipping method 'ups'; choose one of: pickup, std"):
        price_order(CATALOG, [line(LineSpec("fdm", "pla"))], "ups")


# --- options -------------------------------------------------------------------


def test_options_cheapest_first_then_review() -> None:
    cube = part(volume=8.0, area=24.0)
    options = options_for(CATALOG, cube)
    summary = [
        (o.spec.process, o.spec.material, o.breakdown.total if o.breakdown else None)
        for o in options
    ]
    assert summary == [
        ("fdm", "petg", eur("6.20")),  # 0.20 + (0.8 + 0.1 + 0.1 h) x 6
        ("fdm", "pla", eur("6.80")),
        ("sls", "pa12", eur("8.80")),  # 4.00 + 0.16 h x 30
        ("cnc", "alu", eur("137.54")),  # 27 cm3 stock: 0.54 + 1.45 h x 60 + 50 programming
        ("im", "abs", eur("3000.14")),
        ("sheet", "steel", None),
    ]
    assert options[-1].review_reasons
    assert all(o.spec.quantity == 1 for o in options)


# --- properties ----------------------------------------------------------------

PROCESS_MATERIALS = [
    (pid, mid) for pid, process in CATALOG.processes.items() for mid in process.materials
]


@settings(max_examples=200, deadline=None)
@given(
    choice=st.sampled_from(PROCESS_MATERIALS),
    volume=st.decimals(min_value="0.01", max_value="400", places=3),
    dims=st.tuples(*[st.integers(min_value=1, max_value=90)] * 3),
    # Half the draws sit just below the 100-part price break.
    quantity=st.one_of(st.integers(min_value=1, max_value=300), st.integers(80, 99)),
    more=st.integers(min_value=1, max_value=25),
)
@example(choice=("fdm", "pla"), volume=Decimal(10), dims=(20, 20, 20), quantity=95, more=5)
@example(choice=("im", "abs"), volume=Decimal(8), dims=(20, 20, 20), quantity=280, more=1)
def test_totals_are_consistent_and_grow_with_quantity(
    choice: tuple[str, str],
    volume: Decimal,
    dims: tuple[int, int, int],
    quantity: int,
    more: int,
) -> None:
    process, material = choice
    x, y, z = (float(d) for d in dims)
    analysis = part(
        volume=float(volume), bbox=(x, y, z), area=float(volume) * 3 + 1, overhang=x * y / 100
    )
    first = price_line(CATALOG, analysis, LineSpec(process, material, quantity=quantity))
    second = price_line(CATALOG, analysis, LineSpec(process, material, quantity=quantity + more))
    assert first.priced == second.priced
    if first.breakdown is None or second.breakdown is None:
        assert first.review_reasons
        return
    for quote, count in ((first, quantity), (second, quantity + more)):
        assert quote.breakdown is not None
        total = quote.breakdown.total
        assert total.currency == "EUR"
        assert total.amount >= 0
        assert quote.breakdown.unit_price * count == total
    # The unrounded amount never falls; a whole-cent unit price can miss it by
    # less than a cent per part.
    tolerance = Decimal("0.01") * (2 * quantity + more)
    assert second.breakdown.total.amount >= first.breakdown.total.amount - tolerance


@settings(max_examples=100, deadline=None)
@given(
    volume=st.decimals(min_value="0.05", max_value="300", places=2),
    height=st.integers(min_value=1, max_value=100),
    quantity=st.integers(min_value=1, max_value=99),
)
def test_without_fees_fewer_parts_never_cost_more_than_a_price_break(
    volume: Decimal, height: int, quantity: int
) -> None:
    analysis = part(volume=float(volume), bbox=(30.0, 30.0, float(height)))
    quote = price_line(CATALOG, analysis, LineSpec("fdm", "pla", quantity=quantity))
    assert quote.breakdown is not None
    for price_break in (10, 100):
        if quantity < price_break:
            at_break = price_line(CATALOG, analysis, LineSpec("fdm", "pla", quantity=price_break))
            assert at_break.breakdown is not None
            assert quote.breakdown.total <= at_break.breakdown.total
