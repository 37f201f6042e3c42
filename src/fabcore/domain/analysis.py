"""What a mesh analyser tells about an uploaded 3D model.

Geometry is measured in floats (it comes from floating-point meshes); money
never is. Units are normalised: lengths in mm, areas in cm2, volumes in cm3.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs


class Units(enum.Enum):
    """Length unit the numbers in a model file are in."""

    MM = "mm"
    CM = "cm"
    INCH = "inch"
    M = "m"

    @property
    def to_mm(self) -> float:
        return _TO_MM[self.value]

    @property
    def label(self) -> str:
        """The unit's name in a sentence: "millimeters", "inches"."""
        return _LABELS[self.value]


_TO_MM = {"mm": 1.0, "cm": 10.0, "inch": 25.4, "m": 1000.0}
_LABELS = {"mm": "millimeters", "cm": "centimeters", "inch": "inches", "m": "meters"}


class WarningCode(enum.Enum):
    """Design-for-manufacturing findings. Some make a volume untrustworthy."""

    NOT_WATERTIGHT = "not_watertight"
    INCONSISTENT_WINDING = "inconsistent_winding"
    MULTIPLE_BODIES = "multiple_bodies"
    ZERO_VOLUME = "zero_volume"
    LARGE_OVERHANG = "large_overhang"
    THIN_PART = "thin_part"
    TINY_PART = "tiny_part"
    HUGE_PART = "huge_part"


# Findings after which the measured volume cannot be used for an instant price.
UNRELIABLE_VOLUME = frozenset(
    {WarningCode.NOT_WATERTIGHT, WarningCode.INCONSISTENT_WINDING, WarningCode.ZERO_VOLUME}
)


@attrs.frozen
class DfmWarning:
    """One finding, with a code for programs and a message for people."""

    code: WarningCode
    message: str


@attrs.frozen
class ModelAnalysis:
    """Measured figures of one model file, in mm / cm2 / cm3."""

    filename: str
    format: str
    volume_cm3: float
    area_cm2: float
    bbox_mm: tuple[float, float, float]
    triangles: int
    bodies: int
    watertight: bool
    winding_consistent: bool
    convex_hull_volume_cm3: float
    overhang_area_cm2: float
    warnings: tuple[DfmWarning, ...] = ()

    @property
    def volume_reliable(self) -> bool:
        """True when the volume may be used for an instant price."""
        return not any(w.code in UNRELIABLE_VOLUME for w in self.warnings)

    def has(self, code: WarningCode) -> bool:
        return any(w.code is code for w in self.warnings)


class AnalysisState(enum.Enum):
    """Where the analysis of a large upload stands (see :class:`AnalysisRequest`)."""

    PENDING = "pending"
    ANALYSING = "analysing"
    DONE = "done"
    REJECTED = "rejected"

    @property
    def finished(self) -> bool:
        return self in (AnalysisState.DONE, AnalysisState.REJECTED)


@attrs.define
class AnalysisRequest:
    """A stored model file waiting for (or done with) its analysis in a worker.

    One per file content and units: the same file uploaded again while it
    waits joins the same request. ``attempts`` counts the starts of its
    analysis (a worker that died mid-way leaves one more); ``reason`` is the
    rejection's, in plain words; ``request_id`` is the upload's, for the logs.
    """

    sha256: str
    units: Units
    filename: str
    size: int
    requested_at: datetime
    state: AnalysisState = AnalysisState.PENDING
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reason: str | None = None
    request_id: str | None = None
