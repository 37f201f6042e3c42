"""The pages over HTTP: who may see and do what, CSRF, framing, errors as HTML.

Every back-office page and every widget page of an order is tried by
strangers (another customer, another shop's owner, anonymous, and for the
back office the order's own customer): each is refused, leaks nothing of
the order and changes nothing. The lists of pages are read from the
application, so a new page is tried as soon as it exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import pytest
from litestar.testing import TestClient
from test_web_tenancy import Fixture

from fabcore.adapters.clock import ManualClock
from fabcore.adapters.memory import RecordingMailer
from fabcore.app.bootstrap import bootstrap
from fabcore.app.catalogs import parse_catalog
from fabcore.app.samples import create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address
from fabcore.entrypoints.web import WebSettings, auth, create_app
from fabcore.entrypoints.web.pages.demo_payments import DemoPaymentGateway
from web_fixtures import DATA, FAST_HASHER, Person, make_site

ADDRESS_OBJ = Address("Ada Lovelace", "1 Analytical Way", "10115", "Berlin", "DE")
SECRETS = ("ada@example.com", "Ada Lovelace", "1 Analytical Way")
# A form each widget action accepts, so that a refusal is about who asks, not what is sent.
FORM = {"reason": "mine", "option": "fdm:pla", "quantity": "1", "revision": "1",
        "message": "mine", "po_number": "PO-1", "method": "pickup", "units": "cm",
        "bill_name": "Eve", "bill_line1": "1 Road", "bill_postal_code": "1", "bill_city": "X",
        "bill_country": "DE"}
PUBLIC_ADMIN = {"/admin/{shop}/sign-in", "/admin/{shop}/invitation/{token}"}


def _routes(prefix: str) -> list[tuple[str, str]]:
    site = make_site()
    found = []
    for route in site.client.app.routes:
        path = route.path.replace(":str", "")
        if path.startswith(prefix):
            found += [(m, path) for m in sorted(route.methods) if m not in ("HEAD", "OPTIONS")]
    return sorted(found, key=lambda r: (r[1], r[0]))


ADMIN = [r for r in _routes("/admin/{shop}") if r[1] not in PUBLIC_ADMIN]
WIDGET_ORDER = _routes("/w/{shop}/orders/{order_id}")


@pytest.fixture(scope="module")
def fixture() -> Iterator[Fixture]:
    site = make_site()
    with site.client:
        yield Fixture(site)


def _path(fixture: Fixture, template: str) -> str:
    return fixture.path(template.replace("{digest}", fixture.key)).replace(
        "{message_id}", fixture.message_id)


def _cookie(fixture: Fixture, who: Person | None) -> dict[str, str]:
    client = fixture.site.client
    client.cookies.clear()
    if who is None:
        return {}
    client.cookies.set("fabcore_session", who.token)
    return {"csrf_token": auth.csrf_token(who.token)}


def test_the_lists_of_pages_are_read_from_the_application() -> None:
    assert len(ADMIN) >= 30
    assert len(WIDGET_ORDER) >= 15


@pytest.mark.parametrize(("method", "template"), ADMIN)
@pytest.mark.parametrize("caller", ["ada", "other_customer", "other_shop", "anonymous"])
def test_strangers_never_reach_the_back_office(
    fixture: Fixture, method: str, template: str, caller: str
) -> None:
    who = {"ada": fixture.ada, "other_customer": fixture.eve, "other_shop": fixture.mallory,
           "anonymous": None}[caller]
    form = _cookie(fixture, who)
    before = fixture.snapshot()
    answer = fixture.site.client.request(method, _path(fixture, template),
                                         data=form if method == "POST" else None,
                                         follow_redirects=False)
    fixture.site.client.cookies.clear()
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    assert answer.headers["location"].startswith("/admin/acme/sign-in?next=")
    for secret in SECRETS:
        assert secret not in answer.text
    assert fixture.snapshot() == before


@pytest.mark.parametrize(("method", "template"), WIDGET_ORDER)
@pytest.mark.parametrize("caller", ["other_customer", "other_shop", "anonymous"])
def test_strangers_never_reach_an_order_in_the_widget(
    fixture: Fixture, method: str, template: str, caller: str
) -> None:
    who = {"other_customer": fixture.eve, "other_shop": fixture.mallory,
           "anonymous": None}[caller]
    headers = {"HX-Request": "true", **(who.headers if who else {})}
    before = fixture.snapshot()
    answer = fixture.site.client.request(method, _path(fixture, template), headers=headers,
                                         data=FORM if method == "POST" else None)
    fixture.site.client.cookies.clear()
    for secret in (*SECRETS, fixture.number):
        assert secret not in answer.text
    assert answer.headers["content-type"].startswith(("text/html", "application/octet"))
    if caller == "other_customer":
        assert answer.status_code in (403, 404), (answer.status_code, answer.text)
    else:
        assert answer.status_code in (200, 401), (answer.status_code, answer.text)
        if answer.status_code == 200:
            assert "Sign in" in answer.text
    assert fixture.snapshot() == before


def test_the_order_page_shows_the_customer_their_order(fixture: Fixture) -> None:
    answer = fixture.site.client.get(f"/w/acme/orders/{fixture.order_id}",
                                     headers={"HX-Request": "true", **fixture.ada.headers})
    assert answer.status_code == 200
    assert fixture.number in answer.text
    assert 'data-state="ready_for_payment"' in answer.text


def test_a_back_office_form_without_the_csrf_token_is_refused(fixture: Fixture) -> None:
    client = fixture.site.client
    before = fixture.snapshot()
    client.cookies.set("fabcore_session", fixture.owner.token)
    try:
        answer = client.post(f"/admin/acme/orders/{fixture.order_id}/status",
                             data={"status": "on_hold", "note": "no token"})
        wrong = client.post(f"/admin/acme/orders/{fixture.order_id}/status",
                            data={"status": "on_hold", "note": "other token",
                                  "csrf_token": auth.csrf_token(fixture.eve.token)})
    finally:
        client.cookies.clear()
    assert (answer.status_code, wrong.status_code) == (403, 403)
    assert answer.headers["content-type"].startswith("text/html")
    assert "CSRF" in answer.text
    assert fixture.snapshot() == before


def test_staff_sign_in_sets_an_http_only_session_cookie() -> None:
    site = make_site()
    site.core.create_owner("acme", email="olga@acme.example", name="Olga",
                           password="correct horse battery")
    with site.client as client:
        answer = client.post("/admin/acme/sign-in", follow_redirects=False, data={
            "email": "olga@acme.example", "password": "correct horse battery",
            "next": "/admin/acme/customers"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/admin/acme/customers"
        cookies = answer.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("fabcore_session="))
        assert "HttpOnly" in session
        assert "SameSite=lax" in session or "samesite=lax" in session.lower()
        page = client.get("/admin/acme/customers")
        assert page.status_code == 200
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        wrong = client.post("/admin/acme/sign-in", data={"email": "olga@acme.example",
                                                         "password": "wrong password"})
        assert wrong.status_code == 401
        assert "E-mail address" in wrong.text
        elsewhere = client.post("/admin/acme/sign-in", follow_redirects=False, data={
            "email": "olga@acme.example", "password": "correct horse battery",
            "next": "https://evil.example/admin/acme/"})
        assert elsewhere.headers["location"] == "/admin/acme/orders"


def test_the_widget_may_be_framed_by_the_shops_origins_only() -> None:
    site = make_site()
    with site.client as client:
        plain = client.get("/w/acme/")
        assert "frame-ancestors 'self'" in plain.headers["content-security-policy"]
        system = Actor.system("acme")
        settings = site.core.get_shop(system).settings
        site.core.update_shop_settings(Actor.owner("acme", "o"), attrs.evolve(
            settings, widget_origins=("https://shop.example",)))
        framed = client.get("/w/acme/")
        policy = framed.headers["content-security-policy"]
        assert "frame-ancestors 'self' https://shop.example" in policy
        assert "script-src 'self' 'sha256-" in policy
        assert 'data-origins="[&#34;https://shop.example&#34;]"' in framed.text
        missing = client.post("/w/acme/orders/nowhere/place", headers={"HX-Request": "true"})
        assert missing.status_code == 401
        assert missing.headers["content-security-policy"].endswith(
            "frame-ancestors 'self' https://shop.example")
        script = client.get("/w/acme/embed.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert '"http://testserver.local"' in script.text
        assert client.get("/w/nowhere/embed.js").status_code == 404


def test_a_catalog_error_is_shown_at_its_key() -> None:
    site = make_site()
    owner = site.owner()
    toml = (DATA.parent.parent / "src" / "fabcore" / "data" / "sample_catalog.toml").read_text()
    broken = toml.replace('label = "PLA"', 'label = "PLA"\nprice_per_cm3_typo = 3', 1)
    with site.client as client:
        client.cookies.set("fabcore_session", owner.token)
        answer = client.post("/admin/acme/catalog", data={"csrf_token": owner.csrf},
                             files={"file": ("catalog.toml", broken.encode())})
        assert answer.status_code == 422
        assert "The catalog was not replaced" in answer.text
        assert 'class="bad"' in answer.text
        assert "price_per_cm3_typo" in answer.text.split('class="bad"', 1)[1].split("</li>")[0]
        current = client.get("/admin/acme/catalog.toml")
        assert current.headers["content-disposition"] == 'attachment; filename="acme-catalog.toml"'
        good = client.post("/admin/acme/catalog", data={"csrf_token": owner.csrf},
                           files={"file": ("catalog.toml", current.content)},
                           follow_redirects=False)
        assert good.status_code == 303
        assert site.core.catalog(Actor.system("acme")) == parse_catalog(toml)


def test_the_order_list_exports_csv(fixture: Fixture) -> None:
    client = fixture.site.client
    client.cookies.set("fabcore_session", fixture.owner.token)
    try:
        answer = client.get("/admin/acme/orders.csv?status=placed")
    finally:
        client.cookies.clear()
    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.text.splitlines()
    assert lines[0].startswith("number,created_at,status")
    assert any(fixture.number in line and "ada@example.com" in line for line in lines[1:])


def test_the_demo_gateway_pays_only_the_checkouts_it_made() -> None:
    core = bootstrap("memory://", mail=RecordingMailer(), hasher=FAST_HASHER,
                     clock=ManualClock(datetime(2026, 11, 2, tzinfo=UTC)), secret_key=b"k" * 32,
                     payments=DemoPaymentGateway("https://shop.example"),
                     base_url="https://shop.example")
    create_sample_shop(core, "acme")
    customer = core.register_customer(Actor.visitor("acme"), name="Ada",
                                      email="ada@example.com", billing_address=ADDRESS_OBJ)
    ada = Actor.customer("acme", customer.id)
    order = core.create_order(ada)
    model = core.upload_model(ada, (DATA / "20mm-xyz-cube.stl").read_bytes(), "cube.stl")
    core.add_part(ada, order.id, model)
    core.set_shipping(ada, order.id, "pickup")
    core.place(ada, order.id)
    checkout = core.start_checkout(ada, order.id)
    path = checkout.url.removeprefix("https://shop.example")
    with TestClient(create_app(core, WebSettings(secure_cookies=False))) as client:
        page = client.get(path)
        assert page.status_code == 200
        form = {"outcome": "pay", "order": order.id, "amount": str(checkout.amount.amount),
                "currency": "EUR", "return": f"/w/acme/orders/{order.id}"}
        sig = page.text.split('name="sig" value="', 1)[1].split('"', 1)[0]
        cheap = client.post(path.split("?")[0], data={**form, "amount": "0.01", "sig": sig})
        assert cheap.status_code == 422
        assert client.get(path.replace(str(checkout.amount.amount), "0.01")).status_code == 422
        assert not core.get_order(ada, order.id).paid
        paid = client.post(path.split("?")[0], data={**form, "sig": sig},
                           follow_redirects=False)
        assert paid.status_code == 303
        assert paid.headers["location"] == f"/w/acme/orders/{order.id}"
        assert core.get_order(ada, order.id).paid


def test_a_mailed_sign_in_link_signs_the_widget_in(fixture: Fixture) -> None:
    client = fixture.site.client
    client.post("/w/acme/sign-in-link", data={"email": "eve@example.com"},
                headers={"HX-Request": "true"})
    outbox = [m for m in fixture.site.core.list_outbox(Actor.system("acme"))
              if m.mail.to == ("eve@example.com",) and "sign-in" in (m.mail.link or "")]
    link = outbox[-1].mail.link
    assert link is not None
    assert link.startswith("https://shop.example/w/acme/sign-in/")
    path = link.removeprefix("https://shop.example")
    shell = client.get(path)
    assert shell.status_code == 200
    assert 'hx-trigger="load"' in shell.text
    button = client.get(path, headers={"HX-Request": "true"})
    assert "Sign in with this link" in button.text
    signed = client.post(path, headers={"HX-Request": "true"})
    assert signed.status_code == 200
    assert '"fabcore:session": {"token": "' in signed.headers["hx-trigger"]
    assert client.post(path, headers={"HX-Request": "true"}).status_code == 401
