"""The S3 model store on moto's S3 server: layout, multipart, memory, failures and outages.

The contract suite (``tests/contract/test_model_store.py``) holds it to what
every model store does; these tests cover what is particular to objects.
"""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError

from fabcore.adapters.filesystem import FilesystemModelStore
from fabcore.adapters.s3 import S3ModelStore
from fabcore.domain.errors import NotFound, StorageError
from s3_server import BUCKET, PART_MB, MotoServer, S3Location

MiB = 1024 * 1024
PART = PART_MB * MiB


def _data(size: int, seed: bytes = b"") -> bytes:
    """``size`` bytes that do not repeat within a part."""
    block = hashlib.sha512(seed).digest() * (MiB // 64)
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
def store(s3_location: S3Location) -> S3ModelStore:
    return S3ModelStore.from_url(s3_location.url)


def test_keys_are_the_directory_stores_paths(
    store: S3ModelStore, s3_location: S3Location, tmp_path: Path
) -> None:
    directory = FilesystemModelStore(tmp_path)
    for data in (b"", b"one part", _data(3 * MiB)):
        store.put(data, "a.stl")
        directory.put(data, "a.stl")
    paths = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    keys = sorted(key.removeprefix(f"{s3_location.prefix}/") for key in s3_location.objects())
    assert keys == paths
    assert len(keys) == 3


def _etag(location: S3Location, sha256: str) -> str:
    key = f"{location.prefix}/{sha256[:2]}/{sha256[2:]}"
    return location.client().head_object(Bucket=location.bucket, Key=key)["ETag"].strip('"')


def test_large_files_go_up_in_parts(store: S3ModelStore, s3_location: S3Location) -> None:
    streamed = store.put_file(io.BytesIO(_data(2 * PART + 1, b"streamed")), "big.stl")
    given = store.put(_data(PART + 1, b"given"), "big.stl")
    small = store.put(_data(PART - 1, b"small"), "small.stl")
    # A multipart object's ETag ends in the number of its parts.
    assert _etag(s3_location, streamed.sha256).endswith("-3")
    assert _etag(s3_location, given.sha256).endswith("-2")
    assert "-" not in _etag(s3_location, small.sha256)
    assert store.get(streamed.sha256) == _data(2 * PART + 1, b"streamed")


@pytest.fixture
def traced() -> Iterator[Callable[[], float]]:
    """How far Python's allocations rose above where they were at the last call, in MiB."""
    tracemalloc.start()
    base = 0

    def peak() -> float:
        nonlocal base
        current, highest = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        rise, base = (highest - base) / MiB, current
        return rise

    try:
        yield peak
    finally:
        tracemalloc.stop()


def test_a_large_file_is_never_whole_in_memory(
    s3_location: S3Location, tmp_path: Path, traced: Callable[[], float]
) -> None:
    store = S3ModelStore.from_url(s3_location.url + "&concurrency=1")
    size = 48 * MiB
    path = tmp_path / "large.stl"
    with path.open("wb") as out:
        for start in range(0, size, 4 * MiB):
            out.write(_data(4 * MiB, str(start).encode()))
    traced()
    with path.open("rb") as file:
        ref = store.put_file(file, "large.stl")
    put_peak = traced()
    digest = hashlib.sha256()
    with store.open(ref.sha256) as file:
        while piece := file.read(MiB):
            digest.update(piece)
    read_peak = traced()
    assert ref.size == size
    assert digest.hexdigest() == ref.sha256
    # Parts are read from the file as they are sent: not even one is held whole.
    assert put_peak < PART_MB, f"{put_peak:.1f} MiB held to store a {size // MiB} MiB file"
    assert read_peak < 8, f"{read_peak:.1f} MiB held to read it back"


class _BreaksWhileUploading(io.BytesIO):
    """A file whose disk fails once it is read again past its first part."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.rewound = False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.rewound = True
        return super().seek(offset, whence)

    def read(self, size: int | None = -1) -> bytes:
        if self.rewound and self.tell() >= PART:
            raise OSError(5, "Input/output error")
        return super().read(size)


def test_a_failed_upload_leaves_nothing(store: S3ModelStore, s3_location: S3Location) -> None:
    data = _data(3 * PART, b"broken")
    with pytest.raises(StorageError) as caught:
        store.put_file(_BreaksWhileUploading(data), "broken.stl")
    assert isinstance(caught.value.__cause__, OSError)
    assert s3_location.objects() == []
    uploads = s3_location.client().list_multipart_uploads(
        Bucket=s3_location.bucket, Prefix=f"{s3_location.prefix}/"
    )
    assert uploads.get("Uploads", []) == []
    assert not store.exists(hashlib.sha256(data).hexdigest())


def _every_call(store: S3ModelStore) -> list[tuple[str, Callable[[], object]]]:
    digest = hashlib.sha256(b"x").hexdigest()
    return [
        ("put", lambda: store.put(b"x", "x.stl")),
        ("put_file", lambda: store.put_file(io.BytesIO(b"x"), "x.stl")),
        ("get", lambda: store.get(digest)),
        ("open", lambda: store.open(digest)),
        ("size", lambda: store.size(digest)),
        ("exists", lambda: store.exists(digest)),
        ("digests", lambda: list(store.digests())),
        ("delete", lambda: store.delete(digest)),
        ("check", store.check),
    ]


@pytest.fixture
def one_attempt(monkeypatch: pytest.MonkeyPatch, s3_credentials: None) -> None:
    """No retries, so a failure shows at once."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@pytest.mark.usefixtures("one_attempt")
def test_an_unreachable_store_is_a_storage_error() -> None:
    server = MotoServer()
    endpoint = server.endpoint
    server.stop()
    store = S3ModelStore("fabcore-tests", "models", endpoint=endpoint, connect_timeout=2)
    for name, call in _every_call(store):
        with pytest.raises(StorageError) as caught:
            call()
        assert isinstance(caught.value.__cause__, BotoCoreError), name
        assert "could not" in str(caught.value), name


@pytest.mark.usefixtures("one_attempt")
def test_a_missing_bucket_is_a_storage_error_not_a_missing_model(s3_server: MotoServer) -> None:
    store = S3ModelStore.from_url(s3_server.url("fabcore-no-such-bucket"))
    for name, call in _every_call(store):
        with pytest.raises(StorageError, match="bucket") as caught:
            call()
        assert not isinstance(caught.value, NotFound), name


def test_the_readiness_check_asks_once(monkeypatch: pytest.MonkeyPatch,
                                       s3_credentials: None) -> None:
    """However many attempts the other calls make, a probe gives up after one."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    accepted: list[None] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def hang_up() -> None:
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:
                    return
                accepted.append(None)
                connection.close()

        threading.Thread(target=hang_up, daemon=True).start()
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        store = S3ModelStore(BUCKET, "models", endpoint=endpoint)
        with pytest.raises(StorageError, match=f"s3://{BUCKET}/models"):
            store.check()
        assert len(accepted) == 1
        with pytest.raises(StorageError):
            store.exists(hashlib.sha256(b"x").hexdigest())
        assert len(accepted) == 5


@pytest.mark.usefixtures("one_attempt")
def test_the_store_works_again_when_the_server_is_back() -> None:
    server = MotoServer()
    try:
        server.create_bucket(BUCKET)
        store = S3ModelStore.from_url(server.url(BUCKET, "models"))
        before = store.put(b"before the outage", "a.stl")
        server.stop()
        with pytest.raises(StorageError):
            store.put(b"during the outage", "b.stl")
        with pytest.raises(StorageError):
            store.get(before.sha256)
        server.start()
        # moto keeps its objects in memory: the restarted server is empty.
        server.create_bucket(BUCKET)
        after = store.put(b"after the outage", "c.stl")
        assert store.get(after.sha256) == b"after the outage"
        assert list(store.digests()) == [after.sha256]
    finally:
        server.stop()


def test_digests_skip_what_is_not_a_model(store: S3ModelStore, s3_location: S3Location) -> None:
    ref = store.put(b"a model", "m.stl")
    s3 = s3_location.client()
    for key in ("README", "ab/not-a-digest", f"{ref.sha256[:2]}/{ref.sha256[2:]}/x",
                f"{ref.sha256[:3]}/{ref.sha256[3:]}"):
        s3.put_object(Bucket=s3_location.bucket, Key=f"{s3_location.prefix}/{key}", Body=b"")
    # A sibling prefix that starts the same is another store.
    sibling = f"{s3_location.prefix}x/{ref.sha256[:2]}/{'0' * 62}"
    s3.put_object(Bucket=s3_location.bucket, Key=sibling, Body=b"")
    try:
        assert list(store.digests()) == [ref.sha256]
    finally:
        s3.delete_object(Bucket=s3_location.bucket, Key=sibling)

