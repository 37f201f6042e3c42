"""PLY, binary (either byte order) and ASCII, read straight into numpy.

The header names the elements in file order; ``vertex`` gives x, y and z
(as the header types them: "float" is float32 in ASCII too), ``face`` a
list of vertex indices, fanned into triangles from the first. Elements of
fixed size are read as one structured array; a list element is read as
fixed-size records too, after checking that every list has the first
list's length, which is what writers do (all triangles, or all quads).
Where they differ, an ASCII file is read one record per line; a binary
one raises :class:`MixedLists`, for trimesh to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from fabcore.adapters.mesh.errors import ModelError
from fabcore.adapters.mesh.readers import text
from fabcore.adapters.mesh.readers.base import FloatArray, IntArray, Limits, fan
from fabcore.adapters.mesh.readers.text import NotANumber

_HEADER_LIMIT: Final = 65536
_TYPES: Final = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_FORMATS: Final = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}
_FACE_LISTS: Final = ("vertex_indices", "vertex_index")


class MixedLists(Exception):
    """The file's lists differ in length (triangles and quads mixed, say)."""


@dataclass(frozen=True)
class _Property:
    name: str
    kind: str
    count_kind: str | None = None

    @property
    def is_list(self) -> bool:
        return self.count_kind is not None


@dataclass(frozen=True)
class _Element:
    name: str
    count: int
    properties: tuple[_Property, ...]


def read_ply(data: bytes, limits: Limits) -> tuple[FloatArray, IntArray]:
    """Vertices (k, 3) and triangles (n, 3) of a PLY file."""
    order, elements, body = _header(data)
    _check_sizes(elements, len(data) - body, limits, binary=bool(order))
    names = [e.name for e in elements]
    if "vertex" not in names or "face" not in names:
        raise ModelError("the PLY file has no vertex or no face element, so no triangles")
    if order:
        vertices, faces = _binary(data, body, order, elements)
    else:
        vertices, faces = _ascii(data, body, elements)
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ModelError("the PLY file has faces that use missing vertices")
    return vertices, faces


def _header(data: bytes) -> tuple[str, list[_Element], int]:
    end = data.find(b"end_header", 0, _HEADER_LIMIT)
    if not data.startswith(b"ply") or end < 0:
        raise ModelError("the PLY file has no valid header")
    newline = data.find(b"\n", end)
    body = len(data) if newline < 0 else newline + 1
    order: str | None = None
    elements: list[_Element] = []
    properties: list[_Property] = []
    for raw in data[:end].decode("ascii", errors="replace").splitlines()[1:]:
        words = raw.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format" and len(words) >= 2 and words[1] in _FORMATS:
            order = _FORMATS[words[1]]
        elif words[0] == "element" and len(words) == 3:
            if elements:
                elements[-1] = _Element(elements[-1].name, elements[-1].count, tuple(properties))
            properties = []
            try:
                count = int(words[2])
            except ValueError as exc:
                raise ModelError(f"the PLY header has a bad element count {words[2]!r}") from exc
            elements.append(_Element(words[1], count, ()))
        elif words[0] == "property" and elements:
            prop = _property(words)
            if any(p.name == prop.name for p in properties):
                raise ModelError(f"the PLY header names the property {prop.name!r} twice")
            properties.append(prop)
        else:
            raise ModelError(f"the PLY header has a line it does not understand: {raw[:60]!r}")
    if order is None:
        raise ModelError("the PLY header does not say whether the file is ASCII or binary")
    if elements:
        elements[-1] = _Element(elements[-1].name, elements[-1].count, tuple(properties))
    return order, elements, body


def _property(words: list[str]) -> _Property:
    if len(words) == 5 and words[1] == "list" and words[2] in _TYPES and words[3] in _TYPES:
        if _TYPES[words[2]][0] == "f" or _TYPES[words[3]][0] == "f":
            raise ModelError("the PLY header has a list counted or indexed by decimals")
        return _Property(words[4], _TYPES[words[3]], _TYPES[words[2]])
    if len(words) == 3 and words[1] in _TYPES:
        return _Property(words[2], _TYPES[words[1]])
    raise ModelError(f"the PLY header has a property it does not understand: {' '.join(words)!r}")


def _check_sizes(elements: list[_Element], body: int, limits: Limits, *, binary: bool) -> None:
    for element in elements:
        # A record takes at least one byte per property (binary), or two (ASCII: digit, space).
        least = len(element.properties) * (1 if binary else 2)
        if element.count < 0 or element.count * least > body:
            raise ModelError(
                f"the PLY header announces {element.count} {element.name} elements, more "
                f"than the {body} bytes of data can hold"
            )
        if element.name == "vertex" and element.count > limits.max_vertices:
            raise ModelError(
                f"the PLY file lists {element.count:,} vertices, more than the "
                f"{limits.max_vertices:,} this service reads"
            )
        if element.name == "face" and element.count > limits.max_triangles:
            raise ModelError(
                f"the PLY file has {element.count:,} faces, more than the "
                f"{limits.max_triangles:,} triangles this service analyses"
            )


def _xyz(element: _Element) -> list[str]:
    names = [p.name for p in element.properties if not p.is_list]
    if not {"x", "y", "z"} <= set(names):
        raise ModelError("the PLY vertices have no x, y and z")
    return ["x", "y", "z"]


def _face_list(element: _Element) -> _Property:
    lists = [p for p in element.properties if p.is_list]
    for name in _FACE_LISTS:
        for prop in lists:
            if prop.name == name:
                return prop
    if len(lists) == 1:
        return lists[0]
    raise ModelError("the PLY faces have no list of vertex indices")


def _fan(corners: IntArray) -> IntArray:
    """Triangles of polygons (k, c): (0, j, j + 1) for j = 1 .. c - 2."""
    width = corners.shape[1]
    if width < 3:
        raise ModelError("the PLY file has faces with fewer than three corners")
    if width == 3:
        return corners
    parts = [corners[:, [0, j, j + 1]] for j in range(1, width - 1)]
    return np.stack(parts, axis=1).reshape(-1, 3)


# --- binary -------------------------------------------------------------------


def _binary(
    data: bytes, body: int, order: str, elements: list[_Element]
) -> tuple[FloatArray, IntArray]:
    offset = body
    vertices: FloatArray | None = None
    faces: IntArray | None = None
    for element in elements:
        if vertices is not None and faces is not None:
            break
        records, offset = _binary_records(data, offset, order, element)
        if element.name == "vertex":
            columns = _xyz(element)
            vertices = np.stack([records[c].astype(np.float64) for c in columns], axis=1)
        elif element.name == "face":
            prop = _face_list(element)
            faces = _fan(records[prop.name].astype(np.int64))
    if vertices is None or faces is None:
        raise ModelError("the PLY file has no vertex or no face element, so no triangles")
    return vertices, faces


def _binary_records(
    data: bytes, offset: int, order: str, element: _Element
) -> tuple[np.ndarray, int]:
    """Records of ``element`` at ``offset``, as a structured array, and the offset past them."""
    fields: list[tuple[str, str] | tuple[str, str, tuple[int]]] = []
    if element.count == 0:
        return np.zeros(0, dtype=[(p.name, order + p.kind) for p in element.properties]), offset
    for prop in element.properties:
        if prop.is_list:
            assert prop.count_kind is not None
            width = np.frombuffer(
                data, dtype=order + prop.count_kind, count=1, offset=offset + _size(fields)
            )
            if len(width) == 0:
                break
            fields.append((f"count {prop.name}", order + prop.count_kind))
            fields.append((prop.name, order + prop.kind, (int(width[0]),)))
        else:
            fields.append((prop.name, order + prop.kind))
    dtype = np.dtype(fields)
    end = offset + dtype.itemsize * element.count
    if end > len(data):
        if any(p.is_list for p in element.properties):
            raise MixedLists
        raise ModelError(
            f"the PLY file is truncated: its {element.name} elements need more bytes than follow"
        )
    records = np.frombuffer(data, dtype=dtype, count=element.count, offset=offset)
    for prop in element.properties:
        if prop.is_list:
            counts = records[f"count {prop.name}"]
            if (counts != records.dtype[prop.name].shape[0]).any():
                raise MixedLists
    return records, end


def _size(fields: list[tuple[str, str] | tuple[str, str, tuple[int]]]) -> int:
    return np.dtype(fields).itemsize if fields else 0


# --- ASCII --------------------------------------------------------------------


def _ascii(data: bytes, body: int, elements: list[_Element]) -> tuple[FloatArray, IntArray]:
    buf = text.as_array(data)
    starts, ends = text.tokens(buf[body:])
    starts += body
    ends += body
    position = 0
    vertices: FloatArray | None = None
    faces: IntArray | None = None
    for element in elements:
        if vertices is not None and faces is not None:
            break
        names = _ascii_columns(buf, starts, ends, position, element)
        width = len(names)
        needed = position + width * element.count
        if element.name == "face" and not _uniform_lists(
            buf, starts, ends, position, names, element
        ):
            faces = _face_lines(buf, starts[position:], ends[position:], element)
            continue
        if needed > len(starts):
            raise ModelError(
                f"the PLY file is truncated: its {element.name} elements need more numbers "
                "than follow"
            )
        if element.name == "vertex":
            columns = [names.index(c) for c in _xyz(element)]
            picked = (position + np.arange(element.count)[:, None] * width + columns).reshape(-1)
            values = _decimals(buf, starts[picked], ends[picked]).reshape(-1, 3)
            # The header's type rules, as in a binary file: "float" numbers are float32.
            kinds = {p.name: p.kind for p in element.properties}
            vertices = np.stack(
                [values[:, k].astype(kinds[c]).astype(np.float64) for k, c in enumerate("xyz")],
                axis=1,
            )
        elif element.name == "face":
            prop = _face_list(element)
            where = [i for i, name in enumerate(names) if name == prop.name]
            picked = position + np.arange(element.count)[:, None] * width + where
            flat = picked.reshape(-1)
            faces = _fan(_integers(buf, starts[flat], ends[flat]).reshape(-1, len(where)))
        position = needed
    if vertices is None or faces is None:
        raise ModelError("the PLY file has no vertex or no face element, so no triangles")
    return vertices, faces


def _uniform_lists(
    buf: np.ndarray, starts: IntArray, ends: IntArray, position: int, names: list[str],
    element: _Element,
) -> bool:
    """True when every face record holds as many indices as the first one."""
    width = len(names)
    if position + width * element.count > len(starts):
        return False
    prop = _face_list(element)
    counted = position + np.arange(element.count) * width + names.index(f"count {prop.name}")
    counts = _integers(buf, starts[counted], ends[counted])
    return bool((counts == names.count(prop.name)).all())


def _face_lines(
    buf: np.ndarray, starts: IntArray, ends: IntArray, element: _Element
) -> IntArray:
    """Faces whose lists differ in length, read as one record per line (as writers do)."""
    lists = [p for p in element.properties if p.is_list]
    if len(lists) != 1:
        raise ModelError("the PLY faces have lists of different lengths this reader cannot follow")
    before = element.properties.index(lists[0])
    after = len(element.properties) - before - 1
    first = np.flatnonzero(text.first_on_line(buf, starts, ends))
    if len(first) < element.count:
        raise ModelError(
            "the PLY file is truncated: its face elements need more lines than follow"
        )
    line_end = np.append(first[1:], len(starts))[: element.count]
    first = first[: element.count]
    counts = _integers(buf, starts[first + before], ends[first + before])
    if (counts != line_end - first - before - 1 - after).any():
        raise ModelError("the PLY file has a face whose list does not match its length")
    if (counts < 3).any():
        raise ModelError("the PLY file has faces with fewer than three corners")
    corner = np.repeat(first + before + 1, counts) + (
        np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    return fan(_integers(buf, starts[corner], ends[corner]), counts)


def _ascii_columns(
    buf: np.ndarray, starts: IntArray, ends: IntArray, position: int, element: _Element
) -> list[str]:
    """What each number of a record is, taking every list as long as the first record's.

    A list's length is named "count NAME", which no property can be (names have no spaces).
    """
    names: list[str] = []
    for prop in element.properties:
        if prop.is_list:
            at = position + len(names)
            if at >= len(starts):
                break
            size = int(_integers(buf, starts[at : at + 1], ends[at : at + 1])[0])
            if size < 0:
                raise ModelError("the PLY file has a list of negative length")
            names.append(f"count {prop.name}")
            names.extend([prop.name] * size)
        else:
            names.append(prop.name)
    return names


def _decimals(buf: np.ndarray, starts: IntArray, ends: IntArray) -> FloatArray:
    try:
        return text.parse_decimals(buf, starts, ends)
    except NotANumber as exc:
        raise ModelError(
            f"the PLY file has a value that is not a number ({exc.text[:20]!r})"
        ) from exc


def _integers(buf: np.ndarray, starts: IntArray, ends: IntArray) -> IntArray:
    try:
        return text.parse_integers(buf, starts, ends)
    except NotANumber as exc:
        raise ModelError(
            f"the PLY file has a vertex index that is not a whole number ({exc.text[:20]!r})"
        ) from exc
