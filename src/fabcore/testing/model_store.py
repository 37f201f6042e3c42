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
import threading

import pytest

from fabcore.domain.errors import InvalidInput, NotFound
from fabcore.ports.model_store import ModelRef, ModelStore

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
