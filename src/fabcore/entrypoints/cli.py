"""The ``fabcore`` command line.

Exit codes: 0 success; 2 a refusal (bad input: an unreadable or rejected
model, an unknown option or order, an invalid catalog, a refused transition);
1 a backend that failed or cannot be reached (database, mail server, payment
provider) or a change that lost a race with another. The reason goes to
stderr, one line, without a traceback; anything else is a bug and shows one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from fabcore import __version__
from fabcore.app.relay import RelayResult
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import ModelAnalysis, Units
from fabcore.domain.errors import FabcoreError, NotFound, Refusal
from fabcore.domain.order import Order
from fabcore.domain.quote import MAX_QUANTITY, LineQuote, LineSpec, OrderQuote
from fabcore.domain.status import OrderStatus
from fabcore.ports.outbox import OutboxStatus

if TYPE_CHECKING:
    from fabcore.adapters.mesh import MeshFileAnalyser
    from fabcore.app.facade import Fabcore

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

DEFAULT_DATABASE = "sqlite:///fabcore.db"
DEFAULT_MAIL = "maildir://outbox"
DEFAULT_MODELS = "models"
DEFAULT_SHOP = "acme"
DEFAULT_BASE_URL = "http://localhost:8000"


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit code 2."""


def _read_model(path: str, analyser: MeshFileAnalyser) -> bytes:
    try:
        with open(path, "rb") as stream:
            return analyser.read(stream, Path(path).name)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory, not a model file") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror}") from None


def _status(message: str, stream: TextIO) -> None:
    """Progress for people: only when stderr is a terminal, so scripts stay quiet."""
    if stream.isatty():
        print(message, file=stream, flush=True)


def _analyse(args: argparse.Namespace) -> ModelAnalysis:
    from fabcore.adapters.mesh import MeshFileAnalyser

    if args.threads is not None and args.threads < 1:
        raise CliError("--threads must be at least 1")
    analyser = MeshFileAnalyser(threads=args.threads)
    data = _read_model(args.file, analyser)
    _status(f"Analysing {Path(args.file).name} ({len(data) / 1e6:.1f} MB)...", sys.stderr)
    return analyser.analyse(data, Path(args.file).name, Units(args.units))


def cmd_analyse(args: argparse.Namespace) -> int:
    from fabcore.adapters.serialization import to_json
    from fabcore.app.rendering import report

    analysis = _analyse(args)
    if args.json:
        print(to_json(analysis))
    else:
        print(report.analysis_table(analysis))
    return EXIT_OK


def cmd_quote(args: argparse.Namespace) -> int:
    from fabcore.adapters.serialization import to_json
    from fabcore.app.catalogs import load_catalog, load_sample_catalog
    from fabcore.app.rendering import report
    from fabcore.domain.pricing import options_for, price_line, price_order

    if not 1 <= args.quantity <= MAX_QUANTITY:
        raise CliError(f"--quantity must be from 1 to {MAX_QUANTITY:,}")
    if bool(args.process) != bool(args.material):
        raise CliError("--process and --material go together (or leave both out to list options)")
    catalog = load_catalog(args.catalog) if args.catalog else load_sample_catalog()
    analysis = _analyse(args)

    order: OrderQuote | None = None
    quotes: list[LineQuote]
    if args.process:
        spec = LineSpec(
            process=args.process,
            material=args.material,
            finishes=tuple(args.finish),
            color=args.color,
            quantity=args.quantity,
        )
        line = price_line(catalog, analysis, spec)
        quotes = [line]
        order = price_order(catalog, [line], args.shipping)
    else:
        if args.finish or args.color:
            raise CliError("--finish and --color need --process and --material")
        quotes = options_for(catalog, analysis, args.quantity)

    if args.json:
        payload: dict[str, object] = {"analysis": analysis, "quotes": quotes}
        if order is not None:
            payload["order"] = order
        print(to_json(payload))
        return EXIT_OK
    print(report.analysis_table(analysis))
    print()
    if order is not None:
        print(report.order_breakdown(order))
    else:
        print(report.options_table(quotes))
    return EXIT_OK


def _app(args: argparse.Namespace) -> Fabcore:
    from fabcore.app.bootstrap import bootstrap

    return bootstrap(args.database, models=args.models, mail=args.mail,
                     payments=args.payments, base_url=args.base_url)


def _staff(args: argparse.Namespace) -> Actor:
    return Actor.staff(args.shop, args.user)


def cmd_demo(args: argparse.Namespace) -> int:
    from fabcore.entrypoints.demo import run_demo

    app = _app(args)
    print(f"database: {args.database}  mail: {args.mail}", file=sys.stderr)
    return run_demo(sys.stdout, app, shop_id=args.shop)


def _order(app: Fabcore, args: argparse.Namespace) -> Order:
    try:
        return app.get_order_by_number(_staff(args), args.number)
    except NotFound:
        raise CliError(f"no order {args.number} in shop {args.shop}") from None


def cmd_orders_list(args: argparse.Namespace) -> int:
    from fabcore.adapters.serialization import to_json
    from fabcore.app.rendering import report

    status = OrderStatus(args.status) if args.status else None
    summaries = _app(args).list_order_summaries(
        _staff(args), status=status, customer_id=args.customer
    )
    if args.json:
        print(to_json([report.order_summary(s) for s in summaries]))
    else:
        print(report.orders_table(summaries) if summaries else "no orders")
    return EXIT_OK


def cmd_orders_show(args: argparse.Namespace) -> int:
    from fabcore.adapters.serialization import to_json
    from fabcore.app.rendering import report

    app = _app(args)
    order = _order(app, args)
    quote = app.quote(_staff(args), order.id)
    if args.json:
        print(to_json({"order": order, "quote": quote}))
    else:
        print(report.order_details(order))
        print()
        print(report.order_breakdown(quote))
    return EXIT_OK


def cmd_orders_change_status(args: argparse.Namespace) -> int:
    app = _app(args)
    order = _order(app, args)
    fields: dict[str, object] = {}
    for item in args.field:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--field takes NAME=VALUE, got {item!r}")
        fields[name.strip().replace("-", "_")] = value
    for name in ("tracking_number", "po_number", "due_date", "net_days"):
        value = getattr(args, name)
        if value is not None:
            fields[name] = value
    before = order.status
    order = app.change_status(_staff(args), order.id, args.status, fields, note=args.note)
    print(f"{order.number}: {before.label} -> {order.status.label}")
    return EXIT_OK


def cmd_orders_reachable(args: argparse.Namespace) -> int:
    from fabcore.adapters.serialization import to_json
    from fabcore.app.rendering.tables import render_table

    app = _app(args)
    order = _order(app, args)
    options = app.reachable_statuses(_staff(args), order.id)
    if args.json:
        print(to_json(options))
        return EXIT_OK
    if not options:
        print(f"{order.number} is {order.status.label}: no status can follow")
        return EXIT_OK
    rows = [(o.status.value, o.trigger.value,
             ", ".join(f"{f.name}{'' if f.required else '?'} ({f.kind})" for f in o.fields)
             or "-")
            for o in options]
    print(f"{order.number} is {order.status.label}; it can move to:")
    print(render_table(("status", "trigger", "fields (? = optional)"), rows))
    return EXIT_OK


def cmd_outbox_send(args: argparse.Namespace) -> int:
    app = _app(args)
    total = RelayResult()
    # Bounded: each run takes at most one batch; stop when a run finds nothing due.
    for _ in range(args.max_batches):
        result = app.relay_outbox(batch=args.batch)
        total += result
        if result.processed < args.batch:
            break
    print(f"sent {total.sent}, will retry {total.retried}, failed {total.failed}")
    if total.last_error is not None:
        # Mails stay queued; the operator has a mail server (or address) to look at.
        print(f"fabcore: mail delivery failed: {total.last_error}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def cmd_outbox_list(args: argparse.Namespace) -> int:
    from fabcore.adapters.serialization import to_json
    from fabcore.app.rendering import report

    status = OutboxStatus.FAILED if args.failed else (
        OutboxStatus(args.status) if args.status else None
    )
    messages = _app(args).list_outbox(_staff(args), status)
    if args.json:
        print(to_json([report.outbox_summary(m) for m in messages]))
    else:
        print(report.outbox_table(messages) if messages else "no messages")
    return EXIT_OK


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    message = _app(args).retry_mail(_staff(args), args.id)
    print(f"{message.id}: pending again ({message.mail.subject})")
    return EXIT_OK


def cmd_reminders_run(args: argparse.Namespace) -> int:
    queued = _app(args).send_due_reminders()
    print(f"{queued} reminder(s) queued")
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from fabcore.app.bootstrap import make_database

    database = make_database(args.database, migrate=False)
    upgrade = getattr(database, "upgrade", None)
    if upgrade is None:
        print(f"{args.database}: nothing to upgrade")
        return EXIT_OK
    applied: list[str] = upgrade()
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    if args.database.startswith(("postgresql:", "postgres:")):
        try:
            from fabcore.adapters.task_queue import ProcrastinateJobs
        except FabcoreError:
            return EXIT_OK
        created = ProcrastinateJobs(args.database).apply_schema()
        print("created the task queue's tables" if created else "task queue is set up")
    return EXIT_OK


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def cmd_models_copy(args: argparse.Namespace) -> int:
    from fabcore.app.bootstrap import make_model_store
    from fabcore.app.model_copy import FileCopied, ModelCopyResult, copy_models

    if args.source == args.target:
        raise CliError("SRC and DST are the same store")
    if "://" not in args.source and not Path(args.source).is_dir():
        raise CliError(f"{args.source}: no such directory")
    if args.jobs < 1:
        raise CliError("--jobs must be at least 1")
    source, target = make_model_store(args.source), make_model_store(args.target)

    def show(done: FileCopied) -> None:
        if not args.quiet:
            reason = f": {done.reason}" if done.reason else ""
            print(f"[{done.number}/{done.total}] {done.sha256} {_megabytes(done.size)} "
                  f"{done.outcome.value}{reason}", file=sys.stderr, flush=True)

    result = ModelCopyResult()
    try:
        copy_models(source, target, jobs=args.jobs, progress=show, result=result)
    finally:
        print(f"copied {result.copied} ({_megabytes(result.copied_bytes)}), skipped "
              f"{result.skipped} already there, failed {result.failed}")
    for sha256, reason in result.failures.items():
        print(f"fabcore: {sha256}: {reason}", file=sys.stderr)
    return EXIT_FAILURE if result.failed else EXIT_OK


def _sqlite_file(url: str) -> Path | None:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    return Path(unquote(parts.path[1:])) if parts.scheme == "sqlite" else None


def cmd_db_copy(args: argparse.Namespace) -> int:
    from fabcore.adapters.sql import SqlDatabase
    from fabcore.adapters.sql_copy import CopyProgress, check_source, copy_database
    from fabcore.app.bootstrap import make_database
    from fabcore.app.rendering.tables import render_table

    source_file, target_file = _sqlite_file(args.source), _sqlite_file(args.target)
    if args.source == args.target or (
        source_file and target_file and source_file.resolve() == target_file.resolve()
    ):
        raise CliError("SRC_URL and DST_URL are the same database")
    if source_file is not None and not source_file.is_file():
        raise CliError(f"{source_file}: no such SQLite file")
    not_sql = CliError("db copy copies between SQL databases (sqlite:///... and "
                       "postgresql://...); memory:// keeps nothing to copy")
    source = make_database(args.source, migrate=False)
    target = None
    try:
        if not isinstance(source, SqlDatabase):
            raise not_sql
        check_source(source)
        target = make_database(args.target, migrate=False)
        if not isinstance(target, SqlDatabase):
            raise not_sql

        def show(step: CopyProgress) -> None:
            if not args.quiet:
                print(f"{step.table}: {step.copied:,} of {step.total:,} rows", file=sys.stderr,
                      flush=True)

        copied = copy_database(source, target, replace=args.replace, progress=show)
    finally:
        for database in (source, target):
            getattr(database, "close", lambda: None)()
    print(render_table(("table", "rows"), [(name, f"{n:,}") for name, n in copied.items()]))
    print(f"copied {sum(copied.values()):,} rows in {len(copied)} tables; every table's "
          "row count matches the source")
    if source_file is not None:
        _carry_link_key(Path(f"{source_file}.key"), target_file)
    return EXIT_OK


def _carry_link_key(key_file: Path, target_file: Path | None) -> None:
    """Keep the links already mailed working: their key moves with the shop."""
    if not key_file.is_file() or os.environ.get("FABCORE_SECRET_KEY"):
        return
    if target_file is not None:
        target_key = Path(f"{target_file}.key")
        if not target_key.exists():
            fd = os.open(target_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(key_file.read_bytes())
            print(f"fabcore: copied the link-signing key to {target_key}", file=sys.stderr)
        return
    print(f"fabcore: the links mailed so far are signed with the key in {key_file}: run the "
          f"processes on the new database with FABCORE_SECRET_KEY=hex:$(cat {key_file}), or "
          "list it in FABCORE_OLD_SECRET_KEYS beside a new key", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> int:
    with _metrics_folder():
        return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    try:
        from fabcore.entrypoints.web.serve import serve
    except ImportError as exc:
        raise CliError(
            f"the web front needs its extra: pip install 'fabcore[web]' ({exc})"
        ) from None
    _settings_to_environment(args)
    serve(args.host, args.port, args.workers)
    return EXIT_OK


def _settings_to_environment(args: argparse.Namespace) -> None:
    """The store options, for the processes that build the application from the environment."""
    settings = {"FABCORE_DATABASE_URL": args.database, "FABCORE_MAIL_URL": args.mail,
                "FABCORE_MODELS": args.models, "FABCORE_PAYMENTS_URL": args.payments}
    os.environ.update(settings)
    if args.base_url != DEFAULT_BASE_URL or "FABCORE_BASE_URL" in os.environ:
        os.environ["FABCORE_BASE_URL"] = args.base_url


@contextlib.contextmanager
def _metrics_folder() -> Iterator[None]:
    """A folder where each server process keeps its metrics, unless one is set.

    prometheus-client reads ``PROMETHEUS_MULTIPROC_DIR`` when it is first
    imported: it must be set before the web front is.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    folder = tempfile.mkdtemp(prefix="fabcore-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def cmd_worker(args: argparse.Namespace) -> int:
    try:
        from fabcore.entrypoints.worker import run_worker
    except ImportError as exc:
        raise CliError(
            f"the worker needs its extra: pip install 'fabcore[worker]' ({exc})"
        ) from None
    _settings_to_environment(args)
    run_worker()
    return EXIT_OK


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _add_store_options(parser: argparse.ArgumentParser, acting: bool = True) -> None:
    """The store settings; ``acting`` adds the shop and staff user a command acts as."""
    g = parser.add_argument_group("where the shop's data lives")
    g.add_argument(
        "--database", metavar="URL", default=_env("FABCORE_DATABASE_URL", DEFAULT_DATABASE),
        help=f"memory://, sqlite:///PATH or postgresql://... "
        f"(env FABCORE_DATABASE_URL; default {DEFAULT_DATABASE})",
    )
    g.add_argument(
        "--mail", metavar="URL", default=_env("FABCORE_MAIL_URL", DEFAULT_MAIL),
        help=f"memory://, maildir://DIR or smtp://host:port (env FABCORE_MAIL_URL; "
        f"default {DEFAULT_MAIL})",
    )
    g.add_argument(
        "--models", metavar="DIR|URL", default=_env("FABCORE_MODELS", DEFAULT_MODELS),
        help=f"directory of uploaded model files, s3://BUCKET/PREFIX?endpoint=URL (object "
        f"storage; credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or memory:// "
        f"(env FABCORE_MODELS; default {DEFAULT_MODELS})",
    )
    g.add_argument(
        "--payments", metavar="URL", default=_env("FABCORE_PAYMENTS_URL", "memory://"),
        help="memory:// or stripe://?success_url=...&cancel_url=... with STRIPE_API_KEY and "
        "STRIPE_WEBHOOK_SECRETS set (env FABCORE_PAYMENTS_URL; default memory://)",
    )
    g.add_argument(
        "--base-url", metavar="URL", default=_env("FABCORE_BASE_URL", DEFAULT_BASE_URL),
        help=f"where customer links point (env FABCORE_BASE_URL; default {DEFAULT_BASE_URL})",
    )
    if not acting:
        return
    g.add_argument(
        "--shop", metavar="ID", default=_env("FABCORE_SHOP", DEFAULT_SHOP),
        help=f"shop id (env FABCORE_SHOP; default {DEFAULT_SHOP})",
    )
    g.add_argument(
        "--user", metavar="NAME", default=_env("FABCORE_USER", "cli"),
        help="staff user recorded in the order history (env FABCORE_USER; default cli)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fabcore",
        description="Instant quoting and order management for manufacturing shops.",
        epilog="Run 'fabcore COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"fabcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    units_help = "length unit the file's numbers are in (default: mm)"
    threads_help = ("threads the analysis may use (default: the processors at hand, at most 4); "
                    "the figures are the same on any number")
    formats = "STL, OBJ, 3MF, PLY, OFF, GLB; STEP with fabcore[step]"

    p = sub.add_parser(
        "analyse",
        help="measure a 3D model: volume, area, size, watertightness, DFM warnings",
        description=f"Measure a 3D model file ({formats}).",
    )
    p.add_argument("file", help="the model file")
    p.add_argument("--units", choices=[u.value for u in Units], default="mm", help=units_help)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--threads", metavar="N", type=int, help=threads_help)
    p.set_defaults(func=cmd_analyse)

    q = sub.add_parser(
        "quote",
        help="price a 3D model from a shop catalog",
        description=(
            "Price a 3D model. Without --process/--material, list every process and "
            "material the part can be made with, cheapest first; parts that cannot be "
            "priced instantly are listed with the reason they need review."
        ),
    )
    q.add_argument("file", help=f"the model file ({formats})")
    q.add_argument("--catalog", metavar="FILE", help="shop catalog TOML (default: the sample)")
    q.add_argument("--process", metavar="P", help="process id from the catalog, e.g. fdm")
    q.add_argument("--material", metavar="M", help="material id of that process, e.g. pla")
    q.add_argument(
        "--finish", metavar="F", action="append", default=[], help="finish id (repeatable)"
    )
    q.add_argument("--color", metavar="C", help="color (default: the material's first)")
    q.add_argument(
        "--quantity", metavar="N", type=int, default=1,
        help=f"parts, 1 to {MAX_QUANTITY:,} (default: 1)",
    )
    q.add_argument("--shipping", metavar="S", help="shipping method id (default: none)")
    q.add_argument("--units", choices=[u.value for u in Units], default="mm", help=units_help)
    q.add_argument("--json", action="store_true", help="print one JSON object: analysis, quotes")
    q.add_argument("--threads", metavar="N", type=int, help=threads_help)
    q.set_defaults(func=cmd_quote)

    d = sub.add_parser(
        "demo",
        help="run the three ordering cases end to end on the configured store",
        description=(
            "Run a regular order, a reviewed order with a firm offer and purchase order, "
            "and a quote made by staff for a customer (IQT), printing every status change, "
            "the price breakdown and each mail sent. The orders stay in the database."
        ),
    )
    _add_store_options(d)
    d.set_defaults(func=cmd_demo)

    o = sub.add_parser("orders", help="list, show and move orders (back office)")
    osub = o.add_subparsers(dest="orders_command", required=True, metavar="ACTION")
    ol = osub.add_parser("list", help="the shop's orders, newest first")
    ol.add_argument("--status", choices=[s.value for s in OrderStatus], metavar="STATUS",
                    help="only this status: " + ", ".join(s.value for s in OrderStatus))
    ol.add_argument("--customer", metavar="ID", help="only this customer's orders")
    ol.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_store_options(ol)
    ol.set_defaults(func=cmd_orders_list)
    os_ = osub.add_parser("show", help="one order: lines, history, price breakdown")
    os_.add_argument("number", help="order number, e.g. 00001")
    os_.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_store_options(os_)
    os_.set_defaults(func=cmd_orders_show)
    oc = osub.add_parser(
        "change-status",
        help="move an order to another status (the back office's Change button)",
        description="Move an order to STATUS by the trigger that leads there; fails with "
        "the reachable statuses when none does. Mails are queued; send them with "
        "'fabcore outbox send'.",
    )
    oc.add_argument("number", help="order number, e.g. 00001")
    oc.add_argument("status", choices=[s.value for s in OrderStatus], metavar="STATUS",
                    help="target status: " + ", ".join(s.value for s in OrderStatus))
    oc.add_argument("--note", help="note, reason or message recorded in the history")
    oc.add_argument("--field", metavar="NAME=VALUE", action="append", default=[],
                    help="a field the move needs (see 'fabcore orders reachable'); repeatable")
    oc.add_argument("--tracking-number", help="for shipped")
    oc.add_argument("--po-number", help="for po_provided")
    oc.add_argument("--due-date", type=_date, metavar="YYYY-MM-DD", help="for po_payment_due")
    oc.add_argument("--net-days", type=int, metavar="N", help="for po_payment_due")
    _add_store_options(oc)
    oc.set_defaults(func=cmd_orders_change_status)
    orr = osub.add_parser(
        "reachable",
        help="the statuses an order can move to now, with the fields each needs",
        description="List what the back office's Change button offers for an order: each "
        "reachable status, the trigger that leads there and its fields.",
    )
    orr.add_argument("number", help="order number, e.g. 00001")
    orr.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_store_options(orr)
    orr.set_defaults(func=cmd_orders_reachable)

    ob = sub.add_parser("outbox", help="send, list and retry queued mails")
    obsub = ob.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    obs = obsub.add_parser("send", help="hand due mails to the mail server (with retries)")
    obs.add_argument("--batch", type=int, default=100, help="mails per run (default 100)")
    obs.add_argument("--max-batches", type=int, default=100,
                     help="stop after this many runs (default 100)")
    _add_store_options(obs)
    obs.set_defaults(func=cmd_outbox_send)
    obl = obsub.add_parser("list", help="queued, sent and failed mails")
    obl.add_argument("--failed", action="store_true", help="only mails that failed for good")
    obl.add_argument("--status", choices=[s.value for s in OutboxStatus], help="only this status")
    obl.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_store_options(obl)
    obl.set_defaults(func=cmd_outbox_list)
    obr = obsub.add_parser("retry", help="queue a failed mail again")
    obr.add_argument("id", help="outbox message id (see 'fabcore outbox list --failed')")
    _add_store_options(obr)
    obr.set_defaults(func=cmd_outbox_retry)

    r = sub.add_parser("reminders", help="PO payment reminders")
    rsub = r.add_subparsers(dest="reminders_command", required=True, metavar="ACTION")
    rr = rsub.add_parser("run", help="queue the reminders that are due (safe to run often)")
    _add_store_options(rr)
    rr.set_defaults(func=cmd_reminders_run)

    sv = sub.add_parser(
        "serve",
        help="run the web front (JSON API) under uvicorn",
        description="Serve the HTTP API at /api/v1 with its documentation at /schema. On "
        "first start against an empty database, create the sample shop 'acme' and its owner "
        "account and print the password (or set FABCORE_OWNER_EMAIL and "
        "FABCORE_OWNER_PASSWORD). Uploads are analysed in worker processes "
        "(FABCORE_ANALYSIS_WORKERS, FABCORE_ANALYSIS_MEMORY_MB, FABCORE_ANALYSIS_TIMEOUT_S, "
        "FABCORE_ANALYSIS_THREADS); "
        "FABCORE_MAX_UPLOAD_MB limits uploads; FABCORE_SECURE_COOKIES=0 drops the Secure flag "
        "for plain http on another host than localhost. With FABCORE_JOBS=in-process (the "
        "default) each process relays mails as soon as it queues them and every "
        "FABCORE_RELAY_INTERVAL_S seconds (default 2), and sends due PO reminders hourly; "
        "with FABCORE_JOBS=queue (PostgreSQL) `fabcore worker` processes do, and analyse "
        "uploads of FABCORE_DEFER_ANALYSIS_MB or more (default 20); with FABCORE_JOBS=off "
        "nothing does (run `fabcore outbox send` and `fabcore reminders run` on a schedule). "
        "/healthz, /readyz and /metrics serve operators; FABCORE_LOG_FORMAT (json, console, "
        "auto) and FABCORE_LOG_LEVEL set the logs. SIGTERM lets requests in flight finish "
        "(FABCORE_SHUTDOWN_TIMEOUT_S, default 30).",
    )
    sv.add_argument("--host", default=_env("FABCORE_HOST", "127.0.0.1"),
                    help="address to listen on (env FABCORE_HOST; default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=int(_env("FABCORE_PORT", "8000")),
                    help="port (env FABCORE_PORT; default 8000)")
    sv.add_argument("--workers", type=int, default=int(_env("FABCORE_WEB_WORKERS", "1")),
                    help="server processes (env FABCORE_WEB_WORKERS; default 1)")
    _add_store_options(sv, acting=False)
    sv.set_defaults(func=cmd_serve)

    wk = sub.add_parser(
        "worker",
        help="run background jobs from the PostgreSQL task queue (several machines)",
        description="Run the background jobs of a shop on PostgreSQL: relaying the outbox "
        "(woken through LISTEN/NOTIFY when mails are queued, and a sweep every 15 seconds), "
        "the PO payment reminders (hourly) and the analysis of large uploads. Run the web "
        "nodes with FABCORE_JOBS=queue so they hand this work over; start as many workers as "
        "you like, on any machine. A worker killed mid-job loses nothing: another runs the "
        "job again once the dead one's heartbeat is FABCORE_WORKER_STALLED_S seconds old "
        "(default 30). SIGTERM or SIGINT: no new job is taken, running ones finish "
        "(FABCORE_SHUTDOWN_TIMEOUT_S, default 30), then the worker exits. Settings: "
        "FABCORE_WORKER_CONCURRENCY (jobs at once, default 2), FABCORE_WORKER_QUEUES "
        "(mail,analysis; default both), FABCORE_WORKER_HEARTBEAT_S (default 10), "
        "FABCORE_OUTBOX_SWEEP_CRON, FABCORE_REMINDERS_CRON, FABCORE_METRICS_PORT (serve "
        "/metrics there), FABCORE_LOG_FORMAT and FABCORE_LOG_LEVEL, and the analysis limits "
        "of fabcore serve (FABCORE_ANALYSIS_*).",
    )
    _add_store_options(wk, acting=False)
    wk.set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbu = dbsub.add_parser("upgrade", help="apply pending schema migrations")
    _add_store_options(dbu, acting=False)
    dbu.set_defaults(func=cmd_db_upgrade)
    dbc = dbsub.add_parser(
        "copy",
        help="copy every table of one database into another (SQLite <-> PostgreSQL)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Copy every row of SRC_URL into DST_URL, e.g. a SQLite shop into PostgreSQL
(or back).

DST_URL is migrated to the current schema first; SRC_URL is only read and
must be up to date ('fabcore db upgrade'). A DST_URL that holds rows is
refused unless --replace is given. Everything is written in one transaction,
and each table's row count is checked against SRC_URL before it commits, so
a failed copy leaves DST_URL as it was. Stop the web nodes and workers that
use SRC_URL first.

Progress goes to stderr, the rows copied per table to stdout.""",
        epilog="""\
example:
  fabcore db copy sqlite:///fabcore.db postgresql://fabcore@db.internal/fabcore""",
    )
    dbc.add_argument("source", metavar="SRC_URL",
                     help="the database to read: sqlite:///PATH or postgresql://...")
    dbc.add_argument("target", metavar="DST_URL",
                     help="the database to fill: sqlite:///PATH (created when missing) or "
                     "postgresql://...")
    dbc.add_argument("--replace", action="store_true",
                     help="delete what DST_URL holds first (in the same transaction)")
    dbc.add_argument("--quiet", action="store_true", help="no progress on stderr")
    dbc.set_defaults(func=cmd_db_copy)

    m = sub.add_parser("models", help="model file store maintenance")
    msub = m.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    mc = msub.add_parser(
        "copy",
        help="copy the model files of one store into another (directory <-> S3)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Copy every model file of SRC into DST, e.g. the model directory into an S3
bucket (or back).

Files already in DST are skipped, so running it again after an interruption
carries on where it stopped. Each file is streamed and checked against its
sha256 on the way. S3 credentials come from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (or AWS_PROFILE).

Progress (a line per file) goes to stderr, the counts to stdout; the exit
status is 1 when a file could not be copied.""",
        epilog="""\
example:
  fabcore models copy models 's3://shop-models/fabcore?endpoint=http://minio:9000'""",
    )
    mc.add_argument("source", metavar="SRC",
                    help="a model directory or s3://BUCKET/PREFIX?endpoint=URL")
    mc.add_argument("target", metavar="DST",
                    help="a model directory (created when missing) or "
                    "s3://BUCKET/PREFIX?endpoint=URL (the bucket must exist)")
    mc.add_argument("--jobs", type=int, default=4, metavar="N",
                    help="files copied at once (default 4)")
    mc.add_argument("--quiet", action="store_true", help="no progress on stderr")
    mc.set_defaults(func=cmd_models_copy)
    return parser


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except (CliError, Refusal) as exc:
        print(f"fabcore: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FabcoreError as exc:
        print(f"fabcore: failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
