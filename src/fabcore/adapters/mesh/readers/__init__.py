"""Readers: from the bytes of an upload to triangles, refusing what cannot be read.

:func:`format_of` takes the format from the file name; :func:`read_model`
reads the bytes in that format into a :class:`~.base.Mesh`, raising
:class:`~fabcore.adapters.mesh.errors.ModelError` with a plain reason for any
file it cannot read, and :func:`read_upload` reads a file or stream with the
size limit applied while reading.

STL, OBJ, PLY, OFF, 3MF and GLB are read by our own numpy readers, binary
PLY files mixing polygon sizes by trimesh, STEP by OpenCASCADE in a sandbox.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import BinaryIO, Final

from fabcore.adapters.mesh.errors import ModelError, megabytes
from fabcore.adapters.mesh.readers import gltf, obj, off, ply, step, stl, threemf, with_trimesh
from fabcore.adapters.mesh.readers.base import Limits, Mesh
from fabcore.adapters.mesh.readers.step import STEP_EXTRA_HINT
from fabcore.adapters.mesh.threads import Threads
from fabcore.domain.analysis import Units

SUPPORTED_FORMATS: Final = ("stl", "obj", "3mf", "ply", "off", "glb", "step", "stp")
SUPPORTED_TEXT: Final = "STL, OBJ, 3MF, PLY, OFF, GLB, STEP/STP"
# Signatures no other supported format starts with.
_SIGNATURES: Final = (
    (b"PK\x03\x04", "3mf", "a ZIP package (such as 3MF)"),
    (b"glTF", "glb", "a GLB file"),
    (b"ISO-10303-21", "step", "a STEP file"),
    (b"ply\n", "ply", "a PLY file"),
    (b"ply\r\n", "ply", "a PLY file"),
)

__all__ = [
    "STEP_EXTRA_HINT",
    "SUPPORTED_FORMATS",
    "Limits",
    "Mesh",
    "format_of",
    "read_model",
    "read_upload",
]


def format_of(filename: str) -> str:
    """The format named by ``filename``'s extension ("stp" is "step")."""
    fmt = PurePath(filename).suffix.lower().lstrip(".")
    if fmt not in SUPPORTED_FORMATS:
        shown = f"'.{fmt}'" if fmt else "without an extension"
        raise ModelError(f"file type {shown} is not supported; use one of {SUPPORTED_TEXT}")
    return "step" if fmt == "stp" else fmt


def read_upload(stream: BinaryIO, max_bytes: int) -> bytes:
    """All of ``stream``, refusing it as soon as it is longer than ``max_bytes``.

    Reads in blocks, so an endless stream (``/dev/zero``) costs no more
    than ``max_bytes`` of memory.
    """
    blocks: list[bytes] = []
    size = 0
    while block := stream.read(min(1 << 20, max_bytes + 1 - size)):
        blocks.append(block)
        size += len(block)
        if size > max_bytes:
            raise ModelError(
                f"the file is more than the {megabytes(max_bytes)} allowed; stopped reading"
            )
    return b"".join(blocks)


def read_model(
    data: bytes, fmt: str, unit: Units, limits: Limits, threads: Threads | None = None
) -> Mesh:
    """Triangles of ``data`` read as ``fmt``; ``unit`` applies where the file declares none.

    Text formats read blocks of lines on ``threads`` side by side.
    """
    for signature, actual, what in _SIGNATURES:
        if actual != fmt and data.startswith(signature):
            raise ModelError(
                f"the file is {what} but is named .{fmt}; rename it to .{actual} and upload "
                "it again"
            )
    if fmt == "stl":
        return Mesh(stl.read_stl(data, limits, threads), None, unit.to_mm, unit)
    if fmt == "3mf":
        vertices, faces, to_mm = threemf.read_3mf(data, limits, threads)
        return Mesh(vertices, faces, to_mm, None)
    if fmt == "step":
        vertices, faces = step.read_step(data, limits)
        return Mesh(vertices, faces, 1000.0, None)
    if fmt == "obj":
        vertices, faces = obj.read_obj(data, limits, threads)
    elif fmt == "glb":
        vertices, faces = gltf.read_glb(data, limits)
    elif fmt == "ply":
        try:
            vertices, faces = ply.read_ply(data, limits)
        except ply.MixedLists:
            vertices, faces = with_trimesh.load(data, "ply", limits)
    else:
        vertices, faces = off.read_off(data, limits, threads)
    return Mesh(vertices, faces, unit.to_mm, unit)
