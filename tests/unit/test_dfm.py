"""DFM findings from measured figures: one judge for every analyser."""

from __future__ import annotations

import pytest

from fabcore.domain.analysis import Units, WarningCode
from fabcore.domain.dfm import DfmRules, MeshFigures, dfm_warnings, format_mm, unit_hint
from fabcore.domain.errors import InvalidInput


def box(x: float, y: float, z: float, **changes: object) -> MeshFigures:
    """Figures of a closed x * y * z box read in mm."""
    values: dict[str, object] = {
        "volume_mm3": x * y * z,
        "area_mm2": 2 * (x * y + y * z + x * z),
        "extents_mm": (x, y, z),
        "bodies": 1,
        "open_edges": 0,
        "misdirected_edges": 0,
        "overhang_area_mm2": 0.0,
        "unit": Units.MM,
    }
    values.update(changes)
    return MeshFigures(**values)  # type: ignore[arg-type]


def codes(figures: MeshFigures, rules: DfmRules | None = None) -> set[WarningCode]:
    found = dfm_warnings(figures) if rules is None else dfm_warnings(figures, rules)
    return {w.code for w in found}


def message(figures: MeshFigures, code: WarningCode) -> str:
    return next(w.message for w in dfm_warnings(figures) if w.code is code)


def test_a_sound_part_has_no_findings() -> None:
    assert dfm_warnings(box(20, 30, 40)) == ()


def test_meters_are_a_unit() -> None:
    assert Units("m") is Units.M
    assert Units.M.to_mm == 1000.0
    assert Units.INCH.label == "inches"


def test_open_edges_and_winding() -> None:
    found = codes(box(20, 20, 20, open_edges=3, misdirected_edges=2))
    assert found == {WarningCode.NOT_WATERTIGHT, WarningCode.INCONSISTENT_WINDING}
    assert "3 open edges" in message(box(20, 20, 20, open_edges=3), WarningCode.NOT_WATERTIGHT)


def test_a_closed_sheet_encloses_no_volume() -> None:
    assert codes(box(20, 20, 0.0, volume_mm3=0.0)) == {WarningCode.ZERO_VOLUME}


def test_overhang_share_over_the_rule() -> None:
    part = box(10, 10, 10, overhang_area_mm2=150.0)
    assert WarningCode.LARGE_OVERHANG in codes(part)
    assert "About 25%" in message(part, WarningCode.LARGE_OVERHANG)
    assert WarningCode.LARGE_OVERHANG not in codes(part, DfmRules(overhang_fraction=0.3))


def test_thin_sheet_is_thin_by_its_mean_thickness() -> None:
    # 2 V / A of a 100 x 100 x 0.5 plate: 2 * 5000 / 20200.
    plate = box(100, 100, 0.5)
    assert plate.mean_thickness_mm == pytest.approx(0.4950, abs=1e-4)
    assert "0.495 mm thick" in message(plate, WarningCode.THIN_PART)
    assert WarningCode.THIN_PART not in codes(box(100, 100, 2.0))


def test_thin_needs_a_volume_that_can_be_trusted() -> None:
    plate = box(100, 100, 0.5, open_edges=4)
    assert plate.mean_thickness_mm is None
    assert WarningCode.THIN_PART not in codes(plate)
    assert box(100, 100, 0.5, misdirected_edges=2).mean_thickness_mm is None


def test_thin_threshold_is_a_rule() -> None:
    assert WarningCode.THIN_PART in codes(box(100, 100, 1.5), DfmRules(thin_part_mm=2.0))


def test_tiny_part_in_meters_says_which_unit_fits() -> None:
    part = box(0.047, 0.03, 0.01)
    text = message(part, WarningCode.TINY_PART)
    assert "0.047 mm across" in text
    assert "if the file is in meters, it is 47 mm" in text


def test_tiny_part_lists_every_plausible_unit() -> None:
    text = message(box(0.5, 0.5, 0.5), WarningCode.TINY_PART)
    assert "inches, it is 12.7 mm" in text
    assert "meters, 500 mm" in text
    assert "centimeters" not in text


def test_huge_part_in_inches_says_mm_fits() -> None:
    part = box(2540.0, 1270.0, 254.0, unit=Units.INCH)
    assert codes(part) == {WarningCode.HUGE_PART}
    assert "if the file is in millimeters, it is 100 mm" in message(part, WarningCode.HUGE_PART)


def test_declared_unit_gives_no_suggestion() -> None:
    text = unit_hint(0.05, None)
    assert "declares its own unit" in text


def test_no_unit_fits() -> None:
    assert "check the file's unit" in unit_hint(1e-9, Units.MM)


@pytest.mark.parametrize(
    ("value", "text"), [(0.047, "0.047"), (12.7, "12.7"), (47.0, "47"), (2540.0, "2,540")]
)
def test_lengths_for_people(value: float, text: str) -> None:
    assert format_mm(value) == text


@pytest.mark.parametrize("field", ["overhang_fraction", "tiny_part_mm", "huge_part_mm"])
def test_rules_must_be_positive(field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        DfmRules(**{field: 0.0})
