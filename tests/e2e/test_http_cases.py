"""The seed's three ordering cases over HTTP, against a real ``fabcore serve`` (uvicorn).

Mails are read from the server's Maildir, delivered by its background
relay; the offer is accepted through the link in the mailed offer. Runs on
SQLite (the embedded default) and on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import httpx
import pytest

from http_server import OWNER_EMAIL, OWNER_PASSWORD, LiveServer, start_server
from postgres_server import recreate_database

DATA = Path(__file__).resolve().parents[1] / "data"
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "postal_code": "10115",
           "city": "Berlin", "country": "DE", "company": "Analytical Engines Ltd"}


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    database = None
    extra: dict[str, str] = {}
    if request.param == "postgres":
        base = request.getfixturevalue("postgres_server")
        database = recreate_database(base, "fabcore_http_e2e")
        extra = {"FABCORE_SECRET_KEY": "e2e-secret-key-0123456789"}
    live = start_server(tmp_path / "server", database, extra)
    try:
        yield live
    finally:
        live.stop()


def _text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


def _bearer(client: httpx.Client, email: str, password: str) -> dict[str, str]:
    answer = client.post("/api/v1/shops/acme/sign-in",
                         json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _upload(client: httpx.Client, headers: dict[str, str]) -> str:
    answer = client.post("/api/v1/shops/acme/models", headers=headers,
                         files={"file": ("bracket.stl",
                                         (DATA / "20mm-xyz-cube.stl").read_bytes())})
    assert answer.status_code == 201, answer.text
    sha: str = answer.json()["sha256"]
    return sha


def _draft(client: httpx.Client, headers: dict[str, str], sha: str, process: str,
           material: str, quantity: int, shipping: dict[str, object],
           customer_id: str | None = None) -> str:
    order = client.post("/api/v1/shops/acme/orders", headers=headers,
                        json={"customer_id": customer_id} if customer_id else {}).json()
    base = f"/api/v1/shops/acme/orders/{order['id']}"
    line = client.post(f"{base}/lines", headers=headers, json={
        "model_sha256": sha, "filename": "bracket.stl",
        "spec": {"process": process, "material": material, "quantity": quantity}})
    assert line.status_code == 201, line.text
    assert client.put(f"{base}/shipping", json=shipping, headers=headers).status_code == 200
    order_id: str = order["id"]
    return order_id


def test_three_cases_end_to_end(server: LiveServer) -> None:
    client = server.client()
    owner = _bearer(client, OWNER_EMAIL, OWNER_PASSWORD)

    signed_up = client.post("/api/v1/shops/acme/sign-up", json={
        "name": "Ada Lovelace", "email": "ada@example.com", "password": "ada's password",
        "company": "Analytical Engines Ltd", "tax_id": "GB123456789",
        "billing_address": ADDRESS,
        "billing_contact": {"name": "Accounts", "email": "accounts@example.com"}})
    assert signed_up.status_code == 202, signed_up.text
    confirm = server.wait_for_mail(lambda m: "Confirm your e-mail" in m["Subject"])
    assert confirm["To"] == "ada@example.com"
    ada = _bearer(client, "ada@example.com", "ada's password")
    sha = _upload(client, ada)

    # Case 1: placed directly, paid online, invoice downloaded.
    order_id = _draft(client, ada, sha, "fdm", "pla", 10,
                      {"method": "standard", "address": ADDRESS})
    base = f"/api/v1/shops/acme/orders/{order_id}"
    placed = client.post(f"{base}/place", json={}, headers=ada)
    assert placed.status_code == 200, placed.text
    number = placed.json()["number"]
    mail = server.wait_for_mail(lambda m: f"Order {number}: Placed" in m["Subject"]
                                and m["To"] == "ada@example.com")
    assert mail["Cc"] == "accounts@example.com"
    assert "Order total:" in _text(mail)
    checkout = client.post(f"{base}/checkout", headers=ada).json()
    assert checkout["url"].startswith(f"{server.url}/demo-payments/")
    staff_paid = client.post(f"{base}/payments", headers=owner, json={
        "reference": "bank-4711", "amount": checkout["amount"]["amount"], "currency": "EUR"})
    assert staff_paid.json()["payment_status"] == "paid"
    pdf = client.get(f"{base}/invoice.pdf", headers=ada)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    server.wait_for_mail(lambda m: "payment" in m["Subject"].lower()
                         and m["To"] == "ada@example.com")

    # Case 2: review, firm offer accepted from the mailed link, PO.
    order_id = _draft(client, ada, sha, "sls", "pa12", 600, {"method": "pickup"})
    base = f"/api/v1/shops/acme/orders/{order_id}"
    assert client.post(f"{base}/place", json={}, headers=ada).status_code == 409
    review = client.post(f"{base}/submit-for-review", json={"note": "big run"}, headers=ada)
    assert review.json()["status"] == "waiting_for_review"
    assert client.get(f"{base}/payment-page", headers=ada).json()["state"] == "budget_offer"
    line_id = client.get(base, headers=owner).json()["lines"][0]["id"]
    client.put(f"{base}/lines/{line_id}/firm-price", headers=owner,
               json={"unit_price": "4.20"})
    offer = client.post(f"{base}/send-firm-offer", json={}, headers=owner).json()
    offer_mail = server.wait_for_mail(lambda m: f"Order {offer['number']}: Firm offer sent"
                                      in m["Subject"] and m["To"] == "ada@example.com")
    link = re.search(r"http://\S+/offers/(\S+)", _text(offer_mail))
    assert link is not None
    token = link.group(1)
    assert client.get(f"/api/v1/links/offers/{token}").json()["status"] == "firm_offer_sent"
    accepted = client.post(f"/api/v1/links/offers/{token}/accept")
    assert accepted.json()["status"] == "placed"
    po = client.post(f"{base}/purchase-order", headers=ada, data={"po_number": "PO-77"},
                     files={"document": ("po.pdf", b"%PDF-1.4 purchase order")})
    assert po.json()["status"] == "po_provided", po.text
    due = client.post(f"{base}/accept-po", json={"net_days": 30}, headers=owner)
    assert due.json()["status"] == "po_payment_due"

    # Case 3: IQT: staff quote for a customer, who confirms; then paying is possible.
    customer_id = client.get("/api/v1/me", headers=ada).json()["customer_id"]
    order_id = _draft(client, owner, sha, "cnc", "aluminium", 4, {"method": "pickup"},
                      customer_id=customer_id)
    base = f"/api/v1/shops/acme/orders/{order_id}"
    assert client.post(f"{base}/checkout", headers=ada).status_code == 409
    offered = client.post(f"{base}/status", json={"status": "firm_offer_sent"}, headers=owner)
    assert offered.status_code == 200, offered.text
    confirmed = client.post(f"{base}/accept-offer", json={"revision": 1}, headers=ada)
    assert confirmed.json()["status"] == "placed"
    assert client.post(f"{base}/checkout", headers=ada).status_code == 200

    listed = client.get("/api/v1/shops/acme/orders", headers=owner).json()["items"]
    assert [o["status"] for o in listed] == ["placed", "po_payment_due", "placed"]
    server.wait_for_mail(lambda m: "PO Payment due" in m["Subject"])
