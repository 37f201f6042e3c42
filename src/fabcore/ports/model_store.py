"""Model (file) store port: keeps uploaded files, addressed by content."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, BinaryIO, Protocol

import attrs


@attrs.frozen
class ModelRef:
    """Reference to a stored model file: its sha256 plus the name it was uploaded as."""

    sha256: str
    filename: str
    size: int


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
