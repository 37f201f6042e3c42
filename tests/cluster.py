"""Several fabcore processes on one PostgreSQL database, for multi-node tests: a pytest plugin.

:class:`Cluster` starts ``fabcore serve`` and ``fabcore worker`` processes
(``python -m fabcore.entrypoints.cli``) on free local ports, sharing a
database, a model store and a loopback SMTP server, with
``FABCORE_JOBS=queue``; each keeps its log in the cluster's folder.
``FABCORE_PAUSE_AT`` (see :mod:`fabcore.app.pauses`) makes a process wait
where a test kills it; it says where it waits in :attr:`Cluster.pauses`.

The ``model_store`` fixture names the model store every process shares: a
prefix on ``cluster_s3``, a moto server of the test module's own (so a test
may stop it) that keeps its objects when it is started again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import attrs
import httpx
import pytest

from http_server import OWNER_EMAIL, OWNER_PASSWORD, free_port
from s3_server import BUCKET, MotoServer

_T = TypeVar("_T")

SECRET_KEY = "multi-node-secret-key-0123456789"
STARTUP_S = 120.0


def wait_for(what: str, check: Callable[[], _T | None], timeout: float = 60.0,
             log: Callable[[], str] | None = None) -> _T:
    """Poll ``check`` until it returns something other than None (or fail naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            detail = f"\n{log()}" if log else ""
            raise AssertionError(f"timed out waiting for {what}{detail}")
        time.sleep(0.1)


@attrs.define
class Node:
    """One process of the cluster: a web node (with ``url``) or a worker."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str | None = None

    def tail(self, chars: int = 4000) -> str:
        return f"--- {self.name} ---\n{self.log.read_text(errors='replace')[-chars:]}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        if self.alive:
            self.process.kill()
        self.process.wait(30)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the process to leave; its exit code."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.name} did not stop on SIGTERM\n{self.tail()}") from None


@attrs.define
class Cluster:
    """Processes sharing ``database``, ``models`` and the SMTP server at ``smtp_port``."""

    folder: Path
    database: str
    models: str
    smtp_port: int
    nodes: list[Node] = attrs.field(factory=list)

    @property
    def pauses(self) -> Path:
        path = self.folder / "pauses"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            **os.environ,
            "FABCORE_DATABASE_URL": self.database,
            "FABCORE_MAIL_URL": f"smtp://127.0.0.1:{self.smtp_port}?timeout=10",
            "FABCORE_MODELS": self.models,
            "FABCORE_SECRET_KEY": SECRET_KEY,
            "FABCORE_JOBS": "queue",
            "FABCORE_OWNER_EMAIL": OWNER_EMAIL,
            "FABCORE_OWNER_PASSWORD": OWNER_PASSWORD,
            "FABCORE_SECURE_COOKIES": "0",
            "FABCORE_ANALYSIS_WORKERS": "1",
            "FABCORE_DEFER_ANALYSIS_MB": "1",
            "FABCORE_WORKER_HEARTBEAT_S": "1",
            "FABCORE_WORKER_STALLED_S": "4",
            "FABCORE_OUTBOX_SWEEP_CRON": "* * * * * */5",
            "FABCORE_LOG_FORMAT": "json",
            "FABCORE_PAUSE_DIR": str(self.pauses),
            **(extra or {}),
        }

    def _spawn(self, name: str, args: list[str], extra: dict[str, str] | None) -> Node:
        log = self.folder / f"{name}-{len(self.nodes)}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "fabcore.entrypoints.cli", *args],
            cwd=self.folder, env=self.environment(extra), stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        node = Node(name, process, log)
        self.nodes.append(node)
        return node

    def web(self, name: str, extra: dict[str, str] | None = None) -> Node:
        """A ``fabcore serve`` process, once it answers ``/healthz``."""
        port = free_port()
        node = self._spawn(name, ["serve", "--port", str(port)], extra)
        node.url = f"http://127.0.0.1:{port}"

        def healthy() -> bool | None:
            if not node.alive:
                raise AssertionError(f"{name} exited\n{node.tail()}")
            try:
                return httpx.get(f"{node.url}/healthz", timeout=1).text == "ok" or None
            except httpx.HTTPError:
                return None

        wait_for(f"{name} to answer", healthy, STARTUP_S, node.tail)
        return node

    def worker(self, name: str, extra: dict[str, str] | None = None) -> Node:
        """A ``fabcore worker`` process, once it listens for jobs."""
        node = self._spawn(name, ["worker"], extra)

        def listening() -> bool | None:
            if not node.alive:
                raise AssertionError(f"{name} exited\n{node.tail()}")
            return "Starting worker" in node.log.read_text(errors="replace") or None

        wait_for(f"{name} to start", listening, STARTUP_S, node.tail)
        return node

    def paused(self, point: str, node: Node, timeout: float = 60.0) -> None:
        """Wait until ``node`` waits at pause point ``point``."""
        marker = self.pauses / f"{point}-{node.process.pid}"
        wait_for(f"{node.name} to reach {point}", lambda: marker.exists() or None, timeout,
                 self.logs)

    def logs(self) -> str:
        return "\n".join(node.tail() for node in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            if node.alive:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            try:
                node.process.wait(60)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()


@pytest.fixture(scope="module")
def cluster_s3(s3_credentials: None,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's S3 server for one module's cluster; stopped and started, it keeps its objects."""
    server = MotoServer(keep_data=tmp_path_factory.mktemp("s3") / "requests.jsonl")
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def model_store(cluster_s3: MotoServer) -> str:
    """The model store every process of a cluster shares (``FABCORE_MODELS``): S3, on moto."""
    return cluster_s3.url(BUCKET, f"cluster-{uuid.uuid4().hex[:12]}")
