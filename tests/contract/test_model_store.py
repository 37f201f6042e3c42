"""The model store contract, run against every adapter fabcore ships."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fabcore.adapters.filesystem import FilesystemModelStore
from fabcore.adapters.memory import MemoryModelStore
from fabcore.adapters.s3 import S3ModelStore
from fabcore.domain.errors import StorageError
from fabcore.ports.model_store import ModelStore
from fabcore.testing.model_store import ModelStoreContract
from s3_server import S3Location


class TestMemoryModelStore(ModelStoreContract):
    @pytest.fixture
    def store(self) -> ModelStore:
        return MemoryModelStore()


class TestFilesystemModelStore(ModelStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ModelStore:
        return FilesystemModelStore(tmp_path / "models")


class TestS3ModelStore(ModelStoreContract):
    """On moto's S3 server, or the store at ``FABCORE_TEST_S3_URL`` (see ``tests/s3_server.py``)."""

    @pytest.fixture
    def store(self, s3_location: S3Location) -> ModelStore:
        return S3ModelStore.from_url(s3_location.url)


def test_filesystem_layout_is_content_addressed(tmp_path: Path) -> None:
    store = FilesystemModelStore(tmp_path)
    data = b"solid x\nendsolid x\n"
    digest = hashlib.sha256(data).hexdigest()
    store.put(data, "x.stl")
    store.put(data, "y.stl")
    assert (tmp_path / digest[:2] / digest[2:]).read_bytes() == data
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [digest[2:]]


def test_filesystem_survives_a_new_instance(tmp_path: Path) -> None:
    ref = FilesystemModelStore(tmp_path).put(b"durable", "d.stl")
    assert FilesystemModelStore(tmp_path).get(ref.sha256) == b"durable"


def test_filesystem_write_failure_is_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    store = FilesystemModelStore(blocker)
    with pytest.raises(StorageError) as caught:
        store.put(b"data", "a.stl")
    assert isinstance(caught.value.__cause__, OSError)


def test_filesystem_read_failure_is_storage_error(tmp_path: Path) -> None:
    store = FilesystemModelStore(tmp_path)
    ref = store.put(b"data", "a.stl")
    path = tmp_path / ref.sha256[:2] / ref.sha256[2:]
    path.unlink()
    path.mkdir()
    with pytest.raises(StorageError) as caught:
        store.get(ref.sha256)
    assert isinstance(caught.value.__cause__, OSError)


def test_filesystem_staging_writes_the_file_and_keeping_only_renames_it(tmp_path: Path) -> None:
    store = FilesystemModelStore(tmp_path)
    data = b"solid staged\nendsolid staged\n"
    staged = store.stage(io.BytesIO(data), "s.stl")
    [temporary] = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert temporary.name.startswith(".tmp-")
    assert temporary.read_bytes() == data
    assert list(store.digests()) == []
    written = temporary.stat().st_ino
    staged.keep()
    [kept] = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert (kept.name, kept.stat().st_ino) == (staged.ref.sha256[2:], written)


def test_filesystem_dropping_removes_the_staged_file(tmp_path: Path) -> None:
    store = FilesystemModelStore(tmp_path)
    store.stage(io.BytesIO(b"rejected"), "r.stl").drop()
    with store.stage(io.BytesIO(b"unkept"), "u.stl"):
        pass
    store.put(b"stored", "s.stl")
    with store.stage(io.BytesIO(b"stored"), "again.stl") as again:
        again.keep()
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [
        hashlib.sha256(b"stored").hexdigest()[2:]]


def test_filesystem_staging_failure_is_storage_error_and_leaves_nothing(tmp_path: Path) -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: object) -> int:
            raise OSError("connection reset")

    store = FilesystemModelStore(tmp_path)
    with pytest.raises(StorageError, match="connection reset"):
        store.stage(io.BufferedReader(Broken()), "cut.stl")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def _cached_bytes(path: Path) -> int:
    found = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
                           capture_output=True, text=True, check=True)
    return int(found.stdout.split()[0])


@pytest.mark.skipif(shutil.which("fincore") is None, reason="needs fincore (util-linux)")
def test_filesystem_stored_files_leave_the_page_cache(tmp_path: Path) -> None:
    store = FilesystemModelStore(tmp_path / "models")
    put = store.put(os.urandom(4 << 20), "put.stl")
    with store.stage(io.BytesIO(os.urandom(4 << 20)), "staged.stl") as staged:
        kept = staged.keep()
    for ref in (put, kept):
        path = tmp_path / "models" / ref.sha256[:2] / ref.sha256[2:]
        assert path.stat().st_size == 4 << 20
        assert _cached_bytes(path) == 0
