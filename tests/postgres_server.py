"""A real PostgreSQL server for the tests: a pytest plugin (listed in ``tests/conftest.py``).

``FABCORE_TEST_POSTGRES_URL`` wins when set; it must name a server where the
tests may create and drop databases. Otherwise ``initdb`` and ``pg_ctl``
(from ``PATH`` or ``/usr/lib/postgresql/*/bin``) make a throwaway cluster in
a temporary directory, listening on 127.0.0.1 at a free port and on a unix
socket in that directory (run as the ``postgres`` user when the tests run
as root, since ``initdb`` refuses root). It is stopped at the end of the
session.

When no server can be had, only the PostgreSQL tests are skipped, with the
reason in the summary, unless ``CI`` is set: then they fail.
``scripts/ci-install-postgres`` installs the server on Debian.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

ENV_URL = "FABCORE_TEST_POSTGRES_URL"
TEST_DATABASE = "fabcore_tests"
TABLES = ("outbox", "orders", "secrets", "accounts", "customers", "order_numbers",
          "invoice_numbers", "throttle", "analyses", "analysis_requests", "shops")


class PostgresUnavailable(Exception):
    """No server could be found or started."""


def _binaries() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit()
                        else 0)
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """A throwaway cluster in a temporary directory; :meth:`stop` removes it."""

    def __init__(self, *, durable: bool = False) -> None:
        bindir = _binaries()
        if bindir is None:
            raise PostgresUnavailable(
                "initdb/pg_ctl not found (apt-get install postgresql, or run "
                "scripts/ci-install-postgres, or set FABCORE_TEST_POSTGRES_URL)"
            )
        self._root = Path(tempfile.mkdtemp(prefix="fabcore-pg-"))
        self._data = self._root / "data"
        self._log = self._root / "server.log"
        self._as_root = os.geteuid() == 0
        self._pg_ctl = str(bindir / "pg_ctl")
        if self._as_root:
            shutil.chown(self._root, "postgres", "postgres")
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        settings = [f"-p {self.port}", f"-k {self._root}", "-c listen_addresses=127.0.0.1",
                    "-c max_connections=100"]
        if not durable:
            settings += ["-c fsync=off", "-c synchronous_commit=off",
                         "-c full_page_writes=off"]
        try:
            self._run(str(bindir / "initdb"), "-D", str(self._data), "-U", "postgres",
                      "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
            self._run(self._pg_ctl, "-D", str(self._data), "-l", str(self._log), "-w",
                      "-t", "60", "-o", " ".join(settings), "start")
        except (OSError, subprocess.CalledProcessError) as exc:
            log = self._log.read_text(errors="replace")[-2000:] if self._log.exists() else ""
            shutil.rmtree(self._root, ignore_errors=True)
            raise PostgresUnavailable(f"could not start a cluster: {exc}\n{log}") from exc
        atexit.register(self.stop)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_root else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, cwd=self._root,
                       timeout=120)

    def stop(self) -> None:
        if not self._root.exists():
            return
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            self._run(self._pg_ctl, "-D", str(self._data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self._root, ignore_errors=True)


def database_url(server_url: str, name: str) -> str:
    """``server_url`` pointed at database ``name``."""
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create database ``name``; its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(server_url, name)


def truncate(url: str) -> None:
    """Empty fabcore's tables (the schema and its migrations stay)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        present = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )]
        tables = [t for t in TABLES if t in present]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


_state: dict[str, str] = {}


def _server_url() -> str:
    """The server's URL, starting a cluster on first use; raises ``PostgresUnavailable``."""
    if "url" in _state:
        return _state["url"]
    if "unavailable" in _state:
        raise PostgresUnavailable(_state["unavailable"])
    try:
        import psycopg
    except ImportError as exc:
        _state["unavailable"] = "psycopg is not installed (pip install -e '.[dev]')"
        raise PostgresUnavailable(_state["unavailable"]) from exc
    try:
        url = os.environ.get(ENV_URL)
        if not url:
            url = Cluster().url
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except (PostgresUnavailable, psycopg.Error) as exc:
        _state["unavailable"] = " ".join(str(exc).split())
        raise PostgresUnavailable(_state["unavailable"]) from exc
    _state["url"] = url
    return url


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of a PostgreSQL server the tests may create databases on (skips or fails without)."""
    try:
        return _server_url()
    except PostgresUnavailable as exc:
        reason = f"PostgreSQL tests cannot run: {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: PostgreSQL must be available)")
        pytest.skip(f"SKIPPED PostgreSQL: {reason}")


@pytest.fixture(scope="session")
def _postgres_test_database(postgres_server: str) -> str:
    return recreate_database(postgres_server, TEST_DATABASE)


@pytest.fixture
def postgres_url(_postgres_test_database: str) -> str:
    """URL of the shared test database, emptied before each test."""
    truncate(_postgres_test_database)
    return _postgres_test_database


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reason = _state.get("unavailable")
    if reason is None:
        return
    terminalreporter.section("PostgreSQL", sep="!", red=True, bold=True)
    terminalreporter.write_line(
        f"PostgreSQL tests did not run: {reason}", red=True, bold=True
    )
    terminalreporter.write_line(
        "Install a server (scripts/ci-install-postgres) or set FABCORE_TEST_POSTGRES_URL."
    )
