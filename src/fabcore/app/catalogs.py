"""Loading shop catalogs from TOML.

Every problem (a missing or unreadable file, TOML syntax, a document nested
too deeply to parse, a value that does not validate) raises
:class:`~fabcore.domain.errors.CatalogError`, so callers catch one error type
and show its message. The format and its validation are described in
:mod:`fabcore.app.catalog_format`; :func:`catalog_from_mapping` builds a
catalog from data already parsed.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from fabcore.app.catalog_format import catalog_from_mapping
from fabcore.domain.catalog import Catalog
from fabcore.domain.errors import CatalogError

__all__ = ["catalog_from_mapping", "load_catalog", "load_sample_catalog", "parse_catalog"]

SAMPLE_CATALOG = "sample_catalog.toml"


def parse_catalog(text: str, source: str = "<string>") -> Catalog:
    """Parse and validate catalog TOML; ``source`` names it in syntax errors."""
    try:
        data = tomllib.loads(text)
    except ValueError as exc:
        # tomllib's message carries the line and column; an integer of more
        # digits than Python converts is a plain ValueError.
        raise CatalogError("", f"{source} is not valid TOML: {exc}") from exc
    except RecursionError:
        raise CatalogError("", f"{source} nests arrays or tables too deeply") from None
    return catalog_from_mapping(data)


def load_catalog(path: str | Path) -> Catalog:
    """Read, parse and validate the catalog file at ``path``."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise CatalogError("", f"catalog file not found: {file}") from None
    except IsADirectoryError:
        raise CatalogError("", f"catalog path is a directory, not a file: {file}") from None
    except OSError as exc:
        raise CatalogError("", f"cannot read catalog file {file}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(
            "", f"{file} is not UTF-8 text (bad byte at offset {exc.start})"
        ) from exc
    return parse_catalog(text, str(file))


def load_sample_catalog() -> Catalog:
    """The example EUR catalog shipped with fabcore (``fabcore/data/sample_catalog.toml``)."""
    resource = resources.files("fabcore").joinpath("data").joinpath(SAMPLE_CATALOG)
    return parse_catalog(resource.read_text(encoding="utf-8"), f"fabcore:data/{SAMPLE_CATALOG}")
