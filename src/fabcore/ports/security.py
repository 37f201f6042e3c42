"""Password hashing port: slow, salted hashes of what people type."""

from __future__ import annotations

from typing import Protocol


class PasswordHasher(Protocol):
    """Hashes passwords and checks them against stored hashes.

    ``verify`` answers False for a wrong password and for a hash it cannot
    read, never raising for either; ``needs_rehash`` says a stored hash was
    made with weaker parameters than today's, so it is replaced at the next
    sign-in.
    """

    def hash(self, password: str) -> str: ...

    def verify(self, stored_hash: str, password: str) -> bool: ...

    def needs_rehash(self, stored_hash: str) -> bool: ...
