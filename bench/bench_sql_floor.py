"""Benchmark: the floor under a status change on SQLite and PostgreSQL, with no fabcore code.

A status change on a SQL adapter reads the order, updates it (checking its
version), inserts its two mails and commits. This script runs just those
statements in a loop, on tables of the same shape (a 3 KB order document,
two 6 KB mails), with nothing encoded and nothing rendered:

* SQLite: a file in WAL mode with ``synchronous=NORMAL`` (fabcore's default),
  ``BEGIN IMMEDIATE``, the read, the update, the two inserts, ``COMMIT``;
* PostgreSQL: a throwaway cluster with fsync on (``tests/postgres_server.py``),
  or ``--postgres-url``; the read, then the update and the inserts pipelined,
  then the commit (the three round trips fabcore's adapter makes).

It also times the memory adapter's median status change through the real use
cases (``bench_storage.py``'s workload, ``--orders`` orders), and prints what
the ratio targets of ``bench_storage.py`` (SQLite at least 0.85x the memory
adapter's changes/s, PostgreSQL 0.5x) leave each SQL adapter for all of its
own work per change, beside what the bare statements take.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_storage

DOCUMENT = os.urandom(3000)
MAIL = os.urandom(6000)
ORDERS = 1000
RATIO_TARGETS = bench_storage.RATIO_TARGETS


def per_change_ms(change: Callable[[int], None], changes: int, runs: int) -> float:
    """Median over ``runs`` of the milliseconds per call of ``change(i)``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for i in range(changes):
            change(i)
        times.append((time.perf_counter() - start) / changes * 1000)
    return statistics.median(times)


def sqlite_floor(changes: int, runs: int) -> float:
    with tempfile.TemporaryDirectory(prefix="fabcore-floor-") as folder:
        conn = sqlite3.connect(Path(folder) / "floor.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, version INTEGER, doc BLOB)")
        conn.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, order_id TEXT, body BLOB)")
        conn.executemany("INSERT INTO orders VALUES (?, 0, ?)",
                         [(f"o{i}", DOCUMENT) for i in range(ORDERS)])

        def change(i: int) -> None:
            order = f"o{i % ORDERS}"
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT version, doc FROM orders WHERE id = ?", (order,)).fetchone()
            conn.execute("UPDATE orders SET doc = ?, version = ? WHERE id = ? AND version = ?",
                         (DOCUMENT, row[0] + 1, order, row[0]))
            conn.executemany("INSERT INTO outbox (order_id, body) VALUES (?, ?)",
                             [(order, MAIL), (order, MAIL)])
            conn.execute("COMMIT")

        try:
            return per_change_ms(change, changes, runs)
        finally:
            conn.close()


def postgres_floor(url: str, changes: int, runs: int) -> float:
    import psycopg

    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS floor_orders, floor_outbox")
        setup.execute("CREATE TABLE floor_orders (id TEXT PRIMARY KEY, version INT, doc BYTEA)")
        setup.execute("CREATE TABLE floor_outbox (id BIGSERIAL PRIMARY KEY, order_id TEXT, "
                      "body BYTEA)")
        with setup.cursor() as cursor:
            cursor.executemany("INSERT INTO floor_orders VALUES (%s, 0, %s)",
                               [(f"o{i}", DOCUMENT) for i in range(ORDERS)])
    with psycopg.connect(url) as conn:

        def change(i: int) -> None:
            order = f"o{i % ORDERS}"
            row = conn.execute("SELECT version, doc FROM floor_orders WHERE id = %s",
                               (order,)).fetchone()
            assert row is not None
            with conn.pipeline():
                conn.execute("UPDATE floor_orders SET doc = %s, version = %s "
                             "WHERE id = %s AND version = %s",
                             (DOCUMENT, row[0] + 1, order, row[0]))
                conn.execute("INSERT INTO floor_outbox (order_id, body) VALUES (%s, %s), (%s, %s)",
                             (order, MAIL, order, MAIL))
            conn.commit()

        result = per_change_ms(change, changes, runs)
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("DROP TABLE floor_orders, floor_outbox")
    return result


def memory_change_ms(orders: int) -> float:
    """The memory adapter's median status change through the use cases (bench_storage)."""
    return bench_storage.measure("memory", orders, 1, None).change_ms


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=5000, help="changes per run (5000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per backend (3)")
    parser.add_argument("--orders", type=int, default=1000,
                        help="orders in the memory adapter's run (1000)")
    parser.add_argument("--skip-postgres", action="store_true", help="leave PostgreSQL out")
    parser.add_argument("--postgres-url", default=os.environ.get("FABCORE_BENCH_POSTGRES_URL"),
                        help="server to create the tables on (default: a throwaway cluster)")
    args = parser.parse_args(argv)
    if args.changes < 1 or args.runs < 1 or args.orders < 1:
        parser.error("--changes, --runs and --orders must be at least 1")

    memory = memory_change_ms(args.orders)
    floors = {"sqlite": sqlite_floor(args.changes, args.runs)}
    if not args.skip_postgres:
        cluster = None
        url = args.postgres_url
        if not url:
            from postgres_server import Cluster

            cluster = Cluster(durable=True)
            url = cluster.url
        try:
            floors["postgres"] = postgres_floor(url, args.changes, args.runs)
        finally:
            if cluster is not None:
                cluster.stop()

    print(f"memory adapter: {memory:.3f} ms a status change (median, {args.orders:,} orders "
          f"x {len(bench_storage.STEPS)} changes); bare statements: median of {args.runs} runs "
          f"of {args.changes:,} changes")
    print()
    print("| adapter | target vs memory | a change may take (ms) | left for the adapter's "
          "own work (ms) | bare statements alone (ms) | bare / left |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, floor in floors.items():
        target = RATIO_TARGETS[name]
        allowed = memory / target
        left = allowed - memory
        print(f"| {name} | {target:g}x | {allowed:.3f} | {left:.3f} | {floor:.3f} "
              f"| {floor / left:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
