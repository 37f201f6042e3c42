"""Catalog validation: every error names the dotted key of the bad entry.

This is the one unit module that reads a file: the sample catalog shipped
in the package.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from fabcore.adapters.serialization import dumps, structure
from fabcore.app.catalogs import (
    catalog_from_mapping,
    load_catalog,
    load_sample_catalog,
    parse_catalog,
)
from fabcore.domain.catalog import (
    Catalog,
    DiscountTier,
    Finish,
    Material,
    ProcessKind,
    ShippingMethod,
    fixed_amount,
)
from fabcore.domain.errors import CatalogError, InvalidInput
from fabcore.domain.money import Money

DELETE = object()


def minimal() -> dict[str, Any]:
    return {
        "shop": {"name": "Test Fab", "currency": "EUR", "tax_rate": 0.19},
        "quantity_discounts": [{"min_quantity": 10, "percent": 5}],
        "processes": {
            "fdm": {
                "kind": "fdm",
                "hourly_rate": 4,
                "build_rate_cm3_per_h": 10,
                "build_volume_mm": [200, 200, 200],
                "lead_time_days": 2,
                "materials": {"pla": {"price_per_cm3": 0.12}},
                "finishes": {"sanding": {"price_per_cm2": 0.02, "materials": ["pla"]}},
            },
            "cnc": {
                "kind": "cnc_milling",
                "hourly_rate": 70,
                "removal_rate_cm3_per_h": 30,
                "build_volume_mm": [500, 400, 300],
                "lead_time_days": 5,
                "materials": {"alu": {"stock_price_per_cm3": 0.03}},
            },
        },
        "shipping": [
            {"id": "pickup", "pickup": True},
            {"id": "std", "price": 5.9, "days": 2},
        ],
    }


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def mutated(path: str, value: object) -> dict[str, Any]:
    """A copy of :func:`minimal` with ``path`` set to ``value``, deleted or appended."""
    data = minimal()
    steps: list[str | int] = [name if name else int(index) for name, index in _STEP.findall(path)]
    node: Any = data
    for step in steps[:-1]:
        node = node[step]
    last = steps[-1]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list) and last == len(node):
        node.append(copy.deepcopy(value))
    else:
        node[last] = copy.deepcopy(value)
    return data


def test_minimal_catalog_is_valid() -> None:
    catalog = catalog_from_mapping(minimal())
    assert catalog.currency == "EUR"
    assert catalog.shop.tax_rate == Decimal("0.19")
    assert catalog.shop.minimum_order_value == Money.zero("EUR")
    fdm = catalog.process("fdm")
    assert fdm.kind is ProcessKind.FDM
    assert fdm.label == "fdm"
    assert fdm.material("pla").price_per_cm3 == Decimal("0.12")
    assert fdm.material("pla").colors == ("natural",)
    assert fdm.finish("sanding").materials == frozenset({"pla"})
    assert catalog.process("cnc").material("alu").cost_per_cm3 == Decimal("0.03")
    assert catalog.shipping_method("pickup").price == Money.zero("EUR")
    assert catalog.shipping_method("std").price == Money("5.90", "EUR")
    assert catalog.discounts_for(fdm) == (DiscountTier(10, Decimal(5)),)


def test_floats_become_their_decimal_literal() -> None:
    data = mutated("processes.fdm.materials.pla.price_per_cm3", 0.1)
    material = catalog_from_mapping(data).process("fdm").material("pla")
    assert material.price_per_cm3 == Decimal("0.1")


def test_numbers_may_be_strings_or_decimals() -> None:
    data = mutated("processes.fdm.materials.pla.price_per_cm3", "0.125")
    data["processes"]["fdm"]["hourly_rate"] = Decimal("4.5")
    fdm = catalog_from_mapping(data).process("fdm")
    assert fdm.material("pla").price_per_cm3 == Decimal("0.125")
    assert fdm.hourly_rate == Decimal("4.5")


def test_price_per_kg_uses_the_density() -> None:
    data = mutated("processes.fdm.materials.pla", {"price_per_kg": 25, "density_g_cm3": 1.24})
    material = catalog_from_mapping(data).process("fdm").material("pla")
    assert material.cost_per_cm3 == Decimal("0.031")


def test_process_tiers_replace_the_shop_tiers_even_when_empty() -> None:
    data = mutated("processes.cnc.quantity_discounts", [])
    catalog = catalog_from_mapping(data)
    assert catalog.discounts_for(catalog.process("cnc")) == ()
    assert len(catalog.discounts_for(catalog.process("fdm"))) == 1


def test_tiers_are_sorted_by_quantity() -> None:
    data = mutated(
        "quantity_discounts",
        [{"min_quantity": 50, "percent": 10}, {"min_quantity": 10, "percent": 5}],
    )
    tiers = catalog_from_mapping(data).quantity_discounts
    assert [t.min_quantity for t in tiers] == [10, 50]


SHEET = {
    "kind": "sheet_metal",
    "hourly_rate": 60,
    "processing_rate_cm2_per_h": 2000,
    "min_thickness_mm": 3,
    "max_thickness_mm": 1,
    "build_volume_mm": [1000, 500, 200],
    "lead_time_days": 4,
    "materials": {"steel": {"price_per_cm3": 0.02}},
}

MATERIAL_KEYS = (
    "colors, density_g_cm3, label, lead_time_days, price_per_cm3, price_per_kg, volume_exponent"
)


@pytest.mark.parametrize(
    ("path", "value", "key", "reason"),
    [
        ("shop.currency", DELETE, "shop.currency", "is required"),
        ("shop", DELETE, "shop", "is required"),
        ("processes", "fdm", "processes", "must be a table, got 'fdm'"),
        (
            "processes.fdm.materials.pla.price_per_cm3",
            "abc",
            "processes.fdm.materials.pla.price_per_cm3",
            "must be a number, got 'abc'",
        ),
        (
            "processes.fdm.materials.pla.price_per_cm3",
            -0.1,
            "processes.fdm.materials.pla.price_per_cm3",
            "must be a number from 0 to 1,000,000,000,000, got -0.1",
        ),
        (
            "processes.fdm.hourly_rate",
            True,
            "processes.fdm.hourly_rate",
            "must be a number, got True",
        ),
        (
            "processes.fdm.hourly_rate",
            float("nan"),
            "processes.fdm.hourly_rate",
            "must be a number, got nan",
        ),
        (
            "processes.fdm.materials.pla.colour",
            ["red"],
            "processes.fdm.materials.pla.colour",
            f"unknown key; allowed here: {MATERIAL_KEYS}",
        ),
        (
            "shiping",
            [],
            "shiping",
            "unknown key; allowed here: processes, quantity_discounts, shipping, shop",
        ),
        (
            "processes.fdm.growth_rate_mm_per_h",
            10,
            "processes.fdm.growth_rate_mm_per_h",
            "unknown key; allowed here: ",
        ),
        (
            "processes.cnc.materials.alu",
            {"price_per_cm3": 0.03},
            "processes.cnc.materials.alu.price_per_cm3",
            "unknown key; allowed here: colors, density_g_cm3, label, lead_time_days, "
            "price_per_kg, stock_price_per_cm3, volume_exponent",
        ),
        (
            "processes.fdm.kind",
            "fff",
            "processes.fdm.kind",
            "must be one of fdm, sla, sls, mjf, cnc_milling, cnc_turning, sheet_metal, "
            "injection_molding; got 'fff'",
        ),
        ("processes.fdm.kind", DELETE, "processes.fdm.kind", "is required"),
        (
            "shop.currency",
            "euro",
            "shop.currency",
            "must be a three-letter ISO 4217 code such as EUR, got 'euro'",
        ),
        (
            "shop.currency",
            978,
            "shop.currency",
            "must be a three-letter ISO 4217 code such as EUR, got 978",
        ),
        (
            "shop.tax_rate",
            19,
            "shop.tax_rate",
            "must be a number from 0 to below 1 (a fraction: 0.19 for 19 %), got 19",
        ),
        (
            "shop.minimum_order_value",
            10.005,
            "shop.minimum_order_value",
            "has more decimals than EUR allows (2), got 10.005",
        ),
        (
            "shop.review",
            {"mode": "semi_manual", "max_quantity": 500},
            "shop.review",
            "review settings are shop settings now: set the review mode and thresholds "
            "with the shop's settings, not in the catalog",
        ),
        (
            "shipping[1].id",
            "pickup",
            "shipping[1].id",
            "duplicate shipping method 'pickup'",
        ),
        ("shipping[1].price", DELETE, "shipping[1].price", "is required"),
        ("shipping[0].price", 5, "shipping[0].price", "pickup is free"),
        (
            "shipping[1].days",
            -1,
            "shipping[1].days",
            "must be a whole number from 0 to 1,000, got -1",
        ),
        (
            "quantity_discounts[1]",
            {"min_quantity": 10, "percent": 8},
            "quantity_discounts[1].min_quantity",
            "duplicate tier for 10 parts",
        ),
        (
            "quantity_discounts[0].percent",
            100,
            "quantity_discounts[0].percent",
            "must be a number from 0 to below 100, got 100",
        ),
        (
            "processes.fdm.materials.pla.colors",
            ["red", "red"],
            "processes.fdm.materials.pla.colors[1]",
            "duplicate entry 'red'",
        ),
        (
            "processes.fdm.materials.pla.colors",
            [],
            "processes.fdm.materials.pla.colors",
            "must list at least one entry",
        ),
        ("processes.fdm.materials", {}, "processes.fdm.materials", "must list at least one"),
        ("processes", {}, "processes", "must list at least one entry"),
        (
            "processes.fdm.materials.pla",
            {"price_per_kg": 20},
            "processes.fdm.materials.pla.density_g_cm3",
            "is required with price_per_kg",
        ),
        (
            "processes.fdm.materials.pla",
            {"label": "PLA"},
            "processes.fdm.materials.pla.price_per_cm3",
            "is required (or price_per_kg with density_g_cm3)",
        ),
        (
            "processes.fdm.materials.pla",
            {"price_per_cm3": 0.1, "price_per_kg": 20, "density_g_cm3": 1.2},
            "processes.fdm.materials.pla.price_per_kg",
            "give either price_per_cm3 or price_per_kg, not both",
        ),
        (
            "processes.fdm.finishes.sanding.materials",
            ["abs"],
            "processes.fdm.finishes.sanding.materials",
            "unknown material 'abs'; choose from: pla",
        ),
        (
            "processes.fdm.build_volume_mm",
            [200, 200],
            "processes.fdm.build_volume_mm",
            "must list three sizes [x, y, z] in mm, got 2",
        ),
        (
            "processes.fdm.build_volume_mm",
            [200, 0, 200],
            "processes.fdm.build_volume_mm[1]",
            "must be a number from 0.001 to 100,000, got 0",
        ),
        ("processes.fdm.build_volume_mm", DELETE, "processes.fdm.build_volume_mm", "required"),
        (
            "processes.fdm.lead_time_days",
            1.5,
            "processes.fdm.lead_time_days",
            "must be a whole number, got 1.5",
        ),
        (
            "processes.fdm.packing_density",
            1.5,
            "processes.fdm.packing_density",
            "must be a number from 0.001 to 1, got 1.5",
        ),
        (
            "processes.fdm.layer_height_mm",
            0.2,
            "processes.fdm.layer_time_s",
            "is required with layer_height_mm / layer_time_s",
        ),
        (
            "processes.fdm.build_rate_cm3_per_h",
            DELETE,
            "processes.fdm.build_rate_cm3_per_h",
            "is required for fdm",
        ),
        (
            "processes.cnc.removal_rate_cm3_per_h",
            DELETE,
            "processes.cnc.removal_rate_cm3_per_h",
            "is required for cnc_milling",
        ),
        (
            "processes.sheet",
            SHEET,
            "processes.sheet.max_thickness_mm",
            "must be larger than min_thickness_mm",
        ),
        (
            "processes.sla",
            {
                "kind": "sla",
                "hourly_rate": 10,
                "growth_rate_mm_per_h": 10,
                "layer_height_mm": 0.05,
                "layer_time_s": 8,
                "build_volume_mm": [145, 145, 185],
                "lead_time_days": 3,
                "materials": {"resin": {"price_per_cm3": 0.3}},
            },
            "processes.sla.growth_rate_mm_per_h",
            "give either growth_rate_mm_per_h or layer_height_mm + layer_time_s, not both",
        ),
        (
            "processes.im",
            {
                "kind": "injection_molding",
                "hourly_rate": 40,
                "cycle_time_s": 30,
                "build_volume_mm": [300, 200, 100],
                "lead_time_days": 30,
                "materials": {"abs": {"price_per_cm3": 0.01}},
            },
            "processes.im.tooling_cost",
            "is required",
        ),
        ("processes.fdm", "fdm", "processes.fdm", "must be a table, got 'fdm'"),
        ("shipping", {"std": {}}, "shipping", "must be a list, got a table"),
        ("shipping[1].days", DELETE, "shipping[1].days", "is required"),
        (
            "processes.fdm.label",
            None,
            "processes.fdm.label",
            "must be a non-empty string, got None",
        ),
        (
            "processes.fdm.finishes.sanding.materials",
            ["pla", "pla"],
            "processes.fdm.finishes.sanding.materials[1]",
            "duplicate entry 'pla'",
        ),
        (
            "processes.fdm.materials.pla.colors",
            "red",
            "processes.fdm.materials.pla.colors",
            "must be a list, got 'red'",
        ),
        (
            "processes.cnc.materials.alú",
            {"stock_price_per_cm3": 0.05, "price_per_kg": 9, "density_g_cm3": 2.7},
            "processes.cnc.materials.alú.price_per_kg",
            "give either stock_price_per_cm3 or price_per_kg, not both",
        ),
    ],
)
def test_validation_errors_name_the_key(path: str, value: object, key: str, reason: str) -> None:
    with pytest.raises(CatalogError) as info:
        catalog_from_mapping(mutated(path, value))
    assert info.value.key == key
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{key}: ")


NUMBER = "must be a number from"
WHOLE = "must be a whole number from"


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("shop.minimum_order_value", 1e30, f"{NUMBER} 0 to 1,000,000,000,000, got 1E+30"),
        ("shipping[1].price", "1e13", f"{NUMBER} 0 to 1,000,000,000,000, got 1E+13"),
        ("processes.fdm.hourly_rate", 1e300, f"{NUMBER} 0 to 1,000,000,000,000, got 1E+300"),
        (
            "processes.fdm.materials.pla.price_per_cm3",
            "1E+100000",
            f"{NUMBER} 0 to 1,000,000,000,000, got 1E+100000",
        ),
        ("processes.fdm.layer_height_mm", 1e-300, f"{NUMBER} 0.001 to 100,000, got 1E-300"),
        (
            "processes.fdm.build_rate_cm3_per_h",
            1e-300,
            f"{NUMBER} 0.001 to 1,000,000,000, got 1E-300",
        ),
        (
            "processes.fdm.materials.pla.volume_exponent",
            1e10,
            f"{NUMBER} 0.1 to 2, got 10000000000.0",
        ),
        ("processes.fdm.overhead_h_per_part", 10_001, f"{NUMBER} 0 to 10,000, got 10001"),
        ("processes.fdm.lead_time_days", 10**30, f"{WHOLE} 0 to 1,000, got {10**30}"),
        (
            "quantity_discounts[0].min_quantity",
            1_000_001,
            f"{WHOLE} 1 to 1,000,000, got 1000001",
        ),
        ("processes.fdm.finishes.sanding.percent", 1001, f"{NUMBER} 0 to 1,000, got 1001"),
    ],
)
def test_numbers_are_bounded_to_what_pricing_can_compute(
    path: str, value: object, reason: str
) -> None:
    with pytest.raises(CatalogError) as info:
        catalog_from_mapping(mutated(path, value))
    assert info.value.key == path
    assert info.value.reason == reason


def test_a_value_with_more_digits_than_any_number_is_refused() -> None:
    # Decimal cannot even represent this exponent.
    data = mutated("processes.fdm.hourly_rate", "1e999999999999999999999")
    with pytest.raises(CatalogError, match=r"processes.fdm.hourly_rate: must be a number, got"):
        catalog_from_mapping(data)


CATALOG = catalog_from_mapping(minimal())
FDM = CATALOG.process("fdm")
CNC = CATALOG.process("cnc")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: attrs.evolve(FDM, hourly_rate=Decimal("-1")),
            "hourly_rate: must be a number from 0 to 1,000,000,000,000, got -1",
        ),
        (
            lambda: attrs.evolve(FDM, build_volume_mm=(Decimal(1), Decimal(0), Decimal(1))),
            "build_volume_mm[1]: must be a number from 0.001 to 100,000, got 0",
        ),
        (
            lambda: attrs.evolve(FDM, build_rate_cm3_per_h=None),
            "build_rate_cm3_per_h: is required for fdm",
        ),
        (
            lambda: attrs.evolve(
                CNC, materials={"alu": Material(id="alu", label="Alu", price_per_cm3=Decimal(1))}
            ),
            "materials.alu.price_per_cm3: cnc_milling prices a material by stock_price_per_cm3 "
            "or price_per_kg",
        ),
        (
            lambda: attrs.evolve(CNC, materials={"alu": Material(id="alu", label="Alu")}),
            "materials.alu.stock_price_per_cm3: is required (or price_per_kg with density_g_cm3)",
        ),
        (
            lambda: Material(id="pla", label="PLA", price_per_kg=Decimal(20)),
            "density_g_cm3: is required with price_per_kg",
        ),
        (
            lambda: Finish(id="paint", label="Paint", materials=[]),
            "materials: must list at least one entry",
        ),
        (
            lambda: DiscountTier(0, Decimal(5)),
            "min_quantity: must be a whole number from 1 to 1,000,000, got 0",
        ),
        (
            lambda: ShippingMethod("pickup", "Pickup", Money("1.00", "EUR"), 0, pickup=True),
            "price: pickup is free; leave the price out or 0",
        ),
        (
            lambda: attrs.evolve(CATALOG.shop, currency="euro"),
            "currency: must be a three-letter ISO 4217 code such as EUR, got 'euro'",
        ),
        (
            lambda: attrs.evolve(CATALOG.shop, minimum_order_value=Money("1.00", "USD")),
            "minimum_order_value: must be in EUR",
        ),
        (lambda: attrs.evolve(CATALOG, processes={}), "processes: must list at least one entry"),
        (
            lambda: fixed_amount(Decimal("100.5"), "JPY"),
            "has more decimals than JPY allows (0), got 100.5",
        ),
    ],
)
def test_the_catalog_classes_keep_their_invariants_however_built(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(CatalogError) as info:
        build()
    assert str(info.value) == message


def test_unknown_process_key_lists_the_keys_of_that_kind() -> None:
    with pytest.raises(CatalogError) as info:
        catalog_from_mapping(mutated("processes.cnc.layer_height_mm", 0.2))
    assert "programming_fee" in info.value.reason
    assert "removal_rate_cm3_per_h" in info.value.reason
    assert "layer_time_s" not in info.value.reason


def test_a_catalog_must_be_a_table() -> None:
    with pytest.raises(CatalogError, match="must be a table, got a list"):
        catalog_from_mapping([])


def test_lookups_name_the_valid_choices() -> None:
    catalog = catalog_from_mapping(minimal())
    with pytest.raises(InvalidInput, match=r"unknown process 'sls'; choose one of: cnc, fdm"):
        catalog.process("sls")
    with pytest.raises(InvalidInput, match=r"no material 'abs'; choose one of: pla"):
        catalog.process("fdm").material("abs")
    with pytest.raises(InvalidInput, match=r"no finish 'paint'; choose one of: sanding"):
        catalog.process("fdm").finish("paint")
    with pytest.raises(InvalidInput, match=r"choose one of: pickup, std"):
        catalog.shipping_method("express")


def test_toml_syntax_errors_say_where() -> None:
    text = '[shop]\nname = "Test"\ncurrency = EUR\n'
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, "shop.toml")
    assert "shop.toml is not valid TOML" in str(info.value)
    assert "line 3" in str(info.value)


def test_toml_validation_errors_name_the_key() -> None:
    text = """
[shop]
name = "Test"
currency = "EUR"
tax_rate = 0.19

[processes.fdm]
kind = "fdm"
hourly_rate = 4
build_rate_cm3_per_h = 10
build_volume_mm = [200, 200, 200]
lead_time_days = 2

[processes.fdm.materials.pla]
price_per_cm3 = "abc"
"""
    with pytest.raises(CatalogError) as info:
        parse_catalog(text)
    assert str(info.value) == (
        "processes.fdm.materials.pla.price_per_cm3: must be a number, got 'abc'"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = " + "[" * 100_000 + "]" * 100_000, "<string> nests arrays or tables too deeply"),
        ("x = {" + "a = {" * 5_000 + "}" * 5_001, "<string> nests arrays or tables too deeply"),
        ("x = " + "9" * 5_000, "<string> is not valid TOML: Exceeds the limit"),
    ],
)
def test_toml_the_parser_cannot_read_is_a_catalog_error(text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(text)


def test_missing_file_is_a_catalog_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(CatalogError, match=r"catalog file not found: .*nope\.toml"):
        load_catalog(missing)


def test_sample_catalog_loads() -> None:
    catalog = load_sample_catalog()
    assert catalog.currency == "EUR"
    assert catalog.shop.tax_rate == Decimal("0.19")
    assert catalog.shop.minimum_order_value == Money("25.00", "EUR")
    kinds = {process.kind for process in catalog.processes.values()}
    assert {
        ProcessKind.FDM,
        ProcessKind.SLA,
        ProcessKind.SLS,
        ProcessKind.CNC_MILLING,
        ProcessKind.INJECTION_MOLDING,
    } <= kinds
    fdm = catalog.process("fdm")
    assert fdm.material("pla").cost_per_cm3 == Decimal("0.12")
    assert fdm.material("pla").default_color == "white"
    assert fdm.material("petg").cost_per_cm3 == Decimal("0.1143")
    assert catalog.process("injection_molding").tooling_cost == Money("4500.00", "EUR")
    assert catalog.discounts_for(catalog.process("injection_molding")) == ()
    assert [t.percent for t in catalog.discounts_for(fdm)] == [5, 8, 12, 15, 20]
    pickup = catalog.shipping_method("pickup")
    assert pickup.pickup
    assert pickup.price == Money.zero("EUR")
    assert not catalog.shipping_method("standard").pickup


def test_stored_catalogs_with_the_old_review_table_still_load() -> None:
    # Catalogs stored before the review policy became a shop setting carry it
    # in their shop terms; storage ignores it.
    catalog = catalog_from_mapping(minimal())
    document = json.loads(dumps(catalog))
    document["shop"]["review"] = {
        "mode": "semi_manual",
        "max_order_total": {"amount": "2500.00", "currency": "EUR"},
        "max_quantity": 500,
        "dfm_warnings_require_review": True,
    }
    assert structure(document, Catalog) == catalog
