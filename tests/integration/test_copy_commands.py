"""``fabcore db copy`` (SQLite <-> PostgreSQL) and ``fabcore models copy`` (directory <-> S3).

The database is a real SQLite file holding the demo's three cases, an
owner who signed in (account, session, throttle) and an invoice: a row in
every table. PostgreSQL is the throwaway cluster of ``postgres_server``;
S3 is moto's server (``s3_server``).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from fabcore.adapters.filesystem import FilesystemModelStore
from fabcore.adapters.sql import SqlDatabase
from fabcore.adapters.sql_copy import TABLES, CopyProgress, copy_database
from fabcore.adapters.sqlite import SqliteDatabase
from fabcore.adapters.task_queue import ProcrastinateJobs
from fabcore.app.bootstrap import bootstrap, make_database, make_signer
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import AnalysisRequest, Units
from fabcore.domain.errors import StorageError
from fabcore.domain.notifications import LinkPurpose
from fabcore.entrypoints.cli import main
from fabcore.entrypoints.demo import run_demo
from postgres_server import recreate_database
from s3_server import MotoServer, S3Location

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = sorted(p for p in DATA.iterdir() if p.is_file())
OWNER = ("owner@acme.example", "owner password 1")
KEY = b"k" * 32
JSON_COLUMNS = {(t.name, c) for t in TABLES for c in ("data", "catalog")
                if c in t.column_names}


def _fabcore(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def _shop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shop") / "shop.db"
    with bootstrap(f"sqlite:///{path}", mail="memory://", secret_key=KEY) as app:
        assert run_demo(io.StringIO(), app) == 0
        app.create_owner("acme", email=OWNER[0], name="Owner", password=OWNER[1])
        app.sign_in("acme", *OWNER, network_address="192.0.2.1")
        staff = Actor.staff("acme", "sam")
        placed = app.list_order_summaries(staff, status=None, customer_id=None)[0]
        app.invoice(staff, placed.id)
    # A large upload waiting for a worker, as the task queue leaves one.
    with SqliteDatabase(path) as database, database() as uow:
        uow.analyses.save_request(AnalysisRequest(
            sha256="ab" * 32, units=Units.MM, filename="big.stl", size=200 * 2**20,
            requested_at=datetime(2026, 11, 30, 12, tzinfo=UTC)))
        uow.commit()
    return path


@pytest.fixture
def shop_db(_shop_file: Path, tmp_path: Path) -> Path:
    """A SQLite file with rows in every table (a copy of its own)."""
    path = tmp_path / "source.db"
    shutil.copyfile(_shop_file, path)
    return path


def _sqlite_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows in key order, JSON documents parsed (their text may differ)."""
    found: dict[str, list[tuple[object, ...]]] = {}
    with sqlite3.connect(path) as conn:
        for table in TABLES:
            rows = conn.execute(f"SELECT {', '.join(table.column_names)} FROM {table.name} "
                                f"ORDER BY {', '.join(table.key)}").fetchall()
            found[table.name] = [
                tuple(json.loads(value) if (table.name, column) in JSON_COLUMNS else value
                      for column, value in zip(table.column_names, row, strict=True))
                for row in rows
            ]
    return found


def test_the_shop_has_rows_in_every_table(shop_db: Path) -> None:
    assert all(_sqlite_rows(shop_db).values())


@pytest.fixture
def postgres_target(postgres_server: str) -> str:
    return recreate_database(postgres_server, "fabcore_copy_target")


def test_sqlite_to_postgresql_and_back(
    shop_db: Path, postgres_target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = _sqlite_rows(shop_db)
    code, out, err = _fabcore(capsys, "db", "copy", f"sqlite:///{shop_db}", postgres_target)
    assert code == 0, err
    for table in TABLES:
        rows = len(original[table.name])
        assert f"{table.name}: {rows:,} of {rows:,} rows" in err
        assert any(line.split()[:2] == [table.name, f"{rows:,}"] for line in out.splitlines())
    assert out.rstrip().endswith("every table's row count matches the source")
    with psycopg.connect(postgres_target) as conn:
        for table in TABLES:
            count = conn.execute(f"SELECT COUNT(*) FROM {table.name}").fetchone()
            assert count == (len(original[table.name]),), table.name

    back = tmp_path / "back.db"
    code, _, err = _fabcore(capsys, "db", "copy", "--quiet", postgres_target, f"sqlite:///{back}")
    assert code == 0, err
    assert err == ""
    assert _sqlite_rows(back) == original

    # The copy is a working shop: the same orders, the owner signs in, new mails queue.
    staff = Actor.staff("acme", "sam")
    with bootstrap(f"sqlite:///{shop_db}", secret_key=KEY) as before, \
            bootstrap(postgres_target, secret_key=KEY) as after:
        summaries = before.list_order_summaries(staff, status=None, customer_id=None)
        assert after.list_order_summaries(staff, status=None, customer_id=None) == summaries
        for summary in summaries:
            assert after.get_order_by_number(staff, summary.number) == \
                before.get_order_by_number(staff, summary.number)
        assert after.sign_in("acme", *OWNER).account.email == OWNER[0]
        queued = len(after.list_outbox(staff, None))
        after.request_sign_in_link("acme", OWNER[0])
        assert len(after.list_outbox(staff, None)) == queued + 1


def test_a_target_with_rows_is_refused_unless_replaced(
    shop_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    assert _fabcore(capsys, "db", "copy", f"sqlite:///{shop_db}", target)[0] == 0
    code, _, err = _fabcore(capsys, "db", "copy", f"sqlite:///{shop_db}", target)
    assert code == 2
    assert "the target database is not empty (shops: 1 rows" in err
    assert "--replace" in err
    code, _, err = _fabcore(capsys, "db", "copy", "--replace", f"sqlite:///{shop_db}", target)
    assert code == 0, err
    assert _sqlite_rows(tmp_path / "target.db") == _sqlite_rows(shop_db)


def test_the_link_key_moves_with_the_shop(
    shop_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, postgres_target: str,
) -> None:
    monkeypatch.delenv("FABCORE_SECRET_KEY", raising=False)
    source = f"sqlite:///{shop_db}"
    link = make_signer(source).issue("o1", LinkPurpose.OFFER, 1, datetime.now(UTC) + timedelta(1))
    target = tmp_path / "target.db"
    code, _, err = _fabcore(capsys, "db", "copy", "--quiet", source, f"sqlite:///{target}")
    assert code == 0, err
    assert err == f"fabcore: copied the link-signing key to {target}.key\n"
    assert stat.S_IMODE(Path(f"{target}.key").stat().st_mode) == 0o600
    signer = make_signer(f"sqlite:///{target}")
    assert signer.verify(link, purpose=LinkPurpose.OFFER, now=datetime.now(UTC)).order_id == "o1"

    code, _, err = _fabcore(capsys, "db", "copy", "--quiet", source, postgres_target)
    assert code == 0, err
    assert f"FABCORE_SECRET_KEY=hex:$(cat {shop_db}.key)" in err
    monkeypatch.setenv("FABCORE_SECRET_KEY", f"hex:{Path(f'{shop_db}.key').read_text().strip()}")
    signer = make_signer(postgres_target)
    assert signer.verify(link, purpose=LinkPurpose.OFFER, now=datetime.now(UTC)).order_id == "o1"


def test_an_old_source_is_refused_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.db"
    shutil.copyfile(DATA / "fabcore-v1.sqlite", old)
    code, _, err = _fabcore(capsys, "db", "copy", f"sqlite:///{old}",
                            f"sqlite:///{tmp_path / 'new.db'}")
    assert code == 2
    assert "run 'fabcore db upgrade' on it first" in err
    assert not (tmp_path / "new.db").exists()
    with sqlite3.connect(old) as now, sqlite3.connect(DATA / "fabcore-v1.sqlite") as shipped:
        assert list(now.iterdump()) == list(shipped.iterdump())
    now.close()
    shipped.close()


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("sqlite:///missing.db", "sqlite:///new.db", "missing.db: no such SQLite file"),
        ("memory://", "sqlite:///new.db", "memory:// keeps nothing to copy"),
        ("sqlite:///shop.db", "sqlite:///./shop.db", "the same database"),
    ],
)
def test_db_copy_refuses(
    source: str, target: str, message: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    SqliteDatabase("shop.db").close()
    code, _, err = _fabcore(capsys, "db", "copy", source, target)
    assert (code, message in err) == (2, True), err
    assert not (tmp_path / "new.db").exists()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_source_that_changes_during_the_copy_commits_nothing(
    shop_db: Path, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    url = (request.getfixturevalue("postgres_target") if kind == "postgres"
           else f"sqlite:///{tmp_path / 'target.db'}")
    writer = sqlite3.connect(shop_db)

    def write_to_the_source(step: CopyProgress) -> None:
        # A shop arrives once the shops have been copied.
        if step.table == "customers":
            writer.execute("INSERT INTO shops (id, data, catalog) VALUES ('late', '{}', '{}')")
            writer.commit()

    target = make_database(url)
    assert isinstance(target, SqlDatabase)
    with SqliteDatabase(shop_db, migrate=False) as source, target, \
            pytest.raises(StorageError, match="shops: 1 rows copied, the source has 2 now"):
        copy_database(source, target, progress=write_to_the_source)
    writer.close()
    again = make_database(url)
    assert isinstance(again, SqlDatabase)
    with again:
        session = again.session()
        try:
            counts = {t.name: session.fetch(f"SELECT COUNT(*) FROM {t.name}")[0][0]
                      for t in TABLES}
        finally:
            session.close()
    assert set(counts.values()) == {0}, counts


def test_a_source_with_tables_fabcore_does_not_know_is_refused(
    shop_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(shop_db) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    conn.close()
    code, _, err = _fabcore(capsys, "db", "copy", f"sqlite:///{shop_db}",
                            f"sqlite:///{tmp_path / 'target.db'}")
    assert code == 1
    assert "the source database's tables are not fabcore's: unknown notes" in err


def test_a_source_sharing_its_database_with_the_task_queue_is_copied_without_it(
    shop_db: Path, postgres_target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _fabcore(capsys, "db", "copy", "--quiet", f"sqlite:///{shop_db}",
                            postgres_target)
    assert code == 0, err
    queue = ProcrastinateJobs(postgres_target)
    try:
        queue.apply_schema()
    finally:
        queue.close()
    with psycopg.connect(postgres_target) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                              "AND tablename LIKE 'procrastinate%'").fetchall()
    assert tables, "the queue's schema made no tables"

    back = tmp_path / "back.db"
    code, _, err = _fabcore(capsys, "db", "copy", "--quiet", postgres_target, f"sqlite:///{back}")
    assert code == 0, err
    assert _sqlite_rows(back) == _sqlite_rows(shop_db)
    with sqlite3.connect(back) as copy:
        names = {row[0] for row in copy.execute("SELECT name FROM sqlite_master")}
    copy.close()
    assert not any(name.startswith("procrastinate") for name in names)


# -- model files ----------------------------------------------------------------


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    store = FilesystemModelStore(tmp_path / "models")
    for path in CORPUS:
        store.put(path.read_bytes(), path.name)
    return store.root


def _digests() -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in CORPUS}


def test_a_model_directory_to_s3_and_back(
    model_dir: Path, s3_location: S3Location, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    count = len(_digests())
    total_mb = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file()) / 1e6
    code, out, err = _fabcore(capsys, "models", "copy", str(model_dir), s3_location.url)
    assert code == 0, err
    assert out.strip() == f"copied {count} ({total_mb:,.1f} MB), skipped 0 already there, " \
        "failed 0"
    assert len(err.splitlines()) == count
    assert err.splitlines()[-1].startswith(f"[{count}/{count}] ")
    assert all(line.endswith(" copied") for line in err.splitlines())
    keys = {key.removeprefix(f"{s3_location.prefix}/") for key in s3_location.objects()}
    assert keys == {f"{d[:2]}/{d[2:]}" for d in _digests()}

    code, out, err = _fabcore(capsys, "models", "copy", str(model_dir), s3_location.url)
    assert (code, out.strip()) == (0, f"copied 0 (0.0 MB), skipped {count} already there, "
                                      "failed 0")
    assert all(line.endswith(" already there") for line in err.splitlines())

    extra = FilesystemModelStore(model_dir).put(b"solid new\nendsolid new\n", "new.stl")
    code, out, _ = _fabcore(capsys, "models", "copy", "--quiet", str(model_dir),
                            s3_location.url)
    assert (code, out.split(",")[0]) == (0, "copied 1 (0.0 MB)")

    back = tmp_path / "back"
    code, out, err = _fabcore(capsys, "models", "copy", "--jobs", "2", s3_location.url,
                              str(back))
    assert code == 0, err
    assert out.startswith(f"copied {count + 1} ")
    restored = FilesystemModelStore(back)
    assert set(restored.digests()) == _digests() | {extra.sha256}
    for path in CORPUS:
        assert restored.get(hashlib.sha256(path.read_bytes()).hexdigest()) == path.read_bytes()


def test_a_damaged_model_file_is_reported(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = hashlib.sha256((DATA / "teapot.stl").read_bytes()).hexdigest()
    damaged = model_dir / digest[:2] / digest[2:]
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"!")
    code, out, err = _fabcore(capsys, "models", "copy", str(model_dir), str(tmp_path / "copy"))
    assert code == 1
    assert ", skipped 0 already there, failed 1" in out
    assert f"fabcore: {digest}: its bytes have the digest" in err
    assert f"{digest} 0.0 MB failed: " in err


def test_an_unreachable_target_stops_the_copy_with_the_counts(
    model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    s3_credentials: None,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    server = MotoServer()
    url = server.url("fabcore-tests", "models")
    server.stop()
    code, out, err = _fabcore(capsys, "models", "copy", "--jobs", "1", str(model_dir), url)
    assert code == 1
    assert out.strip() == "copied 0 (0.0 MB), skipped 0 already there, failed 0"
    assert "fabcore: failed: could not look up model" in err


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("no-such-dir", "copy", "no-such-dir: no such directory"),
        ("models", "models", "the same store"),
        ("models", "s3://bucket?part_mb=1", "part_mb must be at least 5"),
    ],
)
def test_models_copy_refuses(
    source: str, target: str, message: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    code, _, err = _fabcore(capsys, "models", "copy", source, target)
    assert (code, message in err) == (2, True), err

