"""Files crafted or mutated to hurt the analyser: each is refused with a plain reason.

Every attack is generated here; the STEP ones mutate the corpus's featuretype.STEP.
"""

from __future__ import annotations

import io
import json
import logging
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fabcore.adapters.mesh import Limits, MeshFileAnalyser
from fabcore.adapters.mesh.readers import step
from fabcore.adapters.mesh.readers import threemf as threemf_reader
from fabcore.adapters.mesh.threads import Threads
from fabcore.domain.errors import ModelRejected
from fabcore.testing.mesh import box, glb, threemf, torus, volume

DATA = Path(__file__).resolve().parent.parent / "data"
STEP = (DATA / "featuretype.STEP").read_bytes()
CORE = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
ANALYSER = MeshFileAnalyser()

needs_step = pytest.mark.skipif(not step.available(), reason="the STEP extra is not installed")


def rejected(data: bytes, name: str, analyser: MeshFileAnalyser = ANALYSER) -> str:
    with pytest.raises(ModelRejected) as caught:
        analyser.analyse(data, name)
    reason = caught.value.reason
    for internal in ("Error", "Exception", "Traceback", "/tmp", "errno"):
        assert internal not in reason
    return reason


def mesh_xml(mesh: tuple[np.ndarray, np.ndarray], object_id: int) -> str:
    v, f = mesh
    vertices = "".join(f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in v.tolist())
    triangles = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in f.tolist())
    return (
        f'<object id="{object_id}" type="model"><mesh><vertices>{vertices}</vertices>'
        f"<triangles>{triangles}</triangles></mesh></object>"
    )


def package(resources: str, build: str, extra: dict[str, bytes] | None = None) -> bytes:
    model = (
        f'<?xml version="1.0" encoding="UTF-8"?><model unit="millimeter" xmlns="{CORE}">'
        f"<resources>{resources}</resources><build>{build}</build></model>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("3D/3dmodel.model", model)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def component(object_id: int, child: int, transform: str = "") -> str:
    moved = f' transform="{transform}"' if transform else ""
    return (
        f'<object id="{object_id}" type="model"><components>'
        f'<component objectid="{child}"{moved}/></components></object>'
    )


TETRA = (
    np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]]),
    np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]),
)


# --- STEP: crashes, noise, mislabelled files ----------------------------------------


@needs_step
def test_step_with_one_wrong_character_crashes_the_converter_not_us() -> None:
    damaged = STEP.replace(
        b"#18 = VECTOR ( 'NONE', #2300, 39.37007874015748100 )",
        b"#18 = VECTOR ( 'NONE', #2300, 39.37007874p15748100 )",
    )
    assert damaged != STEP
    reason = rejected(damaged, "featuretype.STEP")
    assert "STEP file could not be converted" in reason


@needs_step
def test_step_with_an_entity_line_deleted() -> None:
    lines = STEP.split(b"\n")
    damaged = b"\n".join(line for line in lines if not line.startswith(b"#19 "))
    assert len(damaged) < len(STEP)
    assert "could not be converted" in rejected(damaged, "featuretype.STEP")


@needs_step
def test_step_whose_converter_complains_is_damaged() -> None:
    lines = STEP.split(b"\n")
    damaged = b"\n".join(line for line in lines if not line.startswith(b"#2 "))
    reason = rejected(damaged, "featuretype.STEP")
    assert "refers to entities it does not contain" in reason


@needs_step
def test_step_conversion_has_a_time_limit() -> None:
    slow = MeshFileAnalyser(limits=Limits(step_timeout_s=0.05))
    assert "takes longer than 0.05 seconds" in rejected(STEP, "featuretype.STEP", slow)


def test_3mf_renamed_stp_is_named_as_what_it_is() -> None:
    reason = rejected(threemf(box((10.0, 10.0, 10.0))), "part.stp")
    assert "ZIP package" in reason
    assert "rename it to .3mf" in reason


@needs_step
def test_text_that_is_not_step() -> None:
    assert "not a STEP file" in rejected(b"solid x\nendsolid x\n", "part.step")


@needs_step
@pytest.mark.parametrize("mutation", ["crash", "noise"])
def test_cli_output_stays_clean_on_a_damaged_step(tmp_path: Path, mutation: str) -> None:
    lines = STEP.split(b"\n")
    dropped = b"#19 " if mutation == "crash" else b"#2 "
    path = tmp_path / "damaged.step"
    path.write_bytes(b"\n".join(line for line in lines if not line.startswith(dropped)))
    result = subprocess.run(
        [sys.executable, "-m", "fabcore.entrypoints.cli", "analyse", str(path), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("fabcore: error: damaged.step: the STEP file")
    assert "ERR" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


# --- 3MF placements: chains, cycles, fan-outs -----------------------------------------


@pytest.mark.parametrize("depth", [600, 3000])
def test_3mf_component_chain_is_refused_by_its_depth(depth: int) -> None:
    objects = mesh_xml(TETRA, 1) + "".join(component(k, k - 1) for k in range(2, depth + 1))
    data = package(objects, f'<item objectid="{depth}"/>')
    assert len(data) < 60_000
    assert "more than 32 deep" in rejected(data, "chain.3mf")


def test_3mf_component_chain_within_the_limit_is_measured() -> None:
    objects = mesh_xml(TETRA, 1) + "".join(
        component(k, k - 1, "1 0 0 0 1 0 0 0 1 1 0 0") for k in range(2, 21)
    )
    result = ANALYSER.analyse(package(objects, '<item objectid="20"/>'), "chain.3mf")
    assert result.volume_cm3 == pytest.approx(volume(TETRA) / 1000)
    assert result.bbox_mm == pytest.approx((10.0, 10.0, 10.0))


def test_3mf_components_in_a_circle_are_refused() -> None:
    objects = mesh_xml(TETRA, 1) + component(2, 3) + component(3, 2)
    data = package(objects, '<item objectid="2"/>')
    assert "in a circle" in rejected(data, "cycle.3mf")


def test_3mf_build_items_multiplying_one_mesh_are_counted_before_they_are_made() -> None:
    part = torus(sections=(40, 40))
    assert len(part[1]) == 3200
    items = "".join(
        f'<item objectid="1" transform="1 0 0 0 1 0 0 0 1 {100 * k} 0 0"/>' for k in range(5000)
    )
    data = package(mesh_xml(part, 1), items)
    assert len(data) < 60_000
    reason = rejected(data, "plate.3mf")
    assert "16,000,000 triangles" in reason
    assert "5,000 placed copies" in reason
    assert "more than the 5,000,000" in reason


def test_the_triangle_limit_is_a_setting() -> None:
    part = torus(sections=(40, 40))
    items = "".join(
        f'<item objectid="1" transform="1 0 0 0 1 0 0 0 1 {100 * k} 0 0"/>' for k in range(50)
    )
    data = package(mesh_xml(part, 1), items)
    assert "more than the 100,000" in rejected(
        data, "plate.3mf", MeshFileAnalyser(limits=Limits(max_triangles=100_000))
    )
    result = ANALYSER.analyse(data, "plate.3mf")
    assert (result.triangles, result.bodies) == (160_000, 50)
    assert result.volume_cm3 == pytest.approx(50 * volume(part) / 1000, rel=1e-9)


def test_3mf_components_fanning_out_exponentially() -> None:
    objects = mesh_xml(TETRA, 1) + "".join(
        f'<object id="{k}" type="model"><components>'
        + f'<component objectid="{k - 1}"/>' * 10
        + "</components></object>"
        for k in range(2, 10)
    )
    data = package(objects, '<item objectid="9"/>')
    assert "copies" in rejected(data, "fan.3mf")


def test_3mf_member_the_model_does_not_use_is_never_inflated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 900 MiB of zeros in a member nothing refers to (4 MB at compression level 1).
    buffer = io.BytesIO(package(mesh_xml(TETRA, 1), '<item objectid="1"/>'))
    block = bytes(1 << 24)
    with (
        zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("Metadata/padding.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(900 // 16):
            member.write(block)
    opened: list[str] = []
    original = threemf_reader._Package.blocks

    def spy(self: threemf_reader._Package, info: zipfile.ZipInfo) -> Iterator[bytes]:
        opened.append(info.filename)
        return original(self, info)

    monkeypatch.setattr(threemf_reader._Package, "blocks", spy)
    result = ANALYSER.analyse(buffer.getvalue(), "padded.3mf")
    assert result.volume_cm3 == pytest.approx(volume(TETRA) / 1000)
    assert "Metadata/padding.bin" not in opened
    assert "3D/3dmodel.model" in opened


def _central_entry(data: bytes, name: bytes) -> int:
    """Where the central directory entry of member ``name`` starts."""
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + length] == name:
            return at
        at = data.find(b"PK\x01\x02", at + 1)
    raise AssertionError(f"no central directory entry for {name!r}")


def _damaged(data: bytes, how: str) -> bytes:
    out = bytearray(data)
    entry = _central_entry(data, b"3D/3dmodel.model")
    if how == "crc":
        out[entry + 16] ^= 0xFF
    elif how == "cut short":
        size = struct.unpack_from("<I", data, entry + 20)[0]
        struct.pack_into("<I", out, entry + 20, size - 40)
    else:  # another name in the member's own header than in the directory
        local = struct.unpack_from("<I", data, entry + 42)[0]
        out[local + 30 + len(b"3D/3dmodel.model") - 1] = ord("X")
    return bytes(out)


@pytest.mark.parametrize("how", ["crc", "cut short", "name"])
def test_a_3mf_part_whose_zip_entry_is_damaged_is_refused(how: str) -> None:
    data = _damaged(threemf(torus()), how)
    with pytest.raises(zipfile.BadZipFile), zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.read("3D/3dmodel.model")
    reason = rejected(data, "damaged.3mf")
    assert "damaged" in reason
    assert "3dmodel.model" in reason


def test_a_3mf_part_is_inflated_block_by_block_as_zipfile_inflates_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threemf_reader, "_BLOCK", 1000)
    monkeypatch.setattr(threemf_reader, "_COMPRESSED_BLOCK", 300)
    data = threemf(torus())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("3D/3dmodel.model")
        assert info.compress_type == zipfile.ZIP_DEFLATED
        package = threemf_reader._Package(data, archive, Limits(), Threads(1))
        blocks = list(package.blocks(info))
        expected = archive.read(info)
    assert len(blocks) > 10
    assert max(map(len, blocks)) <= 1000
    assert b"".join(blocks) == expected


def test_a_3mf_with_stored_parts_reads_as_a_deflated_one() -> None:
    deflated = threemf(torus())
    stored = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(deflated)) as source, \
            zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    assert ANALYSER.analyse(stored.getvalue(), "stored.3mf") == ANALYSER.analyse(
        deflated, "stored.3mf")


# --- GLB placements ---------------------------------------------------------------------


def glb_with_nodes(part: tuple[np.ndarray, np.ndarray], nodes: list[dict[str, object]]) -> bytes:
    data = glb(part)
    size = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + size])
    document["nodes"] = nodes
    document["scenes"] = [{"nodes": list(range(len(nodes)))}]
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    rest = data[20 + size :]
    body = struct.pack("<I4s", len(text), b"JSON") + text + rest
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def test_glb_with_20000_nodes_is_counted_before_it_is_made() -> None:
    part = torus(sections=(160, 64))
    assert len(part[1]) == 20480
    nodes: list[dict[str, object]] = [
        {"mesh": 0, "translation": [100.0 * k, 0.0, 0.0]} for k in range(20_000)
    ]
    data = glb_with_nodes(part, nodes)
    assert len(data) < 2_000_000
    reason = rejected(data, "many.glb")
    assert "409,600,000 triangles" in reason


def test_glb_nodes_in_a_circle_are_refused() -> None:
    nodes: list[dict[str, object]] = [{"mesh": 0, "children": [1]}, {"children": [0]}]
    data = glb_with_nodes(box((1.0, 1.0, 1.0)), nodes)
    assert "in a circle" in rejected(data, "cycle.glb")


# --- reading without limits ---------------------------------------------------------------


def test_endless_stream_is_refused_while_reading() -> None:
    analyser = MeshFileAnalyser(limits=Limits(max_upload_bytes=1 << 20))
    with open("/dev/zero", "rb") as stream, pytest.raises(ModelRejected) as caught:
        analyser.read(stream, "zero.stl")
    assert "more than the 1.0 MiB allowed" in caught.value.reason


def test_reading_checks_the_name_first() -> None:
    with open("/dev/zero", "rb") as stream, pytest.raises(ModelRejected) as caught:
        ANALYSER.read(stream, "zero")
    assert "without an extension" in caught.value.reason


def test_reading_a_file_within_the_limit() -> None:
    data = (DATA / "20mm-xyz-cube.stl").read_bytes()
    assert ANALYSER.read(io.BytesIO(data), "cube.stl") == data


# --- plain reasons ---------------------------------------------------------------------------


BROKEN = [
    (b"glTF\x02\x00\x00\x00" + b"\xff" * 64, "junk.glb"),
    (b"glTF\x02\x00\x00\x00\x20\x00\x00\x00\x08\x00\x00\x00JSON{\"a\":", "cut.glb"),
    (b"v 1 2 3\nv 4 5 6\nv 7 8 9\nf 1 2 x\n", "word.obj"),
    (b"v 1 2 3\nf 1 2 3 4\n", "missing.obj"),
    (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n", "x.ply"),
    (b"ply\nformat binary_little_endian 1.0\nelement vertex two\nend_header\n", "count.ply"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n", "cut.off"),
    (b"PK\x03\x04" + b"\x00" * 100, "zip.3mf"),
]


@pytest.mark.parametrize(("data", "name"), BROKEN)
def test_reasons_say_what_is_wrong_not_which_exception(data: bytes, name: str) -> None:
    reason = rejected(data, name)
    assert name.rsplit(".", 1)[1].upper() in reason or "ZIP" in reason


def test_technical_detail_goes_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    broken = package(mesh_xml(TETRA, 1).replace("</vertices>", "</vertexes>"), "")
    with caplog.at_level(logging.INFO, logger="fabcore.mesh"):
        reason = rejected(broken, "broken.3mf")
    assert "not well-formed XML" in reason
    assert "XMLSyntaxError" in caplog.text
    assert "broken.3mf" in caplog.text
