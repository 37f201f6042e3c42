"""Models uploaded as bytes or as an open file: analysed once per content and units."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path
from typing import IO

import attrs
import pytest

from fabcore.adapters.memory import MemoryModelStore
from fabcore.adapters.mesh import MeshFileAnalyser
from fabcore.app.bootstrap import bootstrap
from fabcore.app.facade import Fabcore
from fabcore.app.samples import create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import ModelAnalysis, Units
from fabcore.domain.errors import InvalidInput, ModelRejected, NotFound, StorageError
from fabcore.ports.model_store import ModelRef, StagedModel

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


class WatchedStore(MemoryModelStore):
    """Records when files are staged, kept and dropped; its staging may fail."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.staging = threading.Event()
        self.events: list[str] = []

    def stage(self, file: IO[bytes], filename: str) -> StagedModel:
        self.staging.set()
        if self.fail:
            raise StorageError("the model directory is full")
        staged = super().stage(file, filename)
        store = self

        class Watched:
            ref = staged.ref

            def keep(self) -> ModelRef:
                store.events.append("kept")
                return staged.keep()

            def drop(self) -> None:
                store.events.append("dropped")
                staged.drop()

            def __enter__(self) -> Watched:
                return self

            def __exit__(self, *exc: object) -> None:
                staged.__exit__(None, None, None)

        return Watched()


class WaitingAnalyser(CountingAnalyser):
    """Analyses only once the store has begun staging the file (or gives up after a while)."""

    def __init__(self, store: WatchedStore) -> None:
        super().__init__()
        self.store = store
        self.saw_staging: list[bool] = []

    def analyse(self, data: bytes, filename: str, units: Units | str = Units.MM) -> ModelAnalysis:
        self.saw_staging.append(self.store.staging.wait(30))
        return super().analyse(data, filename, units)


def _core(store: WatchedStore) -> tuple[Fabcore, WaitingAnalyser]:
    analyser = WaitingAnalyser(store)
    core = bootstrap("memory://", secret_key=b"k" * 32, analyser=analyser, models=store)
    create_sample_shop(core)
    return core, analyser


def test_a_file_is_staged_while_it_is_analysed_and_kept_once_accepted() -> None:
    store = WatchedStore()
    core, analyser = _core(store)
    model = core.upload_model_file(VISITOR, io.BytesIO(CUBE), "cube.stl")
    assert analyser.saw_staging == [True]
    assert store.events == ["kept"]
    assert core.models.get(model.ref.sha256) == CUBE


def test_a_refused_file_is_dropped_once_staged() -> None:
    store = WatchedStore()
    core, analyser = _core(store)
    empty = (DATA / "empty.stl").read_bytes()
    with pytest.raises(ModelRejected):
        core.upload_model(VISITOR, empty, "empty.stl")
    assert analyser.saw_staging == [True]
    assert store.events == ["dropped"]
    assert list(store.digests()) == []


def test_a_store_that_cannot_stage_fails_the_upload_and_records_nothing() -> None:
    store = WatchedStore(fail=True)
    core, _ = _core(store)
    with pytest.raises(StorageError, match="full"):
        core.upload_model(VISITOR, CUBE, "cube.stl")
    with pytest.raises(NotFound):
        core.stored_model(VISITOR, hashlib.sha256(CUBE).hexdigest(), "cube.stl")
    empty = (DATA / "empty.stl").read_bytes()
    with pytest.raises(ModelRejected):
        core.upload_model(VISITOR, empty, "empty.stl")


def test_a_digest_given_by_the_caller_spares_reading_the_file_for_it() -> None:
    analyser = CountingAnalyser()
    core = bootstrap("memory://", secret_key=b"k" * 32, analyser=analyser)
    create_sample_shop(core)
    digest = hashlib.sha256(CUBE).hexdigest()
    file = io.BytesIO(b"prefix" + CUBE)
    file.seek(6)
    first = core.upload_model_file(VISITOR, file, "cube.stl", sha256=digest.upper())
    assert (first.ref.sha256, first.ref.size) == (digest, len(CUBE))
    assert core.models.get(digest) == CUBE
    again = core.upload_model_file(VISITOR, io.BytesIO(CUBE), "again.stl", sha256=digest)
    assert again.analysis == attrs.evolve(first.analysis, filename="again.stl")
    assert len(analyser.calls) == 1


@pytest.mark.parametrize("defer_from", [None, 1])
def test_a_file_with_another_digest_than_given_is_refused_and_not_stored(
    defer_from: int | None,
) -> None:
    core = bootstrap("memory://", secret_key=b"k" * 32)
    create_sample_shop(core)
    wrong = hashlib.sha256(b"another file").hexdigest()
    with pytest.raises(InvalidInput, match="does not have the sha256 given"):
        core.upload_model_file(VISITOR, io.BytesIO(CUBE), "cube.stl", sha256=wrong,
                               defer_from=defer_from)
    assert list(core.models.digests()) == []
    with pytest.raises(InvalidInput, match="64 hex digits"):
        core.upload_model_file(VISITOR, io.BytesIO(CUBE), "cube.stl", sha256="../x")
