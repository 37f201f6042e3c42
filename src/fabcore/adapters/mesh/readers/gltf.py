"""Binary glTF (GLB), read straight into numpy.

The JSON chunk describes meshes (primitives with a POSITION accessor and
optional indices; triangle lists, strips and fans) and a node tree placing
them; the BIN chunk holds the numbers. Nodes are placed through
:mod:`.instances`, so the triangles a file would expand to are counted
before any is copied.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Hashable
from typing import Any, Final

import numpy as np

from fabcore.adapters.mesh.errors import ModelError, describe
from fabcore.adapters.mesh.readers import instances
from fabcore.adapters.mesh.readers.base import FloatArray, IntArray, Limits

_JSON: Final = 0x4E4F534A
_BIN: Final = 0x004E4942
_COMPONENTS: Final[dict[int, np.dtype[Any]]] = {
    5120: np.dtype("<i1"),
    5121: np.dtype("<u1"),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
_WIDTH: Final = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_COMPRESSED: Final = {
    "KHR_draco_mesh_compression": "Draco",
    "EXT_meshopt_compression": "meshopt",
    "KHR_meshopt_compression": "meshopt",
}


class _Broken(Exception):
    """The JSON does not describe what glTF says it must; the message says where."""


def read_glb(data: bytes, limits: Limits) -> tuple[FloatArray, IntArray]:
    """Vertices (k, 3) and triangles (n, 3) of every mesh the default scene places."""
    document, binary = _chunks(data)
    try:
        return _read(document, binary, limits)
    except _Broken as exc:
        raise ModelError(
            "the GLB file is damaged: its description of the model does not hold together. "
            "Export it again.",
            detail=str(exc),
        ) from exc


def _chunks(data: bytes) -> tuple[dict[str, Any], bytes]:
    if len(data) < 20 or data[:4] != b"glTF":
        raise ModelError("the file is not a GLB file (it does not start with 'glTF')")
    version, total = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise ModelError(f"the GLB file is glTF version {version}; only version 2 is read")
    if total > len(data):
        raise ModelError("the GLB file is truncated: it is shorter than its header says")
    offset = 12
    document: dict[str, Any] | None = None
    binary = b""
    while offset + 8 <= total:
        size, kind = struct.unpack_from("<II", data, offset)
        start = offset + 8
        if start + size > total:
            raise ModelError("the GLB file is truncated: a chunk runs past its end")
        if kind == _JSON and document is None:
            try:
                parsed = json.loads(data[start : start + size])
            except (ValueError, RecursionError) as exc:
                raise ModelError(
                    "the GLB file is damaged: its model description is not valid JSON",
                    detail=describe(exc),
                ) from exc
            if not isinstance(parsed, dict):
                raise ModelError("the GLB file is damaged: its model description is not an object")
            document = parsed
        elif kind == _BIN and not binary:
            binary = data[start : start + size]
        offset = start + size + (-size % 4)
    if document is None:
        raise ModelError("the GLB file has no model description (JSON chunk)")
    return document, binary


def _read(document: dict[str, Any], binary: bytes, limits: Limits) -> tuple[FloatArray, IntArray]:
    for name in _list(document, "extensionsRequired"):
        if isinstance(name, str) and name in _COMPRESSED:
            raise ModelError(
                f"the GLB file is compressed with {_COMPRESSED[name]}, which cannot be read "
                "here; export it without mesh compression"
            )
    buffers = _list(document, "buffers")
    if any(isinstance(b, dict) and "uri" in b for b in buffers):
        raise ModelError(
            "the GLB file keeps its data in separate files or embedded text; export a "
            "self-contained GLB"
        )
    meshes = _list(document, "meshes")
    nodes_json = _list(document, "nodes")
    nodes: dict[Hashable, instances.Node] = {}
    read_meshes: dict[int, list[tuple[FloatArray, IntArray]]] = {}
    for index, raw in enumerate(nodes_json):
        node = _object(raw, f"node {index}")
        entry = instances.Node()
        if "mesh" in node:
            mesh = _index(node["mesh"], len(meshes), f"node {index} mesh")
            if mesh not in read_meshes:
                read_meshes[mesh] = _mesh(document, binary, mesh, limits)
            entry.meshes = read_meshes[mesh]
        for listed in _list(node, "children"):
            child = _index(listed, len(nodes_json), f"node {index} child")
            entry.children.append((child, _transform(_object(nodes_json[child], "node"))))
        nodes[index] = entry
    scenes = _list(document, "scenes")
    if scenes:
        chosen = _index(document.get("scene", 0), len(scenes), "default scene")
        top = [_index(n, len(nodes_json), "scene node") for n in _list(scenes[chosen], "nodes")]
    elif nodes_json:
        children = {c for e in nodes.values() for c, _ in e.children}
        top = [i for i in range(len(nodes_json)) if i not in children]
    else:
        # Meshes without any node: each once, where it is.
        for mesh in range(len(meshes)):
            nodes[("mesh", mesh)] = instances.Node(meshes=_mesh(document, binary, mesh, limits))
        placed: list[tuple[Hashable, instances.Matrix]] = [
            (("mesh", mesh), np.eye(4)) for mesh in range(len(meshes))
        ]
        return instances.place(nodes, placed, limits, "glTF node")
    roots: list[tuple[Hashable, instances.Matrix]] = [
        (n, _transform(_object(nodes_json[n], "node"))) for n in top
    ]
    return instances.place(nodes, roots, limits, "glTF node")


def _mesh(
    document: dict[str, Any], binary: bytes, index: int, limits: Limits
) -> list[tuple[FloatArray, IntArray]]:
    mesh = _object(_list(document, "meshes")[index], f"mesh {index}")
    found = []
    for number, raw in enumerate(_list(mesh, "primitives")):
        primitive = _object(raw, f"mesh {index} primitive {number}")
        mode = primitive.get("mode", 4)
        if mode not in (4, 5, 6):
            continue
        attributes = _object(primitive.get("attributes"), "primitive attributes")
        if "POSITION" not in attributes:
            continue
        positions = _accessor(document, binary, attributes["POSITION"], limits)
        if positions.ndim != 2 or positions.shape[1] != 3:
            raise _Broken(f"mesh {index} positions are not 3D vectors")
        if "indices" in primitive:
            order = _accessor(document, binary, primitive["indices"], limits).reshape(-1)
            if order.dtype.kind not in "iu":
                raise _Broken(f"mesh {index} indices are not whole numbers")
            order = order.astype(np.int64)
        else:
            order = np.arange(len(positions), dtype=np.int64)
        faces = _triangles(order, mode)
        if len(faces) > limits.max_triangles:
            raise ModelError(
                f"a mesh of the GLB file has {len(faces):,} triangles, more than the "
                f"{limits.max_triangles:,} this service analyses"
            )
        if len(faces) and (faces.min() < 0 or faces.max() >= len(positions)):
            raise ModelError("the GLB file has faces that use missing vertices")
        found.append((positions.astype(np.float64), faces))
    return found


def _triangles(order: IntArray, mode: int) -> IntArray:
    if mode == 4:
        if len(order) % 3:
            raise _Broken("a triangle list's length is not a multiple of three")
        return order.reshape(-1, 3)
    if len(order) < 3:
        return np.empty((0, 3), dtype=np.int64)
    i = np.arange(len(order) - 2)
    if mode == 5:
        # A strip flips every other triangle to keep one winding.
        odd = i % 2 == 1
        a = np.where(odd, order[i + 1], order[i])
        b = np.where(odd, order[i], order[i + 1])
        return np.stack((a, b, order[i + 2]), axis=1)
    return np.stack((np.full(len(i), order[0]), order[i + 1], order[i + 2]), axis=1)


def _accessor(document: dict[str, Any], binary: bytes, index: Any, limits: Limits) -> np.ndarray:
    accessors = _list(document, "accessors")
    number = _index(index, len(accessors), "accessor")
    accessor = _object(accessors[number], f"accessor {number}")
    if "sparse" in accessor:
        raise ModelError(
            "the GLB file uses sparse accessors, which cannot be read here; export it "
            "without sparse storage"
        )
    component, kind = accessor.get("componentType"), accessor.get("type")
    dtype = _COMPONENTS.get(component) if isinstance(component, int) else None
    width = _WIDTH.get(kind) if isinstance(kind, str) else None
    if dtype is None or width is None:
        raise _Broken(f"accessor {number} has no valid type")
    count = _natural(accessor.get("count"))
    if count > 3 * limits.max_vertices:
        raise ModelError(
            f"the GLB file has an array of {count:,} items, more than this service reads"
        )
    if "bufferView" not in accessor:
        zeros: np.ndarray = np.zeros((count, width), dtype=dtype)
        return zeros
    views = _list(document, "bufferViews")
    view = _object(views[_index(accessor["bufferView"], len(views), "buffer view")], "view")
    if _index(view.get("buffer", 0), len(_list(document, "buffers")), "buffer") != 0:
        raise _Broken("only the GLB's own buffer can be read")
    start = _natural(view.get("byteOffset", 0)) + _natural(accessor.get("byteOffset", 0))
    length = _natural(view.get("byteLength", 0))
    item = dtype.itemsize * width
    stride = _natural(view.get("byteStride", item)) or item
    if stride < item:
        raise _Broken(f"accessor {number} has a stride shorter than its items")
    needed = stride * (count - 1) + item if count else 0
    view_start = _natural(view.get("byteOffset", 0))
    if start + needed > view_start + length or view_start + length > len(binary):
        raise ModelError("the GLB file is truncated: an array runs past the end of its data")
    items = np.ndarray(
        shape=(count, width),
        dtype=dtype,
        buffer=binary,
        offset=start,
        strides=(stride, dtype.itemsize),
    )
    values: np.ndarray = np.array(items)
    if accessor.get("normalized") and dtype.kind in "iu":
        scale = float(np.iinfo(dtype).max)
        return np.maximum(values.astype(np.float64) / scale, -1.0)
    return values


def _transform(node: dict[str, Any]) -> instances.Matrix:
    try:
        if "matrix" in node:
            values = [float(v) for v in node["matrix"]]
            if len(values) != 16:
                raise _Broken("a node matrix does not have 16 numbers")
            matrix = np.array(values).reshape(4, 4).T
        else:
            t = [float(v) for v in node.get("translation", (0.0, 0.0, 0.0))]
            x, y, z, w = (float(v) for v in node.get("rotation", (0.0, 0.0, 0.0, 1.0)))
            s = [float(v) for v in node.get("scale", (1.0, 1.0, 1.0))]
            rotation = np.array(
                [
                    [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
                ]
            )
            matrix = np.eye(4)
            matrix[:3, :3] = rotation * np.array(s)
            matrix[:3, 3] = t
    except (TypeError, ValueError) as exc:
        raise _Broken(f"a node transform is not made of numbers ({describe(exc)})") from exc
    if not all(math.isfinite(v) for v in matrix.flat):
        raise _Broken("a node transform is not finite")
    return matrix


def _list(container: Any, key: str) -> list[Any]:
    value = container.get(key, []) if isinstance(container, dict) else None
    if not isinstance(value, list):
        raise _Broken(f"{key} is not a list")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Broken(f"{what} is not an object")
    return value


def _index(value: Any, size: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < size:
        raise _Broken(f"{what} refers to {value!r}, which does not exist")
    return value


def _natural(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _Broken(f"{value!r} is not a byte count")
    return value
