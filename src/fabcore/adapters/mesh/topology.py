"""Topology of a triangle mesh: which corners are one vertex, which faces share an edge.

* Corners that are bitwise copies of one another (as in STL, which repeats
  every vertex for each of its triangles) are found first, by sorting a hash
  of their bits (:func:`~fabcore.adapters.mesh.exact.exact_groups`); only the
  far fewer distinct points go on to the grid.
* Vertices are merged by position on a grid whose cell is the tolerance;
  near-equal points that a cell border separates, which leave edges open,
  are joined by distance. The tolerance is relative to the model's size (see
  ``merge_tolerance``), so a model in meters and the same model in
  millimeters merge alike. Merging decides which corners are the same vertex
  and moves none: each vertex keeps the position of one of its corners.
* An edge is closed when exactly two faces share it; the mesh is watertight
  when every edge is closed. An open edge that the other side splits into
  collinear pieces (a T-junction, common in CAD exports) counts as closed.
* Winding is consistent when every shared edge is used once in each direction.
* Bodies are groups of faces connected through shared edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse.csgraph import _traversal as _scipy_traversal
from scipy.sparse.csgraph import breadth_first_order, connected_components
from scipy.spatial import cKDTree

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.signedinteger[Any]]
BoolArray = npt.NDArray[np.bool_]
Axis = npt.NDArray[np.floating[Any]]

_MAX_T_JUNCTION_EDGES: Final = 200_000
_MAX_T_JUNCTION_PAIRS: Final = 5_000_000
_MAX_OPEN_ENDS: Final = 400_000
# Faces whose edges are keyed at a time: their temporaries stay in the processor's cache.
_FACE_BLOCK: Final = 1 << 14


def merge_positions(
    xyz: Sequence[Axis], lo: FloatArray, hi: FloatArray, tol: float
) -> tuple[IntArray, list[FloatArray]]:
    """Vertex id of each point after merging by grid cell, and x, y, z of each vertex.

    When no two points merge, each point's vertex id is its own index.
    Points closer than ``tol`` that a cell border separates stay apart here;
    :func:`join_near_open_ends` joins those that leave an edge open.
    """
    ids, reps = _grid_unique(xyz, lo, hi, tol)
    return ids, [np.asarray(c.reshape(-1)[reps], dtype=np.float64) for c in xyz]


def join_near_open_ends(open_ends: IntArray, positions: FloatArray, tol: float) -> IntArray | None:
    """A vertex-to-vertex map joining ends of open edges closer than ``tol``, or None.

    Near-equal points on two sides of a cell border leave open edges; only
    those edges' ends are searched, so a closed mesh costs nothing here.
    """
    if len(open_ends) < 2 or len(open_ends) > _MAX_OPEN_ENDS:
        return None
    pairs = cKDTree(positions[open_ends]).query_pairs(tol, output_type="ndarray")
    if len(pairs) == 0:
        return None
    k = len(open_ends)
    graph = sparse.coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(k, k)
    ).tocsr()
    _, group = connected_components(graph, directed=False)
    first = np.full(int(group.max()) + 1, len(positions), dtype=np.int64)
    np.minimum.at(first, group, open_ends)
    remap = np.arange(len(positions), dtype=np.int64)
    remap[open_ends] = first[group]
    return remap


def _grid_keys(xyz: Sequence[Axis], lo: FloatArray, hi: FloatArray, tol: float) -> IntArray | None:
    """One int64 per point naming its grid cell, or None when the grid is too fine for that."""
    cells = [int(c) + 3 for c in np.floor((hi - lo) / tol)]
    if cells[0] * cells[1] * cells[2] >= 2**62:
        return None
    count = xyz[0].size
    scaled = np.empty(count)
    key = np.empty(count, dtype=np.int64)
    part = np.empty(count, dtype=np.int64)
    for axis in range(3):
        np.multiply(xyz[axis].reshape(-1), 1.0 / tol, out=scaled, dtype=np.float64)
        # Every value is >= lo, so truncating (what the cast does) is flooring.
        scaled += 0.5 - float(lo[axis]) / tol
        if axis == 0:
            np.copyto(key, scaled, casting="unsafe")
        else:
            np.copyto(part, scaled, casting="unsafe")
            key *= cells[axis]
            key += part
    return key


def _grid_unique(
    xyz: Sequence[Axis], lo: FloatArray, hi: FloatArray, tol: float
) -> tuple[IntArray, IntArray]:
    """Group id of each point by grid cell, and the first point of each group.

    When no two points share a cell, each point is its own group, numbered as the points are.
    """
    keys = _grid_keys(xyz, lo, hi, tol)
    if keys is not None and len(keys) > 1:
        # Most often every point has a cell of its own: a plain sort tells.
        ordered = np.sort(keys)
        if bool((ordered[1:] != ordered[:-1]).all()):
            every = np.arange(len(keys), dtype=np.int64)
            return every, every
    if keys is not None:
        perm = np.argsort(keys)
        ordered = np.take(keys, perm)
        new = np.empty(len(ordered), dtype=np.bool_)
        new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    else:
        # Grid too fine for one int64 key: sort on the three cell numbers.
        scaled = [
            np.floor(c.reshape(-1) * (1.0 / tol) + (0.5 - float(lo[k]) / tol))
            for k, c in enumerate(xyz)
        ]
        perm = np.lexsort((scaled[2], scaled[1], scaled[0]))
        new = np.zeros(len(perm), dtype=np.bool_)
        new[0] = True
        for column in scaled:
            in_order = column[perm]
            new[1:] |= in_order[1:] != in_order[:-1]
        if bool(new.all()):
            every = np.arange(len(perm), dtype=np.int64)
            return every, every
        keys = np.empty(len(perm), dtype=np.int64)
        ordered = np.empty(len(perm), dtype=np.int64)
    np.cumsum(new, out=keys)
    keys -= 1
    ids = ordered
    ids[perm] = keys
    return ids, perm[new].astype(np.int64)


@dataclass(frozen=True)
class Topology:
    """Bodies and edge findings of merged faces, with the face pairs sharing an edge.

    ``pair_same`` tells, per pair, whether both faces run the shared edge the
    same way (which a consistently wound mesh never does).
    """

    labels: IntArray
    bodies: int
    open_edges: int
    misdirected_edges: int
    pair_a: IndexArray
    pair_b: IndexArray
    pair_same: BoolArray
    open_ends: IntArray


def find_topology(faces: IntArray, nverts: int, positions: FloatArray, tol: float) -> Topology:
    """Edges, watertightness, winding and bodies of merged faces."""
    m = len(faces)
    slot, keydir = _sorted_edges(faces, nverts)
    # Two keys of one edge differ at most in their lowest bit, the direction.
    differ = keydir[0::2] ^ keydir[1::2] if len(keydir) % 2 == 0 else None
    if not (
        differ is not None
        and bool((differ <= 1).all())
        and bool(((keydir[2::2] ^ keydir[1:-1:2]) > 1).all())
    ):
        del differ
        return _open_topology(
            m, slot=slot, keydir=keydir, nverts=nverts, positions=positions, tol=tol
        )
    # Every edge is used by exactly two faces, and the pairs sit side by side.
    s1, s2 = slot[0::2], slot[1::2]
    pair_same = differ == 0
    del differ
    pair_a, pair_b = _face_of(s1, m).astype(np.int32), _face_of(s2, m).astype(np.int32)
    # Each face has exactly three neighbours, one per edge, stored at its
    # corner's number (face * 3 + corner): that is already a CSR graph.
    neighbour = np.empty(3 * m, dtype=np.int32)
    neighbour[s1] = pair_b
    neighbour[s2] = pair_a
    del slot, keydir, s1, s2
    bodies, labels = _symmetric_components(neighbour, np.arange(0, 3 * m + 1, 3, dtype=np.int32))
    open_ends = np.empty(0, dtype=np.int64)
    return Topology(
        labels=labels,
        bodies=bodies,
        open_edges=0,
        misdirected_edges=int(np.count_nonzero(pair_same)),
        pair_a=pair_a,
        pair_b=pair_b,
        pair_same=pair_same,
        open_ends=open_ends,
    )


def _symmetric_components(indices: IndexArray, indptr: IndexArray) -> tuple[int, IntArray]:
    """Connected components of a symmetric graph given as CSR arrays (int32)."""
    m = len(indptr) - 1
    # The public function transposes the graph first, which a symmetric graph
    # does not need; scipy's undirected kernel takes both halves directly.
    kernel = getattr(_scipy_traversal, "_connected_components_undirected", None)
    if kernel is not None:
        labels = np.empty(m, dtype=np.int32)
        try:
            count = int(kernel(indices, indptr, indices, indptr, labels))
        except (TypeError, ValueError):
            count = -1
        if 0 < count <= m and labels.min() >= 0 and labels.max() < count:
            return count, labels.astype(np.int64)
    graph = sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(m, m))
    count, found = connected_components(graph, directed=True, connection="strong")
    return int(count), found.astype(np.int64)


def _sorted_edges(faces: IntArray, nverts: int) -> tuple[IntArray, IntArray]:
    """Every face edge sorted by (edge, direction): its corner and its key.

    A corner is named face * 3 + corner. The key is ``lo * nverts + hi``
    shifted left by one, plus one when the face runs the edge from lo to hi.
    Keys are made a block of faces at a time, in the processor's cache.
    """
    m = len(faces)
    slot_bits = max(1, (3 * m - 1).bit_length())
    # Key, direction and corner packed in one int64 where they fit: a plain sort does it all.
    packed = max(1, (nverts * nverts).bit_length()) + 1 + slot_bits <= 63
    key = np.empty(3 * m, dtype=np.int64)
    for s in range(0, m, _FACE_BLOCK):
        block = faces[s : s + _FACE_BLOCK]
        a = block.reshape(-1)
        # Each corner's next corner in its face: the corner after it, or the face's first.
        b = np.empty(len(a), dtype=np.int64)
        b[:-1] = a[1:]
        b[2::3] = block[:, 0]
        forward = a < b
        k = key[3 * s : 3 * s + len(a)]
        np.minimum(a, b, out=k)
        k *= nverts
        k += np.maximum(a, b, out=b)
        if packed:
            k <<= 1 + slot_bits
            k |= np.left_shift(forward, slot_bits, dtype=np.int64)
            k |= np.arange(3 * s, 3 * s + len(a), dtype=np.int64)
        else:
            k <<= 1
            k |= forward
    if not packed:
        order = np.argsort(key)
        return order, key[order]
    key.sort()
    slot = np.empty(3 * m, dtype=np.int64)
    mask = (1 << slot_bits) - 1
    for s in range(0, 3 * m, 3 * _FACE_BLOCK):
        k = key[s : s + 3 * _FACE_BLOCK]
        np.bitwise_and(k, mask, out=slot[s : s + 3 * _FACE_BLOCK])
        k >>= slot_bits
    return slot, key


def _face_of(corner: IntArray, m: int) -> IntArray:
    """The face of each corner (face * 3 + corner) of ``m`` faces.

    A division by three, taken as a multiplication and a shift where that is
    exact (corners below 2**31, so that the product fits an int64).
    """
    if 3 * m > 2**31:
        return corner // 3
    face: IntArray = (corner * 0xAAAAAAAB) >> 33
    return face


def _open_topology(
    m: int,
    *,
    slot: IntArray,
    keydir: IntArray,
    nverts: int,
    positions: FloatArray,
    tol: float,
) -> Topology:
    keys = keydir >> 1
    same = keys[1:] == keys[:-1]
    same_dir = keydir[1:] == keydir[:-1]
    misdirected = int(np.count_nonzero(same_dir))
    face_of = _face_of(slot, m)
    pair_a = face_of[:-1][same]
    pair_b = face_of[1:][same]
    pair_same = same_dir[same]
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    counts = np.diff(np.append(starts, len(keys)))
    single = starts[counts == 1]
    nonmanifold = int(np.count_nonzero(counts > 2))
    open_edges = len(single) + nonmanifold
    open_ends = np.unique(np.concatenate(np.divmod(keys[single], np.int64(nverts))))
    if len(single):
        healed = _heal_t_junctions(
            keys=keys[single],
            forward=(keydir[single] & 1).astype(np.bool_),
            face=face_of[single],
            nverts=nverts,
            positions=positions,
            tol=tol,
        )
        if healed is not None:
            extra_a, extra_b, extra_same, still_open, extra_misdirected = healed
            open_edges = still_open + nonmanifold
            misdirected += extra_misdirected
            pair_a = np.concatenate((pair_a, extra_a))
            pair_b = np.concatenate((pair_b, extra_b))
            pair_same = np.concatenate((pair_same, extra_same))
    if m == 1:
        labels = np.zeros(1, dtype=np.int64)
        bodies = 1
    else:
        graph = sparse.coo_matrix(
            (
                np.ones(len(pair_a), dtype=np.int8),
                (pair_a.astype(np.int32), pair_b.astype(np.int32)),
            ),
            shape=(m, m),
        ).tocsr()
        bodies, found = connected_components(graph, directed=False)
        labels = found.astype(np.int64)
    return Topology(
        labels=labels,
        bodies=int(bodies),
        open_edges=open_edges,
        misdirected_edges=misdirected,
        pair_a=pair_a,
        pair_b=pair_b,
        pair_same=pair_same,
        open_ends=open_ends,
    )


def _heal_t_junctions(
    *,
    keys: IntArray,
    forward: BoolArray,
    face: IntArray,
    nverts: int,
    positions: FloatArray,
    tol: float,
) -> tuple[IntArray, IntArray, BoolArray, int, int] | None:
    """Split open edges at vertices lying on them and pair up the pieces.

    Returns the extra face pairs, whether each pair runs its piece the same way,
    the number of pieces left open and of pieces used twice in one direction;
    or None when no open edge has a vertex on it.
    """
    k = len(keys)
    if k > _MAX_T_JUNCTION_EDGES:
        return None
    lo, hi = np.divmod(keys, np.int64(nverts))
    start = np.where(forward, lo, hi)
    end = np.where(forward, hi, lo)
    candidates = np.unique(np.concatenate((start, end)))
    tree = cKDTree(positions[candidates])
    p0, p1 = positions[start], positions[end]
    mid = (p0 + p1) / 2.0
    reach = np.linalg.norm(p1 - p0, axis=1) / 2.0 + tol
    lengths = tree.query_ball_point(mid, reach, return_length=True)
    if int(lengths.sum()) > _MAX_T_JUNCTION_PAIRS:
        return None
    near = tree.query_ball_point(mid, reach)
    edge = np.repeat(np.arange(k), lengths)
    point = candidates[np.concatenate([np.asarray(x, dtype=np.int64) for x in near])]
    inner = (point != start[edge]) & (point != end[edge])
    edge, point = edge[inner], point[inner]
    d = p1 - p0
    t = np.einsum("ij,ij->i", positions[point] - p0[edge], d[edge]) / np.einsum(
        "ij,ij->i", d[edge], d[edge]
    )
    off = positions[point] - p0[edge] - t[:, None] * d[edge]
    on = (t > 0.0) & (t < 1.0) & (np.einsum("ij,ij->i", off, off) <= tol * tol)
    if not on.any():
        return None
    edge, point, t = edge[on], point[on], t[on]

    all_edge = np.concatenate((np.arange(k), np.arange(k), edge))
    all_t = np.concatenate((np.zeros(k), np.ones(k), t))
    all_point = np.concatenate((start, end, point))
    order = np.lexsort((all_t, all_edge))
    all_edge, all_point = all_edge[order], all_point[order]
    link = all_edge[1:] == all_edge[:-1]
    piece_from, piece_to = all_point[:-1][link], all_point[1:][link]
    piece_face = face[all_edge[:-1][link]]

    v = np.int64(nverts)
    directed = np.sort(piece_from * v + piece_to)
    misdirected = int(np.count_nonzero(directed[1:] == directed[:-1]))
    undirected = np.minimum(piece_from, piece_to) * v + np.maximum(piece_from, piece_to)
    perm = np.argsort(undirected, kind="stable")
    ordered = undirected[perm]
    same = ordered[1:] == ordered[:-1]
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    counts = np.diff(np.append(starts, len(ordered)))
    still_open = int(np.count_nonzero(counts != 2))
    pa, pb = perm[:-1][same], perm[1:][same]
    same_way = piece_from[pa] == piece_from[pb]
    return piece_face[pa], piece_face[pb], same_way, still_open, misdirected


def orientation_repair(m: int, topo: Topology) -> FloatArray | None:
    """+1/-1 per face so that neighbours agree, or None if the surface cannot be oriented."""
    lo = np.minimum(topo.pair_a, topo.pair_b)
    hi = np.maximum(topo.pair_a, topo.pair_b)
    _, unique = np.unique(lo * np.int64(m) + hi, return_index=True)
    pa, pb, same = lo[unique], hi[unique], topo.pair_same[unique]
    # A virtual root (number m) links to one face of every body, so one search covers all.
    firsts = np.unique(topo.labels, return_index=True)[1].astype(np.int64)
    root = np.full(len(firsts), m, dtype=np.int64)
    relation = np.where(same, 2, 1).astype(np.int8)
    data = np.concatenate((relation, relation, np.ones(2 * len(firsts), dtype=np.int8)))
    rows = np.concatenate((pa, pb, root, firsts))
    cols = np.concatenate((pb, pa, firsts, root))
    graph = sparse.csr_matrix((data, (rows, cols)), shape=(m + 1, m + 1))
    _, pred = breadth_first_order(graph, m, directed=False, return_predecessors=True)
    parent = pred.astype(np.int64)
    parent[m] = m
    if (parent < 0).any():
        return None
    step = np.asarray(graph[np.arange(m + 1), parent]).ravel()
    sign = np.where(step == 2, -1, 1).astype(np.int8)
    sign[m] = 1
    # Pointer doubling: each face ends up with the product of the flips up to the root.
    while (parent != m).any():
        sign = sign * sign[parent]
        parent = parent[parent]
    face_sign = sign[:m]
    if not ((face_sign[pa] != face_sign[pb]) == same).all():
        return None
    return face_sign.astype(np.float64)
