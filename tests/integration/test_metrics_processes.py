"""Counts of several processes sharing ``PROMETHEUS_MULTIPROC_DIR`` add up in one scrape."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COUNT = """
from fabcore.adapters.prometheus import HTTP_REQUESTS, PrometheusMetrics
for _ in range({n}):
    HTTP_REQUESTS.labels("GET", "/things", "200").inc()
PrometheusMetrics().status_changed("placed")
"""
SCRAPE = """
import sys
from fabcore.adapters.prometheus import exposition
sys.stdout.write(exposition(lambda: ({"pending": 3}, {"mail": 1})).decode())
"""


def _run(code: str, folder: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True, timeout=120)
    return done.stdout


def test_a_scrape_adds_up_every_process(tmp_path: Path) -> None:
    _run(COUNT.format(n=3), tmp_path)
    _run(COUNT.format(n=4), tmp_path)
    text = _run(SCRAPE, tmp_path)
    assert ('fabcore_http_requests_total{method="GET",route="/things",status="200"} 7.0'
            in text)
    assert 'fabcore_order_status_changes_total{status="placed"} 2.0' in text
    assert 'fabcore_outbox_messages{status="pending"} 3.0' in text
    assert 'fabcore_jobs_waiting{queue="mail"} 1.0' in text
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
