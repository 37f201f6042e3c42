"""The README's object storage, migration and speed sections say what the code does."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from fabcore.adapters import s3
from fabcore.entrypoints.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text("utf-8")
sys.path.insert(0, str(ROOT / "bench"))


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_s3_option_is_documented_and_every_documented_one_exists() -> None:
    table = _section("Model files in object storage (S3)").split("| option |", 1)[1]
    table = table.split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)?", table, re.M))
    names = {name for pair in documented for name in pair if name}
    assert names == s3._URL_OPTIONS


def test_the_copy_options_in_the_readme_are_the_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    moving = _section("Moving a shop: SQLite to PostgreSQL, a model directory to S3")
    for command, options in (("db copy", ("--replace", "--quiet")),
                             ("models copy", ("--jobs", "--quiet"))):
        assert f"`fabcore {command} " in moving
        with pytest.raises(SystemExit):
            main([*command.split(), "--help"])
        text = capsys.readouterr().out
        for option in options:
            assert option in moving
            assert option in text, f"fabcore {command} has no {option}"


def test_the_speed_table_in_the_readme_is_the_scripts() -> None:
    from bench_scale import Row, table

    printed = table([Row("quote options", "1 node", "419 requests/s", "1.00x one node",
                         "CPU ms/request: web 2.36, PostgreSQL 0.44, wrk 0.05")], []).splitlines()
    speed = README.split("\n### Speed\n", 1)[1].split("\n## ", 1)[0]
    assert printed[-3:] == [line for line in speed.splitlines() if line.startswith("|")][:3]
    assert "bench/bench_scale.py" in speed
    assert "bench_jobs" not in README
    assert not (ROOT / "bench" / "bench_jobs.py").exists()
