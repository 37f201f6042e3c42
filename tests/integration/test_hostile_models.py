"""Hostile and broken uploads: always a ModelRejected that names the problem."""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
import numpy.typing as npt
import pytest
import trimesh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabcore.adapters.mesh import Limits, MeshFileAnalyser
from fabcore.domain.errors import ModelRejected

ANALYSER = MeshFileAnalyser()
MODEL_PART = "3D/3dmodel.model"
MODEL_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<model unit="millimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
    '<resources><object id="1" type="model"><mesh><vertices>'
    '<vertex x="0" y="0" z="0"/><vertex x="10" y="0" z="0"/>'
    '<vertex x="0" y="10" z="0"/><vertex x="0" y="0" z="10"/>'
    "</vertices><triangles>"
    '<triangle v1="0" v2="2" v3="1"/><triangle v1="0" v2="1" v3="3"/>'
    '<triangle v1="0" v2="3" v3="2"/><triangle v1="1" v2="2" v3="3"/>'
    "</triangles></mesh></object></resources>"
    '<build><item objectid="1"/></build></model>'
)


def stl_bytes(triangles: npt.ArrayLike, count: int | None = None, header: bytes = b"") -> bytes:
    tris = np.asarray(triangles, dtype=np.float32).reshape(-1, 3, 3)
    records = np.zeros(
        len(tris), dtype=[("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attr", "<u2")]
    )
    records["vertices"] = tris
    announced = len(tris) if count is None else count
    return header.ljust(80, b"\0") + struct.pack("<I", announced) + records.tobytes()


CUBE = trimesh.creation.box((10.0, 10.0, 10.0)).triangles
CUBE_STL = stl_bytes(CUBE)


def threemf(parts: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def rejected(data: bytes, filename: str, analyser: MeshFileAnalyser = ANALYSER) -> ModelRejected:
    with pytest.raises(ModelRejected) as caught:
        analyser.analyse(data, filename)
    assert caught.value.filename == filename
    return caught.value


def test_sanity_the_cube_itself_is_fine() -> None:
    assert ANALYSER.analyse(CUBE_STL, "cube.stl").volume_cm3 == pytest.approx(1.0)
    assert ANALYSER.analyse(threemf({MODEL_PART: MODEL_XML}), "t.3mf").volume_cm3 == (
        pytest.approx(1000 / 6 / 1000)
    )


def test_empty_file() -> None:
    assert "empty" in rejected(b"", "nothing.stl").reason


def test_upload_over_the_size_cap() -> None:
    small = MeshFileAnalyser(limits=Limits(max_upload_bytes=len(CUBE_STL) - 1))
    error = rejected(CUBE_STL, "big.stl", small)
    assert "more than" in error.reason
    assert "allowed" in error.reason


def test_unknown_extension_lists_supported_formats() -> None:
    error = rejected(CUBE_STL, "model.dwg")
    assert "'.dwg'" in error.reason
    for name in ("STL", "OBJ", "3MF", "PLY", "OFF", "GLB", "STEP"):
        assert name in error.reason


def test_truncated_binary_stl() -> None:
    error = rejected(CUBE_STL[:-20], "cut.stl")
    assert "announces 12 triangles" in error.reason
    assert "truncated" in error.reason


def test_header_claims_too_many_triangles() -> None:
    error = rejected(stl_bytes(CUBE, count=4_000_000_000), "liar.stl")
    assert "announces 4000000000 triangles" in error.reason


def test_header_claims_too_few_triangles() -> None:
    error = rejected(stl_bytes(CUBE, count=11), "liar.stl")
    assert "announces 11 triangles" in error.reason
    assert "extra data" in error.reason


def test_too_short_for_a_binary_header() -> None:
    assert "too short" in rejected(b"\x00\x01\x02 not a model", "tiny.stl").reason


def test_solid_header_with_a_lying_count() -> None:
    data = stl_bytes(CUBE, count=99, header=b"solid but binary")
    assert "announces 99 triangles" in rejected(data, "solid.stl").reason


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinite_coordinates(bad: float) -> None:
    tris = CUBE.copy()
    tris[3, 1, 2] = bad
    assert "NaN or infinity" in rejected(stl_bytes(tris), "nan.stl").reason


def test_nan_in_ascii_stl() -> None:
    text = "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex nan 1 0\n"
    text += "endloop\nendfacet\nendsolid x\n"
    assert "NaN" in rejected(text.encode(), "nan.stl").reason


def test_non_utf8_ascii_stl() -> None:
    text = b"solid caf\xe9\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\n"
    text += b"vertex 0 1 0\nendloop\nendfacet\nendsolid\n"
    error = rejected(text, "latin1.stl")
    assert "UTF-8" in error.reason
    assert "byte 9 " in error.reason


def test_malformed_ascii_stl() -> None:
    text = b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\n"
    text += b"endfacet\nendsolid x\n"
    assert "malformed" in rejected(text, "short.stl").reason


def test_ascii_stl_facets_of_two_and_four_vertices() -> None:
    # Six vertices for two facets, but not three in each.
    facet = "facet normal 0 0 1\nouter loop\n{}endloop\nendfacet\n"
    two = "vertex 0 0 0\nvertex 1 0 0\n"
    four = two + "vertex 0 1 0\nvertex 1 1 0\n"
    text = "solid x\n" + facet.format(two) + facet.format(four) + "endsolid x\n"
    assert "malformed" in rejected(text.encode(), "uneven.stl").reason


def test_ascii_stl_solid_named_after_keywords() -> None:
    corners = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
    faces = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    text = "solid facet vertex 1 2 3 endfacet\n"
    for face in faces:
        text += "facet normal 0 0 0\nouter loop\n"
        text += "".join("vertex {} {} {}\n".format(*corners[k]) for k in face)
        text += "endloop\nendfacet\n"
    text += "endsolid facet vertex 1 2 3 endfacet\n"
    result = ANALYSER.analyse(text.encode(), "named.stl")
    assert result.triangles == 4
    assert result.watertight


def test_ascii_stl_with_a_word_for_a_number() -> None:
    text = b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\n"
    text += b"vertex one 1 0\nendloop\nendfacet\nendsolid x\n"
    assert "not a number" in rejected(text, "word.stl").reason


def test_all_triangles_have_zero_area() -> None:
    line = np.array([[[0, 0, 0], [1, 1, 1], [2, 2, 2]]] * 6, dtype=np.float32)
    assert "zero area" in rejected(stl_bytes(line), "line.stl").reason


def test_coordinates_far_too_large() -> None:
    tris = CUBE * 1e30
    assert "larger than anything" in rejected(stl_bytes(tris), "huge.stl").reason


def test_3mf_that_is_not_a_zip() -> None:
    assert "ZIP" in rejected(b"PK\x03\x04 but not really a zip" * 10, "fake.3mf").reason


def test_3mf_without_a_model_part() -> None:
    data = threemf({"readme.txt": "hello"})
    assert "3D/3dmodel.model" in rejected(data, "empty.3mf").reason


def test_zip_bomb_by_declared_size() -> None:
    data = threemf({MODEL_PART: MODEL_XML, "padding.bin": b"\0" * (8 * 1024 * 1024)})
    assert len(data) < 100_000
    analyser = MeshFileAnalyser(limits=Limits(max_decompressed_bytes=1024 * 1024))
    error = rejected(data, "bomb.3mf", analyser)
    assert "unpacks to 8.0 MiB" in error.reason
    assert "1.0 MiB allowed" in error.reason


def _claim_size(data: bytearray, member: str, size: int) -> None:
    """Make ``member`` claim ``size`` bytes, in its local header and the central directory."""
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_length] == member.encode():
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)


def test_zip_bomb_lying_about_its_size() -> None:
    padded = MODEL_XML + " " * (8 * 1024 * 1024)
    data = bytearray(threemf({MODEL_PART: padded}))
    _claim_size(data, MODEL_PART, 1000)
    analyser = MeshFileAnalyser(limits=Limits(max_decompressed_bytes=1024 * 1024))
    error = rejected(bytes(data), "liar.3mf", analyser)
    assert MODEL_PART in error.reason
    assert "damaged" in error.reason


def test_members_the_model_does_not_use_are_not_inflated() -> None:
    # A lying, oversized member that no part of the model refers to is never read.
    data = bytearray(threemf({MODEL_PART: MODEL_XML, "padding.bin": b"\0" * (8 * 1024 * 1024)}))
    _claim_size(data, "padding.bin", 1000)
    analyser = MeshFileAnalyser(limits=Limits(max_decompressed_bytes=1024 * 1024))
    assert analyser.analyse(bytes(data), "liar.3mf").volume_cm3 == pytest.approx(1000 / 6 / 1000)


def test_billion_laughs_in_3mf() -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    xml = MODEL_XML.replace(
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE model [{entities}]>\n',
    ).replace("<resources>", '<metadata name="Title">&lol9;</metadata><resources>')
    error = rejected(threemf({MODEL_PART: xml}), "laughs.3mf")
    assert "DOCTYPE" in error.reason


def test_external_entity_in_3mf() -> None:
    xml = MODEL_XML.replace(
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE model [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n',
    ).replace("<resources>", '<metadata name="Title">&secret;</metadata><resources>')
    error = rejected(threemf({MODEL_PART: xml}), "xxe.3mf")
    assert "DOCTYPE" in error.reason


def test_doctype_in_a_relationship_part() -> None:
    rels = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><Relationships/>'
    data = threemf({"_rels/.rels": rels, MODEL_PART: MODEL_XML})
    assert "_rels/.rels" in rejected(data, "rels.3mf").reason


def test_3mf_with_broken_xml() -> None:
    data = threemf({MODEL_PART: "<model unit="})
    assert "not well-formed XML" in rejected(data, "broken.3mf").reason


def test_3mf_with_xml_broken_further_down() -> None:
    data = threemf({MODEL_PART: MODEL_XML.replace("</resources>", "</resourcez>")})
    reason = rejected(data, "broken.3mf").reason
    assert "not well-formed XML" in reason
    assert "Error" not in reason


def test_ply_header_that_lies() -> None:
    header = (
        b"ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\n"
        b"property float x\nproperty float y\nproperty float z\n"
        b"element face 1\nproperty list uchar int vertex_indices\nend_header\n"
    )
    error = rejected(header + b"\0" * 64, "liar.ply")
    assert "announces 4000000000 vertex elements" in error.reason


def test_off_header_that_lies() -> None:
    data = b"OFF\n900000000 900000000 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"
    assert "announces more vertices" in rejected(data, "liar.off").reason


@pytest.mark.parametrize("index", [b"99", b"-2"])
def test_faces_using_vertices_that_do_not_exist(index: bytes) -> None:
    data = (
        b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
        b"property float z\nelement face 1\nproperty list uchar int vertex_indices\n"
        b"end_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 " + index + b"\n"
    )
    assert "missing vertices" in rejected(data, "dangling.ply").reason


def test_garbage_obj() -> None:
    error = rejected(b"v 1 2\nf 1 2 3 4 5\nvt what\n", "junk.obj")
    assert "OBJ" in error.reason


def test_garbage_glb() -> None:
    error = rejected(b"glTF\x02\x00\x00\x00" + b"\xff" * 64, "junk.glb")
    assert "GLB" in error.reason


def test_driver_errors_are_chained() -> None:
    error = rejected(b"glTF\x02\x00\x00\x00" + b"\xff" * 64, "junk.glb")
    assert error.__cause__ is not None


# --- anything at all ---------------------------------------------------------------


def _analyse_or_reject(data: bytes, filename: str) -> None:
    try:
        result = ANALYSER.analyse(data, filename)
    except ModelRejected as exc:
        if not exc.reason.strip():
            raise AssertionError("rejected without a reason") from exc
        return
    assert result.triangles > 0
    assert result.volume_cm3 >= 0.0
    assert np.isfinite([result.volume_cm3, result.area_cm2, *result.bbox_mm]).all()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    data=st.binary(max_size=2048),
    extension=st.sampled_from(["stl", "obj", "3mf", "ply", "off", "glb"]),
)
def test_random_bytes(data: bytes, extension: str) -> None:
    _analyse_or_reject(data, f"random.{extension}")


@FUZZ
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(CUBE_STL) - 1), st.integers(0, 255)), min_size=1, max_size=12
    ),
    cut=st.integers(0, 64),
)
def test_mutated_binary_stl(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(CUBE_STL)
    for position, value in flips:
        data[position] = value
    _analyse_or_reject(bytes(data[: len(data) - cut]), "mutated.stl")


@FUZZ
@given(
    text=st.text(
        alphabet=st.sampled_from(list("solid facet normal outer loop vertex endfacet 0123-.e\n")),
        max_size=600,
    )
)
def test_ascii_stl_like_text(text: str) -> None:
    _analyse_or_reject(("solid " + text).encode(), "text.stl")
