"""The catalog written back as TOML reads back to the same catalog."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from test_catalog_properties import catalog_data, load

from fabcore import load_sample_catalog
from fabcore.app.catalog_toml import catalog_to_toml
from fabcore.app.catalogs import parse_catalog
from fabcore.domain.catalog import Catalog


def test_the_sample_catalog_round_trips() -> None:
    catalog = load_sample_catalog()
    text = catalog_to_toml(catalog)

    assert parse_catalog(text) == catalog
    assert '[processes.fdm.finishes.painted]\nlabel = "Primed and painted (RAL colour)"' in text
    assert 'materials = ["petg", "pla"]' in text


@settings(max_examples=40, deadline=None)
@given(catalog_data())
def test_any_catalog_the_loader_accepts_round_trips(data: dict[str, Any]) -> None:
    catalog = load(data)
    if isinstance(catalog, Catalog):
        assert parse_catalog(catalog_to_toml(catalog)) == catalog
