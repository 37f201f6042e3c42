"""The README's object storage and migration sections say what the code does."""

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


def test_the_bench_table_in_the_readme_has_the_scripts_columns() -> None:
    from bench_scale import UploadResult, _uploads_table

    row = UploadResult("corpus", "directory", 1, 1.0, 1.0, 0.5, None, 1.0, 30.0, 31.0)
    printed = _uploads_table([row], 5, 13, 66, 100.0).splitlines()
    section = _section("Model files in object storage (S3)")
    assert printed[0] in section
    assert printed[2] in section
