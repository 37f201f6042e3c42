"""The JSON API through Litestar's test client: sessions, CSRF, problems, uploads, the cases."""

from __future__ import annotations

import hashlib
import re
import struct

import pytest

from fabcore.domain.actor import Actor
from fabcore.domain.status import OrderStatus
from fabcore.entrypoints.web.dto import FILLED_PATTERN
from fabcore.testing import MemoryPaymentGateway
from web_fixtures import DATA, PASSWORD, Person, Site

CUBE = (DATA / "20mm-xyz-cube.stl").read_bytes()
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "postal_code": "10115",
           "city": "Berlin", "country": "DE"}


def _upload(site: Site, who: Person | None, data: bytes = CUBE, name: str = "cube.stl",
            units: str = "mm", shop: str = "acme") -> dict[str, object]:
    headers = who.headers if who else {}
    answer = site.client.post(f"/api/v1/shops/{shop}/models", files={"file": (name, data)},
                              data={"units": units}, headers=headers)
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


def _draft(site: Site, who: Person, quantity: int = 10, method: str = "standard") -> str:
    model = _upload(site, who)
    order = site.client.post("/api/v1/shops/acme/orders", json={}, headers=who.headers).json()
    answer = site.client.post(
        f"/api/v1/shops/acme/orders/{order['id']}/lines", headers=who.headers,
        json={"model_sha256": model["sha256"], "filename": "cube.stl",
              "spec": {"process": "fdm", "material": "pla", "quantity": quantity}})
    assert answer.status_code == 201, answer.text
    shipping = {"method": method, "address": ADDRESS} if method != "pickup" else {"method": method}
    assert site.client.put(f"/api/v1/shops/acme/orders/{order['id']}/shipping", json=shipping,
                           headers=who.headers).status_code == 200
    order_id: str = order["id"]
    return order_id


def _customer(site: Site, email: str = "ada@example.com") -> Person:
    return site.sign_up(email, billing_address=ADDRESS)


def test_sign_up_sign_in_and_me(site: Site) -> None:
    ada = _customer(site)
    me = site.client.get("/api/v1/me", headers=ada.headers)
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"
    assert me.json()["role"] == "customer"
    assert me.json()["confirmed"] is False
    site.core.relay_outbox()
    [confirm] = site.mailer.sent
    assert confirm.link is not None
    token = confirm.link.rsplit("/", 1)[1]
    redeemed = site.client.post("/api/v1/links/sign-in", json={"token": token})
    assert redeemed.status_code == 200
    assert redeemed.json()["account"]["confirmed"] is True
    again = site.client.post("/api/v1/links/sign-in", json={"token": token})
    assert again.status_code == 401
    assert again.headers["content-type"].startswith("application/problem+json")


def test_problems_follow_rfc_9457(site: Site) -> None:
    wrong = site.client.post("/api/v1/shops/acme/sign-in",
                             json={"email": "nobody@example.com", "password": "whatever!"})
    assert wrong.status_code == 401
    body = wrong.json()
    assert body == {"type": "urn:fabcore:problem:not-authenticated", "title": "Not signed in",
                    "status": 401, "detail": "the e-mail address or the password is wrong",
                    "instance": "/api/v1/shops/acme/sign-in"}
    invalid = site.client.post("/api/v1/shops/acme/sign-up",
                               json={"name": "", "email": "x", "password": "short"})
    assert invalid.status_code == 422
    fields = {e["field"] for e in invalid.json()["errors"]}
    assert fields & {"name", "email", "password"}
    assert site.client.get("/api/v1/nowhere").status_code == 404
    assert "Traceback" not in invalid.text


def test_cookie_sessions_need_the_csrf_token_and_bearer_ones_do_not(site: Site) -> None:
    _customer(site)
    signed_in = site.client.post("/api/v1/shops/acme/sign-in",
                                 json={"email": "ada@example.com", "password": PASSWORD})
    cookie = signed_in.headers.get_list("set-cookie")
    session = next(c for c in cookie if c.startswith("fabcore_session="))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session or "SameSite=Lax" in session
    csrf = signed_in.json()["csrf_token"]
    without = site.client.post("/api/v1/shops/acme/orders", json={})
    assert without.status_code == 403
    assert "CSRF" in without.json()["detail"]
    with_token = site.client.post("/api/v1/shops/acme/orders", json={},
                                  headers={"X-CSRF-Token": csrf})
    assert with_token.status_code == 201
    assert site.client.get("/api/v1/me").status_code == 200  # safe: no token needed
    site.client.cookies.clear()
    bearer = site.client.post("/api/v1/shops/acme/orders", json={},
                              headers={"Authorization": f"Bearer {signed_in.json()['token']}"})
    assert bearer.status_code == 201


def test_sign_out_ends_the_session(site: Site) -> None:
    ada = _customer(site)
    assert site.client.post("/api/v1/sign-out", headers=ada.headers).status_code == 200
    assert site.client.get("/api/v1/me", headers=ada.headers).status_code == 401


def test_sign_in_is_throttled_with_retry_after(site: Site) -> None:
    _customer(site)
    for _ in range(5):
        site.client.post("/api/v1/shops/acme/sign-in",
                         json={"email": "ada@example.com", "password": "wrong pass"})
    throttled = site.client.post("/api/v1/shops/acme/sign-in",
                                 json={"email": "ada@example.com", "password": PASSWORD})
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "900"


def test_uploads_are_analysed_refused_with_reasons_and_reused(site: Site) -> None:
    model = _upload(site, None)
    analysis = model["analysis"]
    assert isinstance(analysis, dict)
    assert model["sha256"] == hashlib.sha256(CUBE).hexdigest()
    assert analysis["watertight"] is True
    assert abs(analysis["volume_cm3"] - 7.938682) < 1e-5
    again = _upload(site, None, name="again.stl")
    assert again["analysis"] == {**analysis, "filename": "again.stl"}

    empty = site.client.post("/api/v1/shops/acme/models",
                             files={"file": ("empty.stl", (DATA / "empty.stl").read_bytes())})
    assert empty.status_code == 422
    assert empty.json()["filename"] == "empty.stl"
    assert empty.json()["reason"]
    huge = b"\x00" * 80 + struct.pack("<I", 60_000) + b"\x00" * (60_000 * 50)
    too_big = site.client.post("/api/v1/shops/acme/models", files={"file": ("big.stl", huge)})
    assert too_big.status_code == 413
    assert too_big.json()["type"] == "urn:fabcore:problem:too-large"

    options = site.client.get(f"/api/v1/shops/acme/models/{model['sha256']}/options",
                              params={"quantity": 10})
    assert options.status_code == 200
    priced = [o for o in options.json() if o["breakdown"] is not None]
    totals = [float(o["breakdown"]["total"]["amount"]) for o in priced]
    assert totals == sorted(totals)
    missing = site.client.get("/api/v1/shops/acme/models/" + "0" * 64 + "/options")
    assert missing.status_code == 404


def test_case_1_place_pay_and_download_the_invoice(site: Site) -> None:
    ada = _customer(site)
    order_id = _draft(site, ada)
    base = f"/api/v1/shops/acme/orders/{order_id}"
    quote = site.client.get(f"{base}/quote", headers=ada.headers).json()
    assert quote["total"]["currency"] == "EUR"
    placed = site.client.post(f"{base}/place", json={}, headers=ada.headers)
    assert placed.status_code == 200, placed.text
    assert placed.json()["status"] == "placed"
    page = site.client.get(f"{base}/payment-page", headers=ada.headers).json()
    assert (page["state"], page["can_pay"]) == ("ready_for_payment", True)
    checkout = site.client.post(f"{base}/checkout", headers=ada.headers).json()
    assert checkout["amount"] == quote["total"]

    gateway = site.core.payments
    assert isinstance(gateway, MemoryPaymentGateway)
    from fabcore.domain.money import Money

    payload, headers = gateway.paid_event(order_id, Money(quote["total"]["amount"], "EUR"))
    paid = site.client.post("/api/v1/payments/webhook", content=payload, headers=headers)
    assert paid.status_code == 200
    assert paid.json()["applied"] is True
    forged = site.client.post("/api/v1/payments/webhook", content=payload + b" ",
                              headers=headers)
    assert forged.status_code == 400

    pdf = site.client.get(f"{base}/invoice.pdf", headers=ada.headers)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert 'filename="INV-00001.pdf"' in pdf.headers["content-disposition"]


def test_case_2_review_offer_from_the_mailed_link(site: Site) -> None:
    ada = _customer(site)
    owner = site.owner()
    order_id = _draft(site, ada, quantity=600, method="pickup")
    base = f"/api/v1/shops/acme/orders/{order_id}"
    refused = site.client.post(f"{base}/place", json={}, headers=ada.headers)
    assert refused.status_code == 409
    assert "600 parts is over 500" in refused.json()["detail"]
    assert site.client.post(f"{base}/submit-for-review", json={"note": "big batch"},
                            headers=ada.headers).json()["status"] == "waiting_for_review"
    page = site.client.get(f"{base}/payment-page", headers=ada.headers).json()
    assert (page["state"], page["can_pay"]) == ("budget_offer", False)

    order = site.client.get(base, headers=owner.headers).json()
    line_id = order["lines"][0]["id"]
    priced = site.client.put(f"{base}/lines/{line_id}/firm-price", headers=owner.headers,
                             json={"unit_price": "1.10", "fees": [{"name": "setup",
                                                                   "amount": "15.00"}]})
    assert priced.status_code == 200, priced.text
    offered = site.client.post(f"{base}/send-firm-offer", json={"valid_days": 10},
                               headers=owner.headers)
    assert offered.json()["status"] == "firm_offer_sent"
    site.core.relay_outbox()
    offer_mail = next(m for m in site.mailer.sent if m.to == ("ada@example.com",)
                      and m.link and "/offers/" in m.link)
    assert offer_mail.link is not None
    token = offer_mail.link.rsplit("/", 1)[1]
    shown = site.client.get(f"/api/v1/links/offers/{token}")
    assert shown.json()["status"] == "firm_offer_sent"
    accepted = site.client.post(f"/api/v1/links/offers/{token}/accept")
    assert accepted.json()["status"] == "placed"
    assert site.client.post(f"/api/v1/links/offers/{token}/accept").status_code == 404


def test_case_3_iqt_and_the_change_menu(site: Site) -> None:
    owner = site.owner()
    customer = site.client.post("/api/v1/shops/acme/customers", headers=owner.headers,
                                json={"name": "Cleo", "email": "cleo@example.com",
                                      "billing_address": ADDRESS}).json()
    draft = site.client.post("/api/v1/shops/acme/orders", json={"customer_id": customer["id"]},
                             headers=owner.headers).json()
    model = _upload(site, owner)
    site.client.post(f"/api/v1/shops/acme/orders/{draft['id']}/lines", headers=owner.headers,
                     json={"model_sha256": model["sha256"], "filename": "cube.stl",
                           "spec": {"process": "cnc", "material": "aluminium",
                                    "quantity": 4}})
    site.client.put(f"/api/v1/shops/acme/orders/{draft['id']}/shipping",
                    json={"method": "pickup"}, headers=owner.headers)
    base = f"/api/v1/shops/acme/orders/{draft['id']}"
    menu = site.client.get(f"{base}/reachable-statuses", headers=owner.headers).json()
    offer = next(o for o in menu if o["status"] == "firm_offer_sent")
    assert offer["trigger"] == "send_firm_offer"
    assert [f["name"] for f in offer["fields"]] == ["expires_at", "note"]
    moved = site.client.post(f"{base}/status", json={"status": "firm_offer_sent"},
                             headers=owner.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["offer_expires_at"] is not None
    wrong = site.client.post(f"{base}/status", json={"status": "shipped"},
                             headers=owner.headers)
    assert wrong.status_code == 409
    assert "reachable" in wrong.json()["detail"]


def test_listing_is_paginated_and_filtered(site: Site) -> None:
    owner = site.owner()
    ids = [site.client.post("/api/v1/shops/acme/orders", json={},
                            headers=owner.headers).json()["id"] for _ in range(5)]
    first = site.client.get("/api/v1/shops/acme/orders", params={"limit": 2},
                            headers=owner.headers).json()
    assert [o["id"] for o in first["items"]] == ids[::-1][:2]
    assert first["next_offset"] == 2
    last = site.client.get("/api/v1/shops/acme/orders", params={"limit": 2, "offset": 4},
                           headers=owner.headers).json()
    assert (len(last["items"]), last["next_offset"]) == (1, None)
    placed = site.client.get("/api/v1/shops/acme/orders", params={"status": "placed"},
                             headers=owner.headers).json()
    assert placed["items"] == []
    bad = site.client.get("/api/v1/shops/acme/orders", params={"status": "nonsense"},
                          headers=owner.headers)
    assert bad.status_code in (400, 422)


def test_owners_manage_settings_catalog_staff_and_keys(site: Site) -> None:
    owner = site.owner()
    settings = site.client.get("/api/v1/shops/acme/settings", headers=owner.headers).json()
    settings["review"]["mode"] = "manual"
    settings["offer_validity_days"] = 21
    saved = site.client.put("/api/v1/shops/acme/settings", json=settings,
                            headers=owner.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["review"]["mode"] == "manual"

    bad_catalog = site.client.put("/api/v1/shops/acme/catalog", headers=owner.headers,
                                  content=b'[shop]\nname = "X"\ncurrency = "EUR"\n'
                                          b'tax_rate = 7\n[processes]\n')
    assert bad_catalog.status_code == 422
    assert bad_catalog.json()["key"] == "shop.tax_rate"

    invited = site.client.post("/api/v1/shops/acme/staff", headers=owner.headers,
                               json={"email": "sam@acme.example", "name": "Sam"})
    assert invited.status_code == 201
    site.core.relay_outbox()
    invitation = next(m for m in site.mailer.sent if m.to == ("sam@acme.example",))
    assert invitation.link is not None
    sam = site.client.post("/api/v1/links/invitation", json={
        "token": invitation.link.rsplit("/", 1)[1], "password": "sam's password"})
    assert sam.status_code == 200
    sam_headers = {"Authorization": f"Bearer {sam.json()['token']}"}
    assert site.client.put("/api/v1/shops/acme/settings", json=settings,
                           headers=sam_headers).status_code == 403

    key = site.client.post("/api/v1/shops/acme/api-keys", json={"name": "ERP"},
                           headers=owner.headers).json()
    assert re.fullmatch(r"fck_[0-9a-f]{8}_\S+", key["key"])
    as_service = {"Authorization": f"Bearer {key['key']}"}
    assert site.client.get("/api/v1/shops/acme/orders", headers=as_service).status_code == 200
    site.client.put(f"/api/v1/shops/acme/api-keys/{key['api_key']['digest']}/revoked",
                    headers=owner.headers)
    assert site.client.get("/api/v1/shops/acme/orders", headers=as_service).status_code == 401


def test_security_headers_and_offline_documentation(site: Site) -> None:
    api = site.client.get("/api/v1/shops/acme/catalog")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in api.headers["content-security-policy"]
    docs = site.client.get("/schema")
    assert docs.status_code == 200
    assert "/static/vendor/redoc.standalone.js" in docs.text
    assert not re.search(r"https?://", docs.text.split("Redoc.init(")[0])
    assert site.client.get("/static/vendor/redoc.standalone.js").status_code == 200
    schema = site.client.get("/schema/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    quantity = schema["components"]["schemas"]["SpecIn"]["properties"]["quantity"]
    assert (quantity["minimum"], quantity["maximum"]) == (1, 1_000_000)


def test_order_statuses_listed_by_the_api_are_the_domains(site: Site) -> None:
    owner = site.owner()
    schema = site.client.get("/schema/openapi.json").json()
    listing = schema["paths"]["/api/v1/shops/{shop}/orders"]["get"]["parameters"]
    status = next(p for p in listing if p["name"] == "status")
    pattern = status["schema"]["oneOf"][0].get("pattern") or status["schema"].get("pattern")
    assert all(re.search(pattern, s.value) for s in OrderStatus)
    assert site.client.get("/api/v1/shops/acme/orders", headers=owner.headers).status_code == 200


def test_blank_names_are_refused_by_the_schema_that_says_so(site: Site) -> None:
    schema = site.client.get("/schema/openapi.json").json()
    contact = schema["components"]["schemas"]["ContactIn"]["properties"]["name"]
    assert contact["pattern"] == FILLED_PATTERN
    assert all(re.search(FILLED_PATTERN, c) is None for c in " \t\x1f\xa0\u3000")
    answer = site.client.post("/api/v1/shops/acme/sign-up", json={
        "name": "Ada", "email": "ada@example.com", "password": PASSWORD,
        "billing_contact": {"name": " \t\x1f", "email": "books@example.com"}})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [{"field": "billing_contact.name",
                                        "message": "must not be blank", "location": "body"}]


@pytest.mark.parametrize("path", ["/healthz"])
def test_health(site: Site, path: str) -> None:
    assert site.client.get(path).text == "ok"


def test_customers_and_mails_are_listed_a_page_at_a_time_per_shop(site: Site) -> None:
    owner = site.owner()
    for i in range(5):
        answer = site.client.post("/api/v1/shops/acme/customers", headers=owner.headers, json={
            "name": f"Customer {i}", "email": f"c{i}@example.com", "billing_address": ADDRESS})
        assert answer.status_code == 201, answer.text
    site.sign_up("eve@example.com", shop="other")  # a mail and a customer of another shop
    site.sign_up("ann@example.com")
    site.sign_up("bob@example.com")

    def all_pages(path: str, limit: int) -> list[dict[str, object]]:
        items: list[dict[str, object]] = []
        offset: int | None = 0
        while offset is not None:
            page = site.client.get(path, headers=owner.headers,
                                   params={"limit": limit, "offset": offset})
            assert page.status_code == 200, page.text
            body = page.json()
            assert (body["limit"], body["offset"]) == (limit, offset)
            assert len(body["items"]) <= limit
            items += body["items"]
            offset = body["next_offset"]
        return items

    everyone = site.client.get("/api/v1/shops/acme/customers", headers=owner.headers,
                               params={"limit": 200}).json()
    assert everyone["next_offset"] is None
    emails = [c["email"] for c in everyone["items"]]
    assert {f"c{i}@example.com" for i in range(5)} <= set(emails)
    assert "eve@example.com" not in emails
    assert all_pages("/api/v1/shops/acme/customers", 2) == everyone["items"]

    mails = site.client.get("/api/v1/shops/acme/outbox", headers=owner.headers,
                            params={"limit": 200}).json()["items"]
    assert len(mails) >= 2
    other_mails = {m.id for m in site.core.list_outbox(Actor.system("other"))}
    assert other_mails
    assert not other_mails & {m["id"] for m in mails}
    assert all_pages("/api/v1/shops/acme/outbox", 1) == mails
    too_big = site.client.get("/api/v1/shops/acme/outbox", headers=owner.headers,
                              params={"limit": 201})
    assert too_big.status_code == 422
