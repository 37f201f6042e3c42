"""What operators see of a web node: readiness, metrics, request ids and structured logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from litestar.testing import TestClient

from fabcore.adapters.memory import MemoryDatabase, RecordingMetrics
from fabcore.adapters.prometheus import PrometheusMetrics, exposition
from fabcore.app.bootstrap import bootstrap
from fabcore.app.context import request_scope
from fabcore.app.samples import create_sample_shop
from fabcore.domain.errors import StorageError
from fabcore.entrypoints import logs
from fabcore.entrypoints.web import WebSettings, create_app
from web_fixtures import DATA, FAST_HASHER, Site


class _DownQueue:
    """A job queue whose database cannot be reached."""

    analyses_elsewhere = True

    def relay_outbox(self, request_id: str | None) -> None:
        raise StorageError("connection refused")

    def analyse_model(self, sha256: str, units: str, request_id: str | None) -> None:
        raise StorageError("connection refused")

    def waiting(self) -> dict[str, int]:
        raise StorageError("connection refused")

    def check(self) -> None:
        raise StorageError("the job queue (PostgreSQL) is unavailable: connection refused")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers, root.level = handlers, level
    logs._state["configured"] = False


def test_ready_when_every_backend_answers(site: Site) -> None:
    answer = site.client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "failed": [], "checks": {
        "database": "ok", "models": "ok", "mail": "ok", "jobs": "ok"}}
    assert site.client.get("/healthz").text == "ok"


def test_not_ready_names_what_failed(site: Site) -> None:
    site.mailer.fail_next(1)
    answer = site.client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failed"] == ["mail"]
    assert "421" in body["checks"]["mail"]
    assert body["checks"]["database"] == "ok"


def test_not_ready_when_the_model_directory_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "models"
    blocker.write_bytes(b"a file where the model directory should be")
    core = bootstrap(MemoryDatabase(), models=blocker, secret_key=b"k" * 32, hasher=FAST_HASHER)
    with TestClient(create_app(core, WebSettings(secure_cookies=False))) as client:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["failed"] == ["models"]
        assert str(blocker) in answer.json()["checks"]["models"]
        blocker.unlink()
        assert client.get("/readyz").status_code == 200
    assert blocker.is_dir()


def test_not_ready_when_the_queue_is_down() -> None:
    core = bootstrap(MemoryDatabase(), secret_key=b"k" * 32, hasher=FAST_HASHER,
                     jobs=_DownQueue())
    with TestClient(create_app(core, WebSettings(secure_cookies=False))) as client:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["failed"] == ["jobs"]
        metrics = client.get("/metrics")
    assert metrics.status_code == 200


def test_request_ids_are_answered_and_carried_into_mails(site: Site) -> None:
    given = site.client.post("/api/v1/shops/acme/sign-up", headers={"X-Request-ID": "abc-123"},
                             json={"name": "Ada", "email": "ada@example.com",
                                   "password": "correct horse battery"})
    assert given.headers["x-request-id"] == "abc-123"
    made = site.client.get("/healthz", headers={"X-Request-ID": "not valid at all"})
    assert len(made.headers["x-request-id"]) == 32
    assert made.headers["x-request-id"] != "not valid at all"
    site.core.relay_outbox()
    assert [m.request_id for m in site.mailer.sent] == ["abc-123"]


def test_metrics_count_requests_by_route_and_status_and_read_the_outbox() -> None:
    core = bootstrap(MemoryDatabase(), secret_key=b"k" * 32, hasher=FAST_HASHER,
                     metrics=PrometheusMetrics())
    create_sample_shop(core, "acme")
    with TestClient(create_app(core, WebSettings(secure_cookies=False))) as client:
        client.get("/api/v1/shops/acme/catalog")
        client.get("/api/v1/shops/acme/orders/nope")
        client.post("/api/v1/shops/acme/models",
                    files={"file": ("cube.stl", (DATA / "20mm-xyz-cube.stl").read_bytes())})
        client.post("/api/v1/shops/acme/sign-up", json={
            "name": "Ada", "email": "ada@example.com", "password": "correct horse battery"})
        text = client.get("/metrics").text
    assert ('fabcore_http_requests_total{method="GET",route="/api/v1/shops/{shop}/catalog",'
            'status="200"}') in text
    assert 'route="/api/v1/shops/{shop}/orders/{order_id}",status="401"' in text
    assert 'fabcore_model_analysis_seconds_count{format="stl"}' in text
    assert 'fabcore_outbox_messages{status="pending"} 1.0' in text
    assert 'fabcore_outbox_messages{status="failed"} 0.0' in text
    assert "fabcore_http_request_duration_seconds_bucket" in text


def test_status_changes_are_counted_by_status() -> None:
    metrics = PrometheusMetrics()
    before = _sample(exposition(None), 'fabcore_order_status_changes_total{status="shipped"}')
    metrics.status_changed("shipped")
    metrics.status_changed("shipped")
    after = _sample(exposition(None), 'fabcore_order_status_changes_total{status="shipped"}')
    assert after - before == 2


def _sample(text: bytes, name: str) -> float:
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_json_logs_carry_the_request_id(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure_logging("json", "INFO", stream)
    core = bootstrap(MemoryDatabase(), secret_key=b"k" * 32, hasher=FAST_HASHER,
                     metrics=RecordingMetrics())
    create_sample_shop(core, "acme")
    app = create_app(core, WebSettings(secure_cookies=False))
    with TestClient(app) as client:
        client.get("/api/v1/shops/acme/catalog", headers={"X-Request-ID": "req-77"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request: dict[str, Any] = next(line for line in lines if line.get("event") == "request")
    assert request["request_id"] == "req-77"
    assert request["route"] == "/api/v1/shops/{shop}/catalog"
    assert request["status"] == 200
    assert request["level"] == "info"
    assert "timestamp" in request


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


def _json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_plain_records_are_written_as_the_processor_chain_writes_them(
    restore_logging: None,
) -> None:
    # The JSON formatter writes plain records itself: the same fields as the chain.
    logs.configure_logging("json", "INFO", io.StringIO())
    handler = logging.getLogger().handlers[0]
    fast = handler.formatter
    assert isinstance(fast, logs._JsonLines)
    chain = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=fast.foreign_pre_chain, processors=fast.processors)
    records = [
        logging.LogRecord("fabcore.app.relay", logging.INFO, __file__, 1, "mail sent", (), None),
        logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 2, "a %s of %d", ("run", 3),
                          None),
        logging.makeLogRecord({"name": "fabcore.web.requests", "levelno": logging.INFO,
                               "levelname": "INFO", "msg": "request", "args": (),
                               "route": "/api/v1/x", "status": 200, "ms": 1.25,
                               "thing": _Opaque(), "request_id": "given"}),
    ]
    for record in records:
        for request_id in (None, "req-1"):
            with request_scope(request_id):
                ours, theirs = json.loads(fast.format(record)), json.loads(chain.format(record))
            assert ours.pop("timestamp").endswith("Z")
            assert theirs.pop("timestamp").endswith("Z")
            assert ours == theirs
    assert json.loads(fast.format(records[2]))["thing"] == "<opaque>"


def test_records_with_an_exception_keep_it_as_data(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure_logging("json", "INFO", stream)
    try:
        raise ValueError("broken mailer")
    except ValueError:
        logging.getLogger("fabcore.app.relay").exception("outbox %s: unexpected error", "m1")
    with structlog.contextvars.bound_contextvars(job="relay"):
        logging.getLogger("fabcore.jobs").info("bound")
    failed, bound = _json_lines(stream)
    assert failed["event"] == "outbox m1: unexpected error"
    assert failed["exception"][0]["exc_type"] == "ValueError"
    assert failed["exception"][0]["exc_value"] == "broken mailer"
    assert bound["job"] == "relay"


def test_console_logs_for_people(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure_logging("console", "INFO", stream)
    logging.getLogger("fabcore.test").warning("a %s thing", "readable")
    assert "a readable thing" in stream.getvalue()
    assert "{" not in stream.getvalue()


def test_bad_log_settings_are_refused(restore_logging: None) -> None:
    from fabcore.domain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="FABCORE_LOG_FORMAT"):
        logs.configure_logging("xml", "INFO", io.StringIO())
    with pytest.raises(ConfigurationError, match="FABCORE_LOG_LEVEL"):
        logs.configure_logging("json", "LOUD", io.StringIO())


def test_a_worker_needs_postgresql(
    restore_logging: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fabcore.entrypoints.cli import main

    # The command puts its options in the environment: restored after the test.
    for name in ("FABCORE_DATABASE_URL", "FABCORE_MAIL_URL", "FABCORE_MODELS",
                 "FABCORE_PAYMENTS_URL"):
        monkeypatch.setenv(name, "")
    assert main(["worker", "--database", f"sqlite:///{tmp_path / 'shop.db'}"]) == 2
    assert "needs a PostgreSQL database" in capsys.readouterr().err
    assert not (tmp_path / "shop.db").exists()
