"""Fixtures for the web front's tests: the app over an in-memory core, and signed-in clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from litestar.testing import TestClient

from fabcore.adapters.argon2 import Argon2Hasher
from fabcore.adapters.clock import ManualClock
from fabcore.adapters.memory import MemoryDatabase, RecordingMailer
from fabcore.app.bootstrap import bootstrap
from fabcore.app.facade import Fabcore
from fabcore.app.samples import create_sample_shop
from fabcore.entrypoints.web import WebSettings, create_app

DATA = Path(__file__).resolve().parent / "data"
FAST_HASHER = Argon2Hasher(time_cost=1, memory_cost=1024)
PASSWORD = "correct horse battery"


@attrs.define
class Person:
    """A signed-in party: its bearer headers and what the sign-in answered."""

    email: str
    token: str
    csrf: str
    account: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@attrs.define
class Site:
    core: Fabcore
    client: TestClient[Any]
    mailer: RecordingMailer
    clock: ManualClock

    def sign_up(self, email: str, shop: str = "acme", **extra: Any) -> Person:
        name = email.split("@", maxsplit=1)[0].title()
        body = {"name": name, "email": email, "password": PASSWORD, **extra}
        answer = self.client.post(f"/api/v1/shops/{shop}/sign-up", json=body)
        assert answer.status_code == 202, answer.text
        return self.sign_in(email, shop)

    def sign_in(self, email: str, shop: str = "acme", password: str = PASSWORD) -> Person:
        answer = self.client.post(f"/api/v1/shops/{shop}/sign-in",
                                  json={"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return Person(email, body["token"], body["csrf_token"], body["account"])

    def owner(self, shop: str = "acme") -> Person:
        email = f"owner@{shop}.example"
        self.core.create_owner(shop, email=email, name="Olga Owner", password=PASSWORD)
        return self.sign_in(email, shop)


def make_site(database: Any = None, settings: WebSettings | None = None) -> Site:
    from datetime import UTC, datetime

    clock = ManualClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    mailer = RecordingMailer()
    core = bootstrap(database or MemoryDatabase(), mail=mailer, clock=clock,
                     secret_key=b"k" * 32, hasher=FAST_HASHER, base_url="https://shop.example")
    create_sample_shop(core, "acme")
    create_sample_shop(core, "other")
    app = create_app(core, settings or WebSettings(secure_cookies=False,
                                                   max_upload_bytes=2 * 1024 * 1024))
    return Site(core, TestClient(app), mailer, clock)


@pytest.fixture
def site() -> Iterator[Site]:
    made = make_site()
    with made.client:
        yield made
