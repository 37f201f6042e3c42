"""Merging corners into vertices: bitwise copies first, then the scale-free grid."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import trimesh

from fabcore.adapters.mesh import MeshFileAnalyser, exact, topology
from fabcore.adapters.mesh.threads import Threads
from fabcore.domain.analysis import ModelAnalysis

ANALYSER = MeshFileAnalyser()


def expected_groups(
    columns: list[npt.NDArray[np.uint64]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Groups numbered by first item, and the first items, the slow and obvious way."""
    rows = np.stack(columns, axis=1)
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty(len(first), dtype=np.int64)
    rank[order] = np.arange(len(first))
    return rank[inverse.reshape(-1)], np.sort(first)


def duplicated_columns(seed: int) -> list[npt.NDArray[np.uint64]]:
    rng = np.random.default_rng(seed)
    distinct = rng.integers(0, 50, size=(300, 3)).astype(np.uint64)
    picks = rng.integers(0, len(distinct), size=5_000)
    return [np.ascontiguousarray(distinct[picks, k]) for k in range(3)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_groups_are_the_distinct_rows(seed: int) -> None:
    columns = duplicated_columns(seed)
    group, first = exact.exact_groups(columns)
    want_group, want_first = expected_groups(columns)
    assert np.array_equal(first, want_first)
    assert np.array_equal(group, want_group)


def test_exact_groups_survive_hash_collisions(monkeypatch: pytest.MonkeyPatch) -> None:
    # With every multiplier zero, all items share one hash: every grouping is a collision.
    zero = np.uint64(0)
    monkeypatch.setattr(exact, "_MIX", (zero, zero, zero))
    columns = duplicated_columns(3)
    group, first = exact.exact_groups(columns)
    want_group, want_first = expected_groups(columns)
    assert np.array_equal(first, want_first)
    assert np.array_equal(group, want_group)


@pytest.mark.parametrize("threads", [2, 3, 4])
@pytest.mark.parametrize("collide", [False, True], ids=["hashed", "all-colliding"])
def test_exact_groups_split_between_threads_are_the_same_groups(
    monkeypatch: pytest.MonkeyPatch, threads: int, collide: bool
) -> None:
    # Split from 64 items on: the parts by top hash bits, some of them empty
    # when every hash collides, must give the groups one thread gives.
    monkeypatch.setattr(exact, "_PARALLEL_ITEMS", 64)
    monkeypatch.setattr(exact, "_BLOCK", 100)
    if collide:
        zero = np.uint64(0)
        monkeypatch.setattr(exact, "_MIX", (zero, zero, zero))
    columns = duplicated_columns(4)
    group, first = exact.exact_groups(columns, Threads(threads))
    want_group, want_first = expected_groups(columns)
    assert np.array_equal(first, want_first)
    assert np.array_equal(group, want_group)


def test_exact_groups_of_one_item() -> None:
    group, first = exact.exact_groups([np.array([7], dtype=np.uint64)])
    assert group.tolist() == [0]
    assert first.tolist() == [0]


def stl_bytes(triangles: npt.NDArray[np.float32]) -> bytes:
    records = np.zeros(
        len(triangles),
        dtype=[("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attr", "<u2")],
    )
    records["vertices"] = triangles
    return b"fabcore test".ljust(80, b" ") + np.uint32(len(triangles)).tobytes() + records.tobytes()


def figures(result: ModelAnalysis) -> tuple[int, bool, bool, float]:
    return result.bodies, result.watertight, result.winding_consistent, result.volume_cm3


def test_copies_that_differ_in_their_last_bits_merge_as_bitwise_copies_do() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=10.0)
    exact = sphere.triangles.astype(np.float32)
    # Every other copy of a corner one float32 step away (and 0.0 written as -0.0):
    # not bitwise copies, yet well within the merge tolerance.
    nudged = exact.copy()
    nudged[1::2] = np.nextafter(nudged[1::2], np.float32(np.inf))
    nudged[nudged == 0.0] = np.float32(-0.0)
    same = ANALYSER.analyse(stl_bytes(exact), "exact.stl")
    near = ANALYSER.analyse(stl_bytes(nudged), "nudged.stl")
    assert figures(same)[:3] == figures(near)[:3] == (1, True, True)
    assert near.volume_cm3 == pytest.approx(same.volume_cm3, rel=1e-6)
    assert same.volume_cm3 == pytest.approx(sphere.volume / 1000, rel=1e-6)


def test_ascii_and_binary_soups_merge_alike() -> None:
    # ASCII STL holds float64 corners, binary STL float32: both are grouped on their bits.
    box = trimesh.creation.box((10, 20, 30))
    tris = box.triangles.astype(np.float32)
    lines = ["solid box"]
    for tri in tris.astype(np.float64):
        lines += ["facet normal 0 0 0", "outer loop"]
        lines += [f"vertex {x!r} {y!r} {z!r}" for x, y, z in tri.tolist()]
        lines += ["endloop", "endfacet"]
    lines.append("endsolid box")
    text = ANALYSER.analyse(("\n".join(lines) + "\n").encode(), "box.stl")
    binary = ANALYSER.analyse(stl_bytes(tris), "box.stl")
    assert figures(text)[:3] == figures(binary)[:3] == (1, True, True)
    assert text.volume_cm3 == binary.volume_cm3 == pytest.approx(6.0)


@pytest.mark.parametrize("tolerance", [1e-6, 1e-9])
def test_a_closed_soup_stays_closed_on_either_grid(tolerance: float) -> None:
    # 1e-9 of the size is a grid too fine for one 64-bit key per cell: the other path.
    analyser = MeshFileAnalyser(merge_tolerance=tolerance)
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=10.0)
    result = analyser.analyse(stl_bytes(sphere.triangles.astype(np.float32)), "sphere.stl")
    assert figures(result)[:3] == (1, True, True)
    assert result.volume_cm3 == pytest.approx(sphere.volume / 1000, rel=1e-6)


def test_near_copies_merge_on_a_grid_too_fine_for_one_key() -> None:
    # float32 numbers: the merge distance is their float noise, 1e-9 of the size is finer.
    analyser = MeshFileAnalyser(merge_tolerance=1e-9)
    box = trimesh.creation.box((10, 10, 10)).triangles.astype(np.float32)
    nudged = box.copy()
    nudged[::2] = np.nextafter(nudged[::2], np.float32(np.inf))
    result = analyser.analyse(stl_bytes(nudged), "box.stl")
    assert figures(result)[:3] == (1, True, True)
    assert result.volume_cm3 == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("faces", [1, 1_000_000, 2**31])
def test_the_face_of_a_corner(faces: int) -> None:
    top = 3 * faces
    corner = np.unique(np.concatenate((np.arange(min(top, 5_000)), top - 1 - np.arange(5_000))))
    corner = corner[(corner >= 0) & (corner < top)].astype(np.int64)
    assert np.array_equal(topology._face_of(corner, faces), corner // 3)


def two_boxes_one_open() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    closed = trimesh.creation.box((10, 10, 10))
    opened = trimesh.creation.box((10, 10, 10))
    opened.apply_translation((30, 0, 0))
    faces = np.concatenate((closed.faces, opened.faces[:-1] + len(closed.vertices)))
    return faces.astype(np.int64), np.concatenate((closed.vertices, opened.vertices))


@pytest.mark.parametrize("count", [12, 23], ids=["closed", "open"])
def test_edges_too_many_for_one_packed_key_pair_alike(count: int) -> None:
    # Naming as many vertices as 2**31 leaves no room to pack the corner with the
    # edge: the edges are then sorted with an argsort, and must pair up the same.
    faces, positions = two_boxes_one_open()
    faces = faces[:count]
    packed = topology.find_topology(faces, len(positions), positions, 1e-6)
    unpacked = topology.find_topology(faces, 2**31, positions, 1e-6)
    assert (packed.bodies, packed.open_edges, packed.misdirected_edges) == (
        unpacked.bodies,
        unpacked.open_edges,
        unpacked.misdirected_edges,
    )
    assert np.array_equal(packed.labels, unpacked.labels)
    assert sorted(zip(packed.pair_a.tolist(), packed.pair_b.tolist(), strict=True)) == sorted(
        zip(unpacked.pair_a.tolist(), unpacked.pair_b.tolist(), strict=True)
    )


@pytest.mark.parametrize("nverts", [None, 2**31], ids=["packed", "unpacked"])
def test_edges_keyed_in_many_blocks_sort_alike(
    monkeypatch: pytest.MonkeyPatch, nverts: int | None
) -> None:
    torus = trimesh.creation.torus(10.0, 3.0, major_sections=40, minor_sections=20)
    faces = np.concatenate((torus.faces, two_boxes_one_open()[0] + len(torus.vertices)))
    count = nverts or int(faces.max()) + 1
    whole = topology._sorted_edges(faces.astype(np.int64), count)
    # Four faces per block, and a shorter last block.
    monkeypatch.setattr(topology, "_FACE_BLOCK", 4)
    assert len(faces) % 4 != 0
    blocks = topology._sorted_edges(faces.astype(np.int64), count)
    assert np.array_equal(whole[0], blocks[0])
    assert np.array_equal(whole[1], blocks[1])
