"""Benchmark: orders and status changes on memory, SQLite (a file) and PostgreSQL.

For each adapter, in a process of its own, through the real use cases:

* place: ``--orders`` orders (default 1,000): ``create_order``, ``add_line``
  (one model, uploaded and analysed once per run and reused), ``set_shipping``
  and ``place``, which queues its e-mails in the outbox;
* change: every order through 5 status changes (manufacturing,
  post-production, ready for shipping, shipped, delivered), each queueing
  two e-mails in the same unit of work.

Rates are the median of ``--runs`` runs, each on a fresh database; the change
latency is the median over every change of every run. Peak memory is the
child process's maximum resident set size. Listing: 10,000 orders in one
status, each with its own total, are stored, then
``orders.summaries(shop, status)`` (the list view a back office shows) is
timed, median of 5, and for comparison
``orders.list(shop, status)``, which loads the 10,000 full orders. After
the bulk load PostgreSQL's table is vacuumed and analysed, as autovacuum
does on a live database: without statistics, right after the load, the
planner sorts instead of reading the listing's index in order.

SQLite runs with its defaults (WAL, ``synchronous=NORMAL``), and as
``sqlite-full`` with ``synchronous=FULL`` (a disk sync per commit). PostgreSQL uses
``--postgres-url`` or ``FABCORE_BENCH_POSTGRES_URL`` (a server where
databases may be created and dropped), else a throwaway cluster with fsync on
(``tests/postgres_server.py``); ``--skip-postgres`` leaves it out.

``--before REV`` measures fabcore as committed at ``REV`` too (its ``src``,
taken with ``git archive``, first on the children's ``PYTHONPATH``), each
adapter's "before" child right before its "after" one, and prints the two
side by side: rates, time per change, each adapter's ratio to the memory
adapter of the same code, and the listing figures. The ratio targets
(SQLite >= 0.85x memory, PostgreSQL >= 0.5x) and the memory adapter's time
per change against the "before" column's are checked on the "after" one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fabcore.adapters.memory import (
    MemoryDatabase,
    RecordingMailer,
)
from fabcore.adapters.sql import SqlDatabase
from fabcore.app.bootstrap import bootstrap
from fabcore.app.facade import Fabcore
from fabcore.app.samples import bracket_stl, create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address
from fabcore.domain.money import Money
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus
from fabcore.ports.repositories import UnitOfWorkFactory

ADAPTERS = ("memory", "sqlite", "sqlite-full", "postgres")
STEPS = (
    OrderStatus.MANUFACTURING,
    OrderStatus.POST_PRODUCTION,
    OrderStatus.READY_FOR_SHIPPING,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
)
LISTED = 10_000
ADDRESS = Address("Ada Lovelace", "1 Analytical Way", "10115", "Berlin", "DE")
TARGETS = {"sqlite": 500.0, "postgres": 300.0}
LIST_TARGET_MS = 50.0
# Status changes/s as a share of the memory adapter's, in the same run.
RATIO_TARGETS = {"sqlite": 0.85, "postgres": 0.5}
# The memory adapter's median time per change, after / before.
MEMORY_TIME_TARGET = 0.5


@dataclass
class Result:
    adapter: str
    orders_per_s: float
    changes_per_s: float
    change_ms: float
    list_ms: float
    full_list_ms: float
    peak_mib: float


class Databases:
    """Fresh, empty databases of one adapter."""

    def __init__(self, kind: str, workdir: Path, server_url: str | None) -> None:
        self.kind = kind
        self.workdir = workdir
        self.server_url = server_url
        self.count = 0
        self.url: str | None = None

    def fresh(self) -> UnitOfWorkFactory:
        self.count += 1
        if self.kind == "memory":
            return MemoryDatabase()
        if self.kind in ("sqlite", "sqlite-full"):
            from fabcore.adapters.sqlite import SqliteDatabase

            return SqliteDatabase(self.workdir / f"bench-{self.count}.db",
                                  synchronous="full" if self.kind == "sqlite-full" else "normal")
        from fabcore.adapters.postgres import PostgresDatabase
        from postgres_server import recreate_database

        assert self.server_url is not None
        self.url = recreate_database(self.server_url, "fabcore_bench")
        return PostgresDatabase(self.url)

    def settle(self) -> None:
        """After a bulk load: statistics and visibility map, as autovacuum would make them."""
        if self.kind == "postgres" and self.url is not None:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE orders")


def make_app(database: UnitOfWorkFactory) -> Fabcore:
    mesh = importlib.import_module("fabcore.adapters.mesh")
    # A "before" revision may still name it TrimeshAnalyser.
    analyser_class = getattr(mesh, "MeshFileAnalyser", None) or mesh.TrimeshAnalyser
    return bootstrap(database, analyser=analyser_class(), mail=RecordingMailer(),
                     secret_key=b"k" * 32)


def one_run(database: UnitOfWorkFactory, orders: int) -> tuple[float, float, list[float]]:
    """Seconds to place ``orders``, seconds for their status changes, and each change's latency."""
    app = make_app(database)
    shop = create_sample_shop(app)
    staff = Actor.staff(shop.id, "sam")
    customer = app.register_customer(Actor.visitor(shop.id), name="Ada", email="ada@example.com",
                                     billing_address=ADDRESS)
    buyer = Actor.customer(shop.id, customer.id)
    model = app.upload_model(buyer, bracket_stl(), "bracket.stl")
    spec = LineSpec("fdm", "pla", quantity=2)
    ids: list[str] = []
    started = time.perf_counter()
    for _ in range(orders):
        order = app.create_order(buyer)
        app.add_line(buyer, order.id, model, spec)
        app.set_shipping(buyer, order.id, "standard", ADDRESS)
        ids.append(app.place(buyer, order.id).id)
    placing = time.perf_counter() - started
    latencies: list[float] = []
    started = time.perf_counter()
    for target in STEPS:
        for order_id in ids:
            before = time.perf_counter()
            app.change_status(staff, order_id, target)
            latencies.append(time.perf_counter() - before)
    changing = time.perf_counter() - started
    with database() as uow:
        assert len(uow.orders.list(shop.id, OrderStatus.DELIVERED)) == orders
        assert len(uow.outbox.list(order_id=ids[-1])) >= 2 * len(STEPS)
    return placing, changing, latencies


def listing(database: UnitOfWorkFactory, settle: Callable[[], None]) -> tuple[float, float]:
    """Milliseconds to list ``LISTED`` placed orders: their summaries, and the full orders."""
    app = make_app(database)
    shop = create_sample_shop(app)
    customer = app.register_customer(Actor.visitor(shop.id), name="Ada", email="ada@example.com",
                                     billing_address=ADDRESS)
    buyer = Actor.customer(shop.id, customer.id)
    model = app.upload_model(buyer, bracket_stl(), "bracket.stl")
    order = app.create_order(buyer)
    app.add_line(buyer, order.id, model, LineSpec("fdm", "pla", quantity=2))
    app.set_shipping(buyer, order.id, "standard", ADDRESS)
    template = app.place(buyer, order.id)
    quote = template.agreed_quote
    assert quote is not None
    assert quote.total is not None
    total = quote.total
    for start in range(0, LISTED - 1, 1000):
        with database() as uow:
            for i in range(start, min(start + 1000, LISTED - 1)):
                # Every order its own total, as in a real shop.
                cents = Money(Decimal(i + 1).scaleb(-2), total.currency)
                uow.orders.add(attrs.evolve(
                    template, id=f"bulk-{i}", number=f"B{i:06d}", version=0,
                    agreed_quote=attrs.evolve(quote, total=total + cents),
                ))
            uow.commit()
    settle()
    summary: list[float] = []
    for _ in range(5):
        with database() as uow:
            before = time.perf_counter()
            summaries = uow.orders.summaries(shop.id, OrderStatus.PLACED)
            summary.append(time.perf_counter() - before)
        assert len(summaries) == LISTED
        assert (summaries[-1].total, summaries[-1].lines) == (total, 1)
        assert len({s.total for s in summaries}) == LISTED
    full: list[float] = []
    for _ in range(5):
        with database() as uow:
            before = time.perf_counter()
            found = uow.orders.list(shop.id, OrderStatus.PLACED)
            full.append(time.perf_counter() - before)
        assert len(found) == LISTED
    return statistics.median(summary) * 1000, statistics.median(full) * 1000


def measure(kind: str, orders: int, runs: int, server_url: str | None) -> Result:
    """Everything for one adapter (run in a child process)."""
    with tempfile.TemporaryDirectory(prefix="fabcore-bench-") as tmp:
        databases = Databases(kind, Path(tmp), server_url)
        placing: list[float] = []
        changing: list[float] = []
        latencies: list[float] = []
        for _ in range(runs):
            database = databases.fresh()
            place_s, change_s, each = one_run(database, orders)
            _close(database)
            placing.append(orders / place_s)
            changing.append(orders * len(STEPS) / change_s)
            latencies.extend(each)
        database = databases.fresh()
        list_ms, full_list_ms = listing(database, databases.settle)
        _close(database)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return Result(kind, statistics.median(placing), statistics.median(changing),
                  statistics.median(latencies) * 1000, list_ms, full_list_ms, peak_kib / 1024)


def _close(database: UnitOfWorkFactory) -> None:
    if isinstance(database, SqlDatabase):
        database.close()


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(value: float, baseline: float | None) -> str:
    return "-" if not baseline else f"{value / baseline:.2f}x"


def _table(results: Sequence[Result], orders: int, runs: int) -> str:
    memory = next((r.changes_per_s for r in results if r.adapter == "memory"), None)
    lines = [
        f"{orders:,} orders, {len(STEPS)} status changes each, median of {runs} run(s); "
        f"listing {LISTED:,} orders by status, median of 5",
        "",
        "| adapter | orders/s | status changes/s | vs memory | median change (ms) "
        "| list 10,000 summaries (ms) | list 10,000 full orders (ms) | summaries vs full "
        "| peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.adapter} | {number(r.orders_per_s)} | {number(r.changes_per_s)} "
            f"| {ratio(r.changes_per_s, memory)} | {number(r.change_ms, 2)} "
            f"| {number(r.list_ms, 1)} | {number(r.full_list_ms, 1)} "
            f"| {ratio(r.list_ms, r.full_list_ms)} | {number(r.peak_mib)} |"
        )
    lines.append("")
    for r in results:
        target = TARGETS.get(r.adapter)
        if target is not None:
            verdict = "met" if r.changes_per_s >= target else "MISSED"
            lines.append(f"{r.adapter}: status changes/s >= {target:g}: {verdict} "
                         f"({r.changes_per_s / target:.2f}x the target)")
        verdict = "met" if r.list_ms < LIST_TARGET_MS else "MISSED"
        lines.append(f"{r.adapter}: list 10,000 summaries < {LIST_TARGET_MS:g} ms: {verdict} "
                     f"({r.list_ms / LIST_TARGET_MS:.2f}x the limit)")
    return "\n".join(lines)


def _comparison(before: Sequence[Result], after: Sequence[Result], rev: str) -> str:
    """Before and after side by side, and the ratio targets checked on "after"."""
    def memory(results: Sequence[Result]) -> float | None:
        return next((r.changes_per_s for r in results if r.adapter == "memory"), None)

    old_memory, new_memory = memory(before), memory(after)
    lines = [
        f"before: {rev}, after: this working tree",
        "",
        "| adapter | status changes/s before | after | after / before "
        "| vs memory before | vs memory after | median change (ms) before | after "
        "| list 10,000 summaries (ms) before | after | list 10,000 full orders (ms) before "
        "| after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    olds = {r.adapter: r for r in before}
    for new in after:
        old = olds[new.adapter]
        lines.append(
            f"| {new.adapter} | {number(old.changes_per_s)} | {number(new.changes_per_s)} "
            f"| {ratio(new.changes_per_s, old.changes_per_s)} "
            f"| {ratio(old.changes_per_s, old_memory)} | {ratio(new.changes_per_s, new_memory)} "
            f"| {number(old.change_ms, 2)} | {number(new.change_ms, 2)} "
            f"| {number(old.list_ms, 1)} | {number(new.list_ms, 1)} "
            f"| {number(old.full_list_ms, 1)} | {number(new.full_list_ms, 1)} |"
        )
    lines.append("")
    for new in after:
        target = RATIO_TARGETS.get(new.adapter)
        if target is not None and new_memory:
            share = new.changes_per_s / new_memory
            verdict = "met" if share >= target else "MISSED"
            lines.append(f"{new.adapter}: status changes/s >= {target:g}x memory's: {verdict} "
                         f"({share:.2f}x)")
        if new.adapter == "memory":
            share = new.change_ms / olds["memory"].change_ms
            verdict = "met" if share <= MEMORY_TIME_TARGET else "MISSED"
            lines.append(f"memory: time per change at most {MEMORY_TIME_TARGET:g}x before's: "
                         f"{verdict} ({share:.2f}x)")
    return "\n".join(lines)


def _baseline(rev: str, workdir: Path) -> Path:
    """``src`` of fabcore as committed at ``rev``, unpacked under ``workdir``."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive, check=True)
    return workdir / "src"


def _child(kind: str, args: argparse.Namespace, server_url: str | None,
           source: Path | None) -> Result | int:
    """One adapter measured in a process of its own, on ``source`` when given."""
    print(f"... {kind}" + (" (before)" if source else ""), file=sys.stderr, flush=True)
    command = [sys.executable, __file__, "--child", kind, "--orders", str(args.orders),
               "--runs", str(args.runs)]
    if server_url:
        command += ["--postgres-url", server_url]
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source),
                                                          env.get("PYTHONPATH")]))
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    return Result(**json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1000, help="orders per run (1000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per adapter (3)")
    parser.add_argument("--adapters", nargs="+", choices=ADAPTERS, default=list(ADAPTERS))
    parser.add_argument("--skip-postgres", action="store_true", help="leave PostgreSQL out")
    parser.add_argument("--postgres-url", default=os.environ.get("FABCORE_BENCH_POSTGRES_URL"),
                        help="server to create the bench database on "
                             "(default: $FABCORE_BENCH_POSTGRES_URL, else a throwaway cluster)")
    parser.add_argument("--before", metavar="REV",
                        help="also measure fabcore as committed at REV, side by side")
    parser.add_argument("--child", choices=ADAPTERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.orders < 1 or args.runs < 1:
        parser.error("--orders and --runs must be at least 1")

    if args.child:
        result = measure(args.child, args.orders, args.runs, args.postgres_url)
        print(json.dumps(asdict(result)))
        return 0

    adapters = [a for a in args.adapters if not (a == "postgres" and args.skip_postgres)]
    cluster = None
    server_url = args.postgres_url
    if "postgres" in adapters and not server_url:
        from postgres_server import Cluster

        cluster = Cluster(durable=True)
        server_url = cluster.url
    results: list[Result] = []
    before: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="fabcore-before-") as tmp:
            source = _baseline(args.before, Path(tmp)) if args.before else None
            versions: list[tuple[list[Result], Path | None]] = (
                [(before, source)] if source else []
            )
            versions.append((results, None))
            for kind in adapters:
                for into, code in versions:
                    measured = _child(kind, args, server_url, code)
                    if isinstance(measured, int):
                        return measured
                    into.append(measured)
    finally:
        if cluster is not None:
            cluster.stop()
    if before:
        print(f"## before ({args.before})\n")
        print(_table(before, args.orders, args.runs))
        print("\n## after\n")
    print(_table(results, args.orders, args.runs))
    if before:
        print("\n## side by side\n")
        print(_comparison(before, results, args.before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
