"""Measures of a triangle mesh, taken the way a slicer sees it.

* Volume and area come from the file's own triangles: merging (see
  :mod:`.topology`) decides which faces are neighbours, never where a corner is.
* The volume is trusted only when the mesh is watertight and consistently
  wound. Bodies are added up; a body wound inside out counts positive unless
  it lies inside another body, where it is a cavity and counts negative.
  With inconsistent winding, faces are flipped back into agreement to give
  the best estimate, and a warning marks it as unreliable.
* Overhang: faces whose outward normal is less than 45 degrees from straight
  down (``n_z < -cos 45°``; faces at exactly 45 degrees print unsupported), in
  the orientation of the file, leaving out faces lying on the build plate
  (the lowest z, within the merge tolerance).
* The convex hull is exact while at most ``hull_max_points`` points can be on
  it; past that it is taken over the outermost point of each cell of a grid,
  a slight underestimate (about 0.1 % for 20,000 points on curved shapes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from fabcore.adapters.mesh.errors import ModelError
from fabcore.adapters.mesh.exact import exact_groups
from fabcore.adapters.mesh.readers.base import Mesh
from fabcore.adapters.mesh.threads import Threads
from fabcore.adapters.mesh.topology import (
    FloatArray,
    IntArray,
    Topology,
    find_topology,
    join_near_open_ends,
    merge_positions,
    orientation_repair,
)
from fabcore.domain.dfm import MeshFigures, format_mm, unit_hint

# Larger than anything made in one piece (1 km): the unit must be wrong.
MAX_SIZE_MM: Final = 1e6
# A 45-degree chamfer prints without support; the margin keeps float noise on
# such faces from deciding either way.
_OVERHANG_COS: Final = math.cos(math.radians(45.0)) + 1e-6
_CHUNK: Final = 1 << 18
# Faces measured at a time: their arrays stay in the processor's cache.
_FACE_CHUNK: Final = 1 << 14
_MAX_CONTAINMENT_FACE_TESTS: Final = 50_000_000
_INNER_POLYTOPE_MAX_POINTS: Final = 200_000
_THIN_MAX_CELLS: Final = 1 << 22
# Float noise of the file's numbers: a few units in the last place.
_NOISE_ULPS: Final = 8.0
_NO_SURFACE: Final = (
    "every triangle has zero area (or is narrower than float noise): the file describes no surface"
)
# A ray direction unlikely to run exactly along a mesh edge or face.
_RAY_DIRECTION: Final = np.array([0.5897, 0.5503, 0.5911]) / math.hypot(0.5897, 0.5503, 0.5911)


@dataclass(frozen=True)
class Measured:
    """The figures the domain judges, and the ones it only reports."""

    figures: MeshFigures
    hull_volume_mm3: float
    triangles: int


def measure(
    mesh: Mesh, *, merge_tolerance: float, hull_max_points: int, threads: Threads | None = None
) -> Measured:
    """Measure ``mesh``; ``merge_tolerance`` is relative to its largest dimension."""
    threads = threads or Threads(1)
    n = mesh.triangle_count
    if n == 0:
        raise ModelError("the file contains no triangles")
    # The face figures and the hull need no topology: they are taken beside it.
    # Whatever ends the measuring, nothing started for it runs on.
    started: list[Future[Any]] = []
    try:
        # The points the faces use, one contiguous float64 array per axis in mm,
        # and each face's corners as indices into them.
        if mesh.faces is None:
            soup = _soup_columns(mesh.vertices)
            xyz, corners = _soup_points(soup, mesh.to_mm, threads)
            corners_of: Corners = partial(_soup_corners, soup, mesh.to_mm)
            del soup
        else:
            xyz, corners = _indexed_points(mesh.vertices, mesh.faces, mesh.to_mm)
            corners_of = partial(_indexed_corners, xyz, corners)
        if not all(bool(np.isfinite(c).all()) for c in xyz):
            raise ModelError("the file has coordinates that are not numbers (NaN or infinity)")
        lo = np.array([c.min() for c in xyz], dtype=np.float64)
        hi = np.array([c.max() for c in xyz], dtype=np.float64)
        extents = hi - lo
        size = float(extents.max())
        if size > MAX_SIZE_MM:
            raise ModelError(
                f"the model is {format_mm(size / 1e6)} km across, larger than anything that "
                f"can be made: {unit_hint(size, mesh.unit)}"
            )
        center = (lo + hi) / 2.0
        tol = _tolerance(
            mesh, size, float(np.abs(np.concatenate((lo, hi))).max()), merge_tolerance
        )
        quantities = threads.submit(_face_quantities, corners_of, n)
        started.append(quantities)
        del corners_of
        merged, vertex_xyz = merge_positions(xyz, lo, hi, tol)
        # Every point its own vertex (the usual case) needs no renumbering.
        all_faces = corners if len(vertex_xyz[0]) == len(xyz[0]) else merged[corners]
        del xyz, merged, corners
        positions = np.stack(vertex_xyz, axis=1)
        positions -= center
        # A convex mesh needs no hull: taken in advance only where a thread is free for it.
        hull_of_points = None
        if threads.count > 1:
            hull_of_points = threads.submit(hull_volume, positions, hull_max_points)
            started.append(hull_of_points)
        kept, faces, topo = _faces_and_topology(all_faces, positions, tol)
        area2, nz, vol6, top = quantities.result()
        plate = top <= float(lo[2]) + tol
        del top
        area = float(area2.sum()) / 2.0
        if area <= 0.0:
            raise ModelError(_NO_SURFACE)
        if topo.open_edges:
            remap = join_near_open_ends(topo.open_ends, positions, tol)
            if remap is not None:
                kept, faces, topo = _faces_and_topology(remap[all_faces], positions, tol)
        # Faces that merging collapsed add their (float-noise) volume as the file has it.
        collapsed_vol6 = 0.0
        if len(kept) < n:
            collapsed = np.ones(n, dtype=np.bool_)
            collapsed[kept] = False
            collapsed_vol6 = float(vol6[collapsed].sum())
            area2, nz, vol6, plate = area2[kept], nz[kept], vol6[kept], plate[kept]

        labels, bodies = topo.labels, topo.bodies
        closed = topo.open_edges == 0
        # +1 or -1 per face: whether it is turned from the file's winding (None: none is).
        orient: FloatArray | None = None
        if closed and topo.misdirected_edges:
            flips = orientation_repair(len(faces), topo)
            if flips is not None:
                orient = flips
        body_vol6 = np.asarray(
            np.bincount(labels, weights=_oriented(vol6, orient), minlength=bodies), dtype=np.float64
        )
        if closed:
            signs = _body_signs(body_vol6, labels, faces, positions)
            volume6 = float((signs * np.abs(body_vol6)).sum())
            inverted = (body_vol6 < 0) & (signs > 0)
            if inverted.any():
                orient = _oriented(np.where(inverted, -1.0, 1.0)[labels], orient)
        else:
            volume6 = float(np.abs(body_vol6).sum())
        volume = max((volume6 + collapsed_vol6) / 6.0, 0.0)

        down = _oriented(nz, orient) < -_OVERHANG_COS * area2
        overhang = float(area2[down & ~plate].sum()) / 2.0

        convex = closed and bodies == 1 and _is_convex(faces, positions, topo, orient)
        if convex:
            hull = volume
        elif hull_of_points is not None:
            hull = hull_of_points.result()
        else:
            hull = hull_volume(positions, hull_max_points)
        if closed and bodies == 1:
            hull = max(hull, volume)
        figures = MeshFigures(
            volume_mm3=volume,
            area_mm2=area,
            extents_mm=(float(extents[0]), float(extents[1]), float(extents[2])),
            bodies=bodies,
            open_edges=topo.open_edges,
            misdirected_edges=topo.misdirected_edges,
            overhang_area_mm2=overhang,
            unit=mesh.unit,
        )
        return Measured(figures=figures, hull_volume_mm3=hull, triangles=n)
    finally:
        wait(started)


def _faces_and_topology(
    faces: IntArray, positions: FloatArray, tol: float
) -> tuple[IntArray, IntArray, Topology]:
    """The faces merging left with three distinct corners (indices, corners), and their topology."""
    kept = np.flatnonzero(
        (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    )
    if len(kept) == 0:
        raise ModelError(_NO_SURFACE)
    if len(kept) < len(faces):
        faces = faces[kept]
    return kept, faces, find_topology(faces, len(positions), positions, tol)


def _soup_points(
    soup: list[np.ndarray], to_mm: float, threads: Threads
) -> tuple[list[FloatArray], IntArray]:
    """x, y and z in mm of every point of a soup, and the (n, 3) points of each face.

    ``soup`` is the corners' columns (see :func:`_soup_columns`). Corners that
    are bitwise copies of one another are one point.
    """
    bits = np.dtype(f"u{soup[0].dtype.itemsize}")
    group, first = exact_groups([c.view(bits) for c in soup], threads)
    # A signalling NaN in the file warns when widened; NaNs are refused next anyway.
    with np.errstate(invalid="ignore"):
        xyz = [np.asarray(c[first], dtype=np.float64) for c in soup]
        if to_mm != 1.0:
            for axis in xyz:
                np.multiply(axis, to_mm, out=axis)
    return xyz, group.reshape(-1, 3)


def _indexed_points(
    vertices: np.ndarray, faces: np.ndarray, to_mm: float
) -> tuple[list[FloatArray], IntArray]:
    """x, y and z in mm of the vertices that faces use, and each face's points among them."""
    used = np.bincount(faces.reshape(-1), minlength=len(vertices))
    kept = np.flatnonzero(used)
    if len(kept) == len(vertices):
        points, numbered = vertices, faces.astype(np.int64, copy=False)
    else:
        renumber = np.empty(len(vertices), dtype=np.int64)
        renumber[kept] = np.arange(len(kept))
        points, numbered = vertices[kept], renumber[faces]
    # A signalling NaN in the file warns when widened; NaNs are refused next anyway.
    with np.errstate(invalid="ignore"):
        if to_mm == 1.0:
            xyz = [np.ascontiguousarray(points[:, k], dtype=np.float64) for k in range(3)]
        else:
            xyz = [points[:, k].astype(np.float64) * to_mm for k in range(3)]
    return xyz, numbered


def _soup_columns(corners: np.ndarray) -> list[np.ndarray]:
    """x, y and z of a soup's (n, 3, 3) corners as three contiguous arrays, corner by corner.

    Copied a block of triangles at a time: the block's corners are made
    contiguous while they are in the processor's cache, then split by axis.
    """
    n = len(corners)
    columns = [np.empty((n, 3), dtype=corners.dtype) for _ in range(3)]
    for start in range(0, n, _FACE_CHUNK):
        block = np.ascontiguousarray(corners[start : start + _FACE_CHUNK])
        for k, column in enumerate(columns):
            column[start : start + _FACE_CHUNK] = block[:, :, k]
    return [column.reshape(-1) for column in columns]


def _tolerance(mesh: Mesh, size: float, magnitude: float, relative: float) -> float:
    """Merge distance: ``relative`` of the size, never below the float noise of the numbers."""
    eps = float(np.finfo(mesh.vertices.dtype).eps) if mesh.vertices.dtype.kind == "f" else 0.0
    tol = max(relative * size, _NOISE_ULPS * eps * magnitude)
    return tol if tol > 0.0 else relative


Corners = Callable[[int, int], tuple[FloatArray, FloatArray, FloatArray]]


def _soup_corners(
    soup: list[np.ndarray], to_mm: float, start: int, stop: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """x, y and z in mm, (k, 3) each, of the corners of a soup's triangles ``start`` to ``stop``."""
    axes = [c[3 * start : 3 * stop].reshape(-1, 3).astype(np.float64) for c in soup]
    if to_mm != 1.0:
        for axis in axes:
            np.multiply(axis, to_mm, out=axis)
    return axes[0], axes[1], axes[2]


def _indexed_corners(
    xyz: list[FloatArray], corners: IntArray, start: int, stop: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """x, y and z in mm, (k, 3) each, of the corners of faces ``start`` to ``stop``."""
    at = corners[start:stop]
    return xyz[0][at], xyz[1][at], xyz[2][at]


def _face_quantities(
    corners_of: Corners, n: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per face: twice the area, z of the area normal, six times the signed volume, highest z.

    Volumes are taken from the first corner of the first face, so that
    coordinates far from the origin lose no precision.
    """
    area2 = np.empty(n)
    nz = np.empty(n)
    vol6 = np.empty(n)
    top = np.empty(n)
    origin: tuple[float, float, float] | None = None
    # Coordinates that are not numbers are refused once the points are known.
    with np.errstate(invalid="ignore", over="ignore"):
        for s in range(0, n, _FACE_CHUNK):
            e = min(n, s + _FACE_CHUNK)
            x, y, z = corners_of(s, e)
            if origin is None:
                origin = (float(x[0, 0]), float(y[0, 0]), float(z[0, 0]))
            cx, cy, cz = origin
            x0, y0, z0 = x[:, 0] - cx, y[:, 0] - cy, z[:, 0] - cz
            ax, ay, az = x[:, 1] - cx - x0, y[:, 1] - cy - y0, z[:, 1] - cz - z0
            bx, by, bz = x[:, 2] - cx - x0, y[:, 2] - cy - y0, z[:, 2] - cz - z0
            nx = ay * bz - az * by
            ny = az * bx - ax * bz
            nz_ = ax * by - ay * bx
            area2[s:e] = np.sqrt(nx * nx + ny * ny + nz_ * nz_)
            nz[s:e] = nz_
            vol6[s:e] = x0 * nx + y0 * ny + z0 * nz_
            np.maximum(np.maximum(z[:, 0], z[:, 1]), z[:, 2], out=top[s:e])
    return area2, nz, vol6, top


def _oriented(values: FloatArray, orient: FloatArray | None) -> FloatArray:
    """Per-face ``values`` with each face turned by ``orient`` (None: as it is)."""
    return values if orient is None else values * orient


def _body_signs(
    body_vol: FloatArray, labels: IntArray, faces: IntArray, positions: FloatArray
) -> FloatArray:
    """+1 for solid bodies, -1 for cavities (a negative body inside another body)."""
    signs = np.ones(len(body_vol))
    negative = np.flatnonzero(body_vol < 0)
    if len(negative) == 0 or len(body_vol) == 1:
        return signs
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(len(body_vol) + 1))
    grouped = positions[faces[order]]
    body_lo = np.minimum.reduceat(grouped.min(axis=1), bounds[:-1], axis=0)
    body_hi = np.maximum.reduceat(grouped.max(axis=1), bounds[:-1], axis=0)
    budget = _MAX_CONTAINMENT_FACE_TESTS
    for body in negative:
        holders = np.flatnonzero(
            (body_vol > 0)
            & (body_lo <= body_lo[body]).all(axis=1)
            & (body_hi >= body_hi[body]).all(axis=1)
        )
        point = grouped[bounds[body], 0]
        for holder in holders:
            shell = grouped[bounds[holder] : bounds[holder + 1]]
            budget -= len(shell)
            # Past the budget, a bounding box that holds the body has to do.
            if budget < 0 or _inside(point, shell):
                signs[body] = -1.0
                break
    return signs


def _inside(point: FloatArray, shell: FloatArray) -> bool:
    """Ray parity test of ``point`` against a closed shell of triangles (k, 3, 3)."""
    inside = False
    for start in range(0, len(shell), _CHUNK):
        tri = shell[start : start + _CHUNK]
        e1 = tri[:, 1] - tri[:, 0]
        e2 = tri[:, 2] - tri[:, 0]
        h = np.cross(_RAY_DIRECTION, e2)
        det = np.einsum("ij,ij->i", e1, h)
        # A ray (nearly) parallel to the triangle: relative, so any scale behaves alike.
        scale = np.sqrt(np.einsum("ij,ij->i", e1, e1) * np.einsum("ij,ij->i", e2, e2))
        ok = np.abs(det) > 1e-12 * scale
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = point - tri[:, 0]
        u = inv * np.einsum("ij,ij->i", s, h)
        q = np.cross(s, e1)
        w = inv * (q @ _RAY_DIRECTION)
        t = inv * np.einsum("ij,ij->i", e2, q)
        hits = ok & (u >= 0) & (w >= 0) & (u + w <= 1) & (t > 0)
        inside ^= bool(np.count_nonzero(hits) % 2)
    return inside


def _is_convex(
    faces: IntArray, positions: FloatArray, topo: Topology, orient: FloatArray | None
) -> bool:
    """True when no edge of a closed, single-body mesh is reflex.

    For each pair of faces sharing an edge, the centroid of the second must
    not rise above the plane of the first (by more than a millionth of the
    model's size); worked axis by axis, a chunk of pairs at a time.
    """
    scale = float(np.abs(positions).max()) or 1.0
    axes = [np.ascontiguousarray(positions[:, k]) for k in range(3)]
    step = _CHUNK // 4
    for start in range(0, len(topo.pair_a), step):
        pa = topo.pair_a[start : start + step]
        pb = topo.pair_b[start : start + step]
        fa, fb = faces[pa], faces[pb]
        a = [[axis[fa[:, k]] for k in range(3)] for axis in axes]
        # Three times the step from the first face's centroid to the second's.
        step3 = [
            axis[fb[:, 0]] + axis[fb[:, 1]] + axis[fb[:, 2]] - (c[0] + c[1] + c[2])
            for axis, c in zip(axes, a, strict=True)
        ]
        (x0, x1, x2), (y0, y1, y2), (z0, z1, z2) = a
        ux, uy, uz = x1 - x0, y1 - y0, z1 - z0
        vx, vy, vz = x2 - x0, y2 - y0, z2 - z0
        nx = uy * vz - uz * vy
        ny = uz * vx - ux * vz
        nz = ux * vy - uy * vx
        rise = nx * step3[0] + ny * step3[1] + nz * step3[2]
        if orient is not None:
            rise *= orient[pa]
        limit = 3e-6 * scale * np.sqrt(nx * nx + ny * ny + nz * nz)
        if (rise > limit).any():
            return False
    return True


def hull_volume(points: FloatArray, max_points: int) -> float:
    candidates = points
    if len(points) > max_points:
        # Dropping inner points keeps the hull exact, but costs a pass per plane:
        # on the largest meshes thinning alone is as good and cheaper.
        if len(points) <= _INNER_POLYTOPE_MAX_POINTS:
            candidates = _outside_inner_polytope(points)
        if len(candidates) > max_points:
            candidates = _thin(candidates, max_points)
    hull = _try_hull(candidates)
    return 0.0 if hull is None else float(hull.volume)


def _try_hull(points: FloatArray) -> Any:
    if len(points) < 4:
        return None
    try:
        return ConvexHull(points)
    except (QhullError, ValueError):
        return None


def _outside_inner_polytope(points: FloatArray) -> FloatArray:
    """Drop points strictly inside the hull of the extreme points along 7 axes (Akl-Toussaint)."""
    x, y, z = (np.ascontiguousarray(points[:, k], dtype=np.float32) for k in range(3))
    extreme: set[int] = set()
    plus, minus = x + y, x - y
    for projection in (x, y, z, plus + z, plus - z, minus + z, minus - z):
        extreme.update((int(projection.argmin()), int(projection.argmax())))
    inner = _try_hull(points[sorted(extreme)])
    if inner is None:
        return points
    # float32 is plenty: only points well inside the inner polytope are dropped.
    margin = 1e-5 * (float(np.abs(points).max()) or 1.0)
    inside = np.ones(len(points), dtype=np.bool_)
    height = np.empty(len(points), dtype=np.float32)
    term = np.empty(len(points), dtype=np.float32)
    for nx, ny, nz, offset in inner.equations.astype(np.float32):
        np.multiply(x, nx, out=height)
        height += np.multiply(y, ny, out=term)
        height += np.multiply(z, nz, out=term)
        inside &= height < -offset - margin
    return points[~inside]


def _thin(points: FloatArray, max_points: int) -> FloatArray:
    """Keep the outermost point of each cell of a grid coarse enough for ``max_points``."""
    columns = [np.ascontiguousarray(points[:, k]) for k in range(3)]
    # Column by column: a reduction over axis 0 of an (n, 3) array is slow.
    low = np.array([c.min() for c in columns])
    high = np.array([c.max() for c in columns])
    middle = (low + high) / 2.0
    reach = np.zeros(len(points))
    for k in range(3):
        offset = columns[k] - middle[k]
        offset *= offset
        reach += offset
    span = high - low
    x, y, z = (float(v) for v in span)
    cell = math.sqrt(2.0 * (x * y + y * z + x * z) / max_points) or 1.0
    key = np.empty(len(points), dtype=np.int64)
    part = np.empty(len(points), dtype=np.int64)
    scaled = np.empty(len(points))
    while True:
        dims = [int(v) + 1 for v in np.floor(span / cell)]
        total = dims[0] * dims[1] * dims[2]
        if total > _THIN_MAX_CELLS:
            cell *= (total / _THIN_MAX_CELLS) ** (1.0 / 3.0) * 1.01
            continue
        for k in range(3):
            np.subtract(columns[k], low[k], out=scaled)
            scaled *= 1.0 / cell
            if k == 0:
                np.copyto(key, scaled, casting="unsafe")
            else:
                np.copyto(part, scaled, casting="unsafe")
                key *= dims[k]
                key += part
        best = np.full(total, -1.0)
        np.maximum.at(best, key, reach)
        occupied = int(np.count_nonzero(best >= 0.0))
        if occupied <= max_points:
            chosen: FloatArray = points[reach == best[key]]
            return chosen
        cell *= max(1.05, math.sqrt(occupied / max_points))
