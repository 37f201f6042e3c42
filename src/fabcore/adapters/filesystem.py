"""Model store on the local file system, addressed by content.

A file with sha256 ``abcdef...`` lives at ``root/ab/cdef...``. Writes go to a
temporary file in the same directory, are flushed to disk and then renamed
into place, so a reader never sees half a file and a crash leaves none.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from fabcore.domain import checks
from fabcore.domain.errors import NotFound, StorageError
from fabcore.ports.model_store import ModelRef


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
        ref = ModelRef(sha256=digest, filename=filename, size=len(data))
        target = self._path(digest)
        try:
            if target.is_file() and target.stat().st_size == len(data):
                return ref
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp_name, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                raise
            _fsync_directory(target.parent)
        except OSError as exc:
            raise StorageError(f"could not store model {digest}: {exc}") from exc
        return ref

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
