"""Benchmark: fabcore past one machine, in one table.

Rows by section (``--sections``, default all):

* ``web``: requests/s for quote options (``GET .../models/{sha}/options``)
  and for status changes with their two mails (``POST .../orders/{id}/status``,
  holding and resuming placed orders) against one ``fabcore serve`` node
  and against two, each node one uvicorn process, on a throwaway
  PostgreSQL cluster (fsync on), under ``wrk`` (one wrk process per node,
  the connections split between them). The nodes run with
  ``FABCORE_JOBS=queue`` and no worker: a status change defers its relay
  (a queueing lock keeps one waiting), nothing is sent. Where the time
  goes: CPU ms per request, read from ``/proc``, of the web processes, the
  PostgreSQL processes and wrk;
* ``outbox``: the outbox's latency from commit to SMTP acceptance: status
  changes made in this process on a database of their own (each queues
  two mails and defers a relay), ``--mails`` mails in all, one change every
  50 ms, with two ``fabcore worker`` processes woken through LISTEN/NOTIFY
  and an aiosmtpd server on loopback (a process of its own) noting when
  each mail arrives. The time runs from the moment the change's
  transaction has committed (noted by a wrapper around the unit of work's
  ``commit``) to the end of the mail's DATA; the relay's deferral comes
  after the commit, so it is inside;
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
  "vs" divides the S3 store's upload rate by the directory store's for the
  same workload; "client CPU" is the storing process's CPU time during the
  uploads (all its threads), "server CPU" moto's: where the upload's time goes.

Every figure is the median of ``--runs`` runs (default 3 for ``web`` and
``outbox``, 5 for ``uploads``). ``web`` needs ``wrk`` (``apt-get install
wrk``); ``web`` and ``outbox`` need the PostgreSQL server binaries.

moto's server is Python answering one request at a time on this 2-core
machine, so the S3 figures show what the adapter costs on top of an S3 API
on loopback, not what AWS or MinIO would take.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from api_workload import prepare, resume_held

from fabcore.adapters.filesystem import FilesystemModelStore
from fabcore.adapters.sql import SqlUnitOfWork
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus
from fabcore.ports.model_store import ModelStore
from fabcore.ports.outbox import OutboxStatus
from postgres_server import Cluster, recreate_database
from s3_server import CREDENTIALS, MotoServer

if TYPE_CHECKING:
    from fabcore.app.facade import Fabcore

# The app's use cases, its samples and the test server helpers are imported
# where the web and outbox rows use them: the upload rows' child processes
# measure their own memory, and those imports weigh over 100 MiB.

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path("/work/shared/corpus")
BUCKET = "fabcore-bench"
STORES = ("directory", "s3")
WORKLOADS = ("corpus", "large")
MiB = 1024 * 1024
SECRET = "bench-scale-secret-key-0123456789"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    """One line of the table."""

    measure: str
    setup: str
    result: str
    versus: str
    where: str


STATUS_SCRIPT = """
local orders = {%s}
local n = 0
local held = {}
local checking = true
request = function()
  -- wrk asks once for a request to check, and sends nothing of it.
  if checking then
    checking = false
    return wrk.format("GET", "/healthz")
  end
  n = n + 1
  local order = orders[(n %% #orders) + 1]
  local target
  if held[order] then target = "placed" else target = "on_hold" end
  held[order] = not held[order]
  return wrk.format("POST", "/api/v1/shops/acme/orders/" .. order .. "/status",
                    {["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer %s"},
                    '{"status": "' .. target .. '", "note": "bench"}')
end
response = function(status, headers, body)
  if status ~= 200 then io.stderr:write("refused: " .. body .. "\\n") end
end
"""


# -- web: processes and their CPU time ------------------------------------------------------


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, ValueError):
                continue
    found, todo = [root], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(roots: Sequence[int]) -> float:
    """User and system CPU of ``roots`` and every live process below them."""
    total = 0
    for root in roots:
        for pid in _descendants(root):
            try:
                fields = _stat(pid)
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def _postmaster(cluster: Cluster) -> int:
    return int((cluster._data / "postmaster.pid").read_text().split()[0])


class Node:
    """One ``fabcore serve`` process (one uvicorn process)."""

    def __init__(self, folder: Path, env: dict[str, str], name: str) -> None:
        from http_server import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"{name}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fabcore.entrypoints.cli", "serve", "--port",
             str(self.port)], cwd=folder, env=env, stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).text == "ok":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)


# -- throughput ----------------------------------------------------------------------------


def _wrk_rps(output: str) -> tuple[float, float]:
    rps = errors = 0.0
    for line in output.splitlines():
        if line.startswith("Requests/sec:"):
            rps = float(line.split()[1])
        elif "Non-2xx or 3xx responses" in line:
            errors = float(line.split()[-1])
    return rps, errors


def load(urls: Sequence[str], seconds: int, connections: int,
         scripts: Sequence[Path | None], web: Sequence[int], postgres: int) -> dict[str, float]:
    """One wrk per URL at once; requests/s summed, CPU ms per request by kind of process."""
    web_before, pg_before = cpu_seconds(web), cpu_seconds([postgres])
    started = os.times()
    runs = []
    for url, script in zip(urls, scripts, strict=True):
        command = ["wrk", "-t1", f"-c{max(1, connections // len(urls))}", f"-d{seconds}s"]
        if script is not None:
            command += ["-s", str(script)]
        runs.append(subprocess.Popen([*command, url], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))
    outputs = [run.communicate() for run in runs]
    ended = os.times()
    rps = errors = 0.0
    for out, err in outputs:
        one, failed = _wrk_rps(out)
        rps += one
        errors += failed
        for line in err.splitlines()[:2]:
            print(f"wrk: {line}", file=sys.stderr)
    requests = rps * seconds
    wrk_cpu = (ended.children_user - started.children_user
               + ended.children_system - started.children_system)
    return {
        "rps": rps, "errors": errors,
        "web_ms": 1000 * (cpu_seconds(web) - web_before) / requests,
        "pg_ms": 1000 * (cpu_seconds([postgres]) - pg_before) / requests,
        "wrk_ms": 1000 * wrk_cpu / requests,
    }


# -- outbox latency ------------------------------------------------------------------------


_RECEIVER = """
import re, sys, time
from aiosmtpd.controller import Controller

out = open(sys.argv[2], "a", buffering=1)

class Arrivals:
    async def handle_DATA(self, server, session, envelope):
        found = re.search(rb"(?im)^Message-ID:\\s*(<[^>]+>)", envelope.content)
        if found:
            out.write(f"{found.group(1).decode()} {time.monotonic()}\\n")
        return "250 OK"

controller = Controller(Arrivals(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


class _Arrivals:
    """An SMTP server in a process of its own, noting when each Message-ID was accepted.

    Its own process, so that this one's work does not delay the notes; both
    read the same monotonic clock.
    """

    def __init__(self, folder: Path) -> None:
        from http_server import free_port

        self.port = free_port()
        self.notes = folder / "arrivals.txt"
        self.notes.touch()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _RECEIVER, str(self.port), str(self.notes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP receiver did not start")

    def at(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for line in self.notes.read_text().splitlines():
            message_id, _, when = line.rpartition(" ")
            found.setdefault(message_id, float(when))
        return found

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


# When the last unit of work of this process committed (the change's, in a latency run).
_COMMITTED = [0.0]
_commit = SqlUnitOfWork.commit


def _timed_commit(self: SqlUnitOfWork) -> None:
    _commit(self)
    _COMMITTED[0] = time.monotonic()


SqlUnitOfWork.commit = _timed_commit  # type: ignore[method-assign]


def latency(server: str, folder: Path, arrivals: _Arrivals,
            mails: int) -> tuple[float, float, float]:
    """p50, p95 and max (ms) from a change's call to each of its mails' acceptance."""
    from fabcore.adapters.task_queue import ProcrastinateJobs
    from fabcore.app.bootstrap import bootstrap
    from fabcore.app.samples import bracket_stl, create_sample_shop

    url = recreate_database(server, "fabcore_bench_latency")
    jobs = ProcrastinateJobs(url)
    jobs.apply_schema()
    mail = f"smtp://127.0.0.1:{arrivals.port}"
    core = bootstrap(url, secret_key=SECRET, jobs=jobs, mail=mail)
    env = {**os.environ, "FABCORE_DATABASE_URL": url, "FABCORE_SECRET_KEY": SECRET,
           "FABCORE_MAIL_URL": mail, "FABCORE_JOBS": "queue",
           "FABCORE_MODELS": str(folder / "models"), "FABCORE_LOG_LEVEL": "WARNING"}
    workers = [subprocess.Popen([sys.executable, "-m", "fabcore.entrypoints.cli", "worker"],
                                cwd=folder, env=env, stdout=(folder / f"worker-{n}.log").open("wb"),
                                stderr=subprocess.STDOUT) for n in range(2)]
    try:
        create_sample_shop(core)
        staff = Actor.staff("acme", "sam")
        customer = core.register_customer(staff, name="Ada", email="ada@example.com",
                                          billing_address=Address("Ada", "1 Way", "10115",
                                                                  "Berlin", "DE"))
        model = core.upload_model(staff, bracket_stl(), "bracket.stl")
        orders = []
        for _ in range(10):
            order = core.create_order(staff, customer.id)
            core.add_line(staff, order.id, model, LineSpec("fdm", "pla", quantity=5))
            core.set_shipping(staff, order.id, "pickup")
            orders.append(core.place(staff, order.id).id)
        _wait_until_sent(core)
        started: dict[str, float] = {}
        for n in range(mails // 2):
            order_id = orders[n % len(orders)]
            target = OrderStatus.ON_HOLD if (n // len(orders)) % 2 == 0 else OrderStatus.PLACED
            core.change_status(staff, order_id, target, note="bench")
            committed = _COMMITTED[0]
            for message in core.list_outbox(staff, order_id=order_id)[-2:]:
                started[message.mail.message_id] = committed
            time.sleep(0.05)
        _wait_until_sent(core)
        arrived = arrivals.at()
        waits = sorted(1000 * (arrived[m] - t) for m, t in started.items())
        return (statistics.median(waits), waits[int(0.95 * (len(waits) - 1))], waits[-1])
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(60)
        core.close()
        jobs.close()


def _wait_until_sent(core: Fabcore, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while core.outbox_counts()[OutboxStatus.PENDING]:
        if time.monotonic() > deadline:
            raise RuntimeError("mails are still pending; see the workers' logs")
        time.sleep(0.1)


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


# -- the sections ----------------------------------------------------------------------


def web_section(args: argparse.Namespace, runs: int) -> tuple[list[Row], list[str]]:
    """Quote options and status changes on one node and on two."""
    from http_server import OWNER_EMAIL, OWNER_PASSWORD

    if shutil.which("wrk") is None:
        raise SystemExit("the web section needs wrk: apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="fabcore-bench-web-"))
    cluster = Cluster(durable=True)
    arrivals = _Arrivals(folder)
    nodes: list[Node] = []
    try:
        url = recreate_database(cluster.url, "fabcore_bench_web")
        env = {**os.environ, "FABCORE_DATABASE_URL": url, "FABCORE_SECRET_KEY": SECRET,
               "FABCORE_JOBS": "queue", "FABCORE_MODELS": str(folder / "models"),
               "FABCORE_MAIL_URL": f"smtp://127.0.0.1:{arrivals.port}",
               "FABCORE_OWNER_EMAIL": OWNER_EMAIL, "FABCORE_OWNER_PASSWORD": OWNER_PASSWORD,
               "FABCORE_SECURE_COOKIES": "0", "FABCORE_ANALYSIS_WORKERS": "1",
               "FABCORE_LOG_FORMAT": "json"}
        nodes.append(Node(folder, env, "web-a"))
        nodes.append(Node(folder, env, "web-b"))
        token, sha, orders = prepare(nodes[0].url, 400)
        postmaster = _postmaster(cluster)
        rows: dict[tuple[str, int], list[dict[str, float]]] = {}
        for run in range(runs):
            for count in (1, 2):
                used = nodes[:count]
                pids = [node.process.pid for node in used]
                options = [f"{n.url}/api/v1/shops/acme/models/{sha}/options?quantity=10"
                           for n in used]
                print(f"... web: quote options, {count} node(s)", file=sys.stderr, flush=True)
                rows.setdefault(("quote options", count), []).append(
                    load(options, args.seconds, args.connections, [None] * count, pids,
                         postmaster))
                scripts = []
                for index in range(count):
                    mine = orders[index::count]
                    script = folder / f"status-{run}-{count}-{index}.lua"
                    script.write_text(STATUS_SCRIPT % (", ".join(f'"{o}"' for o in mine),
                                                       token))
                    scripts.append(script)
                print(f"... web: status changes, {count} node(s)", file=sys.stderr, flush=True)
                rows.setdefault(("status changes", count), []).append(
                    load([n.url for n in used], args.seconds, args.connections, scripts, pids,
                         postmaster))
                resume_held(nodes[0].url, token)
    finally:
        for node in nodes:
            node.stop()
        arrivals.stop()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)

    def median(found: list[dict[str, float]], key: str) -> float:
        return statistics.median(one[key] for one in found)

    table = []
    for what in ("quote options", "status changes"):
        one = median(rows[(what, 1)], "rps")
        for count in (1, 2):
            found = rows[(what, count)]
            rps = median(found, "rps")
            errors = median(found, "errors")
            table.append(Row(
                what, f"{count} node{'s' if count > 1 else ''}", f"{rps:,.0f} requests/s",
                f"{rps / one:.2f}x one node",
                f"CPU ms/request: web {median(found, 'web_ms'):.2f}, PostgreSQL "
                f"{median(found, 'pg_ms'):.2f}, wrk {median(found, 'wrk_ms'):.2f}"
                + (f"; {errors:.0f} non-2xx" if errors else "")))
    note = (f"web: PostgreSQL (fsync on), each node one uvicorn process, FABCORE_JOBS=queue; "
            f"wrk -c{args.connections} in all for {args.seconds} s; median of {runs} run(s)")
    return table, [note]


def outbox_section(args: argparse.Namespace, runs: int) -> tuple[list[Row], list[str]]:
    """Latency from a change's commit to its mails' SMTP acceptance."""
    folder = Path(tempfile.mkdtemp(prefix="fabcore-bench-outbox-"))
    cluster = Cluster(durable=True)
    arrivals = _Arrivals(folder)
    try:
        waits = []
        for _ in range(runs):
            print("... outbox: latency", file=sys.stderr, flush=True)
            waits.append(latency(cluster.url, folder, arrivals, args.mails))
    finally:
        arrivals.stop()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    p50 = statistics.median(w[0] for w in waits)
    p95 = statistics.median(w[1] for w in waits)
    top = statistics.median(w[2] for w in waits)
    row = Row("outbox latency, commit to SMTP", "2 workers, LISTEN/NOTIFY",
              f"p50 {p50:.1f} ms", f"target p50 < 100 ms: {'met' if p50 < 100 else 'missed'}",
              f"p95 {p95:.1f} ms, max {top:.1f} ms")
    return [row], [f"outbox: {args.mails} mails per run, median of {runs} run(s)"]


def uploads_section(args: argparse.Namespace, runs: int) -> tuple[list[Row], list[str]]:
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
                               "--runs", str(runs), "--endpoint", server.endpoint,
                               "--server-pid", str(server.pid),
                               "--files", *map(str, workloads[workload])]
                    done = subprocess.run(command, check=False, capture_output=True, text=True)
                    if done.returncode != 0:
                        raise SystemExit(done.stderr)
                    results.append(UploadResult(**json.loads(done.stdout.splitlines()[-1])))
        server_peak = _rss_mib("VmHWM", server.pid)
    finally:
        server.stop()
    directory = {r.workload: r.megabytes / r.upload_s for r in results if r.store == "directory"}
    names = {"corpus": f"upload the corpus ({len(corpus)} files)",
             "large": f"upload one {args.large_mb} MB file"}
    table = []
    for r in results:
        rate = r.megabytes / r.upload_s
        server_cpu = "" if r.server_cpu_s is None else f", server {r.server_cpu_s:.2f}"
        files_rate = r.files / r.upload_s
        table.append(Row(
            names[r.workload], f"{r.store} store", f"{rate:,.1f} MB/s ({files_rate:,.1f} files/s)",
            f"{rate / directory[r.workload]:.2f}x directory",
            f"{r.megabytes:,.1f} MB in {r.upload_s:.2f} s; CPU s: client {r.upload_cpu_s:.2f}"
            f"{server_cpu}; read back {r.megabytes / r.read_s:,.1f} MB/s; RSS "
            f"{r.rss_before_mib:,.0f} -> peak {r.peak_mib:,.0f} MiB"))
    note = (f"uploads: put_file then open, median of {runs} run(s); moto's S3 server peaked "
            f"at {server_peak:,.0f} MiB")
    return table, [note]


SECTIONS: dict[str, tuple[Callable[[argparse.Namespace, int], tuple[list[Row], list[str]]],
                          int]] = {
    "web": (web_section, 3),
    "outbox": (outbox_section, 3),
    "uploads": (uploads_section, 5),
}


def table(rows: Sequence[Row], notes: Sequence[str]) -> str:
    lines = [f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end.",
             *(f"- {note}" for note in notes), "",
             "| measure | setup | result | vs | where the time goes |",
             "|---|---|---:|---|---|"]
    lines += [f"| {r.measure} | {r.setup} | {r.result} | {r.versus} | {r.where} |"
              for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS),
                        help="which rows to measure (default: all)")
    parser.add_argument("--runs", type=int,
                        help="runs per measure (default: 3 for web and outbox, 5 for uploads)")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per run (10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections in all (16)")
    parser.add_argument("--mails", type=int, default=200, help="mails per latency run (200)")
    parser.add_argument("--corpus", type=Path, default=CORPUS,
                        help=f"folder of model files (default {CORPUS})")
    parser.add_argument("--large-mb", type=int, default=66, help="size of the large file (66)")
    parser.add_argument("--child-uploads", nargs=2, metavar=("STORE", "WORKLOAD"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if (args.runs is not None and args.runs < 1) or args.large_mb < 1 or args.mails < 2 \
            or args.seconds < 1 or args.connections < 2:
        parser.error("--runs, --large-mb and --seconds must be at least 1, --mails and "
                     "--connections at least 2")

    if args.child_uploads:
        kind, workload = args.child_uploads
        result = measure_uploads(kind, workload, args.files, args.runs, args.endpoint,
                                 args.server_pid)
        print(json.dumps(asdict(result)))
        return 0

    rows: list[Row] = []
    notes: list[str] = []
    for name in args.sections:
        run, default_runs = SECTIONS[name]
        found, said = run(args, args.runs or default_runs)
        rows += found
        notes += said
    print(table(rows, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
