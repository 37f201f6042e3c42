"""The mesh analyser: read an upload, measure it, judge it.

Readers (:mod:`.readers`) turn the bytes into triangles, :mod:`.topology` and
:mod:`.measures` measure them the way a slicer does, and the domain
(:func:`fabcore.domain.dfm.dfm_warnings`) judges the figures.

Units: STL, OBJ, PLY, OFF and GLB carry no usable unit, so the caller's
``units`` apply. 3MF and STEP declare their unit, and that wins.
"""

from __future__ import annotations

import logging
import math
from typing import BinaryIO

from fabcore.adapters.mesh.errors import ModelError, megabytes
from fabcore.adapters.mesh.measures import measure
from fabcore.adapters.mesh.readers import format_of, read_model, read_upload
from fabcore.adapters.mesh.readers.base import Limits
from fabcore.adapters.mesh.threads import Threads, default_threads
from fabcore.domain.analysis import ModelAnalysis, Units
from fabcore.domain.dfm import DEFAULT_RULES, DfmRules, dfm_warnings
from fabcore.domain.errors import InvalidInput, ModelRejected

log = logging.getLogger("fabcore.mesh")


class MeshFileAnalyser:
    """Analyses STL, OBJ, 3MF, PLY, OFF, GLB and (with ``fabcore[step]``) STEP files.

    ``limits`` caps what a file may cost (see :class:`Limits`);
    ``merge_tolerance`` is how close, relative to the model's largest
    dimension, two vertices must be to count as one; ``rules`` are the DFM
    thresholds. ``threads`` is how many threads one analysis may use (by
    default the processors this process may run on, at most four); with 1,
    everything runs in the calling thread.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        merge_tolerance: float = 1e-6,
        hull_max_points: int = 20_000,
        rules: DfmRules = DEFAULT_RULES,
        threads: int | None = None,
    ) -> None:
        if not (math.isfinite(merge_tolerance) and 0 < merge_tolerance < 0.01):
            raise InvalidInput("merge_tolerance must be a positive fraction below 0.01")
        if hull_max_points < 4:
            raise InvalidInput("hull_max_points must be at least 4")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise InvalidInput("threads must be a whole number of at least 1")
        self.limits = limits or Limits()
        self.merge_tolerance = merge_tolerance
        self.hull_max_points = hull_max_points
        self.rules = rules
        self.threads = Threads(default_threads() if threads is None else threads)

    def __repr__(self) -> str:
        return (
            f"MeshFileAnalyser(limits={self.limits!r}, merge_tolerance={self.merge_tolerance}, "
            f"threads={self.threads.count})"
        )

    def read(self, stream: BinaryIO, filename: str) -> bytes:
        """The bytes of an upload named ``filename``, read with the size limit applied.

        The name is checked first and reading stops as soon as the limit is
        passed, so an endless stream costs no more than ``max_upload_bytes``.
        Raises ``ModelRejected``.
        """
        try:
            format_of(filename)
            return read_upload(stream, self.limits.max_upload_bytes)
        except ModelError as exc:
            raise ModelRejected(filename, exc.reason) from exc

    def analyse(self, data: bytes, filename: str, units: Units | str = Units.MM) -> ModelAnalysis:
        """Measure ``data``; the format comes from ``filename``'s extension."""
        unit = _parse_units(units)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"model data must be bytes, not {type(data).__name__}")
        try:
            return self._analyse(bytes(data), filename, unit)
        except ModelError as exc:
            if exc.detail:
                log.info("rejected %s: %s (%s)", filename, exc.reason, exc.detail)
            raise ModelRejected(filename, exc.reason) from exc
        except MemoryError as exc:
            raise ModelRejected(filename, "the model is too large to analyse") from exc

    def _analyse(self, data: bytes, filename: str, unit: Units) -> ModelAnalysis:
        size = len(data)
        if size > self.limits.max_upload_bytes:
            raise ModelError(
                f"the file is {megabytes(size)}, more than the "
                f"{megabytes(self.limits.max_upload_bytes)} allowed"
            )
        fmt = format_of(filename)
        if size == 0:
            raise ModelError("the file is empty")
        mesh = read_model(data, fmt, unit, self.limits, self.threads)
        measured = measure(
            mesh,
            merge_tolerance=self.merge_tolerance,
            hull_max_points=self.hull_max_points,
            threads=self.threads,
        )
        f = measured.figures
        return ModelAnalysis(
            filename=filename,
            format=fmt,
            volume_cm3=f.volume_mm3 / 1000.0,
            area_cm2=f.area_mm2 / 100.0,
            bbox_mm=f.extents_mm,
            triangles=measured.triangles,
            bodies=f.bodies,
            watertight=f.closed,
            winding_consistent=f.misdirected_edges == 0,
            convex_hull_volume_cm3=measured.hull_volume_mm3 / 1000.0,
            overhang_area_cm2=f.overhang_area_mm2 / 100.0,
            warnings=dfm_warnings(f, self.rules),
        )


def _parse_units(units: Units | str) -> Units:
    if isinstance(units, Units):
        return units
    if isinstance(units, str):
        try:
            return Units(units.strip().lower())
        except ValueError:
            pass
    known = ", ".join(u.value for u in Units)
    raise InvalidInput(f"unknown units {units!r}; use one of {known}")
