"""STL, binary and ASCII, read straight into numpy.

A binary STL is its header's triangle count times 50-byte records; a file
that starts with ``solid`` but does not have that exact size is read as
text. ASCII STL is split into tokens in bulk: every ``vertex`` keyword is
followed by three numbers, every facet has three vertices between
``facet`` and ``endfacet``.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from fabcore.adapters.mesh.errors import ModelError
from fabcore.adapters.mesh.readers import text
from fabcore.adapters.mesh.readers.base import FloatArray, IntArray, Limits
from fabcore.adapters.mesh.readers.text import NotANumber

_RECORD: Final = np.dtype(
    [("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attributes", "<u2")]
)
_HEADER_BYTES: Final = 84
# Past this many solids or name words, names are found in bulk, not one by one.
_FEW: Final = 256
_KEYWORDS: Final = {
    name: text.packed(name) for name in (b"vertex", b"facet", b"endfacet", b"solid", b"endsolid")
}


def read_stl(data: bytes, limits: Limits) -> np.ndarray:
    """Corners (n, 3, 3) of every triangle of a binary or ASCII STL."""
    size = len(data)
    if size >= _HEADER_BYTES:
        count = int.from_bytes(data[80:84], "little")
        if _HEADER_BYTES + _RECORD.itemsize * count == size:
            _check_count(count, limits)
            return np.frombuffer(data, dtype=_RECORD, count=count, offset=84)["vertices"]
    head = data[:4096]
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:5].lower() == b"solid" and b"\x00" not in head:
        return read_ascii_stl(data, limits)
    if size < _HEADER_BYTES:
        raise ModelError(
            f"the file is only {size} bytes: too short for a binary STL, whose header "
            "alone takes 84 bytes, and not an ASCII STL either"
        )
    count = int.from_bytes(data[80:84], "little")
    body = size - _HEADER_BYTES
    expected = _RECORD.itemsize * count
    if expected > body:
        raise ModelError(
            f"the binary STL header announces {count} triangles ({expected} bytes) but only "
            f"{body} bytes follow: the file is truncated or its header is wrong"
        )
    raise ModelError(
        f"the binary STL header announces {count} triangles ({expected} bytes) but "
        f"{body} bytes follow: the header is wrong or the file has extra data at its end"
    )


def _check_count(count: int, limits: Limits) -> None:
    if count > limits.max_triangles:
        raise ModelError(
            f"the model has {count:,} triangles, more than the {limits.max_triangles:,} "
            "this service analyses; reduce its resolution when exporting"
        )


def read_ascii_stl(data: bytes, limits: Limits) -> FloatArray:
    buf = text.as_array(data)
    if len(buf) and int(buf.max()) >= 0x80:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelError(
                f"the file starts like an ASCII STL but is not valid text (byte {exc.start} is "
                "not UTF-8)"
            ) from exc
    starts, ends = text.tokens(buf)
    length = ends - starts
    words = text.lower(text.first_eight(buf, starts, ends), length)

    def keyword(name: bytes) -> IntArray:
        return np.flatnonzero((words == _KEYWORDS[name]) & (length == len(name)))

    closing = keyword(b"endsolid")
    solids = np.concatenate((keyword(b"solid"), closing))
    named = _name_tokens(buf, starts, ends, solids)
    vertex, facet, endfacet = (
        np.setdiff1d(keyword(name), named, assume_unique=True)
        for name in (b"vertex", b"facet", b"endfacet")
    )
    if len(facet) == 0 and len(vertex) == 0:
        raise ModelError("the STL file contains no triangles")
    _check_count(len(facet), limits)
    if (
        len(facet) != len(endfacet)
        or len(vertex) != 3 * len(facet)
        or not (facet < endfacet).all()
        or not (endfacet[:-1] < facet[1:]).all()
        or not (np.searchsorted(vertex, endfacet) - np.searchsorted(vertex, facet) == 3).all()
    ):
        raise ModelError(
            f"the ASCII STL is malformed: {len(facet)} facets, {len(endfacet)} endfacets and "
            f"{len(vertex)} vertices (each facet needs exactly three)"
        )
    if len(closing) == 0 or closing[-1] < endfacet[-1]:
        raise ModelError(
            "the ASCII STL is truncated: it does not end with 'endsolid' after its last facet"
        )
    coordinate = (vertex[:, None] + np.arange(1, 4)).reshape(-1)
    try:
        values = text.parse_decimals(buf, starts[coordinate], ends[coordinate])
    except NotANumber as exc:
        where = int(starts[coordinate[exc.index]])
        raise ModelError(
            "the ASCII STL has a vertex coordinate that is not a number "
            f"({exc.text[:20].decode(errors='replace')!r} on line {text.line_of(buf, where)})"
        ) from exc
    return values.reshape(-1, 3, 3)


def _name_tokens(buf: np.ndarray, starts: IntArray, ends: IntArray, keywords: IntArray) -> IntArray:
    """Tokens naming a solid: those after ``solid`` or ``endsolid`` on the same line."""
    found: list[int] = []
    if len(keywords) <= _FEW:
        for k in keywords.tolist():
            nxt = k + 1
            while nxt < len(starts) and 10 not in bytes(buf[ends[nxt - 1] : starts[nxt]]):
                found.append(nxt)
                nxt += 1
                if len(found) > _FEW:
                    break
    if len(keywords) > _FEW or len(found) > _FEW:
        # Many solids or long names: find every token's line in bulk.
        line = np.cumsum(text.first_on_line(buf, starts, ends)) - 1
        named = np.isin(line, line[keywords])
        named[keywords] = False
        return np.flatnonzero(named)
    return np.unique(np.array(found, dtype=np.int64))
