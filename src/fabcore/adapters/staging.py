"""What every model store's staged file does alike (see ``ModelStore.stage``)."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

from fabcore.ports.model_store import ModelRef

__all__ = ["Staged"]


class Staged(abc.ABC):
    """A staged file, kept or dropped once, and dropped on leaving its block unless kept.

    A store says how to store the file (:meth:`_store`) and how to let go of
    what staging holds (:meth:`_release`, after storing or instead of it).
    """

    def __init__(self, ref: ModelRef) -> None:
        self.ref = ref
        self._pending = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.drop()

    def keep(self) -> ModelRef:
        if not self._pending:
            raise RuntimeError(f"model {self.ref.sha256} was kept or dropped already")
        self._pending = False
        try:
            self._store()
        finally:
            self._release()
        return self.ref

    def drop(self) -> None:
        if self._pending:
            self._pending = False
            self._release()

    @abc.abstractmethod
    def _store(self) -> None:
        """Store the file under its digest, durably."""

    @abc.abstractmethod
    def _release(self) -> None:
        """Let go of what staging holds (a temporary file, a spool, bytes)."""
