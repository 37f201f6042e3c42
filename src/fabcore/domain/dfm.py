"""Design-for-manufacturing findings, judged from what an analyser measured.

Analysers measure; this module judges. Every analyser hands its figures to
:func:`dfm_warnings`, so the same mesh gets the same warnings, in the same
words, whichever adapter read it.

The thin-part finding uses the mean thickness ``2 V / A`` (twice the volume
over the surface area). Half the mean chord length of a body (Cauchy's
formula: ``4 V / A`` over lines in random directions), it equals the wall
thickness of a sheet or thin-walled shell, and is lower than the smallest
dimension of a compact shape (a third of a cube's edge or a ball's diameter).
It flags parts that are thin as a whole, not one thin rib on a sturdy part.
"""

from __future__ import annotations

import math

import attrs

from fabcore.domain.analysis import DfmWarning, Units, WarningCode
from fabcore.domain.errors import InvalidInput

# Sizes a unit suggestion aims for first, then the widest it accepts.
_TYPICAL_MM = (10.0, 1000.0)


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InvalidInput(f"{attribute.name} must be a positive number, not {value!r}")


@attrs.frozen
class DfmRules:
    """Thresholds of the findings; the defaults suit most shops.

    ``overhang_fraction``: share of the surface facing down at more than 45
    degrees above which support is worth a warning. ``tiny_part_mm`` and
    ``huge_part_mm``: largest dimensions outside which a part's unit is
    suspect. ``thin_part_mm``: mean thickness below which a part is thin
    (0.8 mm is two perimeters of a 0.4 mm FDM nozzle, and about the thinnest
    wall other processes make reliably).
    """

    overhang_fraction: float = attrs.field(default=0.2, validator=_positive)
    tiny_part_mm: float = attrs.field(default=1.0, validator=_positive)
    huge_part_mm: float = attrs.field(default=2000.0, validator=_positive)
    thin_part_mm: float = attrs.field(default=0.8, validator=_positive)


@attrs.frozen
class MeshFigures:
    """What an analyser measured, in mm, mm2 and mm3, before any judgement.

    ``open_edges`` counts edges not shared by exactly two faces,
    ``misdirected_edges`` shared edges both faces run the same way. ``unit``
    is the unit the caller chose for the file's numbers, or None when the
    file declared its own (3MF, STEP).
    """

    volume_mm3: float
    area_mm2: float
    extents_mm: tuple[float, float, float]
    bodies: int
    open_edges: int
    misdirected_edges: int
    overhang_area_mm2: float
    unit: Units | None = None

    @property
    def closed(self) -> bool:
        return self.open_edges == 0

    @property
    def size_mm(self) -> float:
        """The largest dimension."""
        return max(self.extents_mm)

    @property
    def encloses_no_volume(self) -> bool:
        return self.closed and self.volume_mm3 <= 1e-9 * self.size_mm**3

    @property
    def mean_thickness_mm(self) -> float | None:
        """``2 V / A`` when the volume can be trusted, else None."""
        if not self.closed or self.misdirected_edges or self.encloses_no_volume:
            return None
        if self.area_mm2 <= 0:
            return None
        return 2.0 * self.volume_mm3 / self.area_mm2


DEFAULT_RULES = DfmRules()


def dfm_warnings(figures: MeshFigures, rules: DfmRules = DEFAULT_RULES) -> tuple[DfmWarning, ...]:
    """The findings for ``figures``, most serious first."""
    f = figures
    found: list[DfmWarning] = []
    if f.open_edges:
        found.append(
            DfmWarning(
                WarningCode.NOT_WATERTIGHT,
                f"The model has holes or loose edges ({f.open_edges} open edges), so it "
                "does not enclose a solid and its volume cannot be measured reliably. "
                "Close the mesh in your CAD program and export it again.",
            )
        )
    if f.misdirected_edges:
        found.append(
            DfmWarning(
                WarningCode.INCONSISTENT_WINDING,
                "Some triangles face inwards while their neighbours face outwards "
                f"({f.misdirected_edges} edges disagree), so the volume may be wrong. "
                "Repair the normals or export the model again.",
            )
        )
    if f.bodies > 1:
        found.append(
            DfmWarning(
                WarningCode.MULTIPLE_BODIES,
                f"The file holds {f.bodies} separate parts. They will be made as they are "
                "placed in the file; if they should be one part, join them first.",
            )
        )
    if f.encloses_no_volume:
        found.append(
            DfmWarning(
                WarningCode.ZERO_VOLUME,
                "The model encloses no volume: it is a surface, not a solid object.",
            )
        )
    if f.area_mm2 > 0 and f.overhang_area_mm2 > rules.overhang_fraction * f.area_mm2:
        share = 100.0 * f.overhang_area_mm2 / f.area_mm2
        found.append(
            DfmWarning(
                WarningCode.LARGE_OVERHANG,
                f"About {share:.0f}% of the surface ({f.overhang_area_mm2 / 100.0:.1f} cm²) "
                "faces downwards at more than 45 degrees and will need support "
                "structures in this orientation.",
            )
        )
    thickness = f.mean_thickness_mm
    if thickness is not None and thickness < rules.thin_part_mm:
        found.append(
            DfmWarning(
                WarningCode.THIN_PART,
                f"The part is on average only {format_mm(thickness)} mm thick (twice its "
                "volume over its surface area), thinner than the "
                f"{format_mm(rules.thin_part_mm)} mm most processes make reliably: it may "
                "bend, break or not form. Check its wall thickness.",
            )
        )
    if f.size_mm < rules.tiny_part_mm:
        found.append(
            DfmWarning(
                WarningCode.TINY_PART,
                f"The model is only {format_mm(f.size_mm)} mm across at its largest: "
                + unit_hint(f.size_mm, f.unit, rules),
            )
        )
    elif f.size_mm > rules.huge_part_mm:
        found.append(
            DfmWarning(
                WarningCode.HUGE_PART,
                f"The model is {format_mm(f.size_mm)} mm across at its largest, more than "
                "almost any machine makes in one piece: " + unit_hint(f.size_mm, f.unit, rules),
            )
        )
    return tuple(found)


def unit_hint(size_mm: float, unit: Units | None, rules: DfmRules = DEFAULT_RULES) -> str:
    """One sentence on the unit that would make a part of ``size_mm`` plausible.

    ``unit`` is the unit the size was read in (None when the file declared
    it): "if the file is in meters, it is 47 mm."
    """
    if unit is None:
        return (
            "the file declares its own unit; check that it was exported in the unit "
            "it was designed in."
        )
    sizes = {u: size_mm / unit.to_mm * u.to_mm for u in Units if u is not unit}
    fits = [u for u, s in sizes.items() if _TYPICAL_MM[0] <= s <= _TYPICAL_MM[1]]
    if not fits:
        fits = [u for u, s in sizes.items() if rules.tiny_part_mm <= s <= rules.huge_part_mm]
    if not fits:
        return f"check the file's unit (it was read in {unit.label})."
    first, *others = fits
    text = f"if the file is in {first.label}, it is {format_mm(sizes[first])} mm"
    text += "".join(f"; if in {u.label}, {format_mm(sizes[u])} mm" for u in others)
    return text + f". Choose the file's unit when uploading (it was read in {unit.label})."


def format_mm(value: float) -> str:
    """A length for people: three significant digits, thousands separated."""
    if abs(value) >= 999.5:
        return f"{value:,.0f}"
    return f"{value:.3g}"
