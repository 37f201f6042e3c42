"""Benchmark: the outbox relay handing mails to a real SMTP server, connections kept or not.

Queues ``--mails`` mails (default 300) in a memory outbox and relays them
all (:func:`fabcore.app.relay.relay_outbox`, run after run until none is due)
to aiosmtpd on 127.0.0.1 (``tests/smtp_server.py``), once over plain SMTP and
once with STARTTLS and a login, with the mailer's connections kept for the
next mail (``keep_alive=30``, the default) and with one connection per mail
(``keep_alive=0``, the mailer before connections were kept). Each setting
runs in a process of its own, alternating, ``--runs`` times (default 3);
the table gives the medians: mails per second, CPU per mail (the relay and
the server share the process, so both count) and the process's peak memory.

Over a network each connection costs round trips on top (the greeting,
EHLO, STARTTLS, the login, QUIT), which loopback hides.
"""

from __future__ import annotations

import argparse
import json
import resource
import ssl
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fabcore.adapters.memory import MemoryDatabase
from fabcore.adapters.smtp import SmtpMailer
from fabcore.app.relay import relay_outbox
from fabcore.ports.mailer import Mail
from fabcore.ports.outbox import OutboxMessage

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = [("plain", 0.0), ("plain", 30.0), ("starttls", 0.0), ("starttls", 30.0)]


def child(security: str, keep_alive: float, mails: int) -> dict[str, float]:
    """Relay ``mails`` mails once; what it took, as a dict."""
    import trustme

    from smtp_server import HOST, SmtpServer

    # aiosmtpd's own deprecation notice, once per login.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    db = MemoryDatabase()
    with db() as uow:
        for n in range(mails):
            mail = Mail(message_id=f"<bench-{n}@fabcore>", sender="orders@shop.example",
                        to=("customer@example.com",), subject=f"Order {n}: offer sent",
                        text="Your offer is ready.\n", html="<p>Your offer is ready.</p>")
            uow.outbox.add(OutboxMessage(id=f"bench-{n}", shop_id="shop", order_id=None,
                                         mail=mail, created_at=NOW))
        uow.commit()
    server_options: dict[str, Any] = {}
    mailer_options: dict[str, Any] = {}
    if security == "starttls":
        ca = trustme.CA()
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(HOST, "localhost").configure_cert(server_tls)
        client_tls = ssl.create_default_context()
        ca.configure_trust(client_tls)
        server_options = {"tls_context": server_tls, "require_starttls": True,
                          "credentials": ("shop", "secret")}
        mailer_options = {"security": "starttls", "username": "shop", "password": "secret",
                          "ssl_context": client_tls}
    with SmtpServer(**server_options) as server:
        mailer = SmtpMailer(HOST, server.port, keep_alive=keep_alive, **mailer_options)
        started, cpu = time.perf_counter(), time.process_time()
        sent = 0
        while (result := relay_outbox(db, mailer, NOW)).processed:
            sent += result.sent
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        mailer.close()
        if sent != mails or len(server.handler.received) != mails:
            raise SystemExit(f"sent {sent} of {mails} mails")
        connections = len({item.peer for item in server.handler.received})
    return {"rate": mails / seconds, "cpu_us": cpu / mails * 1e6, "connections": connections,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(security: str, keep_alive: float, mails: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", security, str(keep_alive), "--mails", str(mails)],
        capture_output=True, text=True, check=True,
    )
    found: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mails", type=int, default=300, help="mails per run (default: 300)")
    parser.add_argument("--runs", type=int, default=3, help="runs per setting (default: 3)")
    parser.add_argument("--child", nargs=2, metavar=("SECURITY", "KEEP_ALIVE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mails < 1 or args.runs < 1:
        parser.error("--mails and --runs must be at least 1")
    if args.child:
        print(json.dumps(child(args.child[0], float(args.child[1]), args.mails)))
        return 0
    results: dict[tuple[str, float], list[dict[str, float]]] = {s: [] for s in SETTINGS}
    for _ in range(args.runs):
        for security, keep_alive in SETTINGS:
            results[security, keep_alive].append(measure(security, keep_alive, args.mails))

    def med(setting: tuple[str, float], key: str) -> float:
        return statistics.median(r[key] for r in results[setting])

    print(f"outbox relay to aiosmtpd on 127.0.0.1, {args.mails} mails, median of {args.runs}\n")
    print("| server | connection per mail: mails/s | kept: mails/s | ratio | "
          "CPU per mail, per mail / kept | connections, per mail / kept | peak MB, kept |")
    print("|---|---:|---:|---:|---|---|---:|")
    for security in ("plain", "starttls"):
        each, kept = (security, 0.0), (security, 30.0)
        name = "plain SMTP" if security == "plain" else "STARTTLS and login"
        print(f"| {name} | {med(each, 'rate'):,.0f} | {med(kept, 'rate'):,.0f} | "
              f"{med(kept, 'rate') / med(each, 'rate'):.2f}x | "
              f"{med(each, 'cpu_us'):,.0f} us / {med(kept, 'cpu_us'):,.0f} us | "
              f"{med(each, 'connections'):,.0f} / {med(kept, 'connections'):,.0f} | "
              f"{med(kept, 'peak_mb'):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
