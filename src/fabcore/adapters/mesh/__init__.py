"""Mesh analysis: reading model files and measuring what a shop needs to price them."""

from fabcore.adapters.mesh.analyser import MeshFileAnalyser
from fabcore.adapters.mesh.readers.base import Limits

__all__ = ["Limits", "MeshFileAnalyser"]
