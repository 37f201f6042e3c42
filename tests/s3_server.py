"""An S3 API server for the tests: a pytest plugin (listed in ``tests/conftest.py``).

:class:`MotoServer` runs moto's server mode (``python -m moto.server``) in a
process of its own on 127.0.0.1 at a free port: a real HTTP S3 API, signed
requests, multipart uploads and all. The ``s3_server`` fixture is one for
the whole session; tests that stop the server start their own.

moto keeps objects in memory, so a stopped server comes back empty. One
made with ``keep_data`` (a file) comes back with what it held: moto's
recorder writes every request it serves to that file, and :meth:`MotoServer.start`
replays the file into the new process. Replaying gives the same objects
for single-request uploads (files under ``PART_MB``); a multipart upload is
not restored, since its upload id is random and differs on the replay.

``s3_location`` is an empty place to store models: a prefix of its own in a
bucket. When ``FABCORE_TEST_S3_URL`` is set (``s3://bucket/prefix?endpoint=...``,
credentials in ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``), the
tests that take it run against that store instead, e.g. AWS S3, MinIO or R2,
each under a prefix of its own that is emptied afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import attrs
import httpx
import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ENV_URL = "FABCORE_TEST_S3_URL"
BUCKET = "fabcore-tests"
#: The smallest part S3 accepts: test files of a few parts stay small.
PART_MB = 5
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "fabcore-test", "AWS_SECRET_ACCESS_KEY": "fabcore-test",
               "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@functools.cache
def client(endpoint: str | None, region: str | None = None) -> S3Client:
    """A plain boto3 client, to look at what a store wrote."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=region,
        config=Config(s3={"addressing_style": "path" if endpoint else "auto"}),
    )


class MotoServer:
    """moto's S3 server in a child process, on loopback; :meth:`stop` ends it.

    With ``keep_data``, :meth:`start` after :meth:`stop` brings back the
    objects (see the module).
    """

    def __init__(self, port: int | None = None, keep_data: Path | None = None) -> None:
        self.port = port or _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.keep_data = keep_data
        self._process: subprocess.Popen[bytes] | None = None
        self.start()
        atexit.register(self.stop)

    def start(self) -> None:
        env = {**os.environ, **CREDENTIALS}
        recording = self.keep_data is not None and self.keep_data.exists()
        if self.keep_data is not None:
            env |= {"MOTO_ENABLE_RECORDING": "1", "MOTO_RECORDER_FILEPATH": str(self.keep_data)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        deadline = time.monotonic() + 30
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto's server exited with {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto's server did not listen within 30 s") from None
                time.sleep(0.05)
        if recording:
            replayed = httpx.post(f"{self.endpoint}/moto-api/recorder/replay-recording",
                                  timeout=300)
            replayed.raise_for_status()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("moto's server is not running")
        return self._process.pid

    def client(self) -> S3Client:
        return client(self.endpoint)

    def create_bucket(self, name: str) -> None:
        with contextlib.suppress(self.client().exceptions.BucketAlreadyOwnedByYou):
            self.client().create_bucket(Bucket=name)

    def url(self, bucket: str, prefix: str = "", **options: object) -> str:
        """``s3://bucket/prefix?endpoint=...`` for this server."""
        query = urlencode({"endpoint": self.endpoint, "part_mb": PART_MB, **options})
        return f"s3://{bucket}/{prefix}?{query}"


@attrs.frozen
class S3Location:
    """An empty prefix in a bucket: where a test stores models."""

    url: str
    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None = None

    def client(self) -> S3Client:
        return client(self.endpoint, self.region)

    def objects(self) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/"
        )
        return [item["Key"] for page in pages for item in page.get("Contents", ())]

    def empty(self) -> None:
        keys = self.objects()
        for start in range(0, len(keys), 1000):
            self.client().delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": key} for key in keys[start:start + 1000]], "Quiet": True,
            })


@pytest.fixture(scope="session")
def s3_credentials() -> Iterator[None]:
    """Test credentials for moto, unless a real store's are in the environment."""
    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get(ENV_URL):
            for name, value in CREDENTIALS.items():
                patch.setenv(name, value)
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                         "AWS_ENDPOINT_URL_S3"):
                patch.delenv(name, raising=False)
            patch.setenv("AWS_CONFIG_FILE", os.devnull)
            patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        yield


@pytest.fixture(scope="session")
def s3_server(s3_credentials: None) -> Iterator[MotoServer]:
    """moto's S3 server for the session, with the bucket ``fabcore-tests``."""
    server = MotoServer()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_location(request: pytest.FixtureRequest, s3_credentials: None) -> Iterator[S3Location]:
    """An empty prefix of its own, on moto's server or at ``FABCORE_TEST_S3_URL``."""
    from urllib.parse import parse_qsl, urlsplit

    name = f"t-{uuid.uuid4().hex[:12]}"
    given = os.environ.get(ENV_URL)
    if given:
        parts = urlsplit(given)
        options = dict(parse_qsl(parts.query))
        bucket, base = parts.hostname or "", parts.path.strip("/")
        prefix = f"{base}/{name}" if base else name
        query = urlencode({"part_mb": PART_MB, **options})
        location = S3Location(url=f"s3://{bucket}/{prefix}?{query}", bucket=bucket,
                              prefix=prefix, endpoint=options.get("endpoint"),
                              region=options.get("region"))
    else:
        server: MotoServer = request.getfixturevalue("s3_server")
        location = S3Location(url=server.url(BUCKET, name), bucket=BUCKET, prefix=name,
                              endpoint=server.endpoint)
    yield location
    location.empty()
