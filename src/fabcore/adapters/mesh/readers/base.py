"""What every reader returns, and the limits every reader applies."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from fabcore.domain.analysis import Units
from fabcore.domain.errors import InvalidInput

MiB: Final = 1024 * 1024

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Mesh:
    """Triangles as a file holds them, before any measuring.

    With ``faces``, ``vertices`` is (k, 3) and triangle ``i`` joins
    ``vertices[faces[i]]``; without, ``vertices`` is (n, 3, 3), the three
    corners of each triangle (a soup, as STL has it). ``to_mm`` turns the numbers
    into millimeters; ``unit`` is the caller's unit that was applied, or None
    when the file declared its own.
    """

    vertices: npt.NDArray[np.floating[Any]]
    faces: npt.NDArray[np.integer[Any]] | None
    to_mm: float
    unit: Units | None

    @property
    def triangle_count(self) -> int:
        return len(self.vertices) if self.faces is None else len(self.faces)


@dataclass(frozen=True)
class Limits:
    """What a reader refuses to go past, so that no upload can exhaust the machine.

    ``max_triangles`` counts triangles after instancing (3MF build items and
    components, glTF nodes), checked before they are materialised; an
    analysis takes up to about 250 bytes per triangle beyond the file
    itself (measured on 1M-triangle meshes). ``max_instance_depth``
    bounds nesting of components or nodes. The STEP converter runs in a
    child process limited to ``step_memory_bytes`` of address space,
    ``step_cpu_seconds`` of CPU time and ``step_timeout_s`` of wall time.
    """

    max_upload_bytes: int = 200 * MiB
    max_decompressed_bytes: int = 1024 * MiB
    max_triangles: int = 5_000_000
    max_instance_depth: int = 32
    step_memory_bytes: int = 4096 * MiB
    step_cpu_seconds: int = 120
    step_timeout_s: float = 180.0

    def __post_init__(self) -> None:
        for name in (
            "max_upload_bytes",
            "max_decompressed_bytes",
            "max_triangles",
            "max_instance_depth",
            "step_memory_bytes",
            "step_cpu_seconds",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InvalidInput(f"{name} must be a positive whole number, not {value!r}")
        if not (math.isfinite(self.step_timeout_s) and self.step_timeout_s > 0):
            raise InvalidInput("step_timeout_s must be a positive number of seconds")

    @property
    def max_vertices(self) -> int:
        """Vertices a file may list: three per allowed triangle, as in an unshared soup."""
        return 3 * self.max_triangles


def fan(corners: IntArray, counts: IntArray) -> IntArray:
    """Triangles of polygons listed one after another (``counts[i]`` corners each).

    Each polygon is fanned from its first corner: (0, j, j + 1) for j = 1 .. n - 2.
    """
    if (counts == 3).all():
        return corners.reshape(-1, 3)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    sides = counts - 2
    total = int(sides.sum())
    polygon = np.repeat(np.arange(len(counts)), sides)
    step = np.arange(total) - np.repeat(np.cumsum(sides) - sides, sides)
    base = offsets[polygon]
    return np.stack((corners[base], corners[base + step + 1], corners[base + step + 2]), axis=1)
