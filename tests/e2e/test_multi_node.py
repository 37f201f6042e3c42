"""Two web nodes and two workers on one PostgreSQL database, as the deployment guide runs them.

A throwaway PostgreSQL cluster, a loopback SMTP server and a shared model
store (the ``model_store`` fixture: S3 on moto's server); two ``fabcore serve`` processes on
their own ports and two ``fabcore worker`` processes, with
``FABCORE_JOBS=queue``. Requests alternate between the nodes. Then faults:
a worker killed mid-relay and one killed mid-analysis (the other runs the
job again and nothing is lost or sent twice), and a web node killed after
it created an order but before it answered (the client's retry with the
same idempotency key gets that order; no second one), and one killed
after it placed an order (the retry answers the placed order; it is placed
once). A large upload the workers refuse leaves no object behind. Last,
the object store is stopped for a while: uploads answer 503 and leave
nothing behind, other requests are served, and uploads work again once it
is back, with the models stored before it stopped (``cluster_s3`` keeps
them over the restart). Processes are held where they are killed with
``FABCORE_PAUSE_AT``, so no test depends on timing.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from itertools import count
from pathlib import Path
from typing import Any

import attrs
import httpx
import psycopg
import pytest

from cluster import Cluster, Node, wait_for
from http_server import OWNER_EMAIL, OWNER_PASSWORD
from postgres_server import recreate_database
from s3_server import BUCKET, MotoServer
from smtp_server import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.multinode]

DATA = Path(__file__).resolve().parents[1] / "data"
SHOP = "/api/v1/shops/acme"
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "postal_code": "10115",
           "city": "Berlin", "country": "DE"}
LARGE = DATA / "1002_tray_bottom.STL"


@attrs.define
class Shop:
    """The running cluster and what the tests share."""

    cluster: Cluster
    smtp: SmtpServer
    database: str
    webs: list[Node]
    workers: list[Node]
    turn: Iterator[int] = attrs.field(factory=count)

    def urls(self) -> list[str]:
        """The web nodes still running: a killed one is never asked again."""
        return [node.url for node in self.webs if node.url and node.alive]

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request to the next web node in turn."""
        urls = self.urls()
        url = urls[next(self.turn) % len(urls)]
        return httpx.request(method, f"{url}{path}", timeout=60, **kwargs)

    def bearer(self, email: str, password: str) -> dict[str, str]:
        answer = self.call("POST", f"{SHOP}/sign-in", json={"email": email,
                                                            "password": password})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    def mails(self) -> list[EmailMessage]:
        with self.smtp.handler.lock:
            return [received.message for received in self.smtp.handler.received]

    def mail(self, predicate: Callable[[EmailMessage], bool]) -> EmailMessage:
        def found() -> EmailMessage | None:
            return next((m for m in reversed(self.mails()) if predicate(m)), None)

        return wait_for("a mail", found, 60, self.cluster.logs)

    def outbox(self) -> list[tuple[str, str, int, str]]:
        with psycopg.connect(self.database) as conn:
            return [(r[0], r[1], r[2], r[3]) for r in conn.execute(
                "SELECT id, status, attempts, data::jsonb -> 'mail' ->> 'message_id' "
                "FROM outbox ORDER BY seq")]

    def settled(self) -> list[tuple[str, str, int, str]]:
        """The outbox once no mail is pending."""
        def done() -> list[tuple[str, str, int, str]] | None:
            rows = self.outbox()
            return rows if all(status != "pending" for _, status, _, _ in rows) else None

        return wait_for("the outbox to be sent", done, 90, self.cluster.logs)


@pytest.fixture(scope="module")
def shop(postgres_server: str, model_store: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    database = recreate_database(postgres_server, "fabcore_multi_node")
    folder = tmp_path_factory.mktemp("cluster")
    with SmtpServer() as smtp:
        cluster = Cluster(folder, database, model_store, smtp.port)
        try:
            webs = [cluster.web("web-a")]
            webs.append(cluster.web("web-b"))
            workers = [cluster.worker("worker-1"), cluster.worker("worker-2")]
            yield Shop(cluster, smtp, database, webs, workers)
        finally:
            cluster.stop()


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _draft(shop: Shop, who: dict[str, str], sha: str, process: str, material: str,
           quantity: int, key: str, customer_id: str | None = None) -> str:
    order = shop.call("POST", f"{SHOP}/orders", headers={**who, "Idempotency-Key": key},
                      json={"customer_id": customer_id} if customer_id else {})
    assert order.status_code == 201, order.text
    base = f"{SHOP}/orders/{order.json()['id']}"
    line = shop.call("POST", f"{base}/lines", headers={**who, "Idempotency-Key": f"{key}-1"},
                     json={"model_sha256": sha, "filename": "bracket.stl",
                           "spec": {"process": process, "material": material,
                                    "quantity": quantity}})
    assert line.status_code == 201, line.text
    shipping = shop.call("PUT", f"{base}/shipping", headers=who, json={"method": "pickup"})
    assert shipping.status_code == 200, shipping.text
    order_id: str = order.json()["id"]
    return order_id


def test_three_cases_alternating_between_nodes(shop: Shop) -> None:
    owner = shop.bearer(OWNER_EMAIL, OWNER_PASSWORD)
    signed_up = shop.call("POST", f"{SHOP}/sign-up", json={
        "name": "Ada Lovelace", "email": "ada@example.com", "password": "ada's password",
        "billing_address": ADDRESS})
    assert signed_up.status_code == 202, signed_up.text
    shop.mail(lambda m: "Confirm your e-mail" in str(m["Subject"]))
    ada = shop.bearer("ada@example.com", "ada's password")
    uploaded = shop.call("POST", f"{SHOP}/models", headers=ada, files={
        "file": ("bracket.stl", (DATA / "20mm-xyz-cube.stl").read_bytes())})
    assert uploaded.status_code == 201, uploaded.text
    sha = uploaded.json()["sha256"]

    # Case 1: placed at the instant price, paid (recorded by the shop).
    order_id = _draft(shop, ada, sha, "fdm", "pla", 10, "case-1")
    base = f"{SHOP}/orders/{order_id}"
    placed = shop.call("POST", f"{base}/place", json={}, headers=ada)
    assert placed.json()["status"] == "placed", placed.text
    total = shop.call("GET", f"{base}/quote", headers=ada).json()["total"]["amount"]
    paid = shop.call("POST", f"{base}/payments", headers=owner, json={
        "reference": "bank-4711", "amount": total, "currency": "EUR"})
    assert paid.json()["payment_status"] == "paid", paid.text

    # Case 2: review, firm offer accepted through the mailed link.
    order_id = _draft(shop, ada, sha, "sls", "pa12", 600, "case-2")
    base = f"{SHOP}/orders/{order_id}"
    review = shop.call("POST", f"{base}/submit-for-review", json={}, headers=ada)
    assert review.json()["status"] == "waiting_for_review", review.text
    line_id = shop.call("GET", base, headers=owner).json()["lines"][0]["id"]
    shop.call("PUT", f"{base}/lines/{line_id}/firm-price", headers=owner,
              json={"unit_price": "4.20"})
    offer = shop.call("POST", f"{base}/send-firm-offer", json={}, headers=owner).json()
    offer_mail = shop.mail(lambda m: f"Order {offer['number']}: Firm offer sent"
                           in str(m["Subject"]) and str(m["To"]) == "ada@example.com")
    link = re.search(r"/offers/(\S+)", _text(offer_mail))
    assert link is not None
    accepted = shop.call("POST", f"/api/v1/links/offers/{link.group(1)}/accept")
    assert accepted.json()["status"] == "placed", accepted.text

    # Case 3: IQT: the shop drafts for Ada and sends the offer; she confirms.
    customer_id = shop.call("GET", "/api/v1/me", headers=ada).json()["customer_id"]
    order_id = _draft(shop, owner, sha, "cnc", "aluminium", 4, "case-3", customer_id)
    base = f"{SHOP}/orders/{order_id}"
    offered = shop.call("POST", f"{base}/status", json={"status": "firm_offer_sent"},
                        headers=owner)
    assert offered.status_code == 200, offered.text
    confirmed = shop.call("POST", f"{base}/accept-offer", json={"revision": 1}, headers=ada)
    assert confirmed.json()["status"] == "placed", confirmed.text

    listed = shop.call("GET", f"{SHOP}/orders", headers=owner).json()["items"]
    assert sorted((o["status"], o["payment_status"]) for o in listed) == [
        ("placed", "paid"), ("placed", "unpaid"), ("placed", "unpaid")]

    # Every mail delivered once, with the Message-ID the outbox gave it.
    rows = shop.settled()
    assert {status for _, status, _, _ in rows} == {"sent"}
    arrived = Counter(str(m["Message-ID"]) for m in shop.mails())
    assert arrived == Counter(message_id for _, _, _, message_id in rows)
    assert max(arrived.values()) == 1

    # The model is readable from both nodes.
    for url in shop.urls():
        model = httpx.get(f"{url}{SHOP}/models/{sha}", timeout=30)
        assert model.status_code == 200, model.text
        assert model.json()["analysis"]["triangles"] == uploaded.json()["analysis"]["triangles"]


def _replace_workers(shop: Shop, held: str) -> Node:
    """Stop the workers; start one that waits at ``held`` on its first attempt."""
    for worker in shop.workers:
        assert worker.terminate() == 0, worker.tail()
    slow = shop.cluster.worker("worker-held", {"FABCORE_PAUSE_AT": f"{held}=300"})
    shop.workers = [slow]
    return slow


def test_a_worker_killed_mid_relay_loses_and_repeats_nothing(shop: Shop) -> None:
    slow = _replace_workers(shop, "relay.before_send")
    answer = shop.call("POST", f"{SHOP}/sign-up", json={
        "name": "Bo", "email": "bo@example.com", "password": "bo's password 1"})
    assert answer.status_code == 202
    shop.cluster.paused("relay.before_send", slow)
    rescuer = shop.cluster.worker("worker-rescuer")
    slow.kill()
    shop.workers = [rescuer, shop.cluster.worker("worker-2b")]

    mail = shop.mail(lambda m: str(m["To"]) == "bo@example.com")
    rows = shop.settled()
    ((_, status, attempts, message_id),) = [r for r in rows if r[3] == str(mail["Message-ID"])]
    assert (status, attempts) == ("sent", 2)
    assert [str(m["Message-ID"]) for m in shop.mails()].count(message_id) == 1


def test_a_worker_killed_mid_analysis_loses_nothing(shop: Shop) -> None:
    slow = _replace_workers(shop, "analysis.before")
    answer = shop.call("POST", f"{SHOP}/models",
                       files={"file": ("tray.stl", LARGE.read_bytes())})
    assert answer.status_code == 202, answer.text
    status_url = answer.json()["status_url"]
    assert answer.json()["state"] == "pending"
    shop.cluster.paused("analysis.before", slow)
    analysing = shop.call("GET", status_url).json()
    assert (analysing["state"], analysing["attempts"]) == ("analysing", 1)
    rescuer = shop.cluster.worker("worker-rescuer")
    slow.kill()
    shop.workers = [rescuer, shop.cluster.worker("worker-2c")]

    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = shop.call("GET", status_url).json()
        return body if body["state"] == "done" else None

    done = wait_for("the analysis", finished, 120, shop.cluster.logs)
    assert done["analysis"]["triangles"] > 0
    sha = answer.json()["sha256"]
    for url in shop.urls():
        model = httpx.get(f"{url}{SHOP}/models/{sha}", timeout=30)
        assert model.status_code == 200, model.text
    with psycopg.connect(shop.database) as conn:
        row = conn.execute("SELECT data::jsonb ->> 'attempts' FROM analysis_requests "
                           "WHERE sha256 = %s", (sha,)).fetchone()
    assert row is not None
    assert row[0] == "2"


def test_a_web_node_killed_mid_request_the_retry_makes_no_second_order(shop: Shop) -> None:
    owner = shop.bearer(OWNER_EMAIL, OWNER_PASSWORD)
    before = len(shop.call("GET", f"{SHOP}/orders", headers=owner).json()["items"])
    first, other = shop.webs
    assert first.terminate() == 0, first.tail()
    held = shop.cluster.web("web-a-held", {"FABCORE_PAUSE_AT": "web.after_commit=300"})
    shop.webs = [held, other]
    headers = {**owner, "Idempotency-Key": "order-after-a-crash"}
    failures: list[BaseException] = []

    def create() -> None:
        try:
            httpx.post(f"{held.url}{SHOP}/orders", json={}, headers=headers, timeout=300)
        except httpx.HTTPError as exc:
            failures.append(exc)

    request = threading.Thread(target=create)
    request.start()
    shop.cluster.paused("web.after_commit", held)
    held.kill()
    request.join(60)
    assert len(failures) == 1

    retried = httpx.post(f"{other.url}{SHOP}/orders", json={}, headers=headers, timeout=60)
    assert retried.status_code == 201, retried.text
    again = httpx.post(f"{other.url}{SHOP}/orders", json={}, headers=headers, timeout=60)
    assert again.json()["id"] == retried.json()["id"]
    after = shop.call("GET", f"{SHOP}/orders", headers=owner).json()["items"]
    assert len(after) == before + 1
    shop.webs = [other, shop.cluster.web("web-a2")]
    assert shop.call("GET", f"{SHOP}/orders/{retried.json()['id']}",
                     headers=owner).status_code == 200


def test_a_web_node_killed_mid_placing_the_retry_places_once(shop: Shop) -> None:
    ada = shop.bearer("ada@example.com", "ada's password")
    sha = hashlib.sha256((DATA / "20mm-xyz-cube.stl").read_bytes()).hexdigest()
    order_id = _draft(shop, ada, sha, "fdm", "pla", 2, "killed-placing")
    first, other = shop.webs
    assert first.terminate() == 0, first.tail()
    held = shop.cluster.web("web-a-held-2", {"FABCORE_PAUSE_AT": "web.after_commit=300"})
    shop.webs = [held, other]
    headers = {**ada, "Idempotency-Key": "place-after-a-crash"}
    place = f"{SHOP}/orders/{order_id}/place"
    failures: list[BaseException] = []

    def send() -> None:
        try:
            httpx.post(f"{held.url}{place}", json={}, headers=headers, timeout=300)
        except httpx.HTTPError as exc:
            failures.append(exc)

    request = threading.Thread(target=send)
    request.start()
    shop.cluster.paused("web.after_commit", held)
    held.kill()
    request.join(60)
    assert len(failures) == 1

    retried = httpx.post(f"{other.url}{place}", json={}, headers=headers, timeout=60)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "placed"
    assert [entry["to_status"] for entry in retried.json()["history"]] == ["placed"]
    again = httpx.post(f"{other.url}{place}", json={}, headers=headers, timeout=60)
    assert again.json() == retried.json()
    assert httpx.post(f"{other.url}{place}", json={}, headers=ada,
                      timeout=60).status_code == 409
    shop.webs = [other, shop.cluster.web("web-a3")]

def test_a_large_upload_the_workers_refuse_leaves_no_object(
        shop: Shop, cluster_s3: MotoServer, model_store: str) -> None:
    junk = b"solid junk\nthis is not a mesh\n" * 40_000
    answer = shop.call("POST", f"{SHOP}/models", files={"file": ("junk.stl", junk)})
    assert answer.status_code == 202, answer.text
    sha = answer.json()["sha256"]
    prefix = model_store.split("?", maxsplit=1)[0].removeprefix(f"s3://{BUCKET}/")
    key = f"{prefix}/{sha[:2]}/{sha[2:]}"

    def refused() -> dict[str, Any] | None:
        body: dict[str, Any] = shop.call("GET", answer.json()["status_url"]).json()
        return body if body["state"] == "rejected" else None

    assert wait_for("the refusal", refused, 120, shop.cluster.logs)["reason"]
    listed = cluster_s3.client().list_objects_v2(Bucket=BUCKET, Prefix=key)
    assert listed.get("KeyCount") == 0
    again = shop.call("POST", f"{SHOP}/models", files={"file": ("junk.stl", junk)})
    assert again.status_code == 422, again.text

def _rows_for(shop: Shop, sha: str) -> tuple[int, int]:
    """How many analyses and analysis requests the database holds for ``sha``."""
    with psycopg.connect(shop.database) as conn:
        analyses = conn.execute("SELECT count(*) FROM analyses WHERE sha256 = %s",
                                (sha,)).fetchone()
        requests = conn.execute("SELECT count(*) FROM analysis_requests WHERE sha256 = %s",
                                (sha,)).fetchone()
    assert analyses is not None
    assert requests is not None
    return analyses[0], requests[0]


def test_uploads_wait_out_an_object_store_outage(shop: Shop, cluster_s3: MotoServer,
                                                 model_store: str) -> None:
    owner = shop.bearer(OWNER_EMAIL, OWNER_PASSWORD)
    prefix = model_store.split("?", maxsplit=1)[0].removeprefix(f"s3://{BUCKET}/")

    def stored() -> list[str]:
        pages = cluster_s3.client().get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=f"{prefix}/")
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

    def key(sha: str) -> str:
        return f"{prefix}/{sha[:2]}/{sha[2:]}"

    # A model stored before the outage, whichever tests ran before this one.
    earlier = shop.call("POST", f"{SHOP}/models", headers=owner,
                        files={"file": ("cube.stl", (DATA / "20mm-xyz-cube.stl").read_bytes())})
    assert earlier.status_code in (200, 201), earlier.text
    before = stored()
    assert before
    small = (DATA / "teapot.stl").read_bytes()
    # The tray under another solid name: new bytes, the same part, large
    # enough (over FABCORE_DEFER_ANALYSIS_MB) to be analysed by a worker.
    large = LARGE.read_bytes().replace(b"1002_tray_bottom", b"outage_tray_copy")
    shas = [hashlib.sha256(data).hexdigest() for data in (small, large)]
    orders = len(shop.call("GET", f"{SHOP}/orders", headers=owner).json()["items"])

    cluster_s3.stop()
    for _ in shop.urls():
        for name, data in (("teapot.stl", small), ("tray-copy.stl", large)):
            down = shop.call("POST", f"{SHOP}/models", headers=owner,
                             files={"file": (name, data)})
            assert down.status_code == 503, down.text
            assert down.json()["type"].endswith("storage-unavailable")
    for sha in shas:
        assert _rows_for(shop, sha) == (0, 0)
    for url in shop.urls():
        unready = httpx.get(f"{url}/readyz", timeout=30)
        assert unready.status_code == 503, unready.text
        assert unready.json()["failed"] == ["models"]
    for _ in shop.urls():
        listed = shop.call("GET", f"{SHOP}/orders", headers=owner)
        assert listed.status_code == 200, listed.text
        drafted = shop.call("POST", f"{SHOP}/orders", headers=owner, json={})
        assert drafted.status_code == 201, drafted.text
    orders += len(shop.urls())

    cluster_s3.start()
    assert stored() == before
    for url in shop.urls():
        assert httpx.get(f"{url}/readyz", timeout=30).status_code == 200
    again = shop.call("POST", f"{SHOP}/models", headers=owner,
                      files={"file": ("teapot.stl", small)})
    assert again.status_code == 201, again.text
    pending = shop.call("POST", f"{SHOP}/models", headers=owner,
                        files={"file": ("tray-copy.stl", large)})
    assert pending.status_code == 202, pending.text

    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = shop.call("GET", pending.json()["status_url"]).json()
        return body if body["state"] == "done" else None

    wait_for("the analysis", finished, 120, shop.cluster.logs)
    assert stored() == sorted([*before, *(key(sha) for sha in shas)])
    assert [_rows_for(shop, sha)[0] for sha in shas] == [1, 1]
    for url in shop.urls():
        for sha in [*shas, *(k.removeprefix(f"{prefix}/").replace("/", "") for k in before)]:
            model = httpx.get(f"{url}{SHOP}/models/{sha}", timeout=30)
            assert model.status_code == 200, model.text
    assert len(shop.call("GET", f"{SHOP}/orders", headers=owner).json()["items"]) == orders
