"""A real ``fabcore serve`` process for end-to-end tests: a pytest plugin.

The ``live_server`` fixture starts ``fabcore serve`` (uvicorn) on a free
local port over a SQLite file, a Maildir and a model directory in a
temporary folder, with a known owner account, and stops it afterwards.
Its ``mails()`` reads what the server's background relay delivered.
"""

from __future__ import annotations

import email
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from email.message import Message
from pathlib import Path

import attrs
import httpx
import pytest

OWNER_EMAIL = "owner@acme.example"
OWNER_PASSWORD = "owner password 1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.define
class LiveServer:
    url: str
    folder: Path
    process: subprocess.Popen[str]
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def mails(self) -> list[Message]:
        """Every mail delivered so far, oldest first."""
        files = sorted((self.folder / "mail" / "eml").glob("*.eml"),
                       key=lambda p: p.stat().st_mtime_ns)
        return [email.message_from_bytes(p.read_bytes()) for p in files]

    def wait_for_mail(self, predicate: object, timeout: float = 30) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.mails()):
                if predicate(message):  # type: ignore[operator]
                    return message
            time.sleep(0.2)
        raise AssertionError(f"no such mail arrived; log:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(folder: Path, database: str | None = None,
                 extra_env: dict[str, str] | None = None, args: Sequence[str] = ()) -> LiveServer:
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "FABCORE_DATABASE_URL": database or f"sqlite:///{folder / 'shop.db'}",
        "FABCORE_MAIL_URL": f"maildir://{folder / 'mail'}",
        "FABCORE_MODELS": str(folder / "models"),
        "FABCORE_OWNER_EMAIL": OWNER_EMAIL,
        "FABCORE_OWNER_PASSWORD": OWNER_PASSWORD,
        "FABCORE_SECURE_COOKIES": "0",
        "FABCORE_ANALYSIS_WORKERS": "1",
        "FABCORE_RELAY_INTERVAL_S": "0.3",
        **(extra_env or {}),
    }
    log = folder / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "fabcore.entrypoints.cli", "serve", "--port", str(port), *args],
        cwd=folder, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", folder, process, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fabcore serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).text == "ok":
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"fabcore serve did not answer:\n{log.read_text()}")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "server")
    try:
        yield server
    finally:
        server.stop()
