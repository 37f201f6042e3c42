"""The orders the HTTP benchmarks work on, made and reset through the API.

Shared by ``bench_web.py`` and ``bench_scale.py``; it imports only httpx at
first (the owner's sign-in comes from the test server helpers when used), so
the upload rows' child processes of ``bench_scale.py`` stay light.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

CUBE = Path(__file__).resolve().parent.parent / "tests" / "data" / "20mm-xyz-cube.stl"
ADDRESS = {"name": "Ada", "line1": "1 Way", "postal_code": "10115", "city": "Berlin",
           "country": "DE"}


def prepare(url: str, orders: int) -> tuple[str, str, list[str]]:
    """Owner token, an analysed model's sha256 and ``orders`` placed orders."""
    from http_server import OWNER_EMAIL, OWNER_PASSWORD

    with httpx.Client(base_url=url, timeout=60) as client:
        token = client.post("/api/v1/shops/acme/sign-in", json={
            "email": OWNER_EMAIL, "password": OWNER_PASSWORD}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        model = client.post("/api/v1/shops/acme/models", headers=headers,
                            files={"file": ("cube.stl", CUBE.read_bytes())}).json()
        customer = client.post("/api/v1/shops/acme/customers", headers=headers, json={
            "name": "Ada", "email": "ada@example.com", "billing_address": ADDRESS}).json()
        ids = []
        for _ in range(orders):
            order = client.post("/api/v1/shops/acme/orders", headers=headers,
                                json={"customer_id": customer["id"]}).json()
            base = f"/api/v1/shops/acme/orders/{order['id']}"
            client.post(f"{base}/lines", headers=headers, json={
                "model_sha256": model["sha256"], "filename": "cube.stl",
                "spec": {"process": "fdm", "material": "pla", "quantity": 5}})
            client.put(f"{base}/shipping", headers=headers, json={"method": "pickup"})
            placed = client.post(f"{base}/place", headers=headers, json={})
            if placed.status_code != 200:
                raise RuntimeError(f"placing a bench order was refused: {placed.text}")
            ids.append(order["id"])
    return token, model["sha256"], ids


def queued_mails(url: str, token: str) -> int:
    """Mails in the shop's outbox still waiting to be sent."""
    headers = {"Authorization": f"Bearer {token}"}
    count = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        while True:
            page = client.get("/api/v1/shops/acme/outbox", headers=headers, params={
                "status": "pending", "limit": 200, "offset": count}).json()
            count += len(page["items"])
            if page.get("next_offset") is None:
                return count


def wait_for_mails(url: str, token: str, timeout: float = 300.0) -> float:
    """Wait until the outbox is empty; the seconds it took."""
    started = time.monotonic()
    while queued_mails(url, token):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"mails still queued after {timeout:g} s")
        time.sleep(0.2)
    return time.monotonic() - started


def resume_held(url: str, token: str) -> None:
    """Put every order a status run left on hold back to placed, for the next run."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=60) as client:
        while True:
            page = client.get("/api/v1/shops/acme/orders", headers=headers,
                              params={"status": "on_hold", "limit": 200}).json()
            if not page["items"]:
                return
            for order in page["items"]:
                base = f"/api/v1/shops/acme/orders/{order['id']}"
                resumed = client.post(f"{base}/status", headers=headers,
                                      json={"status": "placed"})
                if resumed.status_code == 409:
                    # A request wrk left in flight resumed it after the listing.
                    now = client.get(base, headers=headers).json()["status"]
                    if now != "placed":
                        raise RuntimeError(f"an order stayed {now}: {resumed.text}")
                    continue
                if resumed.status_code != 200:
                    raise RuntimeError(f"resuming a bench order was refused: {resumed.text}")
