"""3MF package checks, PLY and OFF header checks, and trimesh for what it reads."""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any, Final

import numpy as np
import trimesh
from lxml import etree

from fabcore.adapters.mesh.errors import ModelError, describe, megabytes
from fabcore.adapters.mesh.readers.base import FloatArray, MiB

_MAX_ZIP_MEMBERS: Final = 10_000
# A DOCTYPE must come before the root element, so this much of a part shows it.
_XML_PROLOG_BYTES: Final = 256 * 1024
THREEMF_UNITS_MM: Final = {
    "micron": 0.001,
    "millimeter": 1.0,
    "centimeter": 10.0,
    "inch": 25.4,
    "foot": 304.8,
    "meter": 1000.0,
}
_SAFE_XML: Final[dict[str, Any]] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
}


def check_3mf(data: bytes, cap: int) -> float:
    """Check a 3MF package before trimesh opens it; return its unit in mm."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise ModelError(
            "a 3MF file is a ZIP package, and this one cannot be opened as one"
        ) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > _MAX_ZIP_MEMBERS:
            raise ModelError(f"the 3MF package holds {len(infos)} files, too many to be a model")
        declared = sum(info.file_size for info in infos)
        if declared > cap:
            raise ModelError(
                f"the 3MF package says it unpacks to {megabytes(declared)}, more than the "
                f"{megabytes(cap)} allowed"
            )
        model_unit: float | None = None
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename.lower()
            keep = name.endswith((".model", ".rels", ".xml"))
            prefix = b""
            try:
                with archive.open(info) as member:
                    while block := member.read(MiB):
                        total += len(block)
                        if total > cap:
                            raise ModelError(
                                "the 3MF package unpacks to more than the "
                                f"{megabytes(cap)} allowed (a ZIP bomb?)"
                            )
                        if keep and len(prefix) < _XML_PROLOG_BYTES:
                            prefix += block[: _XML_PROLOG_BYTES - len(prefix)]
            except ModelError:
                raise
            except (
                zipfile.BadZipFile,
                RuntimeError,
                NotImplementedError,
                OSError,
                EOFError,
                ValueError,
            ) as exc:
                raise ModelError(
                    f"the 3MF package is damaged: {info.filename} cannot be unpacked "
                    f"({describe(exc)})"
                ) from exc
            if keep:
                root = _xml_root_checked(prefix, info.filename)
                if name.endswith("3d/3dmodel.model"):
                    unit = root.get("unit", "millimeter")
                    if unit not in THREEMF_UNITS_MM:
                        raise ModelError(f"the 3MF model has an unknown unit {unit!r}")
                    model_unit = THREEMF_UNITS_MM[unit]
        if model_unit is None:
            raise ModelError("the 3MF package has no 3D/3dmodel.model part")
        return model_unit


def _xml_root_checked(xml: bytes, part: str) -> Any:
    """Parse up to the root element, refusing any DTD (OPC packages may not have one).

    ``xml`` may be only the start of the part: the root element's start tag is enough.
    """
    try:
        events = etree.iterparse(io.BytesIO(xml), events=("start",), **_SAFE_XML)
        _, root = next(events)
    except StopIteration as exc:
        raise ModelError(f"the 3MF part {part} is empty") from exc
    except etree.XMLSyntaxError as exc:
        raise ModelError(f"the 3MF part {part} is not well-formed XML ({exc})") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ModelError(
            f"the 3MF part {part} declares a DOCTYPE (entities), which 3MF forbids; "
            "it is refused for safety"
        )
    return root


def check_ply_header(data: bytes) -> None:
    end = data.find(b"end_header", 0, 65536)
    if not data.startswith(b"ply") or end < 0:
        raise ModelError("the PLY file has no valid header")
    body = len(data) - end
    for line in data[:end].splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == b"element":
            try:
                count = int(words[2])
            except ValueError as exc:
                raise ModelError(f"the PLY header has a bad element count {words[2]!r}") from exc
            if count < 0 or count > body:
                raise ModelError(
                    f"the PLY header announces {count} {words[1].decode(errors='replace')} "
                    f"elements, more than the {body} bytes of data can hold"
                )


def check_off_header(data: bytes) -> None:
    lines = [ln.split(b"#")[0] for ln in data[:4096].split(b"\n")]
    words = b" ".join(lines[:4]).split()
    if not words or not words[0].upper().endswith(b"OFF"):
        raise ModelError("the OFF file does not start with 'OFF'")
    try:
        counts = [int(w) for w in words[1:3]]
    except ValueError as exc:
        raise ModelError("the OFF header has no valid vertex and face counts") from exc
    if len(counts) < 2 or min(counts) < 0 or sum(counts) > len(data):
        raise ModelError("the OFF header announces more vertices and faces than the file holds")


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
    zipfile.BadZipFile,
    etree.XMLSyntaxError,
)


def load_with_trimesh(data: bytes, fmt: str) -> FloatArray:
    """Load with trimesh, bake the scene transforms, return all triangles (n, 3, 3)."""
    options: dict[str, Any] = {"process": False}
    if fmt in ("obj", "glb", "ply"):
        options["skip_materials"] = True
    try:
        scene = trimesh.load_scene(io.BytesIO(data), file_type=fmt, **options)
        geometries = scene.dump()
    except _PARSE_ERRORS as exc:
        raise ModelError(
            f"the {fmt.upper()} file cannot be read: it is damaged or not a {fmt.upper()} file. "
            "Export it again from your CAD program.",
            detail=describe(exc),
        ) from exc
    pieces = []
    for geometry in geometries:
        if not isinstance(geometry, trimesh.Trimesh) or not len(geometry.faces):
            continue
        vertices = np.asarray(geometry.vertices, dtype=np.float64)
        faces = np.asarray(geometry.faces, dtype=np.int64)
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise ModelError(f"the {fmt.upper()} file has faces that use missing vertices")
        pieces.append(vertices[faces])
    if not pieces:
        raise ModelError(f"the {fmt.upper()} file contains no triangles")
    return np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
