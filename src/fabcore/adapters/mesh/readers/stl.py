"""STL, binary and ASCII, read straight into numpy.

A binary STL is its header's triangle count times 50-byte records; a file
that starts with ``solid`` but does not have that exact size is read as
text. ASCII STL is split into tokens in bulk: every ``vertex`` keyword is
followed by three numbers, every facet has three vertices between
``facet`` and ``endfacet``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Final

import numpy as np

from fabcore.adapters.mesh.errors import ModelError
from fabcore.adapters.mesh.readers import text
from fabcore.adapters.mesh.readers.base import FloatArray, IntArray, Limits
from fabcore.adapters.mesh.readers.text import NotANumber
from fabcore.adapters.mesh.threads import Threads

_RECORD: Final = np.dtype(
    [("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attributes", "<u2")]
)
_HEADER_BYTES: Final = 84
# Past this many solids, their lines are found in bulk, not one by one.
_FEW: Final = 256
_KEYWORDS: Final = {
    name: text.packed(name) for name in (b"vertex", b"facet", b"endfacet", b"solid", b"endsolid")
}


def read_stl(data: bytes, limits: Limits, threads: Threads | None = None) -> np.ndarray:
    """Corners (n, 3, 3) of every triangle of a binary or ASCII STL."""
    size = len(data)
    if size >= _HEADER_BYTES:
        count = int.from_bytes(data[80:84], "little")
        if _HEADER_BYTES + _RECORD.itemsize * count == size:
            _check_count(count, limits)
            return np.frombuffer(data, dtype=_RECORD, count=count, offset=84)["vertices"]
    head = data[:4096]
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:5].lower() == b"solid" and b"\x00" not in head:
        return read_ascii_stl(data, limits, threads)
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


def read_ascii_stl(data: bytes, limits: Limits, threads: Threads | None = None) -> FloatArray:
    """Corners of an ASCII STL, its blocks of lines scanned side by side."""
    buf = text.as_array(data)
    if len(buf) and int(buf.max()) >= 0x80:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelError(
                f"the file starts like an ASCII STL but is not valid text (byte {exc.start} is "
                "not UTF-8)"
            ) from exc
    try:
        found = _scan(data, buf, text.line_blocks(data), threads or Threads(1))
    except _AcrossBlocks:
        found = _scan(data, buf, iter([(0, len(data))]), Threads(1))
    named = _named(data, buf, np.concatenate((found[b"solid"], found[b"endsolid"])))
    keep = {name: ~_inside(found[name], named) for name in (b"vertex", b"facet", b"endfacet")}
    vertex, facet, endfacet = (
        _kept(found[name], keep[name]) for name in (b"vertex", b"facet", b"endfacet")
    )
    closing = found[b"endsolid"]
    if len(facet) == 0 and len(vertex) == 0:
        raise ModelError("the STL file contains no triangles")
    _check_count(len(facet), limits)
    if (
        len(facet) != len(endfacet)
        or len(vertex) != 3 * len(facet)
        or not (facet < endfacet).all()
        or not (endfacet[:-1] < facet[1:]).all()
        or not _three_each(vertex, facet, endfacet)
    ):
        raise ModelError(
            f"the ASCII STL is malformed: {len(facet)} facets, {len(endfacet)} endfacets and "
            f"{len(vertex)} vertices (each facet needs exactly three)"
        )
    if len(closing) == 0 or closing[-1] < endfacet[-1]:
        raise ModelError(
            "the ASCII STL is truncated: it does not end with 'endsolid' after its last facet"
        )
    starts = _kept(found[b"numbers"], keep[b"vertex"]).reshape(-1)
    ends = _kept(found[b"ends"], keep[b"vertex"]).reshape(-1)
    try:
        values = text.parse_repeated_decimals(buf, starts, ends, threads)
    except NotANumber as exc:
        raise ModelError(
            "the ASCII STL has a vertex coordinate that is not a number "
            f"({exc.text[:20].decode(errors='replace')!r} on line "
            f"{text.line_of(buf, int(starts[exc.index]))})"
        ) from exc
    return values.reshape(-1, 3, 3)


def _three_each(vertex: IntArray, facet: IntArray, endfacet: IntArray) -> bool:
    """Whether each facet holds exactly three vertices, for sorted positions.

    With three vertices per facet in all and the facets in order, apart, each
    facet holds three exactly when its three (3i to 3i + 2) lie within it.
    """
    corners = vertex.reshape(-1, 3)
    return bool((facet < corners[:, 0]).all() and (corners[:, 2] < endfacet).all())


def _kept(found: IntArray, keep: np.ndarray) -> IntArray:
    """The rows of ``found`` to keep (all of them, uncopied, in the usual case)."""
    return found if bool(keep.all()) else found[keep]


class _AcrossBlocks(Exception):
    """A vertex's numbers are not on its line: the file must be read as one block."""


def _scan(
    data: bytes, buf: np.ndarray, blocks: Iterator[tuple[int, int]], threads: Threads
) -> dict[bytes, IntArray]:
    """Where the keywords start, and where the three numbers after each ``vertex`` are."""
    found: dict[bytes, list[IntArray]] = {name: [] for name in (*_KEYWORDS, b"numbers", b"ends")}
    for block in threads.map(partial(_scan_block, data, buf), blocks):
        for name, part in block.items():
            found[name].append(part)
    return {
        name: np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        for name, parts in found.items()
    }


def _scan_block(data: bytes, buf: np.ndarray, span: tuple[int, int]) -> dict[bytes, IntArray]:
    """What :func:`_scan` finds in the lines of ``span`` (begin, end)."""
    begin, stop = span
    found: dict[bytes, IntArray] = {}
    starts, ends = text.tokens(buf[begin:stop])
    starts += begin
    ends += begin
    length = ends - starts
    # Keywords start with a letter, which no number does.
    lettered = np.flatnonzero((buf[starts] | 0x20) >= 0x61)
    size = length[lettered]
    # Every keyword fits in eight bytes: one look at each lettered token's
    # first eight bytes, with its length, tells them all apart.
    word = text.lower(text.first_eight(buf, starts[lettered], ends[lettered]), size)
    for name, code in _KEYWORDS.items():
        at = lettered[(word == code) & (size == len(name))]
        found[name] = starts[at]
        if name == b"vertex":
            if len(at) and at[-1] + 3 >= len(starts):
                if stop < len(data):
                    raise _AcrossBlocks
                raise ModelError("the ASCII STL is truncated: it ends in the middle of a vertex")
            numbers = at[:, None] + np.arange(1, 4)
            found[b"numbers"] = starts[numbers]
            found[b"ends"] = ends[numbers]
    return found


def _named(data: bytes, buf: np.ndarray, keywords: IntArray) -> tuple[IntArray, IntArray]:
    """Stretches naming a solid: from ``solid`` or ``endsolid`` to the end of its line."""
    keywords = np.sort(keywords)
    if len(keywords) <= _FEW:
        ends = [data.find(b"\n", int(k)) for k in keywords]
        line_ends = np.array([len(data) if e < 0 else e for e in ends], dtype=np.int64)
    else:
        newlines = np.append(np.flatnonzero(buf == 10), len(data))
        line_ends = newlines[np.searchsorted(newlines, keywords)]
    return keywords, line_ends


def _inside(positions: IntArray, stretches: tuple[IntArray, IntArray]) -> np.ndarray:
    """Whether each position lies after the start of one of the stretches, before its end."""
    begin, end = stretches
    if len(begin) == 0:
        return np.zeros(len(positions), dtype=np.bool_)
    if len(begin) <= _FEW and bool((positions[1:] > positions[:-1]).all()):
        # Few stretches over sorted positions: find where each one falls.
        inside = np.zeros(len(positions), dtype=np.bool_)
        low = np.searchsorted(positions, begin, side="right")
        high = np.searchsorted(positions, end, side="left")
        for a, b in zip(low.tolist(), high.tolist(), strict=True):
            inside[a:b] = True
        return inside
    which = np.searchsorted(begin, positions, side="right") - 1
    safe = np.maximum(which, 0)
    return (which >= 0) & (positions > begin[safe]) & (positions < end[safe])
