"""Model (file) store port: keeps uploaded files, addressed by content."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import IO, BinaryIO, Protocol, Self

import attrs


@attrs.frozen
class ModelRef:
    """Reference to a stored model file: its sha256 plus the name it was uploaded as."""

    sha256: str
    filename: str
    size: int


class StagedModel(Protocol):
    """A file written to a store out of every reader's sight, until it is kept or dropped.

    Leaving its ``with`` block drops it unless it was kept. A store does as
    much of the storing as it can while staging, so that it overlaps what
    the caller does meanwhile (an upload is staged while it is analysed):
    the directory store writes and syncs the file, and keeping renames it;
    the S3 store spools it, and keeping uploads it.
    """

    @property
    def ref(self) -> ModelRef:
        """The file's reference, as :meth:`ModelStore.put_file` would return it."""
        ...

    def keep(self) -> ModelRef:
        """Store the file under its digest, durably, as ``put_file`` does.

        A file stored already under that digest is left as it is. A staged
        file is kept once: keeping it again raises ``RuntimeError``.
        """
        ...

    def drop(self) -> None:
        """Forget the file; nothing happens once it was kept or dropped."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None: ...


class ModelStore(Protocol):
    """Content-addressed storage of uploaded model files.

    The same bytes always give the same ``sha256``; storing them twice keeps
    one copy. The shop manufactures from these files, so ``put`` and
    ``put_file`` must be durable when they return, and a reader never sees
    part of a file. Digests given to the other methods must be 64 lowercase
    hex digits (``InvalidInput`` otherwise).
    """

    def put(self, data: bytes, filename: str) -> ModelRef:
        """Store ``data`` and return its reference (idempotent for equal bytes)."""
        ...

    def put_file(self, file: IO[bytes], filename: str) -> ModelRef:
        """Store what ``file`` holds from its position to its end, like :meth:`put`.

        The file is read in pieces, never whole into memory; it need not be
        seekable. It is left open, at its end.
        """
        ...

    def stage(self, file: IO[bytes], filename: str) -> StagedModel:
        """Write what ``file`` holds from its position to its end, to be kept or dropped.

        Read like :meth:`put_file`; until :meth:`StagedModel.keep` nothing is
        stored: no reader sees the file, and a dropped (or never kept) file
        leaves nothing behind.
        """
        ...

    def get(self, sha256: str) -> bytes:
        """Return the stored bytes; raise ``NotFound`` for an unknown digest."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes as a file to read (and close); ``NotFound`` for an unknown digest."""
        ...

    def size(self, sha256: str) -> int:
        """The stored file's size in bytes; raise ``NotFound`` for an unknown digest."""
        ...

    def exists(self, sha256: str) -> bool:
        """True when bytes with this digest are stored."""
        ...

    def digests(self) -> Iterator[str]:
        """The digest of every stored file, each once, in no particular order."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the stored file; an unknown digest is no error."""
        ...

    def check(self) -> None:
        """Raise ``StorageError`` (saying which store) unless the store answers now.

        A readiness probe: quick, and it stores no model.
        """
        ...
