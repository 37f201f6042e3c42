"""Properties of the analyser as a whole: scale-free, bounded on any input, bugs not hidden."""

from __future__ import annotations

import io
import json
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import trimesh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabcore.adapters.mesh import MeshFileAnalyser, topology
from fabcore.adapters.mesh.readers import instances, step, text, threemf
from fabcore.domain.analysis import ModelAnalysis, Units, WarningCode
from fabcore.domain.errors import ModelRejected
from fabcore.testing.mesh import ascii_stl, glb, obj, off, ply

DATA = Path(__file__).resolve().parent.parent / "data"
ANALYSER = MeshFileAnalyser()


def corpus_triangles(name: str) -> npt.NDArray[np.float64]:
    scene = trimesh.load_scene(DATA / name, process=False)
    parts = [g.triangles for g in scene.dump() if isinstance(g, trimesh.Trimesh)]
    return np.concatenate(parts).astype(np.float64)


def obj_soup(triangles: npt.NDArray[np.float64]) -> bytes:
    """Every corner its own vertex, written exactly (repr of each double)."""
    corners = triangles.reshape(-1, 3)
    lines = [f"v {x!r} {y!r} {z!r}" for x, y, z in corners.tolist()]
    lines += [f"f {3 * i + 1} {3 * i + 2} {3 * i + 3}" for i in range(len(triangles))]
    return ("\n".join(lines) + "\n").encode()


# --- scale-free -----------------------------------------------------------------------

SCALED = [
    "20mm-xyz-cube.stl",
    "1002_tray_bottom.STL",
    "featuretype.STL",
    "featuretype.3MF",
    "busted.STL",
    "multibody.stl",
    "soup.stl",
    "teapot.stl",
    "unit_sphere.STL",
    "pyramids.3mf",
    "box.obj",
]


def topology_of(result: ModelAnalysis) -> tuple[int, bool, bool, int]:
    return result.triangles, result.watertight, result.winding_consistent, result.bodies


@pytest.mark.parametrize("name", SCALED)
def test_corpus_scaled_by_a_thousand_either_way_measures_the_same(name: str) -> None:
    triangles = corpus_triangles(name)
    base = ANALYSER.analyse(obj_soup(triangles), "part.obj")
    for scale in (1e-3, 1e3):
        scaled = ANALYSER.analyse(obj_soup(triangles * scale), "part.obj")
        assert topology_of(scaled) == topology_of(base)
        assert scaled.volume_cm3 == pytest.approx(base.volume_cm3 * scale**3, rel=1e-9)
        assert scaled.area_cm2 == pytest.approx(base.area_cm2 * scale**2, rel=1e-9)
        assert scaled.bbox_mm == pytest.approx(tuple(b * scale for b in base.bbox_mm), rel=1e-9)
        assert judged(scaled) == judged(base)


def judged(result: ModelAnalysis) -> set[WarningCode]:
    """The findings that do not depend on size (tiny, huge and thin do)."""
    sized = {WarningCode.TINY_PART, WarningCode.HUGE_PART, WarningCode.THIN_PART}
    return {w.code for w in result.warnings} - sized


@pytest.mark.parametrize("name", ["featuretype.STL", "teapot.stl", "pyramids.3mf"])
def test_a_model_in_meters_read_in_meters_is_the_model_in_mm(name: str) -> None:
    triangles = corpus_triangles(name)
    mm = ANALYSER.analyse(obj_soup(triangles), "part.obj", Units.MM)
    meters = ANALYSER.analyse(obj_soup(triangles / 1000.0), "part.obj", Units.M)
    assert topology_of(meters) == topology_of(mm)
    assert meters.volume_cm3 == pytest.approx(mm.volume_cm3, rel=1e-9)
    assert meters.bbox_mm == pytest.approx(mm.bbox_mm, rel=1e-9)


def test_a_small_part_in_meters_keeps_its_features() -> None:
    # A 50 mm part with 0.5 mm features, written in meters and read as mm: 0.05 units
    # across. Merging must not collapse its features (it did on an absolute 1 um grid).
    part = trimesh.creation.cylinder(radius=25.0, height=10.0, sections=400)
    assert part.edges_unique_length.min() < 0.5
    result = ANALYSER.analyse(obj_soup(part.triangles / 1000.0), "part.obj")
    assert (result.watertight, result.winding_consistent, result.bodies) == (True, True, 1)
    assert result.volume_cm3 * 1e12 == pytest.approx(part.volume, rel=1e-9)
    tiny = next(w for w in result.warnings if w.code.value == "tiny_part")
    assert "if the file is in meters, it is 50 mm" in tiny.message


# --- bugs surface as bugs ----------------------------------------------------------------


def broken(*args: object, **kwargs: object) -> None:
    raise IndexError("a bug in fabcore")


@pytest.mark.parametrize(
    ("module", "function", "name"),
    [
        (topology, "_sorted_edges", "20mm-xyz-cube.stl"),
        (text, "parse_decimals", "box.obj"),
        (threemf, "_tag_kinds", "pyramids.3mf"),
        (instances, "place", "featuretype.3MF"),
    ],
)
def test_a_bug_is_not_reported_as_a_rejected_model(
    monkeypatch: pytest.MonkeyPatch, module: object, function: str, name: str
) -> None:
    monkeypatch.setattr(module, function, broken)
    with pytest.raises(IndexError, match="a bug in fabcore"):
        ANALYSER.analyse((DATA / name).read_bytes(), name)


# --- anything at all: mutated corpus files --------------------------------------------------

CUBE = corpus_triangles("20mm-xyz-cube.stl")
CUBE_MESH = (CUBE.reshape(-1, 3), np.arange(3 * len(CUBE)).reshape(-1, 3))
MUTABLE = {
    "20mm-xyz-cube.stl": (DATA / "20mm-xyz-cube.stl").read_bytes(),
    "multibody.stl": (DATA / "multibody.stl").read_bytes(),
    "featuretype.3MF": (DATA / "featuretype.3MF").read_bytes(),
    "pyramids.3mf": (DATA / "pyramids.3mf").read_bytes(),
    "box.obj": (DATA / "box.obj").read_bytes(),
    "cube-ascii.stl": ascii_stl(CUBE_MESH),
    "cube.ply": ply(CUBE_MESH),
    "cube-ascii.ply": ply(CUBE_MESH, binary=False),
    "cube.glb": glb(CUBE_MESH),
}
TIME_BOUND_S = 30.0
MEMORY_BOUND = 256 * 1024 * 1024


@st.composite
def mutated(draw: st.DrawFn, names: tuple[str, ...]) -> tuple[bytes, str]:
    name = draw(st.sampled_from(names))
    data = bytearray(MUTABLE.get(name) or (DATA / name).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "byte", "delete", "duplicate", "insert", "cut"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        size = draw(st.integers(1, 64))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[at : at + size]
        elif kind == "duplicate":
            data[at:at] = data[at : at + size]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=size))
        else:
            del data[at:]
    return bytes(data), name


def analysed_or_rejected(data: bytes, name: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    refusal: ModelRejected | None = None
    try:
        result = ANALYSER.analyse(data, name)
    except ModelRejected as exc:
        refusal = exc
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert elapsed < TIME_BOUND_S
        assert peak < MEMORY_BOUND
    if refusal is not None:
        assert refusal.reason.strip()
        assert refusal.filename == name
        return
    assert result.triangles > 0
    assert result.bodies >= 1
    figures = [result.volume_cm3, result.area_cm2, result.convex_hull_volume_cm3, *result.bbox_mm]
    assert np.isfinite(figures).all()
    assert min(figures) >= 0.0
    assert result.overhang_area_cm2 <= result.area_cm2 * (1 + 1e-9)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(mutated(tuple(MUTABLE)))
def test_mutated_corpus_files_are_analysed_or_refused(case: tuple[bytes, str]) -> None:
    analysed_or_rejected(*case)


def rezipped(name: str, model: bytes) -> bytes:
    """The 3MF package ``name`` with its model part replaced by ``model``."""
    source = zipfile.ZipFile(io.BytesIO(MUTABLE[name]))
    buffer = io.BytesIO()
    with source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info.filename, model if info.filename.endswith(".model") else content)
    return buffer.getvalue()


MODELS = {
    name: next(
        zipfile.ZipFile(io.BytesIO(MUTABLE[name])).read(i)
        for i in zipfile.ZipFile(io.BytesIO(MUTABLE[name])).namelist()
        if i.endswith(".model")
    )
    for name in ("featuretype.3MF", "pyramids.3mf")
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(MODELS)), st.data())
def test_3mf_with_mutated_xml_is_analysed_or_refused(name: str, data: st.DataObject) -> None:
    xml = bytearray(MODELS[name])
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(xml) - 1))
        piece = data.draw(st.sampled_from([b"<", b">", b'"', b"'", b"/", b"&", b"<!--", b" ",
                                           b"<vertex x=\"1\"/>", b"-", b"e", b"9", b""]))
        cut = data.draw(st.integers(0, 8))
        xml[at : at + cut] = piece
    analysed_or_rejected(rezipped(name, bytes(xml)), name)


@pytest.mark.skipif(not step.available(), reason="the STEP extra is not installed")
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(("featuretype.STEP",)))
def test_mutated_step_files_are_analysed_or_refused(case: tuple[bytes, str]) -> None:
    analysed_or_rejected(*case)


def test_every_mutable_file_is_sound_before_mutation() -> None:
    for name, data in MUTABLE.items():
        assert ANALYSER.analyse(data, name).triangles > 0, name


GLB_PATHS = [
    ("accessors", 0, "count"), ("accessors", 1, "count"), ("accessors", 0, "componentType"),
    ("accessors", 1, "type"), ("accessors", 0, "byteOffset"), ("accessors", 0, "bufferView"),
    ("accessors", 1, "normalized"), ("accessors", 0, "sparse"), ("bufferViews", 0, "byteStride"),
    ("bufferViews", 1, "byteOffset"), ("bufferViews", 0, "byteLength"),
    ("bufferViews", 0, "buffer"),
    ("meshes", 0, "primitives"), ("meshes", 0, "primitives", 0, "mode"),
    ("meshes", 0, "primitives", 0, "indices"), ("meshes", 0, "primitives", 0, "attributes"),
    ("nodes", 0, "mesh"), ("nodes", 0, "children"), ("nodes", 0, "matrix"),
    ("nodes", 0, "rotation"), ("nodes", 0, "scale"), ("scenes", 0, "nodes"), ("scene",),
    ("extensionsRequired",), ("buffers", 0, "uri"), ("nodes",), ("accessors",),
]  # fmt: skip
JSON_VALUES = st.one_of(
    st.integers(-3, 10**7), st.floats(), st.text(max_size=3), st.none(), st.booleans(),
    st.lists(st.integers(-2, 5), max_size=17), st.dictionaries(st.text(max_size=2), st.integers()),
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(GLB_PATHS), JSON_VALUES), min_size=1, max_size=3))
def test_glb_with_a_mutated_description_is_analysed_or_refused(
    changes: list[tuple[tuple[str | int, ...], object]],
) -> None:
    data = MUTABLE["cube.glb"]
    size = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + size])
    for path, value in changes:
        target = document
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text + data[20 + size :]
    analysed_or_rejected(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body, "cube.glb")


TEXT_FILES = {
    "cube.obj": obj(CUBE_MESH),
    "cube.off": off(CUBE_MESH),
    "cube-ascii.ply": MUTABLE["cube-ascii.ply"],
    "cube-ascii.stl": MUTABLE["cube-ascii.stl"],
}
TEXT_PIECES = [
    b"f ", b"v ", b"/", b"//", b"-", b"#", b"\\\n", b"\n", b" ", b"0", b"99999999999",
    b"9" * 25, b"e", b".", b"3 ", b"OFF", b"vertex ", b"facet ", b"endfacet\n", b"\t", b"\r\n",
]  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(TEXT_FILES)),
    st.lists(
        st.tuples(st.integers(0, 1 << 20), st.sampled_from(TEXT_PIECES), st.integers(0, 4)),
        min_size=1,
        max_size=5,
    ),
)
def test_text_files_with_edited_words_are_analysed_or_refused(
    name: str, edits: list[tuple[int, bytes, int]]
) -> None:
    data = bytearray(TEXT_FILES[name])
    for at, piece, cut in edits:
        where = at % (len(data) + 1)
        data[where : where + cut] = piece
    analysed_or_rejected(bytes(data), name)
