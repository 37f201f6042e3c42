"""Contract tests every ``MeshAnalyser`` adapter must pass, and the meshes they use.

Subclass :class:`MeshAnalyserContract` in a pytest module and provide an
``analyser`` fixture; set ``formats`` to the file types your adapter reads
(of "stl", "stl-ascii", "obj", "ply", "ply-ascii", "off", "3mf", "glb")::

    class TestMyAnalyser(MeshAnalyserContract):
        formats = ("stl", "obj")

        @pytest.fixture
        def analyser(self) -> MeshAnalyser:
            return MyAnalyser()

Every model is built here, in memory: a box, a torus, two boxes, a box
with a cavity. Their expected figures come from the triangles themselves
(the divergence theorem for the volume), not from a stored answer. The
writers (:func:`write`) are usable on their own, for tests of your own.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from fabcore.domain.analysis import ModelAnalysis, Units, WarningCode
from fabcore.domain.errors import InvalidInput, ModelRejected
from fabcore.ports.mesh import MeshAnalyser

Vertices = npt.NDArray[np.float64]
Faces = npt.NDArray[np.int64]
Mesh = tuple[Vertices, Faces]

ALL_FORMATS = ("stl", "stl-ascii", "obj", "ply", "ply-ascii", "off", "3mf", "glb")


# --- meshes -------------------------------------------------------------------


def box(size: tuple[float, float, float], at: tuple[float, float, float] = (0, 0, 0)) -> Mesh:
    """A closed box from ``at`` to ``at + size``, wound outwards."""
    x, y, z = size
    corners = np.array(
        [[i * x, j * y, k * z] for i in (0, 1) for j in (0, 1) for k in (0, 1)], dtype=np.float64
    )
    faces = np.array(
        [
            [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
            [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],
        ],
        dtype=np.int64,
    )  # fmt: skip
    return corners + np.asarray(at, dtype=np.float64), faces


def torus(major: float = 30.0, minor: float = 8.0, sections: tuple[int, int] = (48, 24)) -> Mesh:
    """A closed torus around the z axis, resting on z = 0, wound outwards."""
    nu, nv = sections
    u = np.linspace(0.0, 2.0 * math.pi, nu, endpoint=False)
    v = np.linspace(0.0, 2.0 * math.pi, nv, endpoint=False)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    ring = major + minor * np.cos(vv)
    points = np.stack(
        (ring * np.cos(uu), ring * np.sin(uu), minor * np.sin(vv) + minor), axis=-1
    ).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
    a = i * nv + j
    b = ((i + 1) % nu) * nv + j
    c = ((i + 1) % nu) * nv + (j + 1) % nv
    d = i * nv + (j + 1) % nv
    faces = np.concatenate(
        (np.stack((a, b, c), axis=-1).reshape(-1, 3), np.stack((a, c, d), axis=-1).reshape(-1, 3))
    )
    return points, faces.astype(np.int64)


def join(*meshes: Mesh) -> Mesh:
    """One mesh holding all of them."""
    vertices, faces, offset = [], [], 0
    for v, f in meshes:
        vertices.append(v)
        faces.append(f + offset)
        offset += len(v)
    return np.concatenate(vertices), np.concatenate(faces)


def inverted(mesh: Mesh) -> Mesh:
    """The same surface wound the other way (a cavity, inside another body)."""
    return mesh[0], mesh[1][:, ::-1].copy()


def volume(mesh: Mesh) -> float:
    """Enclosed volume of a closed, outward-wound mesh (divergence theorem)."""
    v, f = mesh
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def area(mesh: Mesh) -> float:
    v, f = mesh
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2.0)


def extents(mesh: Mesh) -> tuple[float, float, float]:
    used = mesh[0][np.unique(mesh[1])]
    x, y, z = (used.max(axis=0) - used.min(axis=0)).tolist()
    return x, y, z


# --- writers ------------------------------------------------------------------


def binary_stl(mesh: Mesh) -> bytes:
    v, f = mesh
    records = np.zeros(
        len(f), dtype=[("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attr", "<u2")]
    )
    records["vertices"] = v[f]
    return b"fabcore test mesh".ljust(80, b" ") + struct.pack("<I", len(f)) + records.tobytes()


def ascii_stl(mesh: Mesh) -> bytes:
    v, f = mesh
    lines = ["solid test"]
    for tri in v[f]:
        lines += ["facet normal 0 0 0", " outer loop"]
        lines += [f"  vertex {x!r} {y!r} {z!r}" for x, y, z in tri.tolist()]
        lines += [" endloop", "endfacet"]
    lines.append("endsolid test")
    return ("\n".join(lines) + "\n").encode()


def obj(mesh: Mesh) -> bytes:
    v, f = mesh
    lines = ["# fabcore test mesh", "o part"]
    lines += [f"v {x!r} {y!r} {z!r}" for x, y, z in v.tolist()]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in f.tolist()]
    return ("\n".join(lines) + "\n").encode()


def ply(mesh: Mesh, *, binary: bool = True) -> bytes:
    v, f = mesh
    header = (
        "ply\nformat {} 1.0\nelement vertex {}\nproperty double x\nproperty double y\n"
        "property double z\nelement face {}\nproperty list uchar int vertex_indices\nend_header\n"
    ).format("binary_little_endian" if binary else "ascii", len(v), len(f))
    if binary:
        faces = np.zeros(len(f), dtype=[("n", "u1"), ("i", "<i4", (3,))])
        faces["n"] = 3
        faces["i"] = f
        return header.encode() + v.astype("<f8").tobytes() + faces.tobytes()
    body = [f"{x!r} {y!r} {z!r}" for x, y, z in v.tolist()]
    body += [f"3 {a} {b} {c}" for a, b, c in f.tolist()]
    return (header + "\n".join(body) + "\n").encode()


def off(mesh: Mesh) -> bytes:
    v, f = mesh
    lines = ["OFF", f"{len(v)} {len(f)} 0"]
    lines += [f"{x!r} {y!r} {z!r}" for x, y, z in v.tolist()]
    lines += [f"3 {a} {b} {c}" for a, b, c in f.tolist()]
    return ("\n".join(lines) + "\n").encode()


def threemf(mesh: Mesh, unit: str = "millimeter") -> bytes:
    v, f = mesh
    vertices = "".join(f'<vertex x="{x!r}" y="{y!r}" z="{z!r}"/>' for x, y, z in v.tolist())
    triangles = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in f.tolist())
    model = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<model unit="{unit}" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
        f'<resources><object id="1" type="model"><mesh><vertices>{vertices}</vertices>'
        f"<triangles>{triangles}</triangles></mesh></object></resources>"
        '<build><item objectid="1"/></build></model>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
        'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("_rels/.rels", rels)
        archive.writestr("3D/3dmodel.model", model)
    return buffer.getvalue()


def glb(mesh: Mesh) -> bytes:
    v, f = mesh
    positions = v.astype("<f4").tobytes()
    indices = f.astype("<u4").tobytes()
    document = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": len(positions) + len(indices)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(positions)},
            {"buffer": 0, "byteOffset": len(positions), "byteLength": len(indices)},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(v), "type": "VEC3"},
            {"bufferView": 1, "componentType": 5125, "count": f.size, "type": "SCALAR"},
        ],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
        "scene": 0,
    }
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    data = positions + indices
    data += b"\0" * (-len(data) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text
    body += struct.pack("<I4s", len(data), b"BIN\0") + data
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


WRITERS: dict[str, tuple[Callable[[Mesh], bytes], str]] = {
    "stl": (binary_stl, "stl"),
    "stl-ascii": (ascii_stl, "stl"),
    "obj": (obj, "obj"),
    "ply": (ply, "ply"),
    "ply-ascii": (lambda m: ply(m, binary=False), "ply"),
    "off": (off, "off"),
    "3mf": (threemf, "3mf"),
    "glb": (glb, "glb"),
}


def write(mesh: Mesh, fmt: str, name: str = "part") -> tuple[bytes, str]:
    """``mesh`` as a file of ``fmt`` (a key of :data:`WRITERS`), and a file name for it."""
    writer, extension = WRITERS[fmt]
    return writer(mesh), f"{name}.{extension}"


# --- the contract ---------------------------------------------------------------


def _float32(mesh: Mesh) -> Mesh:
    """The mesh as binary STL and GLB store it, so that expected figures match exactly."""
    return mesh[0].astype(np.float32).astype(np.float64), mesh[1]


def _codes(result: ModelAnalysis) -> set[WarningCode]:
    return {w.code for w in result.warnings}


class MeshAnalyserContract:
    """What every mesh analyser does: measures, units, refusals, warnings."""

    formats: tuple[str, ...] = ALL_FORMATS

    @pytest.fixture
    def analyser(self) -> MeshAnalyser:
        raise NotImplementedError("a MeshAnalyserContract subclass must provide `analyser`")

    @pytest.fixture(params=ALL_FORMATS)
    def fmt(self, request: pytest.FixtureRequest) -> str:
        fmt: str = request.param
        if fmt not in self.formats:
            pytest.skip(f"this analyser does not read {fmt}")
        return fmt

    def analyse(
        self, analyser: MeshAnalyser, mesh: Mesh, fmt: str, units: Units | str = Units.MM
    ) -> ModelAnalysis:
        data, name = write(mesh, fmt)
        return analyser.analyse(data, name, units)

    def assert_measures(self, result: ModelAnalysis, mesh: Mesh, bodies: int = 1) -> None:
        expected = _float32(mesh)
        assert result.volume_cm3 == pytest.approx(abs(volume(expected)) / 1000.0, rel=1e-6)
        assert result.area_cm2 == pytest.approx(area(expected) / 100.0, rel=1e-6)
        assert result.bbox_mm == pytest.approx(extents(expected), rel=1e-6)
        assert result.triangles == len(mesh[1])
        assert (result.bodies, result.watertight, result.winding_consistent) == (bodies, True, True)
        assert result.volume_reliable

    def test_box(self, analyser: MeshAnalyser, fmt: str) -> None:
        mesh = box((20.0, 30.0, 40.0), at=(5.0, -7.0, 0.0))
        result = self.analyse(analyser, mesh, fmt)
        self.assert_measures(result, mesh)
        assert result.volume_cm3 == pytest.approx(24.0, rel=1e-6)
        assert result.convex_hull_volume_cm3 == pytest.approx(24.0, rel=1e-6)
        assert result.warnings == ()

    def test_torus(self, analyser: MeshAnalyser, fmt: str) -> None:
        mesh = torus()
        result = self.analyse(analyser, mesh, fmt)
        self.assert_measures(result, mesh)
        assert result.convex_hull_volume_cm3 > result.volume_cm3

    def test_two_bodies(self, analyser: MeshAnalyser, fmt: str) -> None:
        mesh = join(box((10.0, 10.0, 10.0)), box((5.0, 5.0, 5.0), at=(30.0, 0.0, 0.0)))
        result = self.analyse(analyser, mesh, fmt)
        self.assert_measures(result, mesh, bodies=2)
        assert result.volume_cm3 == pytest.approx(1.125, rel=1e-6)
        assert WarningCode.MULTIPLE_BODIES in _codes(result)

    def test_cavity_is_subtracted(self, analyser: MeshAnalyser, fmt: str) -> None:
        outer = box((20.0, 20.0, 20.0))
        cavity = inverted(box((10.0, 10.0, 10.0), at=(5.0, 5.0, 5.0)))
        result = self.analyse(analyser, join(outer, cavity), fmt)
        assert result.volume_cm3 == pytest.approx(7.0, rel=1e-6)
        assert (result.bodies, result.watertight) == (2, True)

    @pytest.mark.parametrize("unit", list(Units))
    def test_units_scale_every_measure(self, analyser: MeshAnalyser, unit: Units) -> None:
        mesh = box((2.0, 3.0, 4.0))
        scale = unit.to_mm
        # A 3MF file declares its own unit (see test_3mf_declares_its_unit).
        for fmt in (f for f in self.formats if f != "3mf"):
            result = self.analyse(analyser, mesh, fmt, unit)
            assert result.bbox_mm == pytest.approx((2 * scale, 3 * scale, 4 * scale), rel=1e-6)
            assert result.volume_cm3 == pytest.approx(24 * scale**3 / 1000, rel=1e-6)
            assert result.area_cm2 == pytest.approx(52 * scale**2 / 100, rel=1e-6)

    def test_units_by_name(self, analyser: MeshAnalyser) -> None:
        data, name = write(box((2.0, 3.0, 4.0)), self.formats[0])
        assert analyser.analyse(data, name, "inch").bbox_mm == pytest.approx((50.8, 76.2, 101.6))
        with pytest.raises(InvalidInput):
            analyser.analyse(data, name, "furlong")

    def test_3mf_declares_its_unit(self, analyser: MeshAnalyser) -> None:
        if "3mf" not in self.formats:
            pytest.skip("this analyser does not read 3mf")
        data = threemf(box((2.0, 3.0, 4.0)), unit="inch")
        result = analyser.analyse(data, "part.3mf", Units.MM)
        assert result.bbox_mm == pytest.approx((50.8, 76.2, 101.6), rel=1e-6)

    def test_open_mesh_warns_and_its_volume_is_unreliable(
        self, analyser: MeshAnalyser, fmt: str
    ) -> None:
        vertices, faces = box((10.0, 10.0, 10.0))
        result = self.analyse(analyser, (vertices, faces[:-1]), fmt)
        assert result.watertight is False
        assert WarningCode.NOT_WATERTIGHT in _codes(result)
        assert not result.volume_reliable

    def test_inconsistent_winding_warns(self, analyser: MeshAnalyser, fmt: str) -> None:
        vertices, faces = box((10.0, 10.0, 10.0))
        faces = faces.copy()
        faces[0] = faces[0, ::-1]
        result = self.analyse(analyser, (vertices, faces), fmt)
        assert result.winding_consistent is False
        assert WarningCode.INCONSISTENT_WINDING in _codes(result)
        assert not result.volume_reliable

    def test_tiny_part_warns_about_its_unit(self, analyser: MeshAnalyser, fmt: str) -> None:
        result = self.analyse(analyser, box((0.05, 0.03, 0.02)), fmt)
        assert WarningCode.TINY_PART in _codes(result)

    @pytest.mark.parametrize(
        ("data", "name"),
        [
            (b"", "empty.stl"),
            (b"\x00" * 10, "short.stl"),
            (b"solid nothing\nendsolid nothing\n", "none.stl"),
            (bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8)), "noise.stl"),
            (bytes(np.random.default_rng(2).integers(0, 256, 5000, dtype=np.uint8)), "noise.3mf"),
            (b"v 1 2 3\nv nothing\n", "words.obj"),
            (b"PK\x03\x04 not a zip at all", "fake.3mf"),
            (b"a model", "model.dwg"),
            (b"a model", "model"),
        ],
    )
    def test_refuses_what_is_not_a_model(
        self, analyser: MeshAnalyser, data: bytes, name: str
    ) -> None:
        with pytest.raises(ModelRejected) as caught:
            analyser.analyse(data, name)
        assert caught.value.filename == name
        assert caught.value.reason.strip()

    @pytest.mark.parametrize("keep", [0.3, 0.7, 0.99])
    def test_refuses_a_truncated_file(self, analyser: MeshAnalyser, fmt: str, keep: float) -> None:
        data, name = write(torus(), fmt)
        with pytest.raises(ModelRejected) as caught:
            analyser.analyse(data[: int(len(data) * keep)], name)
        assert caught.value.reason.strip()

    def test_rejection_names_no_internal_error(self, analyser: MeshAnalyser, fmt: str) -> None:
        data, name = write(torus(), fmt)
        with pytest.raises(ModelRejected) as caught:
            analyser.analyse(data[: len(data) // 2], name)
        assert "Error" not in caught.value.reason
        assert "Traceback" not in caught.value.reason
