"""Placing shared meshes: 3MF build items and components, glTF nodes.

A file may place one mesh many times, and nest placements (a component of a
component ...). The placements form a graph; before any triangle is copied,
the graph is checked for cycles and depth, and the triangles it would make
are counted, so that a few kilobytes of placements cannot ask for billions
of triangles. Transforms are 4 x 4 matrices acting on column vectors.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fabcore.adapters.mesh.errors import ModelError
from fabcore.adapters.mesh.readers.base import FloatArray, IntArray, Limits

Matrix = npt.NDArray[np.float64]


@dataclass
class Node:
    """Meshes placed at this node, and the nodes placed under it (with their transforms)."""

    meshes: list[tuple[FloatArray, IntArray]] = field(default_factory=list)
    children: list[tuple[Hashable, Matrix]] = field(default_factory=list)

    @property
    def triangles(self) -> int:
        return sum(len(f) for _, f in self.meshes)

    @property
    def vertices(self) -> int:
        return sum(len(v) for v, _ in self.meshes)


def place(
    nodes: Mapping[Hashable, Node],
    roots: Sequence[tuple[Hashable, Matrix]],
    limits: Limits,
    what: str,
) -> tuple[FloatArray, IntArray]:
    """Every mesh at every placement: vertices (k, 3) and triangles (n, 3).

    ``what`` names the file's placements in messages ("3MF component").
    """
    order = _topological_order(nodes, [r for r, _ in roots], limits.max_instance_depth, what)
    copies: dict[Hashable, int] = dict.fromkeys(order, 0)
    for root, _ in roots:
        copies[root] += 1
    for key in order:
        for child, _ in nodes[key].children:
            copies[child] += copies[key]
    placements = sum(copies.values())
    if placements > limits.max_triangles:
        raise ModelError(
            f"the file places {placements:,} copies of its parts: even at one triangle each, "
            f"more than the {limits.max_triangles:,} triangles this service analyses"
        )
    triangles = sum(copies[k] * nodes[k].triangles for k in order)
    if triangles > limits.max_triangles:
        placed = sum(copies[k] for k in order if nodes[k].triangles)
        raise ModelError(
            f"the model has {triangles:,} triangles once its {placed:,} placed copies are "
            f"counted, more than the {limits.max_triangles:,} this service analyses"
        )
    vertices = sum(copies[k] * nodes[k].vertices for k in order)
    if vertices > limits.max_vertices:
        raise ModelError(
            f"the model has {vertices:,} vertices once its copies are placed, more than "
            f"the {limits.max_vertices:,} this service reads"
        )
    transforms: dict[Hashable, list[Matrix]] = {k: [] for k in order}
    for root, matrix in roots:
        transforms[root].append(matrix[None])
    out_vertices: list[FloatArray] = []
    out_faces: list[IntArray] = []
    offset = 0
    for key in order:
        if not transforms[key]:
            continue
        stack = np.concatenate(transforms[key])
        transforms[key] = []
        node = nodes[key]
        for child, local in node.children:
            transforms[child].append(stack @ local)
        for vertices_, faces in node.meshes:
            if len(faces) == 0:
                continue
            placed_v = _apply(stack, vertices_)
            count = len(vertices_)
            out_vertices.append(placed_v.reshape(-1, 3))
            if offset == 0 and len(stack) == 1:
                out_faces.append(faces.astype(np.int64, copy=False))
            else:
                shifts = offset + count * np.arange(len(stack), dtype=np.int64)
                out_faces.append((faces[None, :, :] + shifts[:, None, None]).reshape(-1, 3))
            offset += count * len(stack)
    if not out_faces:
        raise ModelError("the file contains no triangles")
    if len(out_faces) == 1:
        return out_vertices[0], out_faces[0]
    return np.concatenate(out_vertices), np.concatenate(out_faces)


def _apply(stack: Matrix, vertices: FloatArray) -> FloatArray:
    """``vertices`` under each transform of ``stack``: (k, n, 3)."""
    if len(stack) == 1 and np.array_equal(stack[0], np.eye(4)):
        return vertices[None].astype(np.float64, copy=False)
    rotation = stack[:, :3, :3]
    moved: FloatArray = np.einsum("kij,nj->kni", rotation, vertices) + stack[:, None, :3, 3]
    return moved


def _topological_order(
    nodes: Mapping[Hashable, Node], roots: Sequence[Hashable], max_depth: int, what: str
) -> list[Hashable]:
    """Nodes reachable from ``roots``, parents before children; refuses cycles and deep nests."""
    state: dict[Hashable, int] = {}
    finished: list[Hashable] = []
    for root in dict.fromkeys(roots):
        if root in state:
            continue
        if root not in nodes:
            raise ModelError(f"the file places {what} {root!s}, which it does not define")
        stack: list[tuple[Hashable, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            key, next_child = stack[-1]
            children = nodes[key].children
            if next_child < len(children):
                stack[-1] = (key, next_child + 1)
                child = children[next_child][0]
                if child not in nodes:
                    raise ModelError(f"the file places {what} {child!s}, which it does not define")
                seen = state.get(child, 0)
                if seen == 1:
                    raise ModelError(
                        f"the file's {what}s refer to each other in a circle ({what} {child!s} "
                        "contains itself), so the model never ends"
                    )
                if seen == 0:
                    if len(stack) >= max_depth:
                        raise ModelError(
                            f"the file nests {what}s more than {max_depth} deep; flatten the "
                            "assembly when exporting"
                        )
                    state[child] = 1
                    stack.append((child, 0))
                continue
            stack.pop()
            state[key] = 2
            finished.append(key)
    finished.reverse()
    return finished
