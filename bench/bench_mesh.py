"""Benchmark: fabcore's mesh analyser against trimesh's default path, every format.

Generates one closed mesh (a 2 x 2 grid of tori, so four bodies) of about
1M triangles and writes it in every format with trimesh's exporters, cached
under ``bench/.cache/``: binary STL, 3MF, OBJ, binary PLY, ASCII PLY, OFF
and GLB, plus an ASCII STL of a 500k-triangle version (an ASCII STL of 1M
triangles is twice as large for no new information). STEP is measured on
``tests/data/featuretype.STEP``, the only STEP file at hand.

Each measurement runs in a fresh child process, which imports what it
needs, then times ``--runs`` runs and reports the median wall time, the
median CPU time (its own and its children's: load from other processes
slows the first, barely the second) and its peak resident memory (VmHWM,
imports included):

* ours:    ``MeshFileAnalyser().analyse(path.read_bytes(), path.name)``
* trimesh: ``trimesh.load(path, force="mesh")``, then ``.volume``,
  ``.is_watertight`` and ``len(mesh.split(only_watertight=False))``

``--keep-freed-memory`` has our child keep the memory it frees for its next
analysis, as fabcore's analysis workers do
(:func:`fabcore.adapters.worker_pool.keep_freed_memory`); by default it
runs with glibc's own settings, as a caller's process would.

Peak memory is the larger of the child's own and that of its children
(ours converts STEP in a sandboxed child process). Prints a Markdown table,
ours and trimesh side by side with their ratios, and exits non-zero when the
two volumes disagree by more than 1e-6 (STEP: 1e-2, as the two tessellate
the solid with different tolerances) or the body counts differ (not for
STEP, whose faces trimesh leaves unmerged).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
STEP_FILE = ROOT.parent / "tests" / "data" / "featuretype.STEP"
FORMATS = ("stl", "3mf", "obj", "ply", "ply-ascii", "stl-ascii", "off", "glb", "step")
TOLERANCE = {"step": 1e-2}
# trimesh keeps STEP faces apart (no vertex merging): its body count is not comparable.
UNMERGED = {"step"}


@dataclass(frozen=True)
class Measure:
    seconds: float
    cpu_seconds: float
    peak_mb: float
    volume: float
    watertight: bool
    bodies: int
    triangles: int


def tori(triangles: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Vertices and faces of a 2 x 2 grid of closed tori with about ``triangles`` faces."""
    major = max(8, round((triangles / 4.0) ** 0.5))
    minor = max(4, round(triangles / (8.0 * major)))
    u = np.linspace(0.0, 2.0 * np.pi, major, endpoint=False)
    v = np.linspace(0.0, 2.0 * np.pi, minor, endpoint=False)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    i, j = np.meshgrid(np.arange(major), np.arange(minor), indexing="ij")
    a = i * minor + j
    b = ((i + 1) % major) * minor + j
    c = ((i + 1) % major) * minor + (j + 1) % minor
    d = i * minor + (j + 1) % minor
    one = np.concatenate(
        (np.stack((a, b, c), axis=-1).reshape(-1, 3), np.stack((a, c, d), axis=-1).reshape(-1, 3))
    )
    vertices, faces = [], []
    for k, (x, y) in enumerate(((0.0, 0.0), (0.0, 110.0), (110.0, 0.0), (110.0, 110.0))):
        ring = 40.0 + 12.0 * np.cos(vv)
        points = np.stack(
            (ring * np.cos(uu) + x, ring * np.sin(uu) + y, 12.0 * np.sin(vv) + 12.0), axis=-1
        ).reshape(-1, 3)
        # float32 values, as binary STL stores them, so every format holds the same numbers.
        vertices.append(points.astype(np.float32).astype(np.float64))
        faces.append(one + k * major * minor)
    return np.concatenate(vertices), np.concatenate(faces)


def model_file(fmt: str) -> Path:
    """The benchmark file of ``fmt`` (written once, then cached)."""
    if fmt == "step":
        return STEP_FILE
    import trimesh

    size = 500_000 if fmt == "stl-ascii" else 1_000_000
    extension = {"stl-ascii": "stl", "ply-ascii": "ply"}.get(fmt, fmt)
    path = CACHE / f"tori_{size}_{fmt}.{extension}"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    vertices, faces = tori(size)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    options = {
        "stl": {"file_type": "stl"},
        "stl-ascii": {"file_type": "stl_ascii"},
        "ply": {"file_type": "ply", "encoding": "binary"},
        "ply-ascii": {"file_type": "ply", "encoding": "ascii"},
    }.get(fmt, {"file_type": fmt})
    exported = mesh.export(**options)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(exported.encode() if isinstance(exported, str) else bytes(exported))
    tmp.replace(path)
    return path


def child(impl: str, path: Path, runs: int, keep_freed_memory: bool = False) -> None:
    """Measure one implementation on one file; print the result as JSON."""
    if impl == "ours":
        from fabcore.adapters.mesh import MeshFileAnalyser

        if keep_freed_memory:
            from fabcore.adapters.worker_pool import keep_freed_memory as keep

            keep()

        analyser = MeshFileAnalyser()

        def once() -> tuple[float, bool, int, int]:
            r = analyser.analyse(path.read_bytes(), path.name)
            return r.volume_cm3 * 1000.0, r.watertight, r.bodies, r.triangles

    else:
        import trimesh

        def once() -> tuple[float, bool, int, int]:
            mesh = trimesh.load(path, force="mesh")
            assert isinstance(mesh, trimesh.Trimesh)
            # trimesh gives STEP in meters.
            volume = float(mesh.volume) * (1e9 if path.suffix.lower() == ".step" else 1.0)
            bodies = len(mesh.split(only_watertight=False))
            return volume, bool(mesh.is_watertight), bodies, len(mesh.faces)

    times, cpu = [], []
    outcome = once()
    for _ in range(runs):
        start, spent = time.perf_counter(), _cpu()
        outcome = once()
        times.append(time.perf_counter() - start)
        cpu.append(_cpu() - spent)
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    # Ours converts STEP in a child process of its own: its memory counts too.
    peak_kb = max(peak_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    volume, watertight, bodies, triangles = outcome
    print(
        json.dumps(
            {
                "seconds": statistics.median(times),
                "cpu_seconds": statistics.median(cpu),
                "peak_mb": peak_kb / 1024.0,
                "volume": volume,
                "watertight": watertight,
                "bodies": bodies,
                "triangles": triangles,
            }
        )
    )


def _cpu() -> float:
    """CPU seconds of this process and of the children it waited for (the STEP sandbox)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measure(impl: str, path: Path, runs: int, keep_freed_memory: bool = False) -> Measure:
    keep = ["--keep-freed-memory"] if keep_freed_memory else []
    out = subprocess.run(
        [sys.executable, __file__, "--child", impl, str(path), "--runs", str(runs), *keep],
        capture_output=True,
        text=True,
        check=True,
    )
    return Measure(**json.loads(out.stdout.strip().splitlines()[-1]))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--formats",
        default=",".join(FORMATS),
        help=f"comma-separated formats from {', '.join(FORMATS)} (default: all)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per file (default: 5)")
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="our analyser keeps the memory it frees for the next run, as fabcore's workers do",
    )
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [f for f in args.formats.split(",") if f not in FORMATS]
    if unknown:
        parser.error(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]), args.runs, args.keep_freed_memory)
        return 0
    if args.keep_freed_memory:
        print("Ours keeps the memory it frees for its next analysis (as fabcore's workers do).\n")
    print(
        "| format | triangles | file MB | ours s | trimesh s | ratio | ours CPU s "
        "| trimesh CPU s | CPU ratio | ours peak MB | trimesh peak MB | peak ratio "
        "| volume rel. diff | watertight | bodies |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    for fmt in args.formats.split(","):
        path = model_file(fmt)
        ours = measure("ours", path, args.runs, args.keep_freed_memory)
        theirs = measure("trimesh", path, args.runs)
        diff = abs(ours.volume - theirs.volume) / abs(theirs.volume)
        agree = diff <= TOLERANCE.get(fmt, 1e-6)
        if fmt not in UNMERGED:
            agree = agree and ours.bodies == theirs.bodies
        failed = failed or not agree
        print(
            f"| {fmt} | {ours.triangles:,} | {path.stat().st_size / 1e6:.1f} "
            f"| {ours.seconds:.3f} | {theirs.seconds:.3f} | {ours.seconds / theirs.seconds:.2f} "
            f"| {ours.cpu_seconds:.3f} | {theirs.cpu_seconds:.3f} "
            f"| {ours.cpu_seconds / theirs.cpu_seconds:.2f} "
            f"| {ours.peak_mb:.0f} | {theirs.peak_mb:.0f} | {ours.peak_mb / theirs.peak_mb:.2f} "
            f"| {diff:.1e} | {ours.watertight}/{theirs.watertight} "
            f"| {ours.bodies}/{theirs.bodies} |",
            flush=True,
        )
    if failed:
        print("MISMATCH: ours and trimesh disagree", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
