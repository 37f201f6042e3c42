"""Jobs run by the process that defers them: the embedded default (one machine, SQLite).

:class:`InProcessJobs` satisfies the ``JobQueue`` port without a queue.
Relaying the outbox wakes whatever relays this process's outbox (``fabcore
serve`` registers its background relay with :meth:`InProcessJobs.on_relay`);
with nothing registered (the command line, a notebook) it does nothing, and
``fabcore outbox send`` relays. An analysis runs before
:meth:`~InProcessJobs.analyse_model` returns, through the handler the
composition root binds (:meth:`InProcessJobs.bind_analysis`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from fabcore.domain.errors import ConfigurationError

__all__ = ["InProcessJobs"]


class InProcessJobs:
    """The ``JobQueue`` of one process (see the module docstring)."""

    analyses_elsewhere = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wakers: list[Callable[[], object]] = []
        self._analyse: Callable[[str, str], object] | None = None

    def __repr__(self) -> str:
        return "InProcessJobs()"

    def on_relay(self, wake: Callable[[], object]) -> Callable[[], None]:
        """Call ``wake`` whenever mails are queued; returns what unregisters it.

        ``wake`` runs in the thread that queued the mails: it must only signal.
        """
        with self._lock:
            self._wakers.append(wake)

        def unregister() -> None:
            with self._lock:
                if wake in self._wakers:
                    self._wakers.remove(wake)

        return unregister

    def bind_analysis(self, analyse: Callable[[str, str], object]) -> None:
        """The job that analyses a stored model (sha256, units) for its pending request."""
        self._analyse = analyse

    def relay_outbox(self, request_id: str | None) -> None:
        with self._lock:
            wakers = list(self._wakers)
        for wake in wakers:
            wake()

    def analyse_model(self, sha256: str, units: str, request_id: str | None) -> None:
        if self._analyse is None:
            raise ConfigurationError("InProcessJobs: no analysis bound (see bind_analysis)")
        self._analyse(sha256, units)

    def waiting(self) -> Mapping[str, int]:
        return {}

    def check(self) -> None:
        """Nothing to reach: the jobs run here."""
