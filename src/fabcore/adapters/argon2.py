"""Password hashing with Argon2id (argon2-cffi): the ``PasswordHasher`` port."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["Argon2Hasher"]


class Argon2Hasher:
    """Argon2id with argon2-cffi's parameters (RFC 9106's low-memory recommendation).

    Pass ``time_cost`` and ``memory_cost`` (KiB) to change them; hashes made
    with other parameters verify, and report ``needs_rehash``.
    """

    def __init__(self, *, time_cost: int | None = None, memory_cost: int | None = None) -> None:
        defaults = PasswordHasher()
        self._hasher = PasswordHasher(
            time_cost=defaults.time_cost if time_cost is None else time_cost,
            memory_cost=defaults.memory_cost if memory_cost is None else memory_cost,
        )

    def __repr__(self) -> str:
        p = self._hasher
        return f"Argon2Hasher(time_cost={p.time_cost}, memory_cost={p.memory_cost})"

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True
