"""Quote options of an uploaded model: what ``options_for`` gives, worked out once per catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import attrs
import pytest

from fabcore.adapters.mesh import MeshFileAnalyser
from fabcore.app.bootstrap import bootstrap
from fabcore.app.facade import Fabcore
from fabcore.app.options_cache import OptionsCache
from fabcore.app.samples import create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.errors import InvalidInput, NotFound
from fabcore.domain.pricing import options_for

CUBE = Path(__file__).parents[1] / "data" / "20mm-xyz-cube.stl"
OWNER = Actor.owner("acme", "olga")
VISITOR = Actor.visitor("acme")


@pytest.fixture(params=["memory", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'shop.db'}"


@pytest.fixture
def core(database: str, tmp_path: Path) -> Iterator[Fabcore]:
    with bootstrap(database, models=tmp_path / "models", secret_key=b"k" * 32) as app:
        create_sample_shop(app)
        yield app


def test_options_are_those_of_the_catalog_for_the_stored_analysis(core: Fabcore) -> None:
    model = core.upload_model(OWNER, CUBE.read_bytes(), "cube.stl")
    expected = options_for(core.catalog(VISITOR),
                           attrs.evolve(model.analysis, filename=""), 10)
    first = core.quote_options(VISITOR, model.ref.sha256, "mm", 10)
    assert list(first) == expected
    assert len(first) > 1
    assert core.quote_options(VISITOR, model.ref.sha256, "mm", 10) is first
    assert list(core.quote_options(VISITOR, model.ref.sha256, "mm", 1)) == options_for(
        core.catalog(VISITOR), attrs.evolve(model.analysis, filename=""), 1)


def test_a_new_catalog_gives_new_options(core: Fabcore) -> None:
    model = core.upload_model(OWNER, CUBE.read_bytes(), "cube.stl")
    before = core.quote_options(VISITOR, model.ref.sha256, "mm", 10)
    catalog = core.catalog(VISITOR)
    dropped = before[0].spec.process
    smaller = attrs.evolve(catalog, processes=MappingProxyType(
        {k: v for k, v in catalog.processes.items() if k != dropped}))
    core.update_catalog(OWNER, smaller)
    after = core.quote_options(VISITOR, model.ref.sha256, "mm", 10)
    assert dropped not in {q.spec.process for q in after}
    assert list(after) == options_for(core.catalog(VISITOR),
                                      attrs.evolve(model.analysis, filename=""), 10)


def test_a_catalog_changed_by_another_process_is_seen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    with bootstrap(url, models=tmp_path / "models", secret_key=b"k" * 32) as one, \
            bootstrap(url, models=tmp_path / "models", secret_key=b"k" * 32) as other:
        create_sample_shop(one)
        model = one.upload_model(OWNER, CUBE.read_bytes(), "cube.stl")
        before = one.quote_options(VISITOR, model.ref.sha256, "mm", 3)
        catalog = other.catalog(VISITOR)
        kept = before[-1].spec.process
        other.update_catalog(OWNER, attrs.evolve(catalog, processes=MappingProxyType(
            {kept: catalog.processes[kept]})))
        after = one.quote_options(VISITOR, model.ref.sha256, "mm", 3)
        assert {q.spec.process for q in after} == {kept}


def test_unknown_models_units_and_quantities_are_refused(core: Fabcore) -> None:
    model = core.upload_model(OWNER, CUBE.read_bytes(), "cube.stl")
    with pytest.raises(NotFound, match="upload it first"):
        core.quote_options(VISITOR, "0" * 64, "mm", 1)
    with pytest.raises(NotFound, match="analysed in inch"):
        core.quote_options(VISITOR, model.ref.sha256, "inch", 1)
    with pytest.raises(InvalidInput, match="units"):
        core.quote_options(VISITOR, model.ref.sha256, "furlong", 1)
    with pytest.raises(InvalidInput):
        core.quote_options(VISITOR, model.ref.sha256, "mm", 0)
    with pytest.raises(NotFound):
        core.quote_options(Actor.visitor("nowhere"), model.ref.sha256, "mm", 1)


def test_the_cache_keeps_the_latest_entries_per_catalog() -> None:
    core = bootstrap("memory://", secret_key=b"k" * 32)
    create_sample_shop(core)
    catalog = core.catalog(VISITOR)
    analysis = MeshFileAnalyser().analyse(CUBE.read_bytes(), "cube.stl")
    cache = OptionsCache(size=2)
    for quantity in (1, 2, 3):
        cache.put(catalog, ("sha", "mm", quantity), options_for(catalog, analysis, quantity))
    assert len(cache) == 2
    assert cache.get(catalog, ("sha", "mm", 1)) is None
    assert cache.get(catalog, ("sha", "mm", 3)) == tuple(options_for(catalog, analysis, 3))
    other = attrs.evolve(catalog)
    assert cache.get(other, ("sha", "mm", 3)) is None
