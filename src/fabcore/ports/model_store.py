"""Model (file) store port: keeps uploaded files, addressed by content."""

from __future__ import annotations

from typing import Protocol

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
    one copy. The shop manufactures from these files, so ``put`` must be
    durable when it returns.
    """

    def put(self, data: bytes, filename: str) -> ModelRef:
        """Store ``data`` and return its reference (idempotent for equal bytes)."""
        ...

    def get(self, sha256: str) -> bytes:
        """Return the stored bytes; raise ``NotFound`` for an unknown digest."""
        ...

    def size(self, sha256: str) -> int:
        """The stored file's size in bytes; raise ``NotFound`` for an unknown digest."""
        ...

    def exists(self, sha256: str) -> bool:
        """True when bytes with this digest are stored."""
        ...
