"""Benchmark: web nodes side by side on PostgreSQL, and the outbox's latency through the queue.

Starts a throwaway PostgreSQL cluster (fsync on) and measures:

* requests/s for quote options (``GET .../models/{sha}/options``) and for
  status changes with their two mails (``POST .../orders/{id}/status``,
  holding and resuming placed orders) against one ``fabcore serve`` node
  and against two, each node one uvicorn process, under ``wrk`` (one wrk
  process per node, the connections split between them). The nodes run
  with ``FABCORE_JOBS=queue`` and no worker: a status change defers its
  relay (a queueing lock keeps one waiting), nothing is sent. CPU time per
  request is read from ``/proc`` for the web processes, the PostgreSQL
  processes and wrk;
* the outbox's latency from commit to SMTP acceptance: status changes made
  in this process on a database of their own (each queues two mails and
  defers a relay), ``--mails`` mails in all, one change every 50 ms, with
  two ``fabcore worker`` processes woken through LISTEN/NOTIFY and an
  aiosmtpd server on loopback (a process of its own) noting when each mail
  arrives. The time runs from the moment the change's transaction has
  committed (noted by a wrapper around the unit of work's ``commit``) to
  the end of the mail's DATA; the relay's deferral comes after the commit,
  so it is inside.

Every figure is the median of ``--runs`` runs. Needs ``wrk`` (``apt-get
install wrk``) and the PostgreSQL server binaries. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fabcore.adapters.sql import SqlUnitOfWork
from fabcore.adapters.task_queue import ProcrastinateJobs
from fabcore.app.bootstrap import bootstrap
from fabcore.app.facade import Fabcore
from fabcore.app.samples import bracket_stl, create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus
from fabcore.ports.outbox import OutboxStatus
from http_server import OWNER_EMAIL, OWNER_PASSWORD, free_port
from postgres_server import Cluster, recreate_database

ROOT = Path(__file__).resolve().parent.parent
CUBE = ROOT / "tests" / "data" / "20mm-xyz-cube.stl"
SECRET = "bench-jobs-secret-key-0123456789"
ADDRESS = {"name": "Ada", "line1": "1 Way", "postal_code": "10115", "city": "Berlin",
           "country": "DE"}
TICK = os.sysconf("SC_CLK_TCK")
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


# -- processes and their CPU time ------------------------------------------------------


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


def prepare(url: str, orders: int) -> tuple[str, str, list[str]]:
    """Owner token, an analysed model's sha256 and ``orders`` placed orders."""
    with httpx.Client(base_url=url, timeout=60) as client:
        token = client.post("/api/v1/shops/acme/sign-in", json={
            "email": OWNER_EMAIL, "password": OWNER_PASSWORD}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        model = client.post("/api/v1/shops/acme/models", headers=headers,
                            files={"file": ("cube.stl", CUBE.read_bytes())}).json()
        customer = client.post("/api/v1/shops/acme/customers", headers=headers, json={
            "name": "Ada", "email": "ada@example.com", "billing_address": ADDRESS}).json()
        ids = []
        for _ in range(orders):
            order = client.post("/api/v1/shops/acme/orders", headers=headers,
                                json={"customer_id": customer["id"]}).json()
            base = f"/api/v1/shops/acme/orders/{order['id']}"
            client.post(f"{base}/lines", headers=headers, json={
                "model_sha256": model["sha256"], "filename": "cube.stl",
                "spec": {"process": "fdm", "material": "pla", "quantity": 5}})
            client.put(f"{base}/shipping", headers=headers, json={"method": "pickup"})
            placed = client.post(f"{base}/place", headers=headers, json={})
            if placed.status_code != 200:
                raise RuntimeError(placed.text)
            ids.append(order["id"])
    return token, model["sha256"], ids


def resume_held(url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=60) as client:
        while True:
            page = client.get("/api/v1/shops/acme/orders", headers=headers,
                              params={"status": "on_hold", "limit": 200}).json()
            if not page["items"]:
                return
            for order in page["items"]:
                client.post(f"/api/v1/shops/acme/orders/{order['id']}/status", headers=headers,
                            json={"status": "placed"})


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


# -- the run -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each measure (median)")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections in all")
    parser.add_argument("--mails", type=int, default=200, help="mails per latency run")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench_jobs needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="fabcore-bench-jobs-"))
    cluster = Cluster(durable=True)
    arrivals = _Arrivals(folder)
    nodes: list[Node] = []
    try:
        url = recreate_database(cluster.url, "fabcore_bench_jobs")
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
        for run in range(args.runs):
            for count in (1, 2):
                used = nodes[:count]
                pids = [node.process.pid for node in used]
                options = [f"{n.url}/api/v1/shops/acme/models/{sha}/options?quantity=10"
                           for n in used]
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
                rows.setdefault(("status changes", count), []).append(
                    load([n.url for n in used], args.seconds, args.connections, scripts, pids,
                         postmaster))
                resume_held(nodes[0].url, token)
            print(f"run {run + 1} of {args.runs} done", file=sys.stderr)
        for node in nodes:
            node.stop()
        waits = [latency(cluster.url, folder, arrivals, args.mails)
                 for _ in range(args.runs)]
        _print(rows, waits, args)
    finally:
        for node in nodes:
            node.stop()
        arrivals.stop()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def _print(rows: dict[tuple[str, int], list[dict[str, float]]],
           waits: list[tuple[float, float, float]], args: argparse.Namespace) -> None:
    def median(found: list[dict[str, float]], key: str) -> float:
        return statistics.median(one[key] for one in found)

    print(f"PostgreSQL (fsync on), each node one uvicorn process, FABCORE_JOBS=queue; wrk "
          f"-c{args.connections} in all for {args.seconds} s; median of {args.runs} runs; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end.\n")
    print("| measure | nodes | requests/s | vs one node | web CPU ms/req | PostgreSQL CPU "
          "ms/req | wrk CPU ms/req | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for what in ("quote options", "status changes"):
        one = median(rows[(what, 1)], "rps")
        for count in (1, 2):
            found = rows[(what, count)]
            rps = median(found, "rps")
            print(f"| {what} | {count} | {rps:,.0f} | {rps / one:.2f}x | "
                  f"{median(found, 'web_ms'):.2f} | {median(found, 'pg_ms'):.2f} | "
                  f"{median(found, 'wrk_ms'):.2f} | {median(found, 'errors'):.0f} |")
    p50 = statistics.median(w[0] for w in waits)
    p95 = statistics.median(w[1] for w in waits)
    top = statistics.median(w[2] for w in waits)
    print(f"\nOutbox latency, commit to SMTP acceptance, two workers woken by LISTEN/NOTIFY, "
          f"{args.mails} mails per run: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {top:.1f} ms "
          f"(target p50 < 100 ms: {'met' if p50 < 100 else 'missed'}).")


if __name__ == "__main__":
    sys.exit(main())
