"""The whole app over each storage adapter: a pytest plugin (listed in ``tests/conftest.py``).

The ``storage`` fixture is an empty database per test, parametrised over
memory, SQLite (a file in ``tmp_path``) and PostgreSQL (see
``postgres_server``). :func:`make_app` wires the real use cases to it with
in-memory mail, payments and model files and an analyser that measures
every file as the same clean part, so tests spend their time in storage.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fabcore.adapters.clock import ManualClock
from fabcore.adapters.memory import (
    MemoryDatabase,
    RecordingMailer,
)
from fabcore.app.bootstrap import bootstrap
from fabcore.app.drafting import UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.app.samples import create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import ModelAnalysis, Units
from fabcore.domain.customer import Address, Customer
from fabcore.domain.errors import FabcoreError
from fabcore.domain.order import Order
from fabcore.domain.quote import LineSpec
from fabcore.domain.shop import Shop
from fabcore.ports.repositories import UnitOfWorkFactory

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ADDRESS = Address("Ada Lovelace", "1 Analytical Way", "10115", "Berlin", "DE")
ADAPTERS = ("memory", "sqlite", "postgres")


class FixedAnalyser:
    """Measures every file as the same watertight 60 x 40 x 30 mm bracket."""

    def analyse(self, data: bytes, filename: str, units: Units | str = Units.MM) -> ModelAnalysis:
        return ModelAnalysis(
            filename=filename, format="stl", volume_cm3=16.56, area_cm2=86.4,
            bbox_mm=(60.0, 40.0, 30.0), triangles=32, bodies=1, watertight=True,
            winding_consistent=True, convex_hull_volume_cm3=44.0, overhang_area_cm2=13.2,
        )


def make_app(database: UnitOfWorkFactory) -> Fabcore:
    """The real use cases over ``database``."""
    return bootstrap(database, analyser=FixedAnalyser(), mail=RecordingMailer(),
                     clock=ManualClock(START), secret_key=b"k" * 32)


def open_database(kind: str, tmp_path: Path, postgres_url: str | None) -> UnitOfWorkFactory:
    if kind == "memory":
        return MemoryDatabase()
    if kind == "sqlite":
        from fabcore.adapters.sqlite import SqliteDatabase

        return SqliteDatabase(tmp_path / "fabcore.db")
    from fabcore.adapters.postgres import PostgresDatabase

    assert postgres_url is not None
    return PostgresDatabase(postgres_url)


@pytest.fixture(params=ADAPTERS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWorkFactory]:
    """An empty database of each adapter in turn."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    database = open_database(request.param, tmp_path, url)
    yield database
    close = getattr(database, "close", None)
    if close is not None:
        close()


class Shopfront:
    """A shop with one customer and one uploaded model, ready to take orders."""

    def __init__(self, app: Fabcore) -> None:
        self.app = app
        self.shop: Shop = create_sample_shop(app)
        self.staff = Actor.staff(self.shop.id, "sam")
        self.customer: Customer = app.register_customer(
            Actor.visitor(self.shop.id), name="Ada Lovelace", email="ada@example.com",
            billing_address=ADDRESS,
        )
        self.buyer = Actor.customer(self.shop.id, self.customer.id)
        self.model: UploadedModel = app.upload_model(self.buyer, b"bracket", "bracket.stl")

    def draft(self) -> Order:
        """A draft with one priced line and shipping: ready to place."""
        order = self.app.create_order(self.buyer)
        self.app.add_line(self.buyer, order.id, self.model, LineSpec("fdm", "pla", quantity=2))
        self.app.set_shipping(self.buyer, order.id, "standard", ADDRESS)
        return self.app.get_order(self.staff, order.id)

    def placed(self) -> Order:
        return self.app.place(self.buyer, self.draft().id)


def status_worker(
    url: str, orders: multiprocessing.Queue[Any], results: multiprocessing.Queue[Any],
    start: Any, target: str,
) -> None:
    """One process of the multi-process race: its own app on ``url``, one try per order."""
    from fabcore.adapters.postgres import PostgresDatabase

    database = PostgresDatabase(url, max_connections=2)
    app = make_app(database)
    try:
        while True:
            try:
                order_id, shop_id = orders.get(timeout=120)
            except queue.Empty:
                return
            if order_id is None:
                return
            start.wait(timeout=120)
            try:
                app.change_status(Actor.staff(shop_id, "sam"), order_id, target)
            except FabcoreError as exc:
                results.put(type(exc).__name__)
            else:
                results.put("won")
    finally:
        database.close()
