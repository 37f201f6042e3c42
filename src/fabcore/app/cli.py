"""The ``fabcore`` command line.

Exit codes: 0 success, 1 unexpected failure, 2 bad input (unreadable or
rejected model, unknown option, invalid catalog), with the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from fabcore import __version__
from fabcore.domain.analysis import ModelAnalysis, Units
from fabcore.domain.errors import FabcoreError
from fabcore.domain.quote import LineQuote, LineSpec, OrderQuote

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit code 2."""


def _read_model(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
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
    from fabcore.adapters.trimesh_analyser import TrimeshAnalyser

    data = _read_model(args.file)
    _status(f"Analysing {Path(args.file).name} ({len(data) / 1e6:.1f} MB)...", sys.stderr)
    return TrimeshAnalyser().analyse(data, Path(args.file).name, Units(args.units))


def cmd_analyse(args: argparse.Namespace) -> int:
    from fabcore.app import report
    from fabcore.adapters.serialization import to_json

    analysis = _analyse(args)
    if args.json:
        print(to_json(analysis))
    else:
        print(report.analysis_table(analysis))
    return EXIT_OK


def cmd_quote(args: argparse.Namespace) -> int:
    from fabcore.app import report
    from fabcore.app.catalogs import load_catalog, load_sample_catalog
    from fabcore.adapters.serialization import to_json
    from fabcore.domain.pricing import options_for, price_line, price_order

    if args.quantity < 1:
        raise CliError("--quantity must be at least 1")
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


def cmd_demo(args: argparse.Namespace) -> int:
    from fabcore.app.demo import run_demo

    return run_demo(sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fabcore",
        description="Instant quoting and order management for manufacturing shops.",
        epilog="Run 'fabcore COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"fabcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    units_help = "length unit the file's numbers are in (default: mm)"
    formats = "STL, OBJ, 3MF, PLY, OFF, GLB; STEP with fabcore[step]"

    p = sub.add_parser(
        "analyse",
        help="measure a 3D model: volume, area, size, watertightness, DFM warnings",
        description=f"Measure a 3D model file ({formats}).",
    )
    p.add_argument("file", help="the model file")
    p.add_argument("--units", choices=[u.value for u in Units], default="mm", help=units_help)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
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
    q.add_argument("--quantity", metavar="N", type=int, default=1, help="parts (default: 1)")
    q.add_argument("--shipping", metavar="S", help="shipping method id (default: none)")
    q.add_argument("--units", choices=[u.value for u in Units], default="mm", help=units_help)
    q.add_argument("--json", action="store_true", help="print one JSON object: analysis, quotes")
    q.set_defaults(func=cmd_quote)

    d = sub.add_parser("demo", help="run a short end-to-end demonstration")
    d.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except (CliError, FabcoreError) as exc:
        print(f"fabcore: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
