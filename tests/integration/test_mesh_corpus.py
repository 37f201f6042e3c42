"""MeshFileAnalyser on the real corpus (tests/data) and on meshes built here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import trimesh

from fabcore.adapters.mesh import Limits, MeshFileAnalyser
from fabcore.adapters.mesh.readers import STEP_EXTRA_HINT
from fabcore.domain.analysis import ModelAnalysis, Units, WarningCode
from fabcore.domain.errors import InvalidInput, ModelRejected

DATA = Path(__file__).resolve().parent.parent / "data"
IN3_TO_CM3 = 2.54**3


@pytest.fixture(scope="module")
def analyser() -> MeshFileAnalyser:
    return MeshFileAnalyser()


def analyse(analyser: MeshFileAnalyser, name: str, units: Units | str = Units.MM) -> ModelAnalysis:
    return analyser.analyse((DATA / name).read_bytes(), name, units)


def codes(result: ModelAnalysis) -> set[WarningCode]:
    return {w.code for w in result.warnings}


def stl_bytes(triangles: npt.ArrayLike, header: bytes = b"fabcore test") -> bytes:
    """Binary STL of (n, 3, 3) triangles."""
    tris = np.asarray(triangles, dtype=np.float32).reshape(-1, 3, 3)
    records = np.zeros(
        len(tris), dtype=[("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attr", "<u2")]
    )
    records["vertices"] = tris
    return header.ljust(80, b" ") + np.uint32(len(tris)).tobytes() + records.tobytes()


def mesh_stl(*meshes: trimesh.Trimesh) -> bytes:
    return stl_bytes(np.concatenate([m.triangles for m in meshes]))


# --- the corpus ---------------------------------------------------------------


def test_calibration_cube(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "20mm-xyz-cube.stl")
    assert r.format == "stl"
    assert r.triangles == 260
    assert r.volume_cm3 == pytest.approx(7.938682, rel=1e-6)
    assert r.area_cm2 == pytest.approx(24.99025, rel=1e-6)
    assert r.bbox_mm == pytest.approx((20.0, 20.0, 20.0))
    assert (r.bodies, r.watertight, r.winding_consistent) == (1, True, True)
    assert r.convex_hull_volume_cm3 == pytest.approx(8.0, rel=1e-6)
    assert r.overhang_area_cm2 == pytest.approx(0.2887, abs=1e-4)
    assert r.warnings == ()
    assert r.volume_reliable


def test_large_flat_cad_part(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "1002_tray_bottom.STL")
    assert r.triangles == 4520
    assert r.volume_cm3 == pytest.approx(347.865896, rel=1e-6)
    assert r.area_cm2 == pytest.approx(2244.14725, rel=1e-6)
    assert r.bbox_mm == pytest.approx((355.6, 3.175, 355.6))
    assert (r.bodies, r.watertight, r.winding_consistent) == (1, True, True)
    assert r.warnings == ()


def test_hull_is_exact_on_a_cad_part(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "1002_tray_bottom.STL")
    mesh = trimesh.load_mesh(DATA / "1002_tray_bottom.STL")
    assert r.convex_hull_volume_cm3 == pytest.approx(mesh.convex_hull.volume / 1000, rel=1e-9)


def test_machined_part_in_inches(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "featuretype.STL", Units.INCH)
    assert r.volume_cm3 == pytest.approx(11.627733 * IN3_TO_CM3, rel=1e-6)
    assert r.area_cm2 == pytest.approx(53.827386 * 2.54**2, rel=1e-6)
    assert r.bbox_mm == pytest.approx((127.0, 63.5, 34.925))
    assert (r.bodies, r.watertight, r.winding_consistent) == (1, True, True)


@pytest.mark.parametrize("units", ["inch", "INCH", " inch ", Units.INCH])
def test_units_as_string_or_enum(analyser: MeshFileAnalyser, units: Units | str) -> None:
    r = analyse(analyser, "featuretype.STL", units)
    assert r.bbox_mm == pytest.approx((127.0, 63.5, 34.925))


def test_units_scale_volume_and_area(analyser: MeshFileAnalyser) -> None:
    mm = analyse(analyser, "box.obj", "mm")
    cm = analyse(analyser, "box.obj", "cm")
    assert mm.volume_cm3 == pytest.approx(0.008)
    assert cm.volume_cm3 == pytest.approx(8.0)
    assert cm.area_cm2 == pytest.approx(24.0)
    assert cm.bbox_mm == pytest.approx((20.0, 20.0, 20.0))


def test_unknown_units_are_invalid_input(analyser: MeshFileAnalyser) -> None:
    with pytest.raises(InvalidInput, match="furlong"):
        analyse(analyser, "box.obj", "furlong")


def test_3mf_with_t_junctions_is_closed_and_uses_its_own_unit(analyser: MeshFileAnalyser) -> None:
    # The file says unit="inch"; the caller's mm does not override it.
    r = analyse(analyser, "featuretype.3MF", Units.MM)
    assert r.format == "3mf"
    assert r.triangles == 2208
    assert (r.bodies, r.watertight, r.winding_consistent) == (1, True, True)
    assert r.volume_cm3 == pytest.approx(11.636029 * IN3_TO_CM3, rel=1e-6)
    assert r.bbox_mm == pytest.approx((127.0, 63.5, 34.925))
    assert r.volume_reliable


def test_step_matches_the_3mf_and_stl(analyser: MeshFileAnalyser) -> None:
    pytest.importorskip("cascadio")
    step = analyse(analyser, "featuretype.STEP")
    stl = analyse(analyser, "featuretype.STL", Units.INCH)
    three_mf = analyse(analyser, "featuretype.3MF")
    assert step.format == "step"
    assert (step.bodies, step.watertight, step.winding_consistent) == (1, True, True)
    assert step.bbox_mm == pytest.approx((127.0, 63.5, 34.925), rel=1e-6)
    assert step.volume_cm3 == pytest.approx(stl.volume_cm3, rel=0.01)
    assert step.volume_cm3 == pytest.approx(three_mf.volume_cm3, rel=0.01)


def test_step_without_the_extra(
    analyser: MeshFileAnalyser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cascadio", None)
    with pytest.raises(ModelRejected) as caught:
        analyse(analyser, "featuretype.STEP")
    assert caught.value.reason == STEP_EXTRA_HINT
    assert caught.value.filename == "featuretype.STEP"


def test_busted_is_closed_once_merged(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "busted.STL")
    assert r.triangles == 3878
    assert (r.bodies, r.watertight, r.winding_consistent) == (1, True, True)
    assert r.volume_cm3 == pytest.approx(0.526449, rel=1e-5)
    assert r.area_cm2 == pytest.approx(0.349280 * 10, rel=1e-5)
    assert r.bbox_mm == pytest.approx((10.6755, 11.3847, 9.5724), abs=1e-4)
    assert codes(r) == {WarningCode.LARGE_OVERHANG}
    assert r.volume_reliable


def test_multibody_with_inconsistent_winding(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "multibody.stl")
    assert r.triangles == 32
    assert (r.bodies, r.watertight, r.winding_consistent) == (2, True, False)
    assert codes(r) == {WarningCode.INCONSISTENT_WINDING, WarningCode.MULTIPLE_BODIES}
    assert not r.volume_reliable
    # Faces flipped back into agreement: 0.0014714 + 0.0059518 mm3 (trimesh says 0.014).
    assert r.volume_cm3 * 1000 == pytest.approx(0.0014714 + 0.0059518, rel=1e-3)


def test_triangle_soup(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "soup.stl")
    assert (r.triangles, r.bodies, r.watertight) == (100, 100, False)
    assert r.area_cm2 == pytest.approx(0.14579, rel=1e-4)
    assert codes(r) >= {WarningCode.NOT_WATERTIGHT, WarningCode.MULTIPLE_BODIES}
    assert WarningCode.TINY_PART in codes(r)
    assert not r.volume_reliable


def test_teapot_is_open(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "teapot.stl")
    assert (r.triangles, r.bodies, r.watertight) == (894, 4, False)
    assert r.area_cm2 == pytest.approx(49.41370, rel=1e-5)
    assert r.bbox_mm == pytest.approx((63.17, 39.308, 29.481), abs=1e-3)
    assert WarningCode.NOT_WATERTIGHT in codes(r)
    assert not r.volume_reliable


def test_unit_sphere_hull_equals_volume(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "unit_sphere.STL")
    assert r.volume_cm3 * 1000 == pytest.approx(4.153, abs=1e-3)
    assert r.area_cm2 * 100 == pytest.approx(12.506, abs=1e-3)
    assert (r.bodies, r.watertight) == (1, True)
    assert r.convex_hull_volume_cm3 == pytest.approx(r.volume_cm3, rel=1e-9)


@pytest.mark.parametrize("depth", [8.0, 0.01])
def test_a_dented_box_is_not_convex_its_hull_holds_its_corners(
    analyser: MeshFileAnalyser, depth: float
) -> None:
    from scipy.spatial import ConvexHull

    from fabcore.testing.mesh import box, write

    vertices, faces = box((20.0, 20.0, 20.0))
    top = int(np.flatnonzero((vertices == 20.0).all(axis=1))[0])
    vertices[top, 2] -= depth
    r = analyser.analyse(*write((vertices, faces), "stl"))
    assert r.convex_hull_volume_cm3 > r.volume_cm3
    assert r.convex_hull_volume_cm3 * 1000 == pytest.approx(
        ConvexHull(vertices.astype(np.float32).astype(np.float64)).volume, rel=1e-9
    )


def test_a_box_folded_by_float_noise_still_counts_as_convex(analyser: MeshFileAnalyser) -> None:
    from fabcore.testing.mesh import box, write

    vertices, faces = box((20.0, 20.0, 20.0))
    top = int(np.flatnonzero((vertices == 20.0).all(axis=1))[0])
    vertices[top, 2] -= 1e-9
    r = analyser.analyse(*write((vertices, faces), "obj"))
    assert r.convex_hull_volume_cm3 == r.volume_cm3


def test_3mf_build_plate(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "pyramids.3mf")
    assert r.triangles == 3276
    assert (r.bodies, r.watertight, r.winding_consistent) == (12, True, True)
    assert r.volume_cm3 == pytest.approx(195.037704, rel=1e-6)
    assert r.area_cm2 == pytest.approx(439.10451, rel=1e-6)
    assert r.bbox_mm == pytest.approx((346.7254, 163.0814, 25.0), abs=1e-3)
    assert codes(r) == {WarningCode.MULTIPLE_BODIES}
    assert r.volume_reliable


def test_obj_with_uv_seams_is_one_closed_cube(analyser: MeshFileAnalyser) -> None:
    r = analyse(analyser, "box.obj")
    assert r.format == "obj"
    assert (r.triangles, r.bodies, r.watertight, r.winding_consistent) == (12, 1, True, True)
    assert r.volume_cm3 == pytest.approx(0.008)
    assert r.area_cm2 == pytest.approx(0.24)
    assert WarningCode.TINY_PART not in codes(r)


def test_empty_stl_is_rejected(analyser: MeshFileAnalyser) -> None:
    with pytest.raises(ModelRejected, match="no triangles") as caught:
        analyse(analyser, "empty.stl")
    assert caught.value.filename == "empty.stl"


# --- the same mesh in every format ---------------------------------------------


@pytest.fixture(scope="module")
def cube_reference(analyser: MeshFileAnalyser) -> ModelAnalysis:
    return analyse(analyser, "20mm-xyz-cube.stl")


def _export(file_type: str) -> bytes:
    mesh = trimesh.load_mesh(DATA / "20mm-xyz-cube.stl")
    exported = mesh.export(file_type=file_type)
    return exported.encode() if isinstance(exported, str) else bytes(exported)


@pytest.mark.parametrize(
    ("file_type", "name"),
    [
        ("stl_ascii", "cube.stl"),
        ("ply", "cube.ply"),
        ("off", "cube.off"),
        ("glb", "cube.glb"),
        ("obj", "cube.obj"),
        ("3mf", "cube.3mf"),
    ],
)
def test_every_format_gives_the_same_figures(
    analyser: MeshFileAnalyser, cube_reference: ModelAnalysis, file_type: str, name: str
) -> None:
    r = analyser.analyse(_export(file_type), name)
    assert r.format == name.rsplit(".", 1)[1]
    assert r.triangles == cube_reference.triangles
    assert r.volume_cm3 == pytest.approx(cube_reference.volume_cm3, rel=1e-6)
    assert r.area_cm2 == pytest.approx(cube_reference.area_cm2, rel=1e-6)
    assert r.bbox_mm == pytest.approx(cube_reference.bbox_mm, rel=1e-6)
    assert r.convex_hull_volume_cm3 == pytest.approx(cube_reference.convex_hull_volume_cm3)
    assert r.overhang_area_cm2 == pytest.approx(cube_reference.overhang_area_cm2, rel=1e-6)
    assert (r.bodies, r.watertight, r.winding_consistent) == (1, True, True)


def test_binary_stl_with_a_solid_header_is_binary(analyser: MeshFileAnalyser) -> None:
    data = mesh_stl(trimesh.creation.box((10, 20, 30)))
    r = analyser.analyse(b"solid pretending" + data[16:], "box.stl")
    assert r.volume_cm3 == pytest.approx(6.0)
    assert (r.bodies, r.watertight) == (1, True)


# --- judging like a slicer -------------------------------------------------------


def test_overhang_convention(analyser: MeshFileAnalyser) -> None:
    # A cone standing on its tip: its side faces point down at atan(h / r) from -Z.
    upside_down = np.diag([1.0, -1.0, -1.0, 1.0])
    flat = trimesh.creation.cone(radius=10.0, height=5.0, sections=64)
    flat.apply_transform(upside_down)
    steep = trimesh.creation.cone(radius=10.0, height=20.0, sections=64)
    steep.apply_transform(upside_down)
    shallow = analyser.analyse(mesh_stl(flat), "flat.stl")
    side = flat.area_faces[flat.face_normals[:, 2] < -np.cos(np.pi / 4)].sum()
    assert shallow.overhang_area_cm2 == pytest.approx(side / 100, rel=1e-6)
    assert shallow.overhang_area_cm2 == pytest.approx(np.pi * 10 * np.hypot(10, 5) / 100, rel=0.01)
    assert WarningCode.LARGE_OVERHANG in codes(shallow)
    assert analyser.analyse(mesh_stl(steep), "steep.stl").overhang_area_cm2 == 0.0


def test_faces_on_the_build_plate_are_not_overhang(analyser: MeshFileAnalyser) -> None:
    grounded = trimesh.creation.box((10, 10, 10))
    grounded.apply_translation((0, 0, 5))
    floating = trimesh.creation.box((10, 10, 10))
    floating.apply_translation((30, 0, 10))
    r = analyser.analyse(mesh_stl(grounded, floating), "two.stl")
    assert r.overhang_area_cm2 == pytest.approx(1.0)
    assert r.bodies == 2
    assert r.volume_cm3 == pytest.approx(2.0)


def test_hollow_part_subtracts_its_cavity(analyser: MeshFileAnalyser) -> None:
    outer = trimesh.creation.box((20, 20, 20))
    cavity = trimesh.creation.box((10, 10, 10))
    cavity.invert()
    r = analyser.analyse(mesh_stl(outer, cavity), "hollow.stl")
    assert (r.bodies, r.watertight, r.winding_consistent) == (2, True, True)
    assert r.volume_cm3 == pytest.approx(7.0)
    assert r.convex_hull_volume_cm3 == pytest.approx(8.0)


def test_inside_out_body_counts_positive(analyser: MeshFileAnalyser) -> None:
    inverted = trimesh.creation.box((10, 10, 10))
    inverted.invert()
    normal = trimesh.creation.box((10, 10, 10))
    normal.apply_translation((20, 0, 0))
    r = analyser.analyse(mesh_stl(inverted, normal), "two.stl")
    assert r.volume_cm3 == pytest.approx(2.0)
    assert r.winding_consistent
    alone = analyser.analyse(mesh_stl(inverted), "inverted.stl")
    assert alone.volume_cm3 == pytest.approx(1.0)
    # Flipped back, its bottom face lies on the build plate: no overhang.
    assert alone.overhang_area_cm2 == 0.0


def test_near_duplicate_vertices_across_a_grid_border_merge(analyser: MeshFileAnalyser) -> None:
    # Every corner copy moved by up to a third of the merge tolerance, so that
    # thousands of copies of one vertex straddle cell borders of the merge grid.
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=10.0)
    tris = sphere.triangles.copy()
    tolerance = analyser.merge_tolerance * 20.0
    rng = np.random.default_rng(7)
    tris += rng.uniform(-tolerance / 3, tolerance / 3, size=tris.shape)
    r = analyser.analyse(stl_bytes(tris), "jitter.stl")
    assert (r.bodies, r.watertight, r.winding_consistent) == (1, True, True)
    assert r.volume_cm3 == pytest.approx(sphere.volume / 1000, rel=1e-5)


def test_open_mesh_is_flagged(analyser: MeshFileAnalyser) -> None:
    box = trimesh.creation.box((10, 10, 10))
    r = analyser.analyse(stl_bytes(box.triangles[:-1]), "open.stl")
    assert (r.watertight, r.bodies) == (False, 1)
    assert WarningCode.NOT_WATERTIGHT in codes(r)
    assert "3 open edges" in next(w.message for w in r.warnings)
    assert not r.volume_reliable


def test_flat_double_sided_sheet_has_zero_volume(analyser: MeshFileAnalyser) -> None:
    # One triangle and the same triangle facing the other way: closed, but flat.
    front = np.array([[[0, 0, 0], [10, 0, 0], [10, 10, 0]]])
    r = analyser.analyse(stl_bytes(np.concatenate((front, front[:, ::-1]))), "sheet.stl")
    assert (r.watertight, r.winding_consistent) == (True, True)
    assert r.volume_cm3 == pytest.approx(0.0, abs=1e-12)
    assert WarningCode.ZERO_VOLUME in codes(r)
    assert not r.volume_reliable


def test_tiny_part_warns_about_units(analyser: MeshFileAnalyser) -> None:
    r = analyser.analyse(mesh_stl(trimesh.creation.box((0.5, 0.5, 0.5))), "tiny.stl")
    warning = next(w for w in r.warnings if w.code is WarningCode.TINY_PART)
    assert "0.5 mm" in warning.message


def test_analyser_settings_are_validated() -> None:
    with pytest.raises(InvalidInput):
        MeshFileAnalyser(merge_tolerance=0.0)
    with pytest.raises(InvalidInput):
        MeshFileAnalyser(limits=Limits(max_upload_bytes=0))
