"""The mesh analyser contract, run against the analyser fabcore ships."""

from __future__ import annotations

import pytest

from fabcore.adapters.mesh import MeshFileAnalyser
from fabcore.ports.mesh import MeshAnalyser
from fabcore.testing.mesh import MeshAnalyserContract


class TestMeshFileAnalyser(MeshAnalyserContract):
    @pytest.fixture
    def analyser(self) -> MeshAnalyser:
        return MeshFileAnalyser()
