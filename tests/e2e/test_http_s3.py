"""``fabcore serve --models s3://...``: uploads land in the bucket; 503 while it is down.

``/readyz`` says the store is down (naming it) while it is, and ready when it is back.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from http_server import OWNER_EMAIL, OWNER_PASSWORD, start_server
from s3_server import BUCKET, MotoServer

PART = Path(__file__).resolve().parents[1] / "data" / "20mm-xyz-cube.stl"
OTHER = Path(__file__).resolve().parents[1] / "data" / "teapot.stl"


def _upload(client: httpx.Client, headers: dict[str, str], path: Path) -> httpx.Response:
    return client.post("/api/v1/shops/acme/models", headers=headers,
                       files={"file": (path.name, path.read_bytes())})


@pytest.mark.usefixtures("s3_credentials")
def test_uploads_go_to_the_bucket_and_wait_out_an_outage(tmp_path: Path) -> None:
    s3 = MotoServer()
    try:
        s3.create_bucket(BUCKET)
        live = start_server(tmp_path / "server", extra_env={"AWS_MAX_ATTEMPTS": "1"},
                            args=["--models", s3.url(BUCKET, "shop-models")])
        try:
            client = live.client()
            signed_in = client.post("/api/v1/shops/acme/sign-in",
                                    json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD})
            assert signed_in.status_code == 200, signed_in.text
            client.cookies.clear()
            owner = {"Authorization": f"Bearer {signed_in.json()['token']}"}

            stored = _upload(client, owner, PART)
            assert stored.status_code == 201, stored.text
            sha = hashlib.sha256(PART.read_bytes()).hexdigest()
            assert stored.json()["sha256"] == sha
            key = f"shop-models/{sha[:2]}/{sha[2:]}"
            body = s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert body == PART.read_bytes()
            assert not (live.folder / "models").exists()

            assert client.get("/readyz").status_code == 200

            s3.stop()
            down = _upload(client, owner, OTHER)
            assert down.status_code == 503, down.text
            assert down.json()["type"].endswith("storage-unavailable")
            unready = client.get("/readyz")
            assert unready.status_code == 503, unready.text
            assert unready.json()["failed"] == ["models"]
            assert f"s3://{BUCKET}/shop-models" in unready.json()["checks"]["models"]

            s3.start()
            s3.create_bucket(BUCKET)
            assert client.get("/readyz").status_code == 200
            back = _upload(client, owner, OTHER)
            assert back.status_code == 201, back.text
            assert [item["Key"] for item in s3.client().list_objects_v2(
                Bucket=BUCKET, Prefix="shop-models/")["Contents"]] == [
                f"shop-models/{back.json()['sha256'][:2]}/{back.json()['sha256'][2:]}"]
        finally:
            live.stop()
    finally:
        s3.stop()
