"""Readers: from the bytes of an upload to triangles, refusing what cannot be read.

:func:`format_of` takes the format from the file name; :func:`read_model`
reads the bytes in that format into a :class:`~.base.Mesh`, raising
:class:`~fabcore.adapters.mesh.errors.ModelError` with a plain reason for any
file it cannot read.
"""

from __future__ import annotations

import importlib
from pathlib import PurePath
from typing import Final

from fabcore.adapters.mesh.errors import ModelError
from fabcore.adapters.mesh.readers import legacy, stl
from fabcore.adapters.mesh.readers.base import Limits, Mesh
from fabcore.domain.analysis import Units

SUPPORTED_FORMATS: Final = ("stl", "obj", "3mf", "ply", "off", "glb", "step", "stp")
SUPPORTED_TEXT: Final = "STL, OBJ, 3MF, PLY, OFF, GLB, STEP/STP"
STEP_EXTRA_HINT: Final = "STEP support needs the optional extra: pip install 'fabcore[step]'"

__all__ = ["SUPPORTED_FORMATS", "Limits", "Mesh", "format_of", "read_model"]


def format_of(filename: str) -> str:
    """The format named by ``filename``'s extension ("stp" is "step")."""
    fmt = PurePath(filename).suffix.lower().lstrip(".")
    if fmt not in SUPPORTED_FORMATS:
        shown = f"'.{fmt}'" if fmt else "without an extension"
        raise ModelError(f"file type {shown} is not supported; use one of {SUPPORTED_TEXT}")
    return "step" if fmt == "stp" else fmt


def read_model(data: bytes, fmt: str, unit: Units, limits: Limits) -> Mesh:
    """Triangles of ``data`` read as ``fmt``; ``unit`` applies where the file declares none."""
    if fmt == "stl":
        return Mesh(stl.read_stl(data), None, unit.to_mm, unit)
    if fmt == "3mf":
        to_mm = legacy.check_3mf(data, limits.max_decompressed_bytes)
        return Mesh(legacy.load_with_trimesh(data, "3mf"), None, to_mm, None)
    if fmt == "step":
        try:
            importlib.import_module("cascadio")
        except ImportError as exc:
            raise ModelError(STEP_EXTRA_HINT) from exc
        # cascadio hands trimesh a glTF, whose unit is the meter.
        return Mesh(legacy.load_with_trimesh(data, "step"), None, 1000.0, None)
    if fmt == "ply":
        legacy.check_ply_header(data)
    elif fmt == "off":
        legacy.check_off_header(data)
    return Mesh(legacy.load_with_trimesh(data, fmt), None, unit.to_mm, unit)
