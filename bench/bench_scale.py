"""Benchmark: fabcore past one machine, a table per section.

Sections (``--sections``; each a function in :data:`SECTIONS` that returns
its table):

* ``uploads``: model files stored with ``put_file`` and read back with
  ``open``, in the directory store (a temporary directory, each file synced
  to disk) and in the S3 store on moto's S3 server (a child process on
  127.0.0.1, the store's defaults: 8 MiB parts, 4 at a time). Two
  workloads: the corpus (every file of ``--corpus``, one after the other)
  and one large file (a generated binary STL of ``--large-mb`` MB, stored
  as a multipart upload). Each run stores into an empty directory or
  prefix, so nothing is skipped. Every row runs in a process of its own:
  "RSS before" is its resident set size once the store is set up, "peak
  RSS" the most it reached from then on (Linux's ``VmHWM``, reset at that
  point), so the difference is what storing and reading back took.
  Throughput is the median of ``--runs`` runs; "vs directory" divides the
  S3 store's upload rate by the directory store's for the same workload.
  "client CPU s" is the storing process's CPU time during the uploads
  (all its threads), "server CPU s" moto's, both medians per run: where
  the upload's time goes.

moto's server is Python answering one request at a time on this 2-core
machine, so the S3 figures show what the adapter costs on top of an S3 API
on loopback, not what AWS or MinIO would take.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fabcore.adapters.filesystem import FilesystemModelStore
from fabcore.ports.model_store import ModelStore
from s3_server import CREDENTIALS, MotoServer

CORPUS = Path("/work/shared/corpus")
BUCKET = "fabcore-bench"
STORES = ("directory", "s3")
WORKLOADS = ("corpus", "large")
MiB = 1024 * 1024


# -- uploads -------------------------------------------------------------------------


@dataclass
class UploadResult:
    workload: str
    store: str
    files: int
    megabytes: float
    upload_s: float
    upload_cpu_s: float
    server_cpu_s: float | None
    read_s: float
    rss_before_mib: float
    peak_mib: float


def large_stl(path: Path, megabytes: int) -> Path:
    """A binary STL of about ``megabytes`` MB: random triangles (the store never parses it)."""
    import numpy as np

    triangles = (megabytes * 1_000_000 - 84) // 50
    record = np.dtype([("normal_and_vertices", "<f4", (12,)), ("attribute", "<u2")])
    rows = np.zeros(triangles, dtype=record)
    rows["normal_and_vertices"] = np.random.default_rng(13).random((triangles, 12),
                                                                   dtype=np.float32)
    with path.open("wb") as out:
        out.write(b"fabcore bench".ljust(80, b" "))
        out.write(np.uint32(triangles).tobytes())
        out.write(rows.tobytes())
    return path


def _rss_mib(field: str, pid: int | str = "self") -> float:
    """A size from ``/proc/PID/status`` (Linux): ``VmRSS`` now, ``VmHWM`` the peak, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def _cpu_s(pid: int) -> float:
    """CPU time (user and system) another process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_peak() -> None:
    """Start ``VmHWM`` again from the current size (Linux 4.0 and later)."""
    Path("/proc/self/clear_refs").write_text("5")


def _store(kind: str, workdir: Path, endpoint: str) -> Callable[[], ModelStore]:
    """Fresh, empty stores of one kind."""
    if kind == "directory":
        return lambda: FilesystemModelStore(workdir / uuid.uuid4().hex)
    from fabcore.adapters.s3 import S3ModelStore

    return lambda: S3ModelStore(BUCKET, uuid.uuid4().hex, endpoint=endpoint)


def measure_uploads(kind: str, workload: str, files: Sequence[Path], runs: int,
                    endpoint: str, server_pid: int) -> UploadResult:
    """One row, in a child process: ``runs`` times, store every file, then read each back."""
    with tempfile.TemporaryDirectory(prefix="fabcore-bench-") as tmp:
        fresh = _store(kind, Path(tmp), endpoint)
        fresh().put(b"warm-up", "warm-up.stl")
        # Importing and setting up peaks higher than storing may: measure from here.
        _reset_peak()
        rss_before = _rss_mib("VmRSS")
        uploads: list[float] = []
        cpu: list[float] = []
        server_cpu: list[float] = []
        reads: list[float] = []
        for _ in range(runs):
            store = fresh()
            started, cpu_before = time.perf_counter(), time.process_time()
            server_before = _cpu_s(server_pid)
            digests = []
            for path in files:
                with path.open("rb") as file:
                    digests.append(store.put_file(file, path.name).sha256)
            uploads.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_before)
            server_cpu.append(_cpu_s(server_pid) - server_before)
            started = time.perf_counter()
            for path, digest in zip(files, digests, strict=True):
                hasher = hashlib.sha256()
                with store.open(digest) as file:
                    while piece := file.read(MiB):
                        hasher.update(piece)
                if hasher.hexdigest() != digest:
                    raise AssertionError(f"{path.name} came back different")
            reads.append(time.perf_counter() - started)
    return UploadResult(
        workload=workload, store=kind, files=len(files),
        megabytes=sum(p.stat().st_size for p in files) / 1e6,
        upload_s=statistics.median(uploads), upload_cpu_s=statistics.median(cpu),
        server_cpu_s=statistics.median(server_cpu) if kind == "s3" else None,
        read_s=statistics.median(reads),
        rss_before_mib=rss_before,
        peak_mib=_rss_mib("VmHWM"),
    )


def uploads_section(args: argparse.Namespace) -> str:
    corpus = sorted(p for p in args.corpus.iterdir() if p.is_file() and p.suffix != ".md")
    if not corpus:
        raise SystemExit(f"{args.corpus}: no files to store")
    results: list[UploadResult] = []
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    server = MotoServer()
    try:
        server.create_bucket(BUCKET)
        with tempfile.TemporaryDirectory(prefix="fabcore-bench-large-") as tmp:
            large = large_stl(Path(tmp) / "large.stl", args.large_mb)
            workloads = {"corpus": corpus, "large": [large]}
            for workload in WORKLOADS:
                for kind in STORES:
                    print(f"... uploads: {workload} into {kind}", file=sys.stderr, flush=True)
                    command = [sys.executable, __file__, "--child-uploads", kind, workload,
                               "--runs", str(args.runs), "--endpoint", server.endpoint,
                               "--server-pid", str(server.pid),
                               "--files", *map(str, workloads[workload])]
                    done = subprocess.run(command, check=False, capture_output=True, text=True)
                    if done.returncode != 0:
                        raise SystemExit(done.stderr)
                    results.append(UploadResult(**json.loads(done.stdout.splitlines()[-1])))
        server_peak = _rss_mib("VmHWM", server.pid)
    finally:
        server.stop()
    return _uploads_table(results, args.runs, len(corpus), args.large_mb, server_peak)


def _uploads_table(results: Sequence[UploadResult], runs: int, corpus_files: int,
                   large_mb: int, server_peak: float) -> str:
    directory = {r.workload: r.megabytes / r.upload_s for r in results if r.store == "directory"}
    lines = [
        f"uploads: the corpus ({corpus_files} files) and one {large_mb} MB file, stored with "
        f"put_file and read back with open, median of {runs} run(s)",
        "",
        "| workload | store | files | MB | upload MB/s | files/s | vs directory "
        "| upload s | client CPU s | server CPU s | read MB/s | RSS before (MiB) "
        "| peak RSS (MiB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rate = r.megabytes / r.upload_s
        server = "-" if r.server_cpu_s is None else f"{r.server_cpu_s:.2f}"
        lines.append(
            f"| {r.workload} | {r.store} | {r.files} | {r.megabytes:,.1f} | {rate:,.1f} "
            f"| {r.files / r.upload_s:,.1f} | {rate / directory[r.workload]:.2f}x "
            f"| {r.upload_s:.2f} | {r.upload_cpu_s:.2f} | {server} "
            f"| {r.megabytes / r.read_s:,.1f} | {r.rss_before_mib:,.0f} | {r.peak_mib:,.0f} |"
        )
    lines += ["", f"moto's S3 server peaked at {server_peak:,.0f} MiB"]
    return "\n".join(lines)


# -- the sections ----------------------------------------------------------------------

SECTIONS: dict[str, Callable[[argparse.Namespace], str]] = {
    "uploads": uploads_section,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS),
                        help="which tables to make (default: all)")
    parser.add_argument("--runs", type=int, default=5, help="runs per row (5)")
    parser.add_argument("--corpus", type=Path, default=CORPUS,
                        help=f"folder of model files (default {CORPUS})")
    parser.add_argument("--large-mb", type=int, default=66, help="size of the large file (66)")
    parser.add_argument("--child-uploads", nargs=2, metavar=("STORE", "WORKLOAD"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.large_mb < 1:
        parser.error("--runs and --large-mb must be at least 1")

    if args.child_uploads:
        kind, workload = args.child_uploads
        result = measure_uploads(kind, workload, args.files, args.runs, args.endpoint,
                                 args.server_pid)
        print(json.dumps(asdict(result)))
        return 0

    for name in args.sections:
        print(SECTIONS[name](args))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
