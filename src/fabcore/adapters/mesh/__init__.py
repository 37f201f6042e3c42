"""Mesh analysis: reading model files and measuring what a shop needs to price them.

The names below are imported on first use, so that a child process of
:mod:`fabcore.adapters.mesh.sandbox` starts without loading the analyser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fabcore.adapters.mesh.analyser import MeshFileAnalyser
    from fabcore.adapters.mesh.readers.base import Limits

__all__ = ["Limits", "MeshFileAnalyser"]


def __getattr__(name: str) -> Any:
    if name == "MeshFileAnalyser":
        from fabcore.adapters.mesh.analyser import MeshFileAnalyser

        return MeshFileAnalyser
    if name == "Limits":
        from fabcore.adapters.mesh.readers.base import Limits

        return Limits
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
