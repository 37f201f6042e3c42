"""Wavefront OBJ, read straight into numpy.

Only geometry counts: ``v x y z`` lines (extra values such as colours are
ignored) and ``f`` lines, whose corners may be ``v``, ``v/vt``, ``v//vn`` or
``v/vt/vn``, with negative indices counting back from the last vertex so
far. Polygons are fanned into triangles from their first corner. Texture
coordinates, normals, groups, materials, lines and points are skipped;
``#`` starts a comment and a backslash at a line's end continues it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Final

import numpy as np

from fabcore.adapters.mesh.errors import ModelError
from fabcore.adapters.mesh.readers import text
from fabcore.adapters.mesh.readers.base import FloatArray, IntArray, Limits, fan
from fabcore.adapters.mesh.readers.text import NotANumber
from fabcore.adapters.mesh.threads import Threads

_HASH: Final = 0x23


def read_obj(
    data: bytes, limits: Limits, threads: Threads | None = None
) -> tuple[FloatArray, IntArray]:
    """Vertices (k, 3) and triangles (n, 3) of an OBJ file, blocks of lines side by side."""
    if b"\\" in data:
        data = data.replace(b"\\\r\n", b"   ").replace(b"\\\n", b"  ")
    buf = text.as_array(data)
    found = _Found()
    listed = 0
    blocks = (threads or Threads(1)).map(partial(_block, buf), text.line_blocks(data))
    for block in blocks:
        found.add(block, listed)
        listed += block.listed
        if listed > limits.max_vertices:
            raise ModelError(
                f"the OBJ file lists more than {limits.max_vertices:,} vertices, more than "
                "this service reads"
            )
    corners = np.concatenate(found.corners) if found.corners else np.empty(0, dtype=np.int64)
    if len(corners) == 0:
        raise ModelError("the OBJ file has no faces, so it describes no surface")
    triangles = int((corners - 2).sum())
    if triangles > limits.max_triangles:
        raise ModelError(
            f"the OBJ file has {triangles:,} triangles, more than the "
            f"{limits.max_triangles:,} this service analyses; reduce its resolution when exporting"
        )
    if found.bad_vertex is not None:
        position, word = found.bad_vertex
        raise ModelError(
            "the OBJ file has a vertex coordinate that is not a number "
            f"({word[:20].decode(errors='replace')!r} on line {text.line_of(buf, position)})"
        )
    if found.bad_corner is not None:
        position, word = found.bad_corner
        raise ModelError(
            "the OBJ file has a face corner that is not a vertex number "
            f"({word[:20].decode(errors='replace')!r} on line {text.line_of(buf, position)})"
        )
    vertices = (
        np.concatenate(found.vertices).reshape(-1, 3) if found.vertices else np.empty((0, 3))
    )
    index = np.concatenate(found.index)
    if int(index.min()) < 0:
        # Relative to the vertices listed before the face's line.
        before = np.repeat(np.concatenate(found.before), corners)
        index = np.where(index < 0, before + index, index - 1)
    else:
        index -= 1
    if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(vertices)):
        wrong = np.flatnonzero((index < 0) | (index >= len(vertices)))
        at = int(np.concatenate(found.c_starts)[wrong[0]])
        raise ModelError(
            f"the OBJ file has faces that use missing vertices (line {text.line_of(buf, at)})"
        )
    return vertices, fan(index, corners)


@dataclass
class _Block:
    """What one block of lines holds; a number that cannot be read is kept, not raised."""

    listed: int = 0
    vertices: FloatArray | None = None
    index: IntArray | None = None
    corners: IntArray | None = None
    before: IntArray | None = None
    c_starts: IntArray | None = None
    bad_vertex: tuple[int, bytes] | None = None
    bad_corner: tuple[int, bytes] | None = None


@dataclass
class _Found:
    """What the blocks of an OBJ file hold, gathered in the file's order.

    The first number that cannot be read is kept, not raised, so that the
    file's other faults are reported in the same order as for a whole parse.
    """

    vertices: list[FloatArray] = field(default_factory=list)
    index: list[IntArray] = field(default_factory=list)
    corners: list[IntArray] = field(default_factory=list)
    before: list[IntArray] = field(default_factory=list)
    c_starts: list[IntArray] = field(default_factory=list)
    bad_vertex: tuple[int, bytes] | None = None
    bad_corner: tuple[int, bytes] | None = None

    def add(self, block: _Block, listed: int) -> None:
        """Add ``block``, which follows ``listed`` vertices."""
        if self.bad_vertex is None:
            if block.vertices is not None:
                self.vertices.append(block.vertices)
            self.bad_vertex = block.bad_vertex
        if block.corners is None or block.before is None or block.c_starts is None:
            return
        self.corners.append(block.corners)
        self.before.append(block.before + listed)
        self.c_starts.append(block.c_starts)
        if self.bad_corner is None:
            if block.index is not None:
                self.index.append(block.index)
            self.bad_corner = block.bad_corner


def _block(buf: np.ndarray, span: tuple[int, int]) -> _Block:
    """The coordinates and face corners of the lines in ``span`` (begin, end)."""
    begin, stop = span
    block = _Block()
    starts, ends = text.tokens(buf[begin:stop])
    if len(starts) == 0:
        return block
    starts += begin
    ends += begin
    first = text.first_on_line(buf, starts, ends)
    head = buf[starts]
    # The first token of each line, and how many tokens count on it: up to the
    # next line's first token or a comment.
    lines = np.flatnonzero(first)
    trailing = np.flatnonzero((head == _HASH) & ~first)
    if len(trailing):
        # A comment runs from a token starting with "#" to the end of its line.
        line = np.cumsum(first) - 1
        hashes = np.full(len(starts), -1, dtype=np.int64)
        hashes[trailing] = trailing
        live = np.maximum.accumulate(hashes) < lines[line]
        count = np.bincount(line[live], minlength=len(lines))
    else:
        count = np.diff(lines, append=len(starts))
    short = (ends[lines] - starts[lines]) == 1
    word = head[lines]
    is_v = short & (word == ord("v"))
    is_f = short & (word == ord("f"))
    v_lines, f_lines = lines[is_v], lines[is_f]
    block.listed = len(v_lines)
    few = np.flatnonzero(count[is_v] < 4)
    if len(few):
        raise ModelError(
            "the OBJ file has a vertex with fewer than three coordinates "
            f"(line {text.line_of(buf, int(starts[v_lines[few[0]]]))})"
        )
    coordinate = (v_lines[:, None] + np.arange(1, 4)).reshape(-1)
    v_starts = starts[coordinate]
    try:
        block.vertices = text.parse_decimals(buf, v_starts, ends[coordinate])
    except NotANumber as exc:
        block.bad_vertex = (int(v_starts[exc.index]), exc.text)
    corners = count[is_f] - 1
    few = np.flatnonzero(corners < 3)
    if len(few):
        raise ModelError(
            "the OBJ file has a face with fewer than three corners "
            f"(line {text.line_of(buf, int(starts[f_lines[few[0]]]))})"
        )
    if (corners == 3).all():
        token = (f_lines[:, None] + np.arange(1, 4)).reshape(-1)
    else:
        offsets = np.concatenate(([0], np.cumsum(corners)))
        face_of = np.repeat(np.arange(len(f_lines)), corners)
        token = f_lines[face_of] + 1 + (np.arange(offsets[-1]) - offsets[face_of])
    block.c_starts = starts[token]
    block.corners = corners
    # Vertices listed before each face in this block: those on earlier lines.
    block.before = np.searchsorted(v_lines, f_lines)
    try:
        block.index = _corner_indices(buf, block.c_starts, ends[token])
    except NotANumber as exc:
        block.bad_corner = (int(block.c_starts[exc.index]), exc.text)
    return block


def _corner_indices(buf: np.ndarray, s: IntArray, e: IntArray) -> IntArray:
    # "v/vt/vn": the vertex is the number before the first slash.
    width = text.first_byte_offsets(buf, s, e, ord("/")) if _has_slash(buf, s, e) else e - s
    return text.parse_integers(buf, s, s + width)


def _has_slash(buf: np.ndarray, starts: IntArray, ends: IntArray) -> bool:
    """Whether any face token has a slash (faces lie between the first and last token)."""
    return bool(len(starts)) and bool((buf[int(starts.min()) : int(ends.max())] == 0x2F).any())
