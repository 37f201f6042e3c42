"""3MF: a ZIP package whose model part is XML, streamed into numpy.

Only the parts the model uses are inflated: the package relationships, the
root model part they name, and the parts its components point to (3MF
production extension). Each is read in blocks, never whole, within the
``max_decompressed_bytes`` budget. A deflated part is inflated by ISA-L
(``isal``), about three times as fast as zlib, and checked against its
size and CRC as ``zipfile`` checks it.

The bulk of a model part is ``<vertex x=".." y=".." z=".."/>`` and
``<triangle v1=".." v2=".." v3=".."/>`` elements. Runs of them are cut out
of each block, checked byte for byte against that plain form, and parsed in
bulk into arrays (:mod:`.text`); in their place a processing instruction
naming the run goes to lxml, which parses everything else (objects,
components, build items) as a stream. A run in any other form (entities,
comments, single quotes) goes to lxml as it is and is read element by
element, as is the rest of a part once a comment or CDATA section opens.
A DOCTYPE is refused: OPC packages may not have one.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections import deque
from collections.abc import Hashable, Iterator
from concurrent.futures import Future, wait
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Final, cast

import numpy as np
from isal import isal_zlib
from lxml import etree

from fabcore.adapters.mesh.errors import ModelError, describe, megabytes
from fabcore.adapters.mesh.readers import instances, text
from fabcore.adapters.mesh.readers.base import FloatArray, IntArray, Limits, MiB
from fabcore.adapters.mesh.readers.text import NotANumber
from fabcore.adapters.mesh.threads import Threads

UNITS_MM: Final = {
    "micron": 0.001,
    "millimeter": 1.0,
    "centimeter": 10.0,
    "inch": 25.4,
    "foot": 304.8,
    "meter": 1000.0,
}
_MAX_ZIP_MEMBERS: Final = 10_000
_MAX_RELS_BYTES: Final = MiB
_BLOCK: Final = 4 * MiB
_COMPRESSED_BLOCK: Final = MiB
# Numbers parsed at a time in a run: a block's runs are parsed beside each other on
# threads, so each run is parsed in few steps, each holding the interpreter lock briefly.
_RUN_CHUNK: Final = 1 << 17
# A ZIP local file header: signature, then the name's and extra field's lengths at 26.
_LOCAL_HEADER: Final = struct.Struct("<4s22xHH")
_LOCAL_SIGNATURE: Final = b"PK\x03\x04"
# A class at run time; isal's stub declares it as an instance.
_INFLATE_ERROR: Final = cast("type[Exception]", isal_zlib.error)
_MODEL_RELATIONSHIP: Final = "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
_DEFAULT_ROOT: Final = "3d/3dmodel.model"
_SAFE_XML: Final[dict[str, Any]] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
}
_BULK: Final = "fabcore-bulk"
_VERTEX_RUN: Final = re.compile(rb'(?:\s*<vertex(?:\s+[xyz]="")+\s*(?:/>|>\s*</vertex>))*\s*')
_TRIANGLE_RUN: Final = re.compile(
    rb'(?:\s*<triangle(?:\s+(?:v[123]|p[123]|pid)="")+\s*(?:/>|>\s*</triangle>))*\s*'
)
# Bulk tags, as the first bytes after "<", and the byte that must follow them.
_TAGS: Final = (
    (b"vertex", 1),
    (b"triangle", 2),
    (b"/vertex", 1),
    (b"/triangle", 2),
)
_IS_DELIMITER: Final = np.zeros(256, dtype=np.bool_)
_IS_DELIMITER[list(b" \t\r\n/>")] = True


@dataclass
class _Object:
    vertices: list[FloatArray] = field(default_factory=list)
    triangles: list[IntArray] = field(default_factory=list)
    components: list[tuple[str | None, str, instances.Matrix]] = field(default_factory=list)
    has_mesh: bool = False


@dataclass
class _Part:
    unit: str = "millimeter"
    objects: dict[str, _Object] = field(default_factory=dict)
    items: list[tuple[str | None, str, instances.Matrix]] = field(default_factory=list)


def read_3mf(
    data: bytes, limits: Limits, threads: Threads | None = None
) -> tuple[FloatArray, IntArray, float]:
    """Vertices (k, 3), triangles (n, 3) and the factor to mm of a 3MF package.

    On ``threads``, the next block of a part is inflated, and the bulk runs
    of blocks are parsed, while lxml reads the blocks before them.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise ModelError(
            "a 3MF file is a ZIP package, and this one cannot be opened as one"
        ) from exc
    with archive:
        package = _Package(data, archive, limits, threads or Threads(1))
        root_name = package.root()
        parts = {root_name: package.part(root_name)}
        root = parts[root_name]
        if root.unit not in UNITS_MM:
            raise ModelError(f"the 3MF model has an unknown unit {root.unit!r}")

        def key(path: str | None, within: str, object_id: str) -> str:
            part = within if path is None else package.resolve(path)
            if part not in parts:
                parts[part] = package.part(part)
                pending.append(part)
            return object_id if part == root_name else f"{object_id} of {part}"

        pending = [root_name]
        roots: list[tuple[Hashable, instances.Matrix]] = [
            (key(path, root_name, object_id), matrix) for path, object_id, matrix in root.items
        ]
        nodes: dict[Hashable, instances.Node] = {}
        while pending:
            name = pending.pop()
            for object_id, obj in parts[name].objects.items():
                node = instances.Node()
                if obj.has_mesh:
                    node.meshes.append(_mesh(obj))
                for path, child, matrix in obj.components:
                    node.children.append((key(path, name, child), matrix))
                nodes[key(None, name, object_id)] = node
        if not roots:
            raise ModelError("the 3MF file places nothing on its build plate (no build items)")
        vertices, faces = instances.place(nodes, roots, limits, "3MF object")
        return vertices, faces, UNITS_MM[root.unit]


def _mesh(obj: _Object) -> tuple[FloatArray, IntArray]:
    vertices = np.concatenate(obj.vertices) if obj.vertices else np.empty((0, 3))
    faces = (
        np.concatenate(obj.triangles) if obj.triangles else np.empty((0, 3), dtype=np.int64)
    )
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ModelError("the 3MF file has faces that use missing vertices")
    return vertices, faces


class _Package:
    """The members of a 3MF package, inflated on demand within one budget."""

    def __init__(
        self, data: bytes, archive: zipfile.ZipFile, limits: Limits, threads: Threads
    ) -> None:
        self.data = data
        self.archive = archive
        self.limits = limits
        self.threads = threads
        self.left = limits.max_decompressed_bytes
        infos = archive.infolist()
        if len(infos) > _MAX_ZIP_MEMBERS:
            raise ModelError(f"the 3MF package holds {len(infos)} files, too many to be a model")
        declared = sum(info.file_size for info in infos)
        if declared > limits.max_decompressed_bytes:
            raise ModelError(
                f"the 3MF package says it unpacks to {megabytes(declared)}, more than the "
                f"{megabytes(limits.max_decompressed_bytes)} allowed"
            )
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if not info.is_dir():
                self.members.setdefault(info.filename.lstrip("/").lower(), info)

    def root(self) -> str:
        """Name of the root model part: what the package relationships point to."""
        rels = self.members.get("_rels/.rels")
        if rels is not None:
            if rels.file_size > _MAX_RELS_BYTES:
                raise ModelError("the 3MF package relationships part is too large")
            xml = b"".join(self.blocks(rels))
            tree = _parse_small(xml, rels.filename)
            for rel in tree.iter("{*}Relationship"):
                if rel.get("Type") == _MODEL_RELATIONSHIP and rel.get("Target"):
                    target = str(rel.get("Target", "")).lstrip("/").lower()
                    if target in self.members:
                        return target
        if _DEFAULT_ROOT in self.members:
            return _DEFAULT_ROOT
        raise ModelError("the 3MF package has no 3D/3dmodel.model part")

    def resolve(self, path: str) -> str:
        name = path.lstrip("/").lower()
        if name not in self.members:
            raise ModelError(f"the 3MF model refers to a part {path!r} the package lacks")
        return name

    def part(self, name: str) -> _Part:
        info = self.members[name]
        parser = _ModelParser(info.filename, self.limits, self.threads)
        try:
            with closing(self.threads.ahead(self.blocks(info))) as blocks:
                for block in blocks:
                    parser.feed(block)
            return parser.close()
        finally:
            parser.stop()

    def blocks(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        deflated = info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x1
        try:
            for block in self._inflated(info) if deflated else self._unpacked(info):
                self.left -= len(block)
                if self.left < 0:
                    raise ModelError(
                        "the 3MF package unpacks to more than the "
                        f"{megabytes(self.limits.max_decompressed_bytes)} allowed (a ZIP bomb?)"
                    )
                yield block
        except (
            zipfile.BadZipFile,
            zlib.error,
            RuntimeError,
            NotImplementedError,
            OSError,
            EOFError,
            ValueError,
            _INFLATE_ERROR,
        ) as exc:
            raise ModelError(
                f"the 3MF package is damaged: {info.filename} cannot be unpacked. "
                "Export the file again.",
                detail=describe(exc),
            ) from exc

    def _unpacked(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """A member's blocks as ``zipfile`` reads them (stored, or another method)."""
        with self.archive.open(info) as member:
            while block := member.read(_BLOCK):
                yield block

    def _inflated(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """A deflated member's blocks of at most ``_BLOCK`` bytes; its size and CRC checked."""
        start = info.header_offset
        header = self.data[start : start + _LOCAL_HEADER.size]
        if len(header) < _LOCAL_HEADER.size:
            raise zipfile.BadZipFile(f"truncated file header of {info.filename}")
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        name_start = start + _LOCAL_HEADER.size
        name = self.data[name_start : name_start + name_length]
        # The same checks as zipfile's: a header of this member, under its name.
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        if signature != _LOCAL_SIGNATURE or name.decode(encoding, "replace") != info.orig_filename:
            raise zipfile.BadZipFile(f"bad file header of {info.filename}")
        begin = name_start + name_length + extra_length
        compressed = memoryview(self.data)[begin : begin + info.compress_size]
        if len(compressed) < info.compress_size:
            raise EOFError(f"{info.filename} is cut short")
        inflater = isal_zlib.decompressobj(-15)
        crc = size = fed = 0
        pending: bytes | memoryview = b""
        while not inflater.eof:
            if not pending and fed < len(compressed):
                pending = compressed[fed : fed + _COMPRESSED_BLOCK]
                fed += len(pending)
            block = inflater.decompress(pending, _BLOCK)
            pending = inflater.unconsumed_tail
            if not block and not pending and fed >= len(compressed) and not inflater.eof:
                raise EOFError(f"{info.filename} ends before its last deflate block")
            if block:
                size += len(block)
                if size > info.file_size:
                    raise zipfile.BadZipFile(f"{info.filename} unpacks past its stated size")
                crc = isal_zlib.crc32(block, crc)
                yield block
        if size != info.file_size or crc != info.CRC:
            raise zipfile.BadZipFile(f"bad size or CRC-32 for {info.filename}")


def _parse_small(xml: bytes, part: str) -> Any:
    try:
        root = etree.fromstring(xml, etree.XMLParser(**_SAFE_XML))
    except etree.XMLSyntaxError as exc:
        raise ModelError(
            f"the 3MF part {part} is not well-formed XML: the file is damaged. Export it again.",
            detail=describe(exc),
        ) from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _doctype(part)
    return root


def _doctype(part: str) -> ModelError:
    return ModelError(
        f"the 3MF part {part} declares a DOCTYPE (entities), which 3MF forbids; "
        "it is refused for safety"
    )


class _ModelParser:
    """One model part, fed in blocks: bulk runs to numpy, the rest to lxml."""

    def __init__(self, name: str, limits: Limits, threads: Threads) -> None:
        self.name = name
        self.limits = limits
        self.threads = threads
        self.xml = etree.XMLPullParser(events=("start", "end", "pi"), **_SAFE_XML)
        self.carry = b""
        self.plain = True
        # Pieces of text in the order they came (see :meth:`_queue`), each with
        # its bulk runs being parsed.
        self.pending: deque[tuple[bytes, int, Future[_Prepared] | None]] = deque()
        self.runs: dict[int, tuple[int, np.ndarray]] = {}
        self.next_run = 0
        self.part = _Part()
        self.depth = 0
        self.started = False
        self.current: _Object | None = None
        self.section = ""
        self.vertices = 0
        self.triangles = 0

    def feed(self, block: bytes) -> None:
        # The one copy of the block: after the tail carried from the last one,
        # and before the padding the bulk parsers read past values into.
        data = b"".join((self.carry, block, _PAD))
        size = len(data) - len(_PAD)
        cut = data.rfind(b"<", 0, size)
        if cut <= 0:
            if size > _BLOCK:
                # No tag starts here: text or one long tag, which lxml takes as it is.
                self._queue(data, size, raw=True)
                self.carry = b""
            else:
                self.carry = data[:size]
            return
        self.carry = data[cut:size]
        self._queue(data, cut)

    def close(self) -> _Part:
        self._queue(self.carry + _PAD, len(self.carry))
        self.carry = b""
        while self.pending:
            self._apply(*self.pending.popleft())
        try:
            self.xml.close()
        except etree.XMLSyntaxError as exc:
            raise self._broken(exc) from exc
        self._events()
        if not self.started:
            raise ModelError(f"the 3MF part {self.name} is empty")
        return self.part

    def stop(self) -> None:
        """Leave nothing running for this part (after an error; a no-op once closed)."""
        left = [prepared for _, _, prepared in self.pending if prepared is not None]
        self.pending.clear()
        for prepared in left:
            prepared.cancel()
        wait(left)

    def _queue(self, data: bytes, size: int, *, raw: bool = False) -> None:
        """Prepare ``data[:size]`` beside the caller; apply what was prepared before, in order.

        ``data`` goes on for at least ``len(_PAD)`` bytes past ``size``.
        """
        if not size:
            return
        prepared = (None if raw or not self.plain
                    else self.threads.submit(_prepare, data, size))
        self.pending.append((data, size, prepared))
        while len(self.pending) > self.threads.count:
            self._apply(*self.pending.popleft())

    def _apply(self, data: bytes, size: int, prepared: Future[_Prepared] | None) -> None:
        if prepared is None or not self.plain:
            if prepared is not None:
                prepared.cancel()
            # A DOCTYPE after the root element is a syntax error lxml reports itself.
            if not self.started and data.find(b"<!DOCTYPE", 0, size) >= 0:
                raise _doctype(self.name)
            self._xml(data[:size])
            return
        found = prepared.result()
        if found.special is not None and data.startswith(b"<!DOCTYPE", found.special):
            raise _doctype(self.name)
        pieces: list[bytes] = []
        for piece in found.pieces:
            if isinstance(piece, bytes):
                pieces.append(piece)
            else:
                self.runs[self.next_run] = piece
                pieces.append(f"<?{_BULK} {self.next_run}?>".encode())
                self.next_run += 1
        self._xml(b"".join(pieces))
        if found.special is not None:
            # A comment or CDATA may hide anything: from here on, lxml reads it all.
            self.plain = False
            self._xml(data[found.special : size])

    def _xml(self, data: bytes) -> None:
        try:
            self.xml.feed(data)
        except etree.XMLSyntaxError as exc:
            raise self._broken(exc) from exc
        self._events()

    def _broken(self, exc: etree.XMLSyntaxError) -> ModelError:
        return ModelError(
            f"the 3MF part {self.name} is not well-formed XML: the file is damaged. "
            "Export it again.",
            detail=describe(exc),
        )

    def _events(self) -> None:
        try:
            events = list(self.xml.read_events())
        except etree.XMLSyntaxError as exc:
            raise self._broken(exc) from exc
        for event, element in events:
            if event == "pi":
                self._run(element)
            elif event == "start":
                self._start(element)
            else:
                self._end(element)

    def _start(self, element: Any) -> None:
        self.depth += 1
        name = _local(element.tag)
        if not self.started:
            self.started = True
            docinfo = element.getroottree().docinfo
            if docinfo.doctype or docinfo.internalDTD is not None:
                raise _doctype(self.name)
            if name != "model":
                raise ModelError(f"the 3MF part {self.name} is not a 3MF model")
            self.part.unit = element.get("unit", "millimeter")
        elif name == "object":
            object_id = element.get("id")
            if object_id is None:
                raise ModelError("the 3MF file has an object without an id")
            self.current = _Object()
            self.part.objects[object_id] = self.current
        elif name == "mesh" and self.current is not None:
            self.current.has_mesh = True
        elif name in ("vertices", "triangles", "build", "components"):
            self.section = name

    def _end(self, element: Any) -> None:
        self.depth -= 1
        name = _local(element.tag)
        if name == "vertex" and self.section == "vertices":
            self._add(1, _slow_vertex(element))
        elif name == "triangle" and self.section == "triangles":
            self._add(2, _slow_triangle(element))
        elif name == "component" and self.current is not None:
            self.current.components.append(_placement(element))
        elif name == "item" and self.section == "build":
            self.part.items.append(_placement(element))
        elif name in ("vertices", "triangles", "build", "components"):
            self.section = ""
        elif name == "object":
            self.current = None
        if name != "model":
            # Done with it: drop it and anything before it from the tree.
            element.clear()
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]

    def _run(self, element: Any) -> None:
        if element.target != _BULK:
            return
        found = self.runs.pop(int(element.text), None) if element.text.isdigit() else None
        if found is None:
            raise ModelError(
                f"the 3MF part {self.name} has a processing instruction it may not have"
            )
        kind, values = found
        if self.depth == 0:
            raise ModelError(
                f"the 3MF part {self.name} is not well-formed XML (elements outside the model)"
            )
        wanted = "vertices" if kind == 1 else "triangles"
        if self.section == wanted:
            self._add(kind, values)
        element.getparent().remove(element)

    def _add(self, kind: int, values: np.ndarray) -> None:
        if self.current is None:
            return
        if kind == 1:
            self.vertices += len(values)
            if self.vertices > self.limits.max_vertices:
                raise ModelError(
                    f"the 3MF file lists more than {self.limits.max_vertices:,} vertices, "
                    "more than this service reads"
                )
            self.current.vertices.append(values)
        else:
            self.triangles += len(values)
            if self.triangles > self.limits.max_triangles:
                raise ModelError(
                    f"the 3MF file has more than {self.limits.max_triangles:,} triangles, "
                    "more than this service analyses"
                )
            self.current.triangles.append(values)


@dataclass(frozen=True)
class _Prepared:
    """A piece of a model part with its bulk runs parsed: text for lxml, and runs.

    ``special`` is where a comment, CDATA or DOCTYPE opens (``<!``), if one
    does: the pieces cover the text before it.
    """

    pieces: list[bytes | tuple[int, np.ndarray]]
    special: int | None


def _prepare(data: bytes, size: int) -> _Prepared:
    """Cut the runs of plain vertex and triangle elements out of ``data[:size]``, parsed.

    ``data`` goes on for ``len(_PAD)`` bytes or more past ``size``: the runs
    are parsed where they lie, reading whole words past their last value.
    """
    buf = text.as_array(data)
    lt = np.flatnonzero(buf[:size] == 0x3C)
    marked = lt[buf[lt + 1] == 0x21]
    special = int(marked[0]) if len(marked) else None
    if special is not None:
        size, lt = special, lt[lt < special]
    kinds = _tag_kinds(buf[:size], lt)
    bulk = kinds > 0
    if not bulk.any():
        return _Prepared([data[:size]], special)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], bulk, [False])).astype(np.int8)))
    pieces: list[bytes | tuple[int, np.ndarray]] = []
    last = 0
    for first, stop in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
        begin = int(lt[first])
        end = int(lt[stop]) if stop < len(lt) else size
        run_kinds = kinds[first:stop]
        pieces.append(data[last:begin])
        parsed = None
        if (run_kinds == run_kinds[0]).all():
            run = _Run(data, buf, begin, end, lt[first:stop])
            parsed = _vertex_run(run) if run_kinds[0] == 1 else _triangle_run(run)
        pieces.append(data[begin:end] if parsed is None else (int(run_kinds[0]), parsed))
        last = end
    pieces.append(data[last:size])
    return _Prepared(pieces, special)


@dataclass(frozen=True)
class _Run:
    """A run of bulk elements: ``data[begin:end]``; ``lt`` is where each "<" of it is.

    ``buf`` is ``data`` as an array; positions are in ``data``, which goes on
    past ``end`` for at least ``len(_PAD)`` bytes.
    """

    data: bytes
    buf: np.ndarray
    begin: int
    end: int
    lt: IntArray


def _local(tag: object) -> str:
    """The name of a tag or attribute without its namespace ("{uri}name" or "prefix:name")."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2].rpartition(":")[2]


def _tag_kinds(buf: np.ndarray, lt: np.ndarray) -> np.ndarray:
    """Per "<": 1 for a vertex tag (opening or closing), 2 for a triangle tag, else 0."""
    kinds = np.zeros(len(lt), dtype=np.int8)
    if len(lt) == 0:
        return kinds
    after = np.minimum(lt + 1, len(buf) - 1)
    ends = np.minimum(after + 16, len(buf))
    head = text.first_eight(buf, after, ends)
    lengths = ends - after
    last = len(buf) - 1
    for word, kind in _TAGS:
        prefix = word[:8]
        mask = np.uint64((1 << (8 * len(prefix))) - 1)
        # Few tags start alike: the rest is checked on those that do.
        at = np.flatnonzero(((head & mask) == text.packed(prefix)) & (lengths > len(word)))
        start = after[at]
        match = _IS_DELIMITER[buf[np.minimum(start + len(word), last)]]
        for k, byte in enumerate(word[8:]):
            match &= buf[np.minimum(start + 8 + k, last)] == byte
        kinds[at[match]] = kind
    return kinds


_PAD: Final = b" " * 40
_SPACE: Final = b" \t\r\n"
_V123: Final = [ord("v") << 8 | ord(d) for d in "123"]


def _vertex_run(run: _Run) -> np.ndarray | None:
    """x, y, z of a run of vertex elements in plain form (else None: lxml reads it)."""
    found = _run_values(run, _VERTEX_RUN)
    if found is None:
        return None
    starts, ends, names = found
    order = np.argsort(names, kind="stable")
    if bytes(names[order].astype(np.uint8)) != b"xyz":
        return None
    try:
        values = text.parse_decimals(run.buf, starts, ends, chunk=_RUN_CHUNK).reshape(-1, 3)
    except NotANumber:
        return None
    return values if (order == np.arange(3)).all() else values[:, order]


def _triangle_run(run: _Run) -> np.ndarray | None:
    """v1, v2, v3 of a run of triangle elements in plain form (else None: lxml reads it)."""
    found = _run_values(run, _TRIANGLE_RUN, wide_names=True)
    if found is None:
        return None
    starts, ends, names = found
    if not all((names == code).sum() == 1 for code in _V123):
        return None
    columns = [int(np.flatnonzero(names == code)[0]) for code in _V123]
    per = len(names)
    if columns != [0, 1, 2] or per != 3:
        picked = (np.arange(len(starts) // per)[:, None] * per + np.array(columns)).reshape(-1)
        starts, ends = starts[picked], ends[picked]
    try:
        values = text.parse_integers(run.buf, starts, ends, chunk=_RUN_CHUNK).reshape(-1, 3)
    except NotANumber:
        return None
    return values


def _run_values(
    run: _Run, form: re.Pattern[bytes], *, wide_names: bool = False
) -> tuple[IntArray, IntArray, IntArray] | None:
    """Value starts and ends of a run whose elements all have one plain form.

    Returns also the attribute names of one element (their last byte, or
    last two bytes with ``wide_names``), which every element has in the
    same order.
    """
    data, buf, begin, end = run.data, run.buf, run.begin, run.end
    if data.find(b"'", begin, end) >= 0 or data.find(b"&", begin, end) >= 0:
        return None
    quotes = np.flatnonzero(buf[begin:end] == 0x22)
    if len(quotes) % 2:
        return None
    quotes += begin
    starts, ends = quotes[0::2] + 1, quotes[1::2]
    tags = run.lt[buf[run.lt + 1] != 0x2F]
    count = len(tags)
    if count == 0 or len(starts) % count or tags[0] != begin:
        return None
    per = len(starts) // count
    if per == 0 or not _same_form(run, starts, ends, tags, per, form):
        return None
    first = starts[:per]
    names = buf[first - 3].astype(np.int64)
    if wide_names:
        names |= buf[first - 4].astype(np.int64) << 8
    if len(np.unique(names)) != per:
        return None
    return starts, ends, names


def _same_form(
    run: _Run,
    starts: IntArray,
    ends: IntArray,
    tags: IntArray,
    per: int,
    form: re.Pattern[bytes],
) -> bool:
    """True when every element matches the first byte for byte, values aside, and it is valid.

    The text outside the values is the first element's opening (up to its
    first value), the pieces between an element's values, and the boundary
    from an element's last value to the next one's first value: its closing
    and the next opening. Each must repeat the first element's, and the last
    closing may differ in trailing whitespace.
    """
    buf, begin, end = run.buf, run.begin, run.end
    count = len(tags)
    first = starts.reshape(count, per)
    last = ends.reshape(count, per)
    # Each kind of piece: where it begins in every element, and its length there.
    pieces = [(last[:, k - 1], first[:, k] - last[:, k - 1]) for k in range(1, per)]
    if count > 1:
        pieces.append((last[:-1, per - 1], first[1:, 0] - last[:-1, per - 1]))
    for at, lengths in pieces:
        length = int(lengths[0])
        if length > 32 or not (lengths == length).all():
            return False
        width = 8 if length <= 8 else 16 if length <= 16 else 32
        windows = np.ndarray(
            shape=(len(buf) - width + 1,), dtype=f"V{width}", buffer=buf, strides=(1,)
        )
        mask = np.frombuffer((b"\xff" * length).ljust(width, b"\0"), dtype=np.uint64)
        words = windows[at].view(np.uint64).reshape(-1, width // 8) & mask
        if not (words == words[0]).all():
            return False
    opening = bytes(buf[begin : first[0, 0]])
    between = [bytes(buf[last[0, k - 1] : first[0, k]]) for k in range(1, per)]
    closing = bytes(buf[last[0, per - 1] : tags[1] if count > 1 else end])
    if count > 1 and bytes(buf[last[0, per - 1] : first[1, 0]]) != closing + opening:
        return False
    tail = bytes(buf[last[-1, per - 1] : end])
    if tail.rstrip(_SPACE) != closing.rstrip(_SPACE):
        return False
    return form.fullmatch(b"".join((opening, *between, closing))) is not None


def _slow_vertex(element: Any) -> np.ndarray:
    try:
        return np.array([[float(element.get(k)) for k in "xyz"]])
    except (TypeError, ValueError) as exc:
        raise ModelError(
            "the 3MF file has a vertex whose x, y or z is missing or not a number"
        ) from exc


def _slow_triangle(element: Any) -> np.ndarray:
    try:
        return np.array([[int(element.get(k)) for k in ("v1", "v2", "v3")]], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            "the 3MF file has a triangle whose v1, v2 or v3 is missing or not a vertex number"
        ) from exc


def _placement(element: Any) -> tuple[str | None, str, instances.Matrix]:
    object_id = element.get("objectid")
    if object_id is None:
        raise ModelError("the 3MF file places an object without saying which (no objectid)")
    path = next((v for k, v in element.attrib.items() if _local(k) == "path"), None)
    matrix = np.eye(4)
    if "transform" in element.attrib:
        try:
            values = np.array([float(v) for v in element.get("transform").split()])
        except ValueError as exc:
            raise ModelError("the 3MF file has a transform that is not made of numbers") from exc
        if len(values) != 12 or not np.isfinite(values).all():
            raise ModelError("the 3MF file has a transform that is not 12 finite numbers")
        # 3MF matrices act on row vectors: x' = x m00 + y m10 + z m20 + m30.
        rows = values.reshape(4, 3)
        matrix[:3, :3] = rows[:3].T
        matrix[:3, 3] = rows[3]
    return path, object_id, matrix
