"""Every shop endpoint, tried as another shop's staff, another customer and anonymous.

Each attempt is refused (401, 403 or 404), changes nothing in the shop's data
or outbox, and leaks nothing of the order or its customer. The list of
endpoints is read from the application, so a new endpoint without a rule
here fails the test until it gets one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fabcore.adapters.serialization import to_json
from fabcore.domain.actor import Actor
from web_fixtures import DATA, Person, Site, make_site

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "postal_code": "10115",
           "city": "Berlin", "country": "DE"}
CUBE = (DATA / "20mm-xyz-cube.stl").read_bytes()

# A body each endpoint accepts (so a refusal is about who asks, not what is sent).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/shops/{shop}/api-keys"): {"name": "mine"},
    ("PUT", "/api/v1/shops/{shop}/catalog"): "catalog",
    ("POST", "/api/v1/shops/{shop}/customers"): {"name": "Eve", "email": "eve2@example.com"},
    ("PATCH", "/api/v1/shops/{shop}/customers/{customer_id}"): {"name": "Mallory"},
    ("PUT", "/api/v1/shops/{shop}/customers/{customer_id}/billing-contact"): {
        "name": "Mallory", "email": "mallory@example.com"},
    ("POST", "/api/v1/shops/{shop}/orders"): {},
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/accept-offer"): {"revision": 1},
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/accept-po"): {"net_days": 30},
    ("PUT", "/api/v1/shops/{shop}/orders/{order_id}/billing-address"): ADDRESS,
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/cancel"): {"reason": "mine now"},
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/lines"): "line",
    ("PATCH", "/api/v1/shops/{shop}/orders/{order_id}/lines/{line_id}"): {"notes": "x"},
    ("PUT", "/api/v1/shops/{shop}/orders/{order_id}/lines/{line_id}/firm-price"): {
        "unit_price": "0.01"},
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/payments"): {
        "reference": "x", "amount": "1.00", "currency": "EUR"},
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/place"): {},
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/purchase-order"): "po",
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/request-changes"): {"message": "x"},
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/send-firm-offer"): {},
    ("PUT", "/api/v1/shops/{shop}/orders/{order_id}/shipping"): {"method": "pickup"},
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/status"): {
        "status": "on_hold", "note": "mine"},
    ("POST", "/api/v1/shops/{shop}/orders/{order_id}/submit-for-review"): {},
    ("PUT", "/api/v1/shops/{shop}/settings"): "settings",
    ("POST", "/api/v1/shops/{shop}/staff"): {"email": "mallory@acme.example", "name": "M"},
    ("POST", "/api/v1/shops/{shop}/models"): "model",
}
# Anyone may use these on the shop's own path (a visitor gets them; staff of another shop
# still get 404, for the path names a shop they do not belong to).
PUBLIC = {
    ("GET", "/api/v1/shops/{shop}/catalog"), ("POST", "/api/v1/shops/{shop}/models"),
    ("GET", "/api/v1/shops/{shop}/models/{sha256}"),
    ("GET", "/api/v1/shops/{shop}/models/{sha256}/options"),
    ("GET", "/api/v1/shops/{shop}/models/{sha256}/analysis"),
}
# What another customer of the shop may do for themselves: list and start their own orders.
OWN_SCOPE = {("GET", "/api/v1/shops/{shop}/orders"), ("POST", "/api/v1/shops/{shop}/orders")}
# Reached without any sign-in by design: the credentials are the request itself.
NOT_SHOP_SCOPED = {"/api/v1/shops/{shop}/sign-up", "/api/v1/shops/{shop}/sign-in",
                   "/api/v1/shops/{shop}/sign-in-link"}


class Fixture:
    """Shop ``acme`` with Ada's placed order, her billing contact, a key, staff, a mail."""

    def __init__(self, site: Site) -> None:
        self.site = site
        client = site.client
        self.owner = site.owner()
        self.ada = site.sign_up("ada@example.com", billing_address=ADDRESS)
        self.eve = site.sign_up("eve@example.com")
        self.mallory = site.owner("other")
        model = client.post("/api/v1/shops/acme/models", files={"file": ("cube.stl", CUBE)},
                            headers=self.ada.headers).json()
        self.sha256 = model["sha256"]
        order = client.post("/api/v1/shops/acme/orders", json={},
                            headers=self.ada.headers).json()
        self.order_id = order["id"]
        line = client.post(f"/api/v1/shops/acme/orders/{self.order_id}/lines",
                           headers=self.ada.headers,
                           json={"model_sha256": self.sha256, "filename": "cube.stl",
                                 "spec": {"process": "fdm", "material": "pla",
                                          "quantity": 3}}).json()
        self.line_id = line["lines"][0]["id"]
        client.put(f"/api/v1/shops/acme/orders/{self.order_id}/shipping",
                   json={"method": "pickup"}, headers=self.ada.headers)
        placed = client.post(f"/api/v1/shops/acme/orders/{self.order_id}/place", json={},
                             headers=self.ada.headers)
        assert placed.status_code == 200, placed.text
        self.number = placed.json()["number"]
        self.customer_id = self.ada.account["customer_id"]
        self.key = client.post("/api/v1/shops/acme/api-keys", json={"name": "ERP"},
                               headers=self.owner.headers).json()["api_key"]["digest"]
        self.message_id = site.core.list_outbox(Actor.system("acme"))[0].id
        self.settings = client.get("/api/v1/shops/acme/settings",
                                   headers=self.owner.headers).json()
        # Sign-ins set session cookies; every attempt below says who it is in its headers.
        client.cookies.clear()

    def path(self, template: str) -> str:
        return template.format(shop="acme", order_id=self.order_id, line_id=self.line_id,
                               customer_id=self.customer_id, sha256=self.sha256,
                               account_id=self.owner.account["id"], digest=self.key,
                               message_id=self.message_id)

    def snapshot(self) -> str:
        core, system = self.site.core, Actor.system("acme")
        return to_json({
            "orders": core.list_orders(system), "customers": core.list_customers(system),
            "outbox": [(m.id, m.status.value) for m in core.list_outbox(system)],
            "shop": core.get_shop(system), "catalog": core.catalog(system),
            "staff": core.list_staff(system), "keys": core.list_api_keys(system),
        })

    def send(self, method: str, template: str, who: Person | None) -> Any:
        body = BODIES.get((method, template))
        headers = who.headers if who else {}
        path = self.path(template)
        if body == "model":
            return self.site.client.post(path, files={"file": ("cube.stl", CUBE)},
                                         headers=headers)
        if body == "po":
            return self.site.client.post(path, data={"po_number": "PO-1"}, headers=headers,
                                         files={"document": ("po.pdf", b"%PDF-1.4")})
        if body == "catalog":
            return self.site.client.put(path, headers=headers, content=(
                DATA.parent.parent / "src" / "fabcore" / "data" / "sample_catalog.toml"
            ).read_bytes())
        if body == "line":
            body = {"model_sha256": self.sha256, "filename": "cube.stl",
                    "spec": {"process": "fdm", "material": "pla", "quantity": 1}}
        if body == "settings":
            body = {**self.settings, "payment_before_production": True}
        kwargs: dict[str, Any] = {"headers": headers}
        if method in ("POST", "PUT", "PATCH") and body is not None:
            kwargs["json"] = body
        return self.site.client.request(method, path, **kwargs)


def _shop_routes() -> list[tuple[str, str]]:
    site = make_site()
    found = []
    for route in site.client.app.routes:
        path = route.path.replace(":str", "")
        if not path.startswith("/api/v1/shops/{shop}") or path in NOT_SHOP_SCOPED:
            continue
        found += [(m, path) for m in sorted(route.methods) if m not in ("HEAD", "OPTIONS")]
    return sorted(found, key=lambda r: (r[1], r[0]))


ROUTES = _shop_routes()


@pytest.fixture(scope="module")
def fixture() -> Iterator[Fixture]:
    site = make_site()
    with site.client:
        yield Fixture(site)


def test_every_shop_endpoint_is_covered() -> None:
    assert len(ROUTES) >= 45
    with_body = {r for r in ROUTES if r[0] in ("POST", "PUT", "PATCH")}
    bodiless = {("POST", "/api/v1/shops/{shop}/orders/{order_id}/checkout"),
                ("POST", "/api/v1/shops/{shop}/orders/{order_id}/request-payment"),
                ("POST", "/api/v1/shops/{shop}/outbox/{message_id}/retry"),
                ("PUT", "/api/v1/shops/{shop}/api-keys/{digest}/revoked"),
                ("PUT", "/api/v1/shops/{shop}/orders/{order_id}/customer/{customer_id}")}
    assert with_body - set(BODIES) - bodiless == set()


# Public endpoints are for visitors and customers of the shop: only other shops' staff try.
ATTEMPTS = [(method, template, caller) for method, template in ROUTES
            for caller in ("other_shop", "other_customer", "anonymous")
            if (method, template) not in PUBLIC or caller == "other_shop"]


@pytest.mark.parametrize(("method", "template", "caller"), ATTEMPTS)
def test_strangers_are_refused_and_nothing_changes(
    fixture: Fixture, method: str, template: str, caller: str
) -> None:
    who = {"other_shop": fixture.mallory, "other_customer": fixture.eve,
           "anonymous": None}[caller]
    before = fixture.snapshot()
    answer = fixture.send(method, template, who)
    fixture.site.client.cookies.clear()
    for secret in ("ada@example.com", fixture.number, "Ada Lovelace", "1 Analytical Way"):
        assert secret not in answer.text
    if (method, template) in OWN_SCOPE and caller == "other_customer":
        assert answer.status_code in (200, 201), answer.text
        return
    expected = {"anonymous": {401}, "other_shop": {404},
                "other_customer": {403, 404}}[caller]
    assert answer.status_code in expected, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert fixture.snapshot() == before
