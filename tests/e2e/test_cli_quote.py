"""``fabcore analyse`` and ``fabcore quote`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from fabcore.entrypoints.cli import main

DATA = Path(__file__).parents[1] / "data"
CUBE = DATA / "20mm-xyz-cube.stl"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_analyse_json_uses_the_port_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "analyse", str(CUBE), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["volume_cm3"] == pytest.approx(7.938682, rel=1e-6)
    assert data["bbox_mm"] == pytest.approx([20.0, 20.0, 20.0])
    assert data["watertight"] is True
    assert data["bodies"] == 1
    assert set(data) >= {
        "volume_cm3", "area_cm2", "bbox_mm", "triangles", "bodies", "watertight",
        "winding_consistent", "convex_hull_volume_cm3", "overhang_area_cm2", "warnings",
    }


def test_analyse_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "analyse", str(DATA / "featuretype.STL"), "--units", "inch")
    assert code == 0
    assert "127.00 x 63.50 x 34.9" in out


def test_quote_lists_options_cheapest_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "quote", str(CUBE), "--quantity", "5", "--json")
    assert code == 0
    data = json.loads(out)
    quotes = data["quotes"]
    priced = [q for q in quotes if q["breakdown"] is not None]
    totals = [Decimal(q["breakdown"]["total"]["amount"]) for q in priced]
    assert len(priced) >= 5
    assert totals == sorted(totals)
    assert all(isinstance(q["breakdown"]["unit_price"]["amount"], str) for q in priced)
    assert all(q["spec"]["quantity"] == 5 for q in quotes)


def test_quote_one_option_with_breakdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "quote", str(CUBE), "--process", "fdm", "--material", "pla",
                        "--quantity", "10", "--shipping", "standard")
    assert code == 0
    for words in ("material per part", "machine time per part", "unit price", "subtotal",
                  "shipping (standard)", "tax (19.00%)", "total"):
        assert words in out


def test_open_mesh_is_quoted_as_needing_review(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "quote", str(DATA / "teapot.stl"), "--json")
    assert code == 0
    quotes = json.loads(out)["quotes"]
    assert quotes
    assert all(q["breakdown"] is None for q in quotes)
    assert all(any("cannot be measured reliably" in r for r in q["review_reasons"])
               for q in quotes)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyse", "does-not-exist.stl"], "no such file"),
        (["analyse", str(DATA / "empty.stl")], "empty.stl"),
        (["quote", str(CUBE), "--process", "fdm"], "--process and --material go together"),
        (["quote", str(CUBE), "--process", "fdm", "--material", "gold"], "gold"),
        (["quote", str(CUBE), "--quantity", "0"], "--quantity must be from 1 to 1,000,000"),
        (
            ["quote", str(CUBE), "--quantity", "99999999999999999999999999999"],
            "--quantity must be from 1 to 1,000,000",
        ),
        (["quote", str(CUBE), "--catalog", "missing.toml"], "missing.toml"),
    ],
)
def test_bad_input_exits_2_with_the_reason(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert out == ""


def test_console_script_reports_a_bad_file_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "broken.stl"
    bad.write_bytes(b"\x00" * 84 + b"\x01\x02")
    result = subprocess.run(
        [sys.executable, "-m", "fabcore.entrypoints.cli", "analyse", str(bad)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("fabcore: error: broken.stl")
    assert "Traceback" not in result.stderr


def test_analyse_in_meters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "analyse", str(CUBE), "--units", "m", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["bbox_mm"] == pytest.approx([20000.0, 20000.0, 20000.0])
    assert "huge_part" in [w["code"] for w in data["warnings"]]


def test_analyse_an_endless_file_named_without_a_model_extension(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, "analyse", "/dev/zero")
    assert code == 2
    assert out == ""
    assert "without an extension" in err


def test_analyse_an_endless_file_stops_at_the_size_limit(tmp_path: Path) -> None:
    endless = tmp_path / "endless.stl"
    endless.symlink_to("/dev/zero")
    result = subprocess.run(
        [sys.executable, "-m", "fabcore.entrypoints.cli", "analyse", str(endless)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "fabcore: error: endless.stl: the file is more than the 200.0 MiB allowed; "
        "stopped reading"
    )


def test_analyse_gives_the_same_figures_on_one_thread_and_on_three(
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = str(DATA / "featuretype.STL")
    outputs = [_run(capsys, "analyse", model, "--json", "--threads", n) for n in ("1", "3")]
    assert [code for code, _, _ in outputs] == [0, 0]
    assert outputs[0][1] == outputs[1][1]


def test_analyse_refuses_zero_threads(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "analyse", str(CUBE), "--threads", "0")
    assert code == 2
    assert out == ""
    assert "--threads must be at least 1" in err
