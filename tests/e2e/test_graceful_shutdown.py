"""SIGTERM lets the work in flight finish: a request in a web node, a relay in a worker.

Each process is held at a pause point (``FABCORE_PAUSE_AT``) so the signal
lands while the request or job is in flight, whatever the machine's speed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cluster import Cluster, wait_for
from fabcore.adapters.task_queue import ProcrastinateJobs
from fabcore.app.bootstrap import bootstrap
from fabcore.app.context import request_scope
from fabcore.app.samples import create_sample_shop
from http_server import OWNER_EMAIL, OWNER_PASSWORD, free_port, start_server
from postgres_server import recreate_database
from smtp_server import SmtpServer

pytestmark = pytest.mark.slow


def test_a_request_in_flight_during_sigterm_completes(tmp_path: Path) -> None:
    pauses = tmp_path / "pauses"
    pauses.mkdir()
    server = start_server(tmp_path / "server", extra_env={
        "FABCORE_PAUSE_AT": "web.after_commit=3", "FABCORE_PAUSE_DIR": str(pauses)})
    try:
        client = server.client()
        token = client.post("/api/v1/shops/acme/sign-in", json={
            "email": OWNER_EMAIL, "password": OWNER_PASSWORD}).json()["token"]
        answers: list[httpx.Response] = []
        request = threading.Thread(target=lambda: answers.append(client.post(
            "/api/v1/shops/acme/orders", json={}, headers={"Authorization": f"Bearer {token}"})))
        request.start()
        marker = pauses / f"web.after_commit-{server.process.pid}"
        wait_for("the request to be in flight", lambda: marker.exists() or None)
        server.process.send_signal(signal.SIGTERM)
        request.join(60)
        assert [a.status_code for a in answers] == [201], server.log.read_text()[-3000:]
        assert answers[0].json()["status"] == "draft"
        assert server.process.wait(60) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/healthz", timeout=2)
    finally:
        server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def test_a_relay_in_flight_during_sigterm_is_finished(
    tmp_path: Path, postgres_server: str, smtp: SmtpServer
) -> None:
    url = recreate_database(postgres_server, "fabcore_worker_shutdown")
    cluster = Cluster(tmp_path, url, str(tmp_path / "models"), smtp.port)
    jobs = ProcrastinateJobs(url)
    jobs.apply_schema()
    core = bootstrap(url, secret_key=b"k" * 32, jobs=jobs)
    try:
        create_sample_shop(core, "acme")
        metrics_port = free_port()
        worker = cluster.worker("worker", {"FABCORE_PAUSE_AT": "relay.before_send=3",
                                           "FABCORE_METRICS_PORT": str(metrics_port)})
        with request_scope("req-shutdown"):
            core.sign_up("acme", name="Ada", email="ada@example.com",
                         password="ada's password 1")
        cluster.paused("relay.before_send", worker)
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        assert 'fabcore_outbox_messages{status="pending"} 1.0' in scraped
        assert "fabcore_jobs_waiting" in scraped
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(60) == 0, worker.tail()
        assert [r.rcpt_tos for r in smtp.handler.received] == [("ada@example.com",)]
        assert smtp.handler.received[0].message["X-Request-ID"] == "req-shutdown"
    finally:
        cluster.stop()
        core.close()
        jobs.close()
