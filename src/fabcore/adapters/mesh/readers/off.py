"""OFF (Object File Format), read straight into numpy.

``OFF`` (or ``COFF``, ``NOFF``... any keyword ending in OFF), then the
vertex, face and edge counts, then one vertex per line (its first three
numbers; colours or normals after them are skipped) and one face per line:
its corner count, the corners, and optionally a colour. ``#`` starts a
comment. Faces are fanned into triangles from their first corner.
"""

from __future__ import annotations

import numpy as np

from fabcore.adapters.mesh.errors import ModelError
from fabcore.adapters.mesh.readers import text
from fabcore.adapters.mesh.readers.base import FloatArray, IntArray, Limits, fan
from fabcore.adapters.mesh.readers.text import NotANumber
from fabcore.adapters.mesh.threads import Threads


def read_off(
    data: bytes, limits: Limits, threads: Threads | None = None
) -> tuple[FloatArray, IntArray]:
    """Vertices (k, 3) and triangles (n, 3) of an OFF file, numbers parsed on ``threads``."""
    buf = text.as_array(data)
    starts, ends = text.tokens(buf)
    first = text.first_on_line(buf, starts, ends)
    live = _uncommented(buf, starts, first)
    starts, ends, first = starts[live], ends[live], first[live]
    if len(starts) == 0 or not bytes(buf[starts[0] : ends[0]]).upper().endswith(b"OFF"):
        raise ModelError("the OFF file does not start with 'OFF'")
    lines = np.flatnonzero(first)
    line_end = np.append(lines[1:], len(starts))
    # The counts: the tokens after "OFF" on the line of the first of them.
    counts_line = int(np.searchsorted(lines, 1, side="right")) - 1 if len(starts) > 1 else 0
    count_tokens = np.arange(max(1, int(lines[counts_line])), int(line_end[counts_line]))[:3]
    try:
        counts = text.parse_integers(buf, starts[count_tokens], ends[count_tokens]).tolist()
    except NotANumber as exc:
        raise ModelError("the OFF header has no valid vertex and face counts") from exc
    if len(counts) < 2 or min(counts) < 0 or counts[0] + counts[1] > len(data):
        raise ModelError("the OFF header announces more vertices and faces than the file holds")
    nverts, nfaces = counts[0], counts[1]
    if nverts > limits.max_vertices or nfaces > limits.max_triangles:
        raise ModelError(
            f"the OFF file lists {nverts:,} vertices and {nfaces:,} faces, more than this "
            f"service reads ({limits.max_triangles:,} triangles)"
        )
    data_lines = np.arange(counts_line + 1, len(lines))
    if len(data_lines) < nverts + nfaces:
        raise ModelError("the OFF file is truncated: it has fewer lines than its header announces")
    vertex_lines = lines[data_lines[:nverts]]
    face_lines = lines[data_lines[nverts : nverts + nfaces]]
    width = line_end[data_lines[:nverts]] - vertex_lines
    if (width < 3).any():
        raise ModelError("the OFF file has a vertex with fewer than three coordinates")
    coordinate = (vertex_lines[:, None] + np.arange(3)).reshape(-1)
    try:
        vertices = text.parse_decimals(
            buf, starts[coordinate], ends[coordinate], threads
        ).reshape(-1, 3)
        corners = text.parse_integers(buf, starts[face_lines], ends[face_lines], threads)
    except NotANumber as exc:
        raise ModelError(
            f"the OFF file has a value that is not a number ({exc.text[:20]!r})"
        ) from exc
    room = line_end[data_lines[nverts : nverts + nfaces]] - face_lines - 1
    if (corners < 3).any() or (corners > room).any():
        raise ModelError("the OFF file has a face whose corners do not match its count")
    triangles = int((corners - 2).sum())
    if triangles > limits.max_triangles:
        raise ModelError(
            f"the OFF file has {triangles:,} triangles, more than the {limits.max_triangles:,} "
            "this service analyses"
        )
    token = np.repeat(face_lines + 1, corners) + (
        np.arange(int(corners.sum())) - np.repeat(np.cumsum(corners) - corners, corners)
    )
    try:
        index = text.parse_integers(buf, starts[token], ends[token])
    except NotANumber as exc:
        raise ModelError(
            f"the OFF file has a corner that is not a vertex number ({exc.text[:20]!r})"
        ) from exc
    if len(index) and (index.min() < 0 or index.max() >= nverts):
        raise ModelError("the OFF file has faces that use missing vertices")
    return vertices, fan(index, corners)


def _uncommented(buf: np.ndarray, starts: IntArray, first: np.ndarray) -> np.ndarray:
    """Tokens outside comments (from a token starting with "#" to the end of its line)."""
    hashes = np.flatnonzero(buf[starts] == 0x23) if len(starts) else np.empty(0, dtype=np.int64)
    if len(hashes) == 0:
        return np.ones(len(starts), dtype=np.bool_)
    marks = np.full(len(starts), -1, dtype=np.int64)
    marks[hashes] = hashes
    line_start = np.flatnonzero(first)[np.cumsum(first) - 1]
    live: np.ndarray = np.maximum.accumulate(marks) < line_start
    return live
