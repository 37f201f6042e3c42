"""Mesh analysis port."""

from __future__ import annotations

from typing import Protocol

from fabcore.domain.analysis import ModelAnalysis, Units


class MeshAnalyser(Protocol):
    """Measures an uploaded model file.

    Implementations must never crash, hang or use unbounded memory on hostile
    input: anything that cannot be analysed raises
    :class:`~fabcore.domain.errors.ModelRejected` naming the reason.
    """

    def analyse(self, data: bytes, filename: str, units: Units | str = Units.MM) -> ModelAnalysis:
        """Analyse ``data``; the format is taken from ``filename``'s extension."""
        ...
