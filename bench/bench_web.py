"""Benchmark: the HTTP API under a real load generator, against the library calls it wraps.

Starts ``fabcore serve --workers 2`` (uvicorn, two processes) over a SQLite
file in a temporary folder and measures, side by side with the same work
done by the library in this process:

* quote options for an already analysed model (``GET .../models/{sha}/options``)
  under ``wrk`` (requests/s and the latency distribution), against
  ``options_for`` plus the response mapping, in a loop;
* a status change with its two mails (``POST .../orders/{id}/status``, holding
  and resuming placed orders) under ``wrk`` with a Lua script, against
  ``Fabcore.change_status`` on a SQLite file in this process; the mails the
  server's relay had not sent when ``wrk`` stopped are counted, and how long
  it took to send them;
* sign-in with Argon2id: median latency of sequential sign-ins (below the
  throttle's limit per network address), against ``PasswordHasher.verify``;
* upload and analysis of a binary STL of about 1.3 million triangles
  (median of ``--uploads``, a new file each time so nothing is reused),
  against ``Fabcore.upload_model`` on the same bytes in this process, on a
  SQLite file and a model directory of its own (the use case the endpoint
  runs: hash, store and sync the file, analyse it, record the analysis);
  the analyser alone on the bytes is shown beside it.

Each figure is taken once the server has sent every mail queued before it.

Install the load generator first: ``apt-get install wrk``. Prints a Markdown
table; the machine is shared, so compare ratios within one run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from api_workload import CUBE, prepare, queued_mails, resume_held, wait_for_mails

from fabcore.adapters.argon2 import Argon2Hasher
from fabcore.adapters.mesh import MeshFileAnalyser
from fabcore.app.bootstrap import bootstrap
from fabcore.app.samples import create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address
from fabcore.domain.pricing import options_for
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus
from fabcore.entrypoints.web.api.common import line_quote_out
from http_server import OWNER_EMAIL, OWNER_PASSWORD, LiveServer, start_server

STATUS_SCRIPT = """
-- Each wrk thread runs its own Lua state: thread k of n toggles only the orders
-- whose position is k modulo n, so no two threads ever move the same order.
local orders = {%s}
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  mine = {}
  for i = 1, #orders do
    if (i - 1) %% 2 == id then mine[#mine + 1] = orders[i] end
  end
  held = {}
  n = 0
  -- wrk calls the first thread's request() once to check it, and sends nothing.
  checking = (id == 0)
end
request = function()
  if checking then
    checking = false
    return wrk.format("GET", "/healthz")
  end
  n = n + 1
  local order = mine[(n %% #mine) + 1]
  local target
  if held[order] then target = "placed" else target = "on_hold" end
  held[order] = not held[order]
  local body = '{"status": "' .. target .. '", "note": "bench"}'
  return wrk.format("POST", "/api/v1/shops/acme/orders/" .. order .. "/status",
                    {["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer %s"}, body)
end
response = function(status, headers, body)
  if status ~= 200 then io.stderr:write("refused: " .. body .. "\\n") end
end
"""


def wrk(url: str, seconds: int, connections: int, script: Path | None = None,
        headers: Sequence[str] = ()) -> dict[str, float]:
    """Requests/s, latency percentiles (ms) and non-2xx answers of one wrk run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    output = done.stdout
    for line in done.stderr.splitlines()[:3]:
        print(f"wrk: {line}", file=sys.stderr)
    found: dict[str, float] = {"errors": 0.0}
    for line in output.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            found["rps"] = float(parts[1])
        elif len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            found[parts[0]] = _ms(parts[1])
        elif "Non-2xx or 3xx responses" in line:
            found["errors"] = float(parts[-1])
        elif line.strip().startswith("Socket errors:"):
            found["timeouts"] = float(parts[-1])
    return found


def _ms(value: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    raise ValueError(value)


def rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``call`` in a loop for ``seconds``."""
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        call()
        count += 1
    return count / (time.perf_counter() - start)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found += [int(child) for child in children]
    return found


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_memory(server_pid: int) -> tuple[float, float]:
    """Peak resident memory (MB) of the largest web worker and analysis worker."""
    web, analysis = 0.0, 0.0
    for worker in _children(server_pid):
        if "spawn_main" not in Path(f"/proc/{worker}/cmdline").read_text():
            continue  # multiprocessing's resource tracker
        web = max(web, _peak_rss_mb(worker))
        for child in _children(worker):
            analysis = max(analysis, _peak_rss_mb(child))
    return web, analysis


def big_stl(variant: int) -> bytes:
    """A closed sphere of 1,310,720 triangles as binary STL; ``variant`` changes its header."""
    mesh = trimesh.creation.icosphere(subdivisions=8, radius=40.0)
    out = io.BytesIO()
    mesh.export(out, file_type="stl")
    data = bytearray(out.getvalue())
    data[:80] = f"fabcore bench {variant}".encode().ljust(80, b" ")
    return bytes(data)


def library_status_rate(folder: Path, seconds: float) -> float:
    """Status changes per second through ``Fabcore.change_status`` on a new SQLite file."""
    database = Path(tempfile.mkdtemp(dir=folder)) / "library.db"
    app = bootstrap(f"sqlite:///{database}", secret_key=b"k" * 32)
    create_sample_shop(app)
    staff = Actor.staff("acme", "sam")
    customer = app.register_customer(staff, name="Ada", email="ada@example.com",
                                     billing_address=Address("Ada", "1 Way", "10115", "Berlin",
                                                             "DE"))
    model = app.upload_model(staff, CUBE.read_bytes(), "cube.stl")
    ids = []
    for _ in range(200):
        order = app.create_order(staff, customer.id)
        app.add_line(staff, order.id, model, LineSpec("fdm", "pla", quantity=5))
        app.set_shipping(staff, order.id, "pickup")
        ids.append(app.place(staff, order.id).id)
    state = {"n": 0}

    def toggle() -> None:
        n = state["n"]
        order_id = ids[n % len(ids)]
        target = OrderStatus.ON_HOLD if (n // len(ids)) % 2 == 0 else OrderStatus.PLACED
        app.change_status(staff, order_id, target, note="bench")
        state["n"] = n + 1

    result = rate(toggle, seconds)
    app.close()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--uploads", type=int, default=5,
                        help="uploads of the large model, each beside a library call (median)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench_web needs wrk: apt-get install wrk", file=sys.stderr)
        return 2

    folder = Path(tempfile.mkdtemp(prefix="fabcore-bench-web-"))
    server = start_server(folder / "server", extra_env={
        "FABCORE_WEB_WORKERS": "2", "FABCORE_ANALYSIS_WORKERS": "1",
        "FABCORE_RELAY_INTERVAL_S": "1"})
    try:
        return _run(args, folder, server)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _run(args: argparse.Namespace, folder: Path, server: LiveServer) -> int:
    token, sha, orders = prepare(server.url, 1000)
    url = server.url
    # Each figure is taken on a server with no mail left to send from the one before.
    wait_for_mails(url, token)

    options = [wrk(f"{url}/api/v1/shops/acme/models/{sha}/options?quantity=10",
                   args.seconds, args.connections) for _ in range(args.runs)]
    core = bootstrap("memory://", secret_key=b"k" * 32)
    create_sample_shop(core)
    catalog = core.catalog(Actor.visitor("acme"))
    analysis = MeshFileAnalyser().analyse(CUBE.read_bytes(), "cube.stl")
    library_options = statistics.median(
        rate(lambda: [line_quote_out(q) for q in options_for(catalog, analysis, 10)], 3)
        for _ in range(args.runs))

    script = folder / "status.lua"
    script.write_text(STATUS_SCRIPT % (", ".join(f'"{o}"' for o in orders), token))
    changes, backlogs, catch_ups = [], [], []
    for _ in range(args.runs):
        changes.append(wrk(url, args.seconds, args.connections, script))
        backlogs.append(queued_mails(url, token))
        catch_ups.append(wait_for_mails(url, token))
        resume_held(server.url, token)
        wait_for_mails(url, token)
    library_changes = statistics.median(
        library_status_rate(folder, 5) for _ in range(args.runs))

    hasher = Argon2Hasher()
    stored = hasher.hash(OWNER_PASSWORD)
    verify = []
    for _ in range(10):
        start = time.perf_counter()
        hasher.verify(stored, OWNER_PASSWORD)
        verify.append(time.perf_counter() - start)
    sign_ins = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(25):
            start = time.perf_counter()
            answer = client.post("/api/v1/shops/acme/sign-in", json={
                "email": OWNER_EMAIL, "password": OWNER_PASSWORD})
            sign_ins.append(time.perf_counter() - start)
            assert answer.status_code == 200, answer.text

    uploads, library_uploads, library_analyses = [], [], []
    analyser = MeshFileAnalyser()
    library_folder = Path(tempfile.mkdtemp(dir=folder))
    uploader = bootstrap(f"sqlite:///{library_folder / 'library.db'}",
                         models=library_folder / "models",
                         analyser=analyser, secret_key=b"k" * 32)
    create_sample_shop(uploader)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=300) as client:
        for run in range(args.uploads):
            data = big_stl(run)
            start = time.perf_counter()
            answer = client.post("/api/v1/shops/acme/models", headers=headers,
                                 files={"file": (f"sphere-{run}.stl", data)})
            uploads.append(time.perf_counter() - start)
            assert answer.status_code == 201, answer.text[:300]
            start = time.perf_counter()
            uploader.upload_model(Actor.staff("acme", "sam"), data, "sphere.stl")
            library_uploads.append(time.perf_counter() - start)
            start = time.perf_counter()
            analyser.analyse(data, "sphere.stl")
            library_analyses.append(time.perf_counter() - start)
    uploader.close()

    web_peak, analysis_peak = peak_memory(server.process.pid)
    size_mb = len(big_stl(0)) / 1e6

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    rows = [
        ("quote options (GET, analysed model)", f"{med(options, 'rps'):,.0f} req/s",
         f"{library_options:,.0f} calls/s", med(options, "rps") / library_options,
         f"p50 {med(options, '50%'):.1f} ms, p99 {med(options, '99%'):.1f} ms",
         ">= 1,000 req/s, p99 < 20 ms"),
        ("status change with 2 mails (POST)", f"{med(changes, 'rps'):,.0f} req/s",
         f"{library_changes:,.0f} changes/s", med(changes, "rps") / library_changes,
         f"p50 {med(changes, '50%'):.1f} ms, p99 {med(changes, '99%'):.1f} ms; "
         f"{statistics.median(backlogs):,.0f} mails still queued at the end, sent "
         f"{statistics.median(catch_ups):.1f} s later",
         ">= 400/s"),
        ("sign-in (Argon2id)", f"p50 {statistics.median(sign_ins) * 1000:.0f} ms",
         f"verify {statistics.median(verify) * 1000:.0f} ms",
         statistics.median(sign_ins) / statistics.median(verify), "sequential", "stated"),
        ("upload + analysis, 1.31M-triangle STL", f"{statistics.median(uploads):.2f} s",
         f"upload_model {statistics.median(library_uploads):.2f} s",
         statistics.median(uploads) / statistics.median(library_uploads),
         f"{size_mb:.0f} MB file; peak RSS: web worker {web_peak:.0f} MB, "
         f"analysis worker {analysis_peak:.0f} MB", "<= 1.5x the library call"),
        ("the same upload against the analyser alone", f"{statistics.median(uploads):.2f} s",
         f"analyse {statistics.median(library_analyses):.2f} s",
         statistics.median(uploads) / statistics.median(library_analyses),
         "the analyser on the bytes, nothing hashed, stored or recorded", "-"),
    ]
    errors = sum(r["errors"] for r in options + changes)
    print(f"fabcore serve, 2 uvicorn workers, SQLite; wrk -t2 -c{args.connections} "
          f"-d{args.seconds}s; median of {args.runs} run(s), "
          f"{args.uploads} uploads; {os.cpu_count()} CPUs, shared")
    print()
    print("| figure | HTTP | library in-process | ratio (HTTP/library) | latency | target |")
    print("|---|---:|---:|---:|---|---|")
    for name, http, library, ratio, latency, target in rows:
        print(f"| {name} | {http} | {library} | {ratio:.2f} | {latency} | {target} |")
    print()
    print(json.dumps({"non_2xx_answers": errors}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
