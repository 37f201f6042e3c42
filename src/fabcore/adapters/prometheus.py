"""Metrics for Prometheus (prometheus-client), safe with several processes per machine.

:class:`PrometheusMetrics` satisfies the ``Metrics`` port; :data:`HTTP_REQUESTS`
and :data:`HTTP_SECONDS` are what the web front counts per request. With
``PROMETHEUS_MULTIPROC_DIR`` set (``fabcore serve`` sets it for its
uvicorn processes), every process writes its counts to files there and a
scrape of any of them adds up all (:func:`exposition`). Figures read from
the database when scraped (mails waiting, jobs waiting) come from a
:class:`GaugeSource` the caller gives.

Metric names:

- ``fabcore_http_requests_total{method,route,status}``: requests answered;
- ``fabcore_http_request_duration_seconds{method,route}``: their time;
- ``fabcore_model_analysis_seconds{format}``: time to analyse a model file;
- ``fabcore_order_status_changes_total{status}``: orders reaching a status;
- ``fabcore_outbox_messages{status}``: mails ``pending`` and ``failed``;
- ``fabcore_jobs_waiting{queue}``: jobs waiting in the task queue.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "HTTP_REQUESTS", "HTTP_SECONDS", "GaugeSource",
           "PrometheusMetrics", "exposition"]

HTTP_REQUESTS = Counter("fabcore_http_requests_total", "HTTP requests answered",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("fabcore_http_request_duration_seconds",
                         "Time to answer an HTTP request", ["method", "route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
ANALYSIS_SECONDS = Histogram("fabcore_model_analysis_seconds",
                             "Time to analyse an uploaded model file", ["format"],
                             buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120))
STATUS_CHANGES = Counter("fabcore_order_status_changes_total",
                         "Orders that reached a status", ["status"])

#: Figures read when scraped: mails by outbox status, jobs waiting by queue.
GaugeSource = Callable[[], tuple[Mapping[str, int], Mapping[str, int]]]


class PrometheusMetrics:
    """The ``Metrics`` port, counted in prometheus-client's metrics."""

    def status_changed(self, status: str) -> None:
        STATUS_CHANGES.labels(status).inc()

    def model_analysed(self, file_format: str, seconds: float) -> None:
        ANALYSIS_SECONDS.labels(file_format).observe(seconds)


class _Gauges(Collector):
    def __init__(self, source: GaugeSource) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        outbox, waiting = self._source()
        mails = GaugeMetricFamily("fabcore_outbox_messages", "Mails in the outbox by status",
                                  labels=["status"])
        for status, count in sorted(outbox.items()):
            mails.add_metric([status], count)
        jobs = GaugeMetricFamily("fabcore_jobs_waiting", "Jobs waiting in the task queue",
                                 labels=["queue"])
        for queue, count in sorted(waiting.items()):
            jobs.add_metric([queue], count)
        return [mails, jobs]


def _process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def exposition(source: GaugeSource | None) -> bytes:
    """The text a scrape gets: the counts of every process here, and ``source``'s figures."""
    text = generate_latest(_process_registry())
    if source is None:
        return text
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(_Gauges(source))
    return text + generate_latest(gauges)
