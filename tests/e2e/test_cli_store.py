"""The back-office commands over a real SQLite file, one process per call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FABCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "FABCORE_MAIL_URL": f"maildir://{tmp_path / 'mail'}",
        "FABCORE_MODELS": str(tmp_path / "models"),
    }


def fabcore(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fabcore.entrypoints.cli", *argv],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )


@pytest.fixture
def demo_db(env: dict[str, str]) -> dict[str, str]:
    result = fabcore(env, "demo")
    assert result.returncode == 0, result.stderr
    assert "Case 3" in result.stdout
    return env


def test_a_second_call_sees_the_orders_of_the_first(demo_db: dict[str, str]) -> None:
    result = fabcore(demo_db, "orders", "list", "--json")
    assert result.returncode == 0, result.stderr
    orders = json.loads(result.stdout)
    assert sorted(o["number"] for o in orders) == ["00001", "00002", "00003"]
    by_number = {o["number"]: o for o in orders}
    assert by_number["00001"]["status"] == "delivered"
    assert by_number["00001"]["payment_status"] == "paid"
    assert by_number["00002"]["status"] == "po_payment_due"
    assert by_number["00003"]["status"] == "placed"

    placed = json.loads(fabcore(demo_db, "orders", "list", "--status", "placed",
                                "--json").stdout)
    assert [o["number"] for o in placed] == ["00003"]


def test_demo_mails_are_files_a_person_can_open(demo_db: dict[str, str], tmp_path: Path) -> None:
    emls = sorted((tmp_path / "mail" / "eml").glob("*.eml"))
    assert len(emls) >= 20
    assert any(b"Firm offer sent" in p.read_bytes() for p in emls)


def test_show_and_change_status(demo_db: dict[str, str]) -> None:
    shown = fabcore(demo_db, "orders", "show", "00003")
    assert shown.returncode == 0, shown.stderr
    assert "Firm offer sent" in shown.stdout
    assert "unit price" in shown.stdout

    moved = fabcore(demo_db, "orders", "change-status", "00003", "manufacturing",
                    "--note", "machine 3")
    assert moved.returncode == 0, moved.stderr
    assert "Placed -> Manufacturing" in moved.stdout
    sent = fabcore(demo_db, "outbox", "send")
    assert sent.returncode == 0
    assert sent.stdout.startswith("sent 2,")
    data = json.loads(fabcore(demo_db, "orders", "show", "00003", "--json").stdout)
    assert data["order"]["status"] == "manufacturing"
    assert data["order"]["history"][-1]["note"] == "machine 3"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["orders", "show", "99999"], "no order 99999"),
        (["orders", "change-status", "00001", "manufacturing"], "reachable"),
        (["orders", "change-status", "00002", "shipped"], "reachable"),
        (["outbox", "retry", "no-such-id"], "no-such-id"),
    ],
)
def test_errors_exit_2_with_a_reason(
    demo_db: dict[str, str], argv: list[str], message: str
) -> None:
    result = fabcore(demo_db, *argv)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_reminders_and_upgrade_are_idempotent(demo_db: dict[str, str]) -> None:
    first = fabcore(demo_db, "reminders", "run")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "0 reminder(s) queued"
    upgrade = fabcore(demo_db, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "up to date" in upgrade.stdout


def test_unknown_database_scheme_is_a_clear_error(env: dict[str, str]) -> None:
    result = fabcore(env, "orders", "list", "--database", "mongodb://x")
    assert result.returncode == 2
    assert "unsupported URL scheme 'mongodb'" in result.stderr


def test_db_upgrade_migrates_an_older_database_in_place(
    env: dict[str, str], tmp_path: Path
) -> None:
    old = tmp_path / "old.db"
    old.write_bytes((Path(__file__).parents[1] / "data" / "fabcore-v1.sqlite").read_bytes())
    result = fabcore(env, "db", "upgrade", "--database", f"sqlite:///{old}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("applied: 0002_lookup_indexes")
    again = fabcore(env, "db", "upgrade", "--database", f"sqlite:///{old}")
    assert again.stdout.strip() == "database is up to date"


def test_an_unreachable_database_exits_1_not_2(env: dict[str, str]) -> None:
    down = {**env, "FABCORE_SECRET_KEY": "k" * 32}
    result = fabcore(down, "orders", "list", "--database", "postgresql://fabcore@127.0.0.1:9/x")
    assert result.returncode == 1, result.stderr
    assert "fabcore: failed: PostgreSQL is unavailable" in result.stderr
    assert "Traceback" not in result.stderr
    unwritable = fabcore(env, "orders", "list", "--database", "sqlite:////proc/no/such/shop.db")
    assert unwritable.returncode == 1, unwritable.stderr
    assert "cannot open SQLite database" in unwritable.stderr


def test_a_mail_server_that_is_down_exits_1_and_keeps_the_mails(
    demo_db: dict[str, str],
) -> None:
    first = fabcore(demo_db, "orders", "change-status", "00003", "manufacturing")
    assert first.returncode == 0, first.stderr
    down = fabcore(demo_db, "outbox", "send", "--mail", "smtp://127.0.0.1:9?timeout=2")
    assert down.returncode == 1
    assert "sent 0, will retry 2, failed 0" in down.stdout
    assert "fabcore: mail delivery failed:" in down.stderr
    pending = json.loads(fabcore(demo_db, "outbox", "list", "--status", "pending",
                                 "--json").stdout)
    assert len(pending) == 2


def test_a_refusal_still_exits_2(demo_db: dict[str, str]) -> None:
    result = fabcore(demo_db, "orders", "change-status", "00003", "draft")
    assert result.returncode == 2
    assert "no move to Draft" in result.stderr


def test_reachable_lists_the_change_menu(demo_db: dict[str, str]) -> None:
    result = fabcore(demo_db, "orders", "reachable", "00002")
    assert result.returncode == 0, result.stderr
    assert "free_for_manufacturing  release" in result.stdout
    listed = json.loads(fabcore(demo_db, "orders", "reachable", "00002", "--json").stdout)
    hold = next(o for o in listed if o["status"] == "on_hold")
    assert hold["trigger"] == "hold"
    assert [(f["name"], f["required"]) for f in hold["fields"]] == [("reason", True)]
