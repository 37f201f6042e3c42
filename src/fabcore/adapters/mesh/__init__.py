"""Mesh analysis: reading model files and measuring what a shop needs to price them."""

from fabcore.adapters.mesh.analyser import TrimeshAnalyser

__all__ = ["TrimeshAnalyser"]
