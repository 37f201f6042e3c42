"""Fixtures for use-case tests: the whole app wired to in-memory adapters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fabcore.adapters.clock import ManualClock
from fabcore.adapters.memory import RecordingMailer
from fabcore.app.bootstrap import bootstrap
from fabcore.app.drafting import UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.app.samples import bracket_stl, create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address, BillingContact, Customer
from fabcore.domain.shop import Shop

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ADDRESS = Address("Ada Lovelace", "1 Analytical Way", "10115", "Berlin", "DE")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def app(clock: ManualClock) -> Fabcore:
    return bootstrap("memory://", clock=clock, secret_key=b"k" * 32)


@pytest.fixture
def mailer(app: Fabcore) -> RecordingMailer:
    assert isinstance(app.mailer, RecordingMailer)
    return app.mailer


@pytest.fixture
def shop(app: Fabcore) -> Shop:
    return create_sample_shop(app)


@pytest.fixture
def staff(shop: Shop) -> Actor:
    return Actor.staff(shop.id, "sam")


@pytest.fixture
def ada(app: Fabcore, shop: Shop) -> Customer:
    return app.register_customer(
        Actor.visitor(shop.id), name="Ada Lovelace", email="ada@example.com",
        billing_address=ADDRESS,
        billing_contact=BillingContact("Accounts", "accounts@example.com"),
    )


@pytest.fixture
def as_ada(ada: Customer) -> Actor:
    return Actor.customer(ada.shop_id, ada.id)


@pytest.fixture
def bracket(app: Fabcore, as_ada: Actor) -> UploadedModel:
    return app.upload_model(as_ada, bracket_stl(), "bracket.stl")
