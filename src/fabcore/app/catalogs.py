"""Loading shop catalogs from TOML.

Every problem (a missing or unreadable file, TOML syntax, a value that does
not validate) raises :class:`~fabcore.domain.errors.CatalogError`, so callers
catch one error type and show its message.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from fabcore.domain.catalog import Catalog
from fabcore.domain.errors import CatalogError

SAMPLE_CATALOG = "sample_catalog.toml"


def parse_catalog(text: str, source: str = "<string>") -> Catalog:
    """Parse and validate catalog TOML; ``source`` names it in syntax errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message carries the line and column.
        raise CatalogError("", f"{source} is not valid TOML: {exc}") from exc
    return Catalog.from_mapping(data)


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
