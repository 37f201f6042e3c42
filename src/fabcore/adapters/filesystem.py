"""Model store on the local file system, addressed by content.

A file with sha256 ``abcdef...`` lives at ``root/ab/cdef...``. Writes go to a
temporary file (``.tmp-*``) in the same directory, or in ``root`` for a
streamed file whose digest is known only at its end, are flushed to disk and
then renamed into place, so a reader never sees half a file and a crash
leaves none under a digest's name. A staged file (:meth:`FilesystemModelStore.stage`)
is such a temporary file, written and synced, waiting to be renamed or removed.
Once synced, a file's pages leave the page cache (see :func:`_sync_and_uncache`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from fabcore.adapters.staging import Staged
from fabcore.domain import checks
from fabcore.domain.errors import NotFound, StorageError
from fabcore.ports.model_store import ModelRef, StagedModel

_TEMPORARY = ".tmp-"
_CHUNK = 1 << 20
_DIGEST = re.compile(r"[0-9a-f]{64}")


class FilesystemModelStore:
    """Content-addressed model files under ``root`` (created on first write)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FilesystemModelStore({str(self.root)!r})"

    def _path(self, sha256: str) -> Path:
        # Only 64 hex digits reach the file system: no separators, no "..".
        digest = checks.sha256(sha256)
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes, filename: str) -> ModelRef:
        digest = hashlib.sha256(data).hexdigest()
        target = self._path(digest)
        try:
            if not self._stored(target, len(data)):
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=_TEMPORARY)
                with _removed_on_error(tmp_name), os.fdopen(fd, "wb") as out:
                    out.write(data)
                    _sync_and_uncache(out)
                self._install(tmp_name, target)
        except OSError as exc:
            raise StorageError(f"could not store model {digest}: {exc}") from exc
        return ModelRef(sha256=digest, filename=filename, size=len(data))

    def put_file(self, file: IO[bytes], filename: str) -> ModelRef:
        with self.stage(file, filename) as staged:
            return staged.keep()

    def stage(self, file: IO[bytes], filename: str) -> StagedModel:
        # The digest is known only once the file has been read: it goes to a
        # temporary file under the root first, hashed on the way, and synced.
        hasher = hashlib.sha256()
        size = 0
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=_TEMPORARY)
            with _removed_on_error(tmp_name), os.fdopen(fd, "wb") as out:
                while chunk := file.read(_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                _sync_and_uncache(out)
        except OSError as exc:
            raise StorageError(f"could not store model {filename!r}: {exc}") from exc
        ref = ModelRef(sha256=hasher.hexdigest(), filename=filename, size=size)
        return _StagedFile(self, ref, tmp_name)

    @staticmethod
    def _stored(target: Path, size: int) -> bool:
        return target.is_file() and target.stat().st_size == size

    @staticmethod
    def _install(tmp_name: str, target: Path) -> None:
        """Rename a complete, synced temporary file into place, durably."""
        with _removed_on_error(tmp_name):
            os.replace(tmp_name, target)
        _fsync_directory(target.parent)

    def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no stored model with sha256 {sha256}") from None
        except OSError as exc:
            raise StorageError(f"could not read model {sha256}: {exc}") from exc

    def size(self, sha256: str) -> int:
        path = self._path(sha256)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            raise NotFound(f"no stored model with sha256 {sha256}") from None
        except OSError as exc:
            raise StorageError(f"could not look up model {sha256}: {exc}") from exc

    def exists(self, sha256: str) -> bool:
        path = self._path(sha256)
        try:
            return path.is_file()
        except OSError as exc:
            raise StorageError(f"could not look up model {sha256}: {exc}") from exc

    def open(self, sha256: str) -> BinaryIO:
        path = self._path(sha256)
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"no stored model with sha256 {sha256}") from None
        except OSError as exc:
            raise StorageError(f"could not read model {sha256}: {exc}") from exc

    def digests(self) -> Iterator[str]:
        try:
            for folder in sorted(self.root.iterdir()) if self.root.is_dir() else ():
                if len(folder.name) != 2 or not folder.is_dir():
                    continue
                for entry in sorted(folder.iterdir()):
                    digest = folder.name + entry.name
                    # Temporary files left by a crash are not models.
                    if _DIGEST.fullmatch(digest) and entry.is_file():
                        yield digest
        except OSError as exc:
            raise StorageError(f"could not list the models in {self.root}: {exc}") from exc

    def delete(self, sha256: str) -> None:
        path = self._path(sha256)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"could not delete model {sha256}: {exc}") from exc
        _fsync_directory(path.parent)

    def check(self) -> None:
        """The root is a directory this process can write in (made, as a first write would)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # Writing is the only sure test: permission bits do not bind root,
            # and a read-only mount shows only on a write.
            with tempfile.TemporaryFile(dir=self.root, prefix=_TEMPORARY):
                pass
        except OSError as exc:
            raise StorageError(f"the model directory {self.root} is not writable: {exc}") from exc


class _StagedFile(Staged):
    """A synced temporary file under the root, renamed into place when kept."""

    def __init__(self, store: FilesystemModelStore, ref: ModelRef, tmp_name: str) -> None:
        super().__init__(ref)
        self._owner = store
        self._tmp_name = tmp_name

    def _store(self) -> None:
        target = self._owner._path(self.ref.sha256)
        try:
            if not self._owner._stored(target, self.ref.size):
                target.parent.mkdir(exist_ok=True)
                self._owner._install(self._tmp_name, target)
        except OSError as exc:
            raise StorageError(f"could not store model {self.ref.sha256}: {exc}") from exc

    def _release(self) -> None:
        # Gone once renamed into place; what cannot be removed now is a
        # leftover like a crash's, never a model.
        with contextlib.suppress(OSError):
            os.unlink(self._tmp_name)


@contextlib.contextmanager
def _removed_on_error(tmp_name: str) -> Iterator[None]:
    """Delete the temporary file when the block fails (it is not a model)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _sync_and_uncache(out: IO[bytes]) -> None:
    """Flush ``out`` and sync it to disk, then drop its pages from the page cache.

    A model file is read rarely once stored (its analysis is kept in the
    database), so its pages would only push out the database's, and the
    freed pages serve the next file.
    """
    out.flush()
    os.fsync(out.fileno())
    if hasattr(os, "posix_fadvise"):
        # Advice only: a file system that cannot drop the pages keeps them.
        with contextlib.suppress(OSError):
            os.posix_fadvise(out.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
