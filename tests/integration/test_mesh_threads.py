"""Readers on several threads read what one thread reads, and report the same first fault.

Blocks of text, chunks of numbers and the parts of the grouping of corners
are made tiny here, so that a small model spans dozens of blocks and the
threads really share the work.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fabcore.adapters.mesh import Limits, MeshFileAnalyser, exact
from fabcore.adapters.mesh.readers import read_model, text, threemf
from fabcore.adapters.mesh.readers.base import Mesh
from fabcore.adapters.mesh.threads import Threads
from fabcore.domain.analysis import Units
from fabcore.domain.errors import ModelRejected
from fabcore.testing.mesh import torus, write

TEXT_FORMATS = ("obj", "stl-ascii", "off")
DATA = Path(__file__).resolve().parent.parent / "data"
MODEL_SUFFIXES = {".stl", ".obj", ".3mf", ".ply", ".off", ".glb"}
MODEL = torus(sections=(60, 40))


@pytest.fixture(autouse=True)
def tiny_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "_BLOCK", 8 << 10)
    monkeypatch.setattr(text, "_CHUNK", 256)
    monkeypatch.setattr(threemf, "_BLOCK", 8 << 10)
    monkeypatch.setattr(threemf, "_RUN_CHUNK", 256)
    monkeypatch.setattr(exact, "_PARALLEL_ITEMS", 64)
    monkeypatch.setattr(exact, "_BLOCK", 100)


def read(data: bytes, name: str, threads: int) -> Mesh:
    return read_model(data, name.rsplit(".", 1)[1], Units.MM, Limits(), Threads(threads))


def refusal(data: bytes, name: str, threads: int) -> str:
    with pytest.raises(ModelRejected) as refused:
        MeshFileAnalyser(threads=threads).analyse(data, name)
    return refused.value.reason


def spoiled(data: bytes, *changes: tuple[float, bytes, bytes]) -> bytes:
    """``data`` with the first ``old`` after each (fraction, old, new)'s fraction made ``new``."""
    for fraction, old, new in changes:
        at = data.index(old, int(len(data) * fraction))
        data = data[:at] + new + data[at + len(old) :]
    return data


@pytest.mark.parametrize("fmt", [*TEXT_FORMATS, "3mf"])
def test_several_threads_read_the_same_triangles_as_one(fmt: str) -> None:
    data, name = write(MODEL, fmt)
    if fmt in TEXT_FORMATS:
        assert len(list(text.line_blocks(data))) > 20
    one, several = read(data, name, 1), read(data, name, 3)
    assert np.array_equal(one.vertices, several.vertices)
    assert (one.faces is None and several.faces is None) or np.array_equal(
        np.asarray(one.faces), np.asarray(several.faces)
    )
    assert MeshFileAnalyser(threads=1).analyse(data, name) == MeshFileAnalyser(
        threads=3
    ).analyse(data, name)


@pytest.mark.parametrize(
    "name", sorted(p.name for p in DATA.iterdir() if p.suffix.lower() in MODEL_SUFFIXES)
)
def test_the_corpus_gives_the_same_answers_on_one_thread_and_on_three(name: str) -> None:
    data = (DATA / name).read_bytes()
    answers: list[object] = []
    for threads in (1, 3):
        try:
            answers.append(MeshFileAnalyser(threads=threads).analyse(data, name))
        except ModelRejected as refused:
            answers.append(refused.reason)
    assert answers[0] == answers[1]


def test_a_3mf_whose_comment_turns_reading_over_to_lxml_midway_reads_the_same() -> None:
    data, name = write(MODEL, "3mf")
    model = threemf_member(data)
    commented = spoiled(model, (0.2, b"<vertex ", b"<!-- a note --><vertex "))
    for threads in (1, 3):
        mesh = read(rezipped(data, commented), name, threads)
        assert np.array_equal(mesh.vertices, read(data, name, 1).vertices)


@pytest.mark.parametrize(
    ("fmt", "changes", "first"),
    [
        ("obj", [(0.2, b"\nv ", b"\nv 1x5 "), (0.6, b"\nv ", b"\nv 2y5 ")], "'1x5'"),
        ("obj", [(0.1, b"\nv ", b"\nv 1x5 "), (0.9, b"\nf ", b"\nf 7z ")], "'1x5'"),
        ("obj", [(0.8, b"\nf ", b"\nf 7z "), (0.9, b"\nf ", b"\nf 8z ")], "'7z'"),
        ("obj", [(0.2, b"\nv ", b"\nv 1x5 "), (0.3, b"\nv ", b"\nv 1 2\nv ")], "fewer than three"),
        ("stl-ascii", [(0.3, b"vertex ", b"vertex 3q1 "), (0.7, b"vertex ", b"vertex 4q1 ")],
         "'3q1'"),
        ("off", [(0.3, b"\n", b"\n5w5 "), (0.6, b"\n", b"\n6w6 ")], "5w5"),
    ],
)  # fmt: skip
def test_several_threads_report_the_first_fault_as_one_does(
    fmt: str, changes: list[tuple[float, bytes, bytes]], first: str
) -> None:
    data, name = write(MODEL, fmt)
    broken = spoiled(data, *changes)
    reason = refusal(broken, name, 1)
    assert first in reason
    assert refusal(broken, name, 3) == reason


def test_a_3mf_with_bad_numbers_in_two_blocks_reports_the_first_on_any_thread_count() -> None:
    data, name = write(MODEL, "3mf")
    model = spoiled(
        threemf_member(data), (0.1, b' x="', b' x="1x5'), (0.3, b' y="', b' y="2y5')
    )
    reason = refusal(rezipped(data, model), name, 1)
    assert "has a vertex whose x, y or z is missing or not a number" in reason
    assert refusal(rezipped(data, model), name, 3) == reason


def threemf_member(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("3D/3dmodel.model")


def rezipped(data: bytes, model: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(
        out, "w", zipfile.ZIP_DEFLATED
    ) as target:
        for info in source.infolist():
            target.writestr(info.filename, model if info.filename == "3D/3dmodel.model" else
                            source.read(info))
    return out.getvalue()
