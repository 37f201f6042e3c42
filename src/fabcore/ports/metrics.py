"""Metrics port: what the application counts and times for its operators."""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    """Counters and timings the use cases report (an exporter, or nothing).

    Calls must be cheap and must not raise: they run inside use cases,
    right after a change committed.
    """

    def status_changed(self, status: str) -> None:
        """An order reached ``status`` (its value, e.g. ``placed``)."""
        ...

    def model_analysed(self, file_format: str, seconds: float) -> None:
        """A model file of ``file_format`` (``stl``, ``3mf``, ...) took ``seconds`` to analyse."""
        ...
