"""Models uploaded as bytes or as an open file: analysed once per content and units."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import attrs
import pytest

from fabcore.adapters.mesh import MeshFileAnalyser
from fabcore.app.bootstrap import bootstrap
from fabcore.app.samples import create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import ModelAnalysis, Units
from fabcore.domain.errors import ModelRejected, NotFound

DATA = Path(__file__).parents[1] / "data"
CUBE = (DATA / "20mm-xyz-cube.stl").read_bytes()
VISITOR = Actor.visitor("acme")


class CountingAnalyser:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str, Units | str]] = []
        self._real = MeshFileAnalyser()

    def analyse(self, data: bytes, filename: str, units: Units | str = Units.MM) -> ModelAnalysis:
        self.calls.append((len(data), filename, units))
        return self._real.analyse(data, filename, units)


def test_a_file_is_read_from_its_position_and_analysed_once_per_units() -> None:
    analyser = CountingAnalyser()
    core = bootstrap("memory://", secret_key=b"k" * 32, analyser=analyser)
    create_sample_shop(core)
    file = io.BytesIO(b"prefix" + CUBE)
    file.seek(6)
    first = core.upload_model_file(VISITOR, file, "cube.stl")
    assert first.ref.sha256 == hashlib.sha256(CUBE).hexdigest()
    assert first.ref.size == len(CUBE)
    assert analyser.calls == [(len(CUBE), "cube.stl", Units.MM)]
    assert core.models.get(first.ref.sha256) == CUBE

    again = core.upload_model_file(VISITOR, io.BytesIO(CUBE), "renamed.stl")
    as_bytes = core.upload_model(VISITOR, CUBE, "bytes.stl")
    assert len(analyser.calls) == 1
    assert again.analysis == attrs.evolve(first.analysis, filename="renamed.stl")
    assert as_bytes.analysis == attrs.evolve(first.analysis, filename="bytes.stl")

    core.upload_model_file(VISITOR, io.BytesIO(CUBE), "cube.stl", "inch")
    assert len(analyser.calls) == 2


def test_a_rejected_file_is_not_kept_and_an_unknown_shop_is_refused() -> None:
    core = bootstrap("memory://", secret_key=b"k" * 32)
    create_sample_shop(core)
    empty = (DATA / "empty.stl").read_bytes()
    with pytest.raises(ModelRejected):
        core.upload_model_file(VISITOR, io.BytesIO(empty), "empty.stl")
    assert not core.models.exists(hashlib.sha256(empty).hexdigest())
    with pytest.raises(NotFound):
        core.upload_model_file(Actor.visitor("nowhere"), io.BytesIO(CUBE), "cube.stl")
