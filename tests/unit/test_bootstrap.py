"""Wiring from URLs: the link-signing key and unknown settings."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fabcore.app.bootstrap import make_database, make_model_store, make_signer
from fabcore.domain.errors import ConfigurationError, OfferLinkInvalid
from fabcore.domain.notifications import LinkPurpose

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FABCORE_SECRET_KEY", raising=False)
    monkeypatch.delenv("FABCORE_OLD_SECRET_KEYS", raising=False)


def test_sqlite_keeps_its_link_key_beside_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    token = make_signer(url).issue("o1", LinkPurpose.OFFER, 1, NOW + timedelta(days=1))
    key_file = tmp_path / "shop.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Another process (a new signer) verifies what the first one signed.
    claims = make_signer(url).verify(token, purpose=LinkPurpose.OFFER, now=NOW)
    assert (claims.order_id, claims.revision) == ("o1", 1)


def test_rotated_keys_still_verify_old_links(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABCORE_SECRET_KEY", "old-secret-old-secret")
    token = make_signer("memory://").issue("o1", LinkPurpose.PAY, 0, NOW + timedelta(days=1))
    monkeypatch.setenv("FABCORE_SECRET_KEY", "new-secret-new-secret")
    with pytest.raises(OfferLinkInvalid):
        make_signer("memory://").verify(token, purpose=LinkPurpose.PAY, now=NOW)
    monkeypatch.setenv("FABCORE_OLD_SECRET_KEYS", "old-secret-old-secret")
    claims = make_signer("memory://").verify(token, purpose=LinkPurpose.PAY, now=NOW)
    assert claims.order_id == "o1"


@pytest.mark.parametrize("setting", ["FABCORE_SECRET_KEY", "FABCORE_OLD_SECRET_KEYS"])
def test_a_sqlite_shops_key_file_carries_over_as_hex(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    token = make_signer(url).issue("o1", LinkPurpose.OFFER, 1, NOW + timedelta(days=1))
    key = (tmp_path / "shop.db.key").read_text().strip()
    if setting == "FABCORE_OLD_SECRET_KEYS":
        monkeypatch.setenv("FABCORE_SECRET_KEY", "the new key for the new database")
    monkeypatch.setenv(setting, f"hex:{key}")
    claims = make_signer("postgresql://db/shop").verify(token, purpose=LinkPurpose.OFFER,
                                                        now=NOW)
    assert claims.order_id == "o1"
    monkeypatch.setenv(setting, key)
    with pytest.raises(OfferLinkInvalid):
        make_signer("postgresql://db/shop").verify(token, purpose=LinkPurpose.OFFER, now=NOW)


def test_a_hex_key_needs_hex_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABCORE_SECRET_KEY", "hex:not hex")
    with pytest.raises(ConfigurationError, match="FABCORE_SECRET_KEY: hex: must be followed"):
        make_signer("postgresql://db/shop")


def test_postgres_needs_a_configured_key() -> None:
    with pytest.raises(ConfigurationError, match="FABCORE_SECRET_KEY"):
        make_signer("postgresql://localhost/shop")


def test_memory_keys_differ_per_process_start() -> None:
    token = make_signer("memory://").issue("o1", LinkPurpose.OFFER, 1, NOW + timedelta(days=1))
    with pytest.raises(OfferLinkInvalid):
        make_signer("memory://").verify(token, purpose=LinkPurpose.OFFER, now=NOW)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x", "unsupported URL scheme 'mysql'"),
        ("shop.db", "is not a URL"),
        ("sqlite://host/shop.db", "expected sqlite:///"),
    ],
)
def test_bad_database_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_database(url)


def test_model_store_needs_memory_s3_or_a_directory() -> None:
    with pytest.raises(ConfigurationError, match="memory://, s3://bucket/prefix or a directory"):
        make_model_store("gs://bucket")


def test_model_store_on_s3() -> None:
    from fabcore.adapters.s3 import S3ModelStore

    store = make_model_store(
        "s3://shop-models/fabcore/models/?endpoint=http://127.0.0.1:9000&region=eu-west-1"
        "&part_mb=16&concurrency=2&read_timeout=30"
    )
    assert isinstance(store, S3ModelStore)
    assert (store.bucket, store.prefix, store.endpoint) == (
        "shop-models", "fabcore/models", "http://127.0.0.1:9000"
    )
    assert store.part_size == 16 * 1024 * 1024
    assert repr(store) == (
        "S3ModelStore('s3://shop-models/fabcore/models', endpoint='http://127.0.0.1:9000')"
    )
    assert make_model_store("s3://shop-models").prefix == ""  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "expected s3://bucket/prefix"),
        ("s3://key:secret@bucket/models", "credentials do not go in the s3:// URL"),
        ("s3://bucket?endpont=http://x", "unknown s3:// option"),
        ("s3://bucket?part_mb=4", "part_mb must be at least 5"),
        ("s3://bucket?part_mb=5.5", "part_mb must be a whole number"),
        ("s3://bucket?concurrency=0", "concurrency must be above 0"),
        ("s3://bucket?read_timeout=soon", "read_timeout must be a number"),
        ("s3://bucket?addressing=dns", "addressing must be path, virtual or auto"),
        ("s3://bucket?endpoint", "bad query"),
    ],
)
def test_bad_s3_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_model_store(url)
