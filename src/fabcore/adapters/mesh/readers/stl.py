"""STL, binary and ASCII."""

from __future__ import annotations

import re
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from fabcore.adapters.mesh.errors import ModelError, describe
from fabcore.adapters.mesh.readers.base import FloatArray, MiB

_STL_RECORD: Final = np.dtype(
    [("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attributes", "<u2")]
)
_STL_HEADER_BYTES: Final = 84
_VERTEX_LINE: Final = re.compile(rb"\bvertex\s+(\S+)\s+(\S+)\s+(\S+)", re.IGNORECASE)
_FACET: Final = re.compile(rb"\bfacet\b", re.IGNORECASE)
_ENDFACET: Final = re.compile(rb"\bendfacet\b", re.IGNORECASE)


def read_stl(data: bytes) -> npt.NDArray[np.floating[Any]]:
    """Triangles (n, 3, 3) of a binary or ASCII STL."""
    size = len(data)
    if size >= _STL_HEADER_BYTES:
        count = int.from_bytes(data[80:84], "little")
        if _STL_HEADER_BYTES + _STL_RECORD.itemsize * count == size:
            records = np.frombuffer(data, dtype=_STL_RECORD, count=count, offset=84)
            return records["vertices"]
    head = data[:4096]
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:5].lower() == b"solid" and b"\x00" not in head:
        return _read_ascii_stl(data)
    if size < _STL_HEADER_BYTES:
        raise ModelError(
            f"the file is only {size} bytes: too short for a binary STL, whose header "
            "alone takes 84 bytes, and not an ASCII STL either"
        )
    count = int.from_bytes(data[80:84], "little")
    body = size - _STL_HEADER_BYTES
    expected = _STL_RECORD.itemsize * count
    if expected > body:
        raise ModelError(
            f"the binary STL header announces {count} triangles ({expected} bytes) but only "
            f"{body} bytes follow: the file is truncated or its header is wrong"
        )
    raise ModelError(
        f"the binary STL header announces {count} triangles ({expected} bytes) but "
        f"{body} bytes follow: the header is wrong or the file has extra data at its end"
    )


def _read_ascii_stl(data: bytes) -> FloatArray:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(
            f"the file starts like an ASCII STL but is not valid text (byte {exc.start} is "
            "not UTF-8)"
        ) from exc
    pieces: list[FloatArray] = []
    facets = ends = 0
    start = 0
    chunk = 4 * MiB
    while start < len(data):
        cut = data.find(b"endfacet", start + chunk)
        stop = len(data) if cut < 0 else cut + len(b"endfacet")
        part = data[start:stop]
        facets += len(_FACET.findall(part))
        ends += len(_ENDFACET.findall(part))
        found = _VERTEX_LINE.findall(part)
        if found:
            try:
                pieces.append(np.array(found, dtype=np.float64))
            except ValueError as exc:
                raise ModelError(
                    f"the ASCII STL has a vertex that is not a number ({describe(exc)})"
                ) from exc
        start = stop
    vertices = np.concatenate(pieces) if pieces else np.empty((0, 3))
    if facets == 0 and len(vertices) == 0:
        raise ModelError("the STL file contains no triangles")
    if facets != ends or len(vertices) != 3 * facets:
        raise ModelError(
            f"the ASCII STL is malformed: {facets} facets, {ends} endfacets and "
            f"{len(vertices)} vertices (each facet needs exactly three)"
        )
    return vertices.reshape(-1, 3, 3)
