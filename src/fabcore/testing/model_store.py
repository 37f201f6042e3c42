"""Contract tests every ``ModelStore`` adapter must pass.

Subclass :class:`ModelStoreContract` in a pytest module and provide a
``store`` fixture returning an empty store::

    class TestMyStore(ModelStoreContract):
        @pytest.fixture
        def store(self, tmp_path: Path) -> ModelStore:
            return MyStore(tmp_path)
"""

from __future__ import annotations

import hashlib
import io
import threading
from typing import TYPE_CHECKING

import pytest

from fabcore.domain.errors import InvalidInput, NotFound
from fabcore.ports.model_store import ModelRef, ModelStore

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

BAD_DIGESTS = (
    "",
    "abc",
    "../../etc/passwd",
    "z" * 64,
    "0" * 63,
    "0" * 65,
    "ab/" + "0" * 61,
    "..".ljust(64, "0"),
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Unseekable(io.RawIOBase):
    """A stream that can only be read forward, like a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._data.readinto(buffer)


def _unseekable(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(_Unseekable(data))


#: Larger than the pieces stores read and write at a time (a few MiB), not a multiple of them.
LARGE = bytes(range(256)) * (12 * 4096 + 7)


class ModelStoreContract:
    """Behaviour shared by every model store; errors included."""

    @pytest.fixture
    def store(self) -> ModelStore:
        raise NotImplementedError("a ModelStoreContract subclass must provide a `store` fixture")

    def test_put_returns_reference(self, store: ModelStore) -> None:
        data = b"solid cube\nendsolid cube\n"
        ref = store.put(data, "cube.stl")
        assert ref == ModelRef(sha256=_sha(data), filename="cube.stl", size=len(data))

    def test_get_returns_stored_bytes(self, store: ModelStore) -> None:
        data = bytes(range(256)) * 1000
        ref = store.put(data, "part.3mf")
        assert store.get(ref.sha256) == data

    def test_size(self, store: ModelStore) -> None:
        data = bytes(range(256)) * 3
        ref = store.put(data, "part.stl")
        assert store.size(ref.sha256) == len(data) == ref.size
        with pytest.raises(NotFound):
            store.size(_sha(b"never stored"))

    def test_exists(self, store: ModelStore) -> None:
        data = b"\x00\x01 model"
        assert not store.exists(_sha(data))
        store.put(data, "a.stl")
        assert store.exists(_sha(data))

    def test_put_is_idempotent(self, store: ModelStore) -> None:
        data = b"same bytes"
        first = store.put(data, "a.stl")
        second = store.put(data, "a.stl")
        assert first == second
        assert store.get(first.sha256) == data

    def test_same_bytes_under_another_name(self, store: ModelStore) -> None:
        data = b"one part, two names"
        first = store.put(data, "bracket.stl")
        second = store.put(data, "bracket-v2.stl")
        assert first.sha256 == second.sha256
        assert (first.filename, second.filename) == ("bracket.stl", "bracket-v2.stl")
        assert store.get(second.sha256) == data

    def test_different_bytes_are_kept_apart(self, store: ModelStore) -> None:
        one = store.put(b"first", "x.stl")
        two = store.put(b"second", "x.stl")
        assert one.sha256 != two.sha256
        assert store.get(one.sha256) == b"first"
        assert store.get(two.sha256) == b"second"

    def test_empty_file(self, store: ModelStore) -> None:
        ref = store.put(b"", "empty.stl")
        assert ref.size == 0
        assert store.get(ref.sha256) == b""

    def test_get_unknown_raises_not_found(self, store: ModelStore) -> None:
        with pytest.raises(NotFound):
            store.get(_sha(b"never stored"))

    def test_exists_unknown_is_false(self, store: ModelStore) -> None:
        assert store.exists(_sha(b"never stored")) is False

    @pytest.mark.parametrize("digest", BAD_DIGESTS)
    def test_get_rejects_bad_digest(self, store: ModelStore, digest: str) -> None:
        with pytest.raises(InvalidInput):
            store.get(digest)

    @pytest.mark.parametrize("digest", BAD_DIGESTS)
    def test_exists_rejects_bad_digest(self, store: ModelStore, digest: str) -> None:
        with pytest.raises(InvalidInput):
            store.exists(digest)

    def test_concurrent_puts(self, store: ModelStore) -> None:
        blobs = [f"model {i}".encode() * 100 for i in range(16)]
        errors: list[BaseException] = []

        def worker(chunk: list[bytes]) -> None:
            try:
                for data in chunk:
                    store.put(data, "m.stl")
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(blobs,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert all(store.get(_sha(data)) == data for data in blobs)

    def test_put_file_stores_like_put(self, store: ModelStore) -> None:
        data = b"solid streamed\nendsolid streamed\n"
        ref = store.put_file(io.BytesIO(data), "streamed.stl")
        assert ref == ModelRef(sha256=_sha(data), filename="streamed.stl", size=len(data))
        assert store.get(ref.sha256) == data
        assert store.put(data, "again.stl").sha256 == ref.sha256

    def test_put_file_reads_from_the_position_to_the_end(self, store: ModelStore) -> None:
        file = io.BytesIO(b"header to skip|the model")
        file.seek(len(b"header to skip|"))
        ref = store.put_file(file, "part.stl")
        assert store.get(ref.sha256) == b"the model"
        assert ref.size == len(b"the model")
        assert not file.closed
        assert file.read() == b""

    def test_put_file_from_a_stream_that_cannot_seek(self, store: ModelStore) -> None:
        stream = _unseekable(LARGE)
        ref = store.put_file(stream, "piped.stl")
        assert ref == ModelRef(sha256=_sha(LARGE), filename="piped.stl", size=len(LARGE))
        assert store.get(ref.sha256) == LARGE
        assert not stream.closed

    def test_put_file_large(self, store: ModelStore) -> None:
        ref = store.put_file(io.BytesIO(LARGE), "large.stl")
        assert ref.size == len(LARGE) == store.size(ref.sha256)
        assert store.get(ref.sha256) == LARGE

    def test_put_file_is_idempotent(self, store: ModelStore) -> None:
        first = store.put_file(io.BytesIO(LARGE), "a.stl")
        second = store.put_file(_unseekable(LARGE), "b.stl")
        assert (first.sha256, first.size) == (second.sha256, second.size)
        assert list(store.digests()) == [first.sha256]

    def test_put_file_empty(self, store: ModelStore) -> None:
        ref = store.put_file(io.BytesIO(b""), "empty.stl")
        assert (ref.sha256, ref.size) == (_sha(b""), 0)
        assert store.get(ref.sha256) == b""

    def test_a_staged_file_is_stored_only_once_kept(self, store: ModelStore) -> None:
        file = io.BytesIO(b"header to skip|" + LARGE)
        file.seek(len(b"header to skip|"))
        staged = store.stage(file, "large.stl")
        assert staged.ref == ModelRef(sha256=_sha(LARGE), filename="large.stl", size=len(LARGE))
        assert file.read() == b""
        file.close()  # the caller's file is not needed once staged
        assert not store.exists(staged.ref.sha256)
        with pytest.raises(NotFound):
            store.get(staged.ref.sha256)
        assert list(store.digests()) == []
        with staged:
            assert staged.keep() == staged.ref
        assert store.get(staged.ref.sha256) == LARGE
        assert list(store.digests()) == [staged.ref.sha256]

    def test_a_dropped_file_leaves_nothing(self, store: ModelStore) -> None:
        kept = store.put(b"kept part", "kept.stl")
        dropped = store.stage(_unseekable(LARGE), "rejected.stl")
        dropped.drop()
        dropped.drop()
        with store.stage(io.BytesIO(b"left in its block"), "unkept.stl") as unkept:
            pass
        assert not store.exists(dropped.ref.sha256)
        assert not store.exists(unkept.ref.sha256)
        assert list(store.digests()) == [kept.sha256]

    def test_a_file_left_by_an_error_is_dropped(self, store: ModelStore) -> None:
        with pytest.raises(ValueError, match="refused"), \
                store.stage(io.BytesIO(b"refused part"), "part.stl") as staged:
            raise ValueError("refused")
        assert not store.exists(staged.ref.sha256)

    def test_keeping_bytes_stored_before_keeps_one_copy(self, store: ModelStore) -> None:
        first = store.put(LARGE, "a.stl")
        with store.stage(io.BytesIO(LARGE), "b.stl") as staged:
            assert staged.keep() == ModelRef(first.sha256, "b.stl", len(LARGE))
            staged.drop()
        assert list(store.digests()) == [first.sha256]
        assert store.get(first.sha256) == LARGE

    def test_staged_files_of_the_same_bytes_are_kept_apart(self, store: ModelStore) -> None:
        # Two uploads of one file: one refused (dropped), one accepted (kept).
        accepted = store.stage(io.BytesIO(LARGE), "in-mm.stl")
        refused = store.stage(io.BytesIO(LARGE), "in-m.stl")
        refused.drop()
        accepted.keep()
        assert store.get(accepted.ref.sha256) == LARGE

    def test_a_staged_file_is_kept_once(self, store: ModelStore) -> None:
        staged = store.stage(io.BytesIO(b"part"), "part.stl")
        staged.keep()
        with pytest.raises(RuntimeError, match="kept or dropped"):
            staged.keep()
        staged.drop()
        assert store.get(staged.ref.sha256) == b"part"

    def test_open_reads_the_stored_bytes_in_pieces(self, store: ModelStore) -> None:
        ref = store.put(LARGE, "large.stl")
        pieces = []
        with store.open(ref.sha256) as file:
            while piece := file.read(1 << 16):
                assert len(piece) <= 1 << 16
                pieces.append(piece)
        assert b"".join(pieces) == LARGE
        assert len(pieces) > 1

    def test_open_empty_file(self, store: ModelStore) -> None:
        ref = store.put(b"", "empty.stl")
        with store.open(ref.sha256) as file:
            assert file.read() == b""

    def test_open_unknown_raises_not_found(self, store: ModelStore) -> None:
        with pytest.raises(NotFound):
            store.open(_sha(b"never stored"))

    @pytest.mark.parametrize("digest", BAD_DIGESTS)
    def test_open_rejects_bad_digest(self, store: ModelStore, digest: str) -> None:
        with pytest.raises(InvalidInput):
            store.open(digest)

    @pytest.mark.parametrize("digest", BAD_DIGESTS)
    def test_size_rejects_bad_digest(self, store: ModelStore, digest: str) -> None:
        with pytest.raises(InvalidInput):
            store.size(digest)

    def test_digests_of_an_empty_store(self, store: ModelStore) -> None:
        assert list(store.digests()) == []

    def test_digests_lists_each_stored_file_once(self, store: ModelStore) -> None:
        blobs = [b"", b"one", b"two", LARGE]
        for data in blobs:
            store.put(data, "a.stl")
            store.put(data, "b.stl")
        found = list(store.digests())
        assert sorted(found) == sorted(_sha(data) for data in blobs)

    def test_delete_removes_only_that_file(self, store: ModelStore) -> None:
        gone = store.put(b"rejected part", "a.stl")
        kept = store.put(b"good part", "b.stl")
        store.delete(gone.sha256)
        assert not store.exists(gone.sha256)
        with pytest.raises(NotFound):
            store.get(gone.sha256)
        assert store.get(kept.sha256) == b"good part"
        assert list(store.digests()) == [kept.sha256]

    def test_delete_unknown_is_no_error(self, store: ModelStore) -> None:
        store.delete(_sha(b"never stored"))
        assert list(store.digests()) == []

    def test_stored_again_after_delete(self, store: ModelStore) -> None:
        ref = store.put(b"part", "a.stl")
        store.delete(ref.sha256)
        store.put_file(io.BytesIO(b"part"), "a.stl")
        assert store.get(ref.sha256) == b"part"

    @pytest.mark.parametrize("digest", BAD_DIGESTS)
    def test_delete_rejects_bad_digest(self, store: ModelStore, digest: str) -> None:
        with pytest.raises(InvalidInput):
            store.delete(digest)

    def test_check_passes_on_a_working_store(self, store: ModelStore) -> None:
        store.check()
        assert list(store.digests()) == []
