"""A shop's catalog as a unit of work sees it after reading an order, on every adapter.

The SQL adapters find it from a stamp read with the order (the text itself,
or on PostgreSQL the transaction that wrote the shop's row), so a catalog
saved by another unit of work must be the one read next.
"""

from __future__ import annotations

import attrs

from fabcore.app.catalogs import load_sample_catalog
from fabcore.domain.catalog import Catalog
from fabcore.ports.repositories import UnitOfWorkFactory
from fabcore.testing import aggregates as a
from fabcore.testing.repositories import seed, store


def _named(catalog: Catalog, name: str) -> Catalog:
    return attrs.evolve(catalog, shop=attrs.evolve(catalog.shop, name=name))


def _catalog_with_the_order(storage: UnitOfWorkFactory) -> str:
    with storage() as uow:
        order = uow.orders.get("ord-1")
        return uow.shops.catalog(order.shop_id).shop.name


def test_a_saved_catalog_is_read_with_the_next_order(storage: UnitOfWorkFactory) -> None:
    seed(storage)
    store(storage, a.order())
    first = _catalog_with_the_order(storage)
    assert first == a.catalog().shop.name
    renamed = _named(load_sample_catalog(), "Renamed")
    with storage() as uow:
        uow.shops.save(uow.shops.get("shop-1"), renamed)
        uow.commit()
    assert _catalog_with_the_order(storage) == "Renamed"


def test_a_catalog_saved_and_rolled_back_is_not_read(storage: UnitOfWorkFactory) -> None:
    seed(storage)
    store(storage, a.order())
    with storage() as uow:
        uow.shops.save(uow.shops.get("shop-1"), _named(a.catalog(), "Gone"))
        assert uow.shops.catalog("shop-1").shop.name == "Gone"
        order = uow.orders.get("ord-1")
        assert uow.shops.catalog(order.shop_id).shop.name == "Gone"
    assert _catalog_with_the_order(storage) == a.catalog().shop.name
