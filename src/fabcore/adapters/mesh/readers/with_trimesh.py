"""What trimesh reads for us: binary PLY files whose face lists vary in length.

Their headers were checked by our PLY reader first, so that no count in them
makes trimesh allocate more than the limits allow; trimesh's own errors on a
damaged file become a :class:`ModelError`.
"""

from __future__ import annotations

import io
import struct
from typing import Any, Final

import numpy as np

from fabcore.adapters.mesh.errors import ModelError, describe
from fabcore.adapters.mesh.readers.base import FloatArray, IntArray, Limits

# What trimesh's loaders raise on a file they cannot parse.
_PARSE_ERRORS: Final = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    struct.error,
    UnicodeError,
    OverflowError,
    EOFError,
)


def load(data: bytes, fmt: str, limits: Limits) -> tuple[FloatArray, IntArray]:
    """Vertices and triangles of ``data`` as trimesh reads ``fmt``, all meshes together."""
    import trimesh

    options: dict[str, Any] = {"process": False}
    if fmt == "ply":
        options["skip_materials"] = True
    try:
        scene = trimesh.load_scene(io.BytesIO(data), file_type=fmt, **options)
        meshes = [g for g in scene.dump() if isinstance(g, trimesh.Trimesh)]
    except _PARSE_ERRORS as exc:
        raise ModelError(
            f"the {fmt.upper()} file cannot be read: it is damaged or not a {fmt.upper()} file. "
            "Export it again from your CAD program.",
            detail=describe(exc),
        ) from exc
    vertices: list[FloatArray] = []
    faces: list[IntArray] = []
    offset = 0
    for mesh in meshes:
        v = np.asarray(mesh.vertices, dtype=np.float64).reshape(-1, 3)
        f = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)
        if len(f) and (f.min() < 0 or f.max() >= len(v)):
            raise ModelError(f"the {fmt.upper()} file has faces that use missing vertices")
        vertices.append(v)
        faces.append(f + offset)
        offset += len(v)
    if not faces or sum(len(f) for f in faces) == 0:
        raise ModelError(f"the {fmt.upper()} file contains no triangles")
    total = sum(len(f) for f in faces)
    if total > limits.max_triangles:
        raise ModelError(
            f"the model has {total:,} triangles, more than the {limits.max_triangles:,} "
            "this service analyses"
        )
    return np.concatenate(vertices), np.concatenate(faces)
