"""Retrying an unsafe POST with its ``Idempotency-Key``: the first answer again, nothing done twice.

What a client does when a web node died before it answered: it sends the
same request, with the same key, to another node. Without a key the retry
of a move is refused (409: the order has moved on); with one it answers the
order as the first call left it, with no second history entry, payment or mail.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fabcore.domain.errors import InvalidTransition
from fabcore.domain.status import OrderStatus
from fabcore.ports.repositories import UnitOfWorkFactory
from storage_fixtures import Shopfront, make_app
from web_fixtures import DATA, Person, Site

SHOP = "/api/v1/shops/acme"
CUBE = (DATA / "20mm-xyz-cube.stl").read_bytes()
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "postal_code": "10115",
           "city": "Berlin", "country": "DE"}


def _draft(site: Site, who: Person, quantity: int, customer_id: str | None = None) -> str:
    model = site.client.post(f"{SHOP}/models", files={"file": ("cube.stl", CUBE)},
                             headers=who.headers)
    assert model.status_code == 201, model.text
    order = site.client.post(f"{SHOP}/orders", headers=who.headers,
                             json={"customer_id": customer_id} if customer_id else {})
    base = f"{SHOP}/orders/{order.json()['id']}"
    line = site.client.post(f"{base}/lines", headers=who.headers, json={
        "model_sha256": model.json()["sha256"], "filename": "cube.stl",
        "spec": {"process": "fdm", "material": "pla", "quantity": quantity}})
    assert line.status_code == 201, line.text
    assert site.client.put(f"{base}/shipping", json={"method": "pickup"},
                           headers=who.headers).status_code == 200
    order_id: str = order.json()["id"]
    return order_id


def _state(site: Site, order_id: str) -> tuple[int, int, int]:
    """History entries, payment entries and mails sent so far for the order."""
    site.core.relay_outbox()
    with site.core.uow() as uow:
        stored = uow.orders.get(order_id)
    return len(stored.history), len(stored.payments), len(site.mailer.sent)


def _twice(site: Site, order_id: str, send: Any, *, repeatable: bool = False) -> httpx.Response:
    """``send(key)`` with a key, then again: the same answer, and no change the second time.

    Then without a key: refused, unless the change is ``repeatable`` (sending
    the firm offer again makes a new revision), when it is not tried.
    """
    first = send("retry-me")
    assert first.status_code == 200, first.text
    before = _state(site, order_id)
    again = send("retry-me")
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert _state(site, order_id) == before
    if not repeatable:
        unkeyed = send(None)
        assert unkeyed.status_code == 409, unkeyed.text
        assert _state(site, order_id) == before
    response: httpx.Response = first
    return response


def _post(site: Site, who: Person | None, path: str, body: dict[str, Any]) -> Any:
    def send(key: str | None) -> httpx.Response:
        headers = {**(who.headers if who else {}), **({"Idempotency-Key": key} if key else {})}
        answer: httpx.Response = site.client.post(path, json=body, headers=headers)
        return answer

    return send


def test_placing_and_recording_the_payment(site: Site) -> None:
    ada = site.sign_up("ada@example.com", billing_address=ADDRESS)
    owner = site.owner()
    order_id = _draft(site, ada, 10)
    base = f"{SHOP}/orders/{order_id}"
    placed = _twice(site, order_id, _post(site, ada, f"{base}/place", {}))
    assert placed.json()["status"] == "placed"
    total = site.client.get(f"{base}/quote", headers=ada.headers).json()["total"]["amount"]
    paid = _twice(site, order_id, _post(site, owner, f"{base}/payments", {
        "reference": "bank-4711", "amount": total, "currency": "EUR"}))
    assert paid.json()["payment_status"] == "paid"
    with site.core.uow() as uow:
        assert len(uow.orders.get(order_id).payments) == 1


def test_review_and_accepting_the_offer(site: Site) -> None:
    ada = site.sign_up("ada@example.com", billing_address=ADDRESS)
    owner = site.owner()
    order_id = _draft(site, ada, 600)
    base = f"{SHOP}/orders/{order_id}"
    review = _twice(site, order_id, _post(site, ada, f"{base}/submit-for-review", {}))
    assert review.json()["status"] == "waiting_for_review"
    line_id = site.client.get(base, headers=owner.headers).json()["lines"][0]["id"]
    site.client.put(f"{base}/lines/{line_id}/firm-price", headers=owner.headers,
                    json={"unit_price": "1.10"})
    offered = _twice(site, order_id, _post(site, owner, f"{base}/status",
                                           {"status": "firm_offer_sent"}), repeatable=True)
    assert offered.json()["status"] == "firm_offer_sent"
    accepted = _twice(site, order_id, _post(site, ada, f"{base}/accept-offer",
                                            {"revision": 1}))
    assert accepted.json()["status"] == "placed"


def test_a_key_belongs_to_its_change_and_its_caller(site: Site) -> None:
    ada = site.sign_up("ada@example.com", billing_address=ADDRESS)
    owner = site.owner()
    order_id = _draft(site, ada, 10)
    base = f"{SHOP}/orders/{order_id}"
    keyed = {**ada.headers, "Idempotency-Key": "k"}
    assert site.client.post(f"{base}/place", json={}, headers=keyed).status_code == 200
    total = site.client.get(f"{base}/quote", headers=ada.headers).json()["total"]["amount"]
    paid = site.client.post(f"{base}/payments", headers={**owner.headers, "Idempotency-Key": "k"},
                            json={"reference": "r", "amount": total, "currency": "EUR"})
    assert paid.json()["payment_status"] == "paid", paid.text
    moved = site.client.post(f"{base}/status", headers={**owner.headers, "Idempotency-Key": "k"},
                             json={"status": "free_for_manufacturing"})
    assert moved.json()["status"] == "free_for_manufacturing", moved.text


def test_a_retried_upload_answers_the_same_and_stores_nothing_more(site: Site) -> None:
    ada = site.sign_up("ada@example.com", billing_address=ADDRESS)

    def upload() -> httpx.Response:
        answer: httpx.Response = site.client.post(
            f"{SHOP}/models", files={"file": ("cube.stl", CUBE)}, headers=ada.headers)
        return answer

    first = upload()
    assert first.status_code == 201, first.text
    stored = sorted(site.core.models.digests())
    again = upload()
    assert (again.status_code, again.json()) == (201, first.json())
    assert sorted(site.core.models.digests()) == stored == [first.json()["sha256"]]


def test_the_key_is_kept_with_the_order_in_every_database(storage: UnitOfWorkFactory) -> None:
    front = Shopfront(make_app(storage))
    app = front.app
    order = front.draft()
    placed = app.place(front.buyer, order.id, key="place-1")
    again = make_app(storage).place(front.buyer, order.id, key="place-1")
    assert again == placed
    with pytest.raises(InvalidTransition):
        app.place(front.buyer, order.id, key="place-2")
    assert placed.agreed_quote is not None
    total = placed.agreed_quote.total
    assert total is not None
    paid = app.record_payment(front.staff, order.id, "bank-1", total, key="pay-1")
    assert app.record_payment(front.staff, order.id, "bank-1", total, key="pay-1") == paid
    stored = app.get_order(front.staff, order.id)
    assert [entry.to_status for entry in stored.history] == [OrderStatus.PLACED]
    assert len(stored.payments) == 1
