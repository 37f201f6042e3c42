"""Benchmark: fabcore's mesh analyser against trimesh's default path on binary STL.

Generates closed, watertight meshes (a 2 x 2 grid of tori, so four bodies) of
about 10k, 100k, 1M and 4M triangles, cached under ``bench/.cache/``, and runs
in one process, for each size:

* ours:    ``MeshFileAnalyser().analyse(path.read_bytes(), name)``
* trimesh: ``trimesh.load(path)``, then ``.volume``, ``.is_watertight`` and
  ``len(mesh.split(only_watertight=False))``

Time is the median of ``--runs`` runs; peak memory is the tracemalloc peak over
what was allocated before the call (numpy allocations are traced; memory that
C code such as qhull takes from malloc directly is not). Prints a Markdown
table and exits non-zero when the two volumes disagree by more than 1e-6.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import trimesh

from fabcore.adapters.mesh import MeshFileAnalyser

CACHE = Path(__file__).resolve().parent / ".cache"
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "4M": 4_000_000}
STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attributes", "<u2")])


@dataclass(frozen=True)
class Measure:
    seconds: float
    peak_bytes: int
    volume: float
    watertight: bool
    bodies: int


def torus_triangles(major: int, minor: int, center: tuple[float, float]) -> npt.NDArray[np.float32]:
    """Triangles (2 * major * minor, 3, 3) of a closed torus, outward wound."""
    u = np.linspace(0.0, 2.0 * np.pi, major, endpoint=False)
    v = np.linspace(0.0, 2.0 * np.pi, minor, endpoint=False)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    big, small = 40.0, 12.0
    ring = big + small * np.cos(vv)
    points = np.stack(
        (ring * np.cos(uu) + center[0], ring * np.sin(uu) + center[1], small * np.sin(vv) + small),
        axis=-1,
    ).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(major), np.arange(minor), indexing="ij")
    a = i * minor + j
    b = ((i + 1) % major) * minor + j
    c = ((i + 1) % major) * minor + (j + 1) % minor
    d = i * minor + (j + 1) % minor
    faces = np.concatenate(
        (np.stack((a, b, c), axis=-1).reshape(-1, 3), np.stack((a, c, d), axis=-1).reshape(-1, 3))
    )
    triangles: npt.NDArray[np.float32] = points[faces].astype(np.float32)
    return triangles


def mesh_file(triangles: int) -> Path:
    """Binary STL of a 2 x 2 grid of tori with about ``triangles`` triangles (cached)."""
    major = max(8, round((triangles / 4.0) ** 0.5))
    minor = max(4, round(triangles / (8.0 * major)))
    path = CACHE / f"tori_{major}x{minor}.stl"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    parts = [torus_triangles(major, minor, (x, y)) for x in (0.0, 110.0) for y in (0.0, 110.0)]
    tris = np.concatenate(parts)
    records = np.zeros(len(tris), dtype=STL_RECORD)
    records["vertices"] = tris
    header = b"fabcore benchmark: 2 x 2 tori".ljust(80, b" ")
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        out.write(header)
        out.write(np.uint32(len(tris)).tobytes())
        out.write(records.tobytes())
    tmp.replace(path)
    return path


def run_ours(path: Path) -> tuple[float, bool, int]:
    result = MeshFileAnalyser().analyse(path.read_bytes(), path.name)
    return result.volume_cm3 * 1000.0, result.watertight, result.bodies


def run_trimesh(path: Path) -> tuple[float, bool, int]:
    mesh = trimesh.load(path)
    assert isinstance(mesh, trimesh.Trimesh)
    return float(mesh.volume), bool(mesh.is_watertight), len(mesh.split(only_watertight=False))


def measure(func: Callable[[Path], tuple[float, bool, int]], path: Path, runs: int) -> Measure:
    times = []
    outcome = func(path)
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        outcome = func(path)
        times.append(time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    func(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    volume, watertight, bodies = outcome
    return Measure(statistics.median(times), peak - base, volume, watertight, bodies)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        default=",".join(SIZES),
        help=f"comma-separated sizes from {', '.join(SIZES)} (default: all)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per size (default: 5)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.sizes.split(",") if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        "| size | triangles | file MB | ours s | trimesh s | ours/trimesh "
        "| ours peak MB (x file) | trimesh peak MB | volume rel. diff | watertight | bodies |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    for label in args.sizes.split(","):
        path = mesh_file(SIZES[label])
        size = path.stat().st_size
        count = (size - 84) // 50
        ours = measure(run_ours, path, args.runs)
        theirs = measure(run_trimesh, path, args.runs)
        diff = abs(ours.volume - theirs.volume) / abs(theirs.volume)
        agree = diff <= 1e-6 and ours.watertight == theirs.watertight
        agree = agree and ours.bodies == theirs.bodies
        failed = failed or not agree
        print(
            f"| {label} | {count:,} | {size / 1e6:.1f} | {ours.seconds:.3f} "
            f"| {theirs.seconds:.3f} | {ours.seconds / theirs.seconds:.2f} "
            f"| {ours.peak_bytes / 1e6:.0f} ({ours.peak_bytes / size:.1f}x) "
            f"| {theirs.peak_bytes / 1e6:.0f} | {diff:.1e} "
            f"| {ours.watertight}/{theirs.watertight} | {ours.bodies}/{theirs.bodies} |",
            flush=True,
        )
    if failed:
        print("MISMATCH: ours and trimesh disagree", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
