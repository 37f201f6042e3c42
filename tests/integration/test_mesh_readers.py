"""Our readers against trimesh's: the same triangles, the same volume, in every format."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import trimesh

from fabcore.adapters.mesh import Limits, MeshFileAnalyser
from fabcore.adapters.mesh.readers import read_model, step
from fabcore.domain.analysis import Units
from fabcore.domain.errors import ModelRejected
from fabcore.testing.mesh import box, join, torus, write

DATA = Path(__file__).resolve().parent.parent / "data"
LIMITS = Limits()
ANALYSER = MeshFileAnalyser()
Triangles = npt.NDArray[np.float64]


def ours(data: bytes, name: str) -> Triangles:
    """Triangles (n, 3, 3) as our reader gives them, in the file's units."""
    mesh = read_model(data, name.rsplit(".", 1)[1].lower(), Units.MM, LIMITS)
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    return vertices if mesh.faces is None else vertices[np.asarray(mesh.faces)]


def theirs(data: bytes, name: str) -> Triangles:
    scene = trimesh.load_scene(
        io.BytesIO(data), file_type=name.rsplit(".", 1)[1].lower(), process=False
    )
    parts = [g.triangles for g in scene.dump() if isinstance(g, trimesh.Trimesh)]
    return np.concatenate(parts).astype(np.float64)


def canonical(triangles: Triangles) -> Triangles:
    """Each triangle rotated to start at its smallest corner (winding kept), rows sorted."""
    corners = triangles.reshape(-1, 3, 3)
    first = np.array([min(range(3), key=lambda k: tuple(t[k])) for t in corners])
    rotated = np.stack([np.roll(t, -k, axis=0) for t, k in zip(corners, first, strict=True)])
    flat = rotated.reshape(len(rotated), 9)
    return flat[np.lexsort(flat.T[::-1])]


def exported(mesh: trimesh.Trimesh, file_type: str, **options: Any) -> bytes:
    out = mesh.export(file_type=file_type, **options)
    return out.encode() if isinstance(out, str) else bytes(out)


SOURCES = {
    "cube": lambda: trimesh.load_mesh(DATA / "20mm-xyz-cube.stl", process=False),
    "teapot": lambda: trimesh.load_mesh(DATA / "teapot.stl", process=False),
    "featuretype": lambda: trimesh.load_mesh(DATA / "featuretype.STL", process=False),
    "torus": lambda: trimesh.Trimesh(*torus(), process=False),
}
EXPORTS = {
    "stl": ("stl", {}),
    "stl-ascii": ("stl_ascii", {}),
    "obj": ("obj", {}),
    "ply": ("ply", {"encoding": "binary"}),
    "ply-ascii": ("ply", {"encoding": "ascii"}),
    "glb": ("glb", {}),
    "3mf": ("3mf", {}),
    "off": ("off", {}),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("fmt", sorted(EXPORTS))
def test_same_triangles_as_trimesh(source: str, fmt: str) -> None:
    mesh = SOURCES[source]()
    file_type, options = EXPORTS[fmt]
    extension = {"stl_ascii": "stl"}.get(file_type, file_type)
    data = exported(mesh, file_type, **options)
    name = f"{source}.{extension}"
    mine = ours(data, name)
    assert mine.shape == theirs(data, name).shape
    assert np.array_equal(canonical(mine), canonical(theirs(data, name)))


@pytest.mark.parametrize(
    "name",
    [
        "20mm-xyz-cube.stl",
        "1002_tray_bottom.STL",
        "featuretype.STL",
        "featuretype.3MF",
        "pyramids.3mf",
        "box.obj",
        "busted.STL",
        "unit_sphere.STL",
        "teapot.stl",
    ],
)
def test_corpus_files_read_as_trimesh_reads_them(name: str) -> None:
    data = (DATA / name).read_bytes()
    assert np.array_equal(canonical(ours(data, name)), canonical(theirs(data, name)))


@pytest.mark.skipif(not step.available(), reason="the STEP extra is not installed")
def test_step_converted_in_the_sandbox_gives_trimeshs_triangles() -> None:
    data = (DATA / "featuretype.STEP").read_bytes()
    assert np.array_equal(canonical(ours(data, "f.step")), canonical(theirs(data, "f.step")))


@pytest.mark.parametrize("source", ["cube", "featuretype", "torus"])
@pytest.mark.parametrize("fmt", sorted(EXPORTS))
def test_volume_matches_trimesh(source: str, fmt: str) -> None:
    mesh = SOURCES[source]()
    file_type, options = EXPORTS[fmt]
    extension = {"stl_ascii": "stl"}.get(file_type, file_type)
    data = exported(mesh, file_type, **options)
    reference = trimesh.Trimesh(theirs(data, f"x.{extension}").reshape(-1, 3),
                                np.arange(3 * len(mesh.faces)).reshape(-1, 3))
    result = ANALYSER.analyse(data, f"{source}.{extension}")
    assert result.volume_cm3 * 1000 == pytest.approx(reference.volume, rel=1e-12)


# --- OBJ ------------------------------------------------------------------------------


def test_obj_forms_of_corners_negative_indices_polygons_and_comments() -> None:
    text = b"""# a cube made of quads, written every way OBJ allows
mtllib cube.mtl
v 0 0 0
v 10 0 0 # a trailing comment
v 10 10 0
v 0 10 0
v 0 0 10 1.0
v 10 0 10 0.5 0.5 0.5
v 10 10 10
v 0 10 10
vt 0 0
vn 0 0 1
g bottom
f 1/1/1 4/1/1 3/1/1 2/1/1
f -4//1 -3//1 -2//1 -1//1
f 1/1 2/1 6/1 5/1
f 2 3 \\
 7 6
usemtl other
f 3 4 8 7
f 4 1 5 8
l 1 2
"""
    result = ANALYSER.analyse(text, "cube.obj")
    assert (result.triangles, result.bodies, result.watertight) == (12, 1, True)
    assert result.winding_consistent
    assert result.volume_cm3 == pytest.approx(1.0)


def test_obj_pentagon_is_fanned() -> None:
    text = b"v 0 0 0\nv 2 0 0\nv 3 1 0\nv 1 3 0\nv -1 1 0\nf 1 2 3 4 5\n"
    mine = ours(text, "p.obj")
    assert len(mine) == 3
    assert np.array_equal(mine[:, 0], np.zeros((3, 3)))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"v 0 0 0\nv 1 0 0\nf 1 2 3\n", "missing vertices"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 -4\n", "missing vertices"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 0\n", "missing vertices"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2\n", "fewer than three corners"),
        (b"v 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "fewer than three coordinates"),
        (b"v 0 0 zero\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "not a number ('zero' on line 1)"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 two 3\n", "not a vertex number"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", "no faces"),
    ],
)
def test_obj_mistakes(text: bytes, words: str) -> None:
    with pytest.raises(ModelRejected, match="OBJ") as caught:
        ANALYSER.analyse(text, "bad.obj")
    assert words in caught.value.reason


# --- PLY --------------------------------------------------------------------------------


def ply_file(order: str, vertex_type: str, list_types: str, extra: str = "") -> bytes:
    vertices, faces = box((10.0, 20.0, 30.0))
    header = (
        f"ply\nformat {order} 1.0\ncomment made by a test\nelement vertex {len(vertices)}\n"
        f"property {vertex_type} x\nproperty {vertex_type} y\nproperty {vertex_type} z\n"
        f"{extra}element face {len(faces)}\nproperty list {list_types} vertex_indices\n"
        "end_header\n"
    )
    if order == "ascii":
        body = "".join(f"{x} {y} {z}" + (" 7" if extra else "") + "\n" for x, y, z in vertices)
        body += "".join(f"3 {a} {b} {c}\n" for a, b, c in faces)
        return (header + body).encode()
    endian = "<" if order == "binary_little_endian" else ">"
    kinds = {"float": "f4", "double": "f8", "uchar": "u1", "int": "i4", "uint": "u4",
             "ushort": "u2"}  # fmt: skip
    vertex_fields = [(c, endian + kinds[vertex_type]) for c in "xyz"]
    if extra:
        vertex_fields.append(("quality", endian + "u2"))
    records = np.zeros(len(vertices), dtype=vertex_fields)
    for k, c in enumerate("xyz"):
        records[c] = vertices[:, k]
    count_type, index_type = list_types.split()
    face_records = np.zeros(
        len(faces), dtype=[("n", endian + kinds[count_type]), ("i", endian + kinds[index_type], 3)]
    )
    face_records["n"] = 3
    face_records["i"] = faces
    return header.encode() + records.tobytes() + face_records.tobytes()


@pytest.mark.parametrize("order", ["binary_little_endian", "binary_big_endian", "ascii"])
@pytest.mark.parametrize("vertex_type", ["float", "double"])
@pytest.mark.parametrize("list_types", ["uchar int", "uchar uint", "int int", "ushort uint"])
def test_ply_variants(order: str, vertex_type: str, list_types: str) -> None:
    data = ply_file(order, vertex_type, list_types, extra="property ushort quality\n")
    result = ANALYSER.analyse(data, "box.ply")
    assert (result.triangles, result.watertight) == (12, True)
    assert result.volume_cm3 == pytest.approx(6.0)
    assert np.array_equal(canonical(ours(data, "box.ply")), canonical(theirs(data, "box.ply")))


def test_ply_with_triangles_and_quads_mixed() -> None:
    text = (
        b"ply\nformat ascii 1.0\nelement vertex 5\nproperty float x\nproperty float y\n"
        b"property float z\nelement face 2\nproperty list uchar int vertex_indices\nend_header\n"
        b"0 0 0\n1 0 0\n1 1 0\n0 1 0\n2 0 0\n4 0 1 2 3\n3 1 4 2\n"
    )
    assert ANALYSER.analyse(text, "mixed.ply").triangles == 3


# --- OFF --------------------------------------------------------------------------


def test_off_with_comments_colours_polygons_and_counts_beside_its_keyword() -> None:
    text = b"""COFF 8 6 12 # a cube of quads, with vertex colours
0 0 0 255 0 0 255
10 0 0 255 0 0 255
10 10 0 255 0 0 255
0 10 0 255 0 0 255
# the top
0 0 10 0 255 0 255
10 0 10 0 255 0 255
10 10 10 0 255 0 255
0 10 10 0 255 0 255
4 0 3 2 1
4 4 5 6 7 0.5 0.5 0.5
4 0 1 5 4
4 1 2 6 5
4 2 3 7 6
4 3 0 4 7
"""
    result = ANALYSER.analyse(text, "cube.off")
    assert (result.triangles, result.watertight, result.winding_consistent) == (12, True, True)
    assert result.volume_cm3 == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 5\n", "missing vertices"),
        (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n4 0 1 2\n", "corners do not match"),
        (b"OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "truncated"),
        (b"OFF\n3 1 0\n0 0 0\n1 0\n0 1 0\n3 0 1 2\n", "fewer than three"),
        (b"OFF\nthree 1 0\n", "counts"),
    ],
)
def test_off_mistakes(text: bytes, words: str) -> None:
    with pytest.raises(ModelRejected, match="OFF") as caught:
        ANALYSER.analyse(text, "bad.off")
    assert words in caught.value.reason


# --- 3MF --------------------------------------------------------------------------------

CORE = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
PRODUCTION = "http://schemas.microsoft.com/3dmanufacturing/production/2015/06"


def zipped(parts: dict[str, str]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def vertices_xml(v: npt.NDArray[np.float64], form: str) -> str:
    if form == "reordered":
        return "".join(f'<vertex z="{z}" x="{x}" y="{y}"/>' for x, y, z in v.tolist())
    if form == "closed":
        return "".join(f'<vertex x="{x}" y="{y}" z="{z}"></vertex>\n' for x, y, z in v.tolist())
    if form == "quoted":
        return "".join(f"<vertex x='{x}' y='{y}' z='{z}'/>" for x, y, z in v.tolist())
    if form == "entities":
        return "".join(f'<vertex x="{x}" y="&#32;{y}" z="{z}"/>' for x, y, z in v.tolist())
    if form == "commented":
        return "<!-- vertices -->" + "".join(
            f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in v.tolist()
        )
    return "".join(f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in v.tolist())


def triangles_xml(f: npt.NDArray[np.int64], form: str) -> str:
    if form == "properties":
        return "".join(
            f'<triangle v1="{a}" v2="{b}" v3="{c}" pid="1" p1="0"/>' for a, b, c in f.tolist()
        )
    if form == "reordered":
        return "".join(f'<triangle v3="{c}" v1="{a}" v2="{b}"/>' for a, b, c in f.tolist())
    return "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in f.tolist())


@pytest.mark.parametrize(
    ("vertex_form", "triangle_form"),
    [
        ("plain", "plain"),
        ("reordered", "reordered"),
        ("closed", "properties"),
        ("quoted", "plain"),
        ("entities", "plain"),
        ("commented", "plain"),
    ],
)
def test_3mf_forms_read_the_same(vertex_form: str, triangle_form: str) -> None:
    v, f = torus(sections=(12, 8))
    model = (
        f'<?xml version="1.0"?><model unit="centimeter" xmlns="{CORE}"><resources>'
        f'<object id="3" type="model"><mesh><vertices>{vertices_xml(v, vertex_form)}</vertices>'
        f"<triangles>{triangles_xml(f, triangle_form)}</triangles></mesh></object>"
        f'</resources><build><item objectid="3"/></build></model>'
    )
    data = zipped({"3D/3dmodel.model": model})
    mine = ours(data, "t.3mf")
    assert np.array_equal(canonical(mine), canonical(v[f]))
    assert ANALYSER.analyse(data, "t.3mf").bbox_mm == pytest.approx(
        tuple(10 * (v.max(axis=0) - v.min(axis=0)))
    )


def test_3mf_components_build_transforms_and_parts_in_other_files() -> None:
    cube_v, cube_f = box((10.0, 10.0, 10.0))
    mesh = (
        f"<vertices>{vertices_xml(cube_v, 'plain')}</vertices>"
        f"<triangles>{triangles_xml(cube_f, 'plain')}</triangles>"
    )
    part = (
        f'<?xml version="1.0"?><model unit="millimeter" xmlns="{CORE}"><resources>'
        f'<object id="7" type="model"><mesh>{mesh}</mesh></object></resources><build/></model>'
    )
    root = (
        f'<?xml version="1.0"?><model unit="millimeter" xmlns="{CORE}" xmlns:p="{PRODUCTION}">'
        "<resources>"
        f'<object id="1" type="model"><mesh>{mesh}</mesh></object>'
        '<object id="2" type="model"><components>'
        '<component objectid="1"/>'
        '<component objectid="1" transform="2 0 0 0 1 0 0 0 1 20 0 0"/>'
        '<component objectid="7" p:path="/3D/Objects/part.model" '
        'transform="1 0 0 0 1 0 0 0 1 0 40 0"/>'
        "</components></object></resources>"
        '<build><item objectid="2" transform="0 1 0 -1 0 0 0 0 1 0 0 0"/>'
        '<item objectid="1" transform="1 0 0 0 1 0 0 0 1 0 0 50"/></build></model>'
    )
    rels = (
        '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Target="/3D/3dmodel.model" Id="r" '
        'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>'
    )
    data = zipped(
        {"_rels/.rels": rels, "3D/3dmodel.model": root, "3D/Objects/part.model": part}
    )
    result = ANALYSER.analyse(data, "assembly.3mf")
    # Four cubes, one stretched to twice its width; the assembly turned 90 degrees
    # about z, and a fourth cube placed on its own 50 mm up.
    assert result.bodies == 4
    assert result.volume_cm3 == pytest.approx(5.0)
    mine = ours(data, "assembly.3mf")
    assert mine.reshape(-1, 3).min(axis=0) == pytest.approx((-50.0, 0.0, 0.0))
    assert mine.reshape(-1, 3).max(axis=0) == pytest.approx((10.0, 40.0, 60.0))


def test_3mf_split_across_read_blocks() -> None:
    # More XML than one read block, so runs and tags are cut between blocks.
    v, f = torus(sections=(400, 300))
    data, name = write((v, f), "3mf")
    assert np.array_equal(canonical(ours(data, name)), canonical(v[f]))


# --- GLB ----------------------------------------------------------------------------------


def test_glb_node_tree_with_transforms() -> None:
    scene = trimesh.Scene()
    part = trimesh.creation.box((1.0, 2.0, 3.0))
    scene.add_geometry(part, node_name="a", geom_name="box")
    c, s = np.cos(0.5), np.sin(0.5)
    moved = np.array([[c, -s, 0, 5.0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    scene.add_geometry(part, node_name="b", geom_name="box", parent_node_name="a", transform=moved)
    data = exported(scene, "glb")  # type: ignore[arg-type]
    assert np.allclose(canonical(ours(data, "s.glb")), canonical(theirs(data, "s.glb")))
    assert ANALYSER.analyse(data, "s.glb").volume_cm3 == pytest.approx(2 * 6.0 / 1000)


def test_glb_of_two_parts_matches_its_meshes() -> None:
    mesh = join(box((10.0, 10.0, 10.0)), box((5.0, 5.0, 5.0), at=(20.0, 0.0, 0.0)))
    data, name = write(mesh, "glb")
    result = ANALYSER.analyse(data, name)
    assert result.bodies == 2
    assert result.volume_cm3 == pytest.approx(1.125)
