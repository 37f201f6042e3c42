"""``fabcore serve`` with two uvicorn processes: one count of requests at /metrics, JSON logs.

That counts of several processes add up is shown in
``tests/integration/test_metrics_processes.py``; here the server is wired so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from http_server import start_server

pytestmark = pytest.mark.slow

ROUTE = ('fabcore_http_requests_total{method="GET",route="/api/v1/shops/{shop}/catalog",'
         'status="200"}')


def _count(text: str) -> float:
    found = re.search(re.escape(ROUTE) + r" (\S+)", text)
    return float(found.group(1)) if found else 0.0


def test_metrics_of_every_uvicorn_process_and_json_logs(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server", extra_env={
        "FABCORE_WEB_WORKERS": "2", "FABCORE_LOG_FORMAT": "json"})
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for n in range(40):
                answer = client.get("/api/v1/shops/acme/catalog", headers={
                    "X-Request-ID": f"catalog-{n}", "Connection": "close"})
                assert answer.status_code == 200
            for _ in range(10):
                scraped = client.get("/metrics", headers={"Connection": "close"})
                assert _count(scraped.text) == 40
            ready = client.get("/readyz")
            assert ready.json()["status"] == "ready", ready.text
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log.read_text().splitlines()
             if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"
                and line.get("route") == "/api/v1/shops/{shop}/catalog"]
    assert sorted(line["request_id"] for line in requests) == sorted(
        f"catalog-{n}" for n in range(40))
    assert {type(line["pid"]) for line in requests} == {int}
