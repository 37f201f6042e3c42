"""The analysis processes' settings, from the environment."""

from __future__ import annotations

import pickle

import pytest

from fabcore.adapters.mesh import MeshFileAnalyser
from fabcore.adapters.mesh.threads import default_threads
from fabcore.domain.errors import ConfigurationError
from fabcore.entrypoints.environment import AnalysisPool


def test_threads_per_analysis_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABCORE_ANALYSIS_THREADS", "3")
    pool = AnalysisPool.from_environment()
    assert pool.threads == 3
    # The worker processes are spawned: what makes their analyser must survive pickling.
    analyser = pickle.loads(pickle.dumps(pool.analyser()))()
    assert isinstance(analyser, MeshFileAnalyser)
    assert analyser.threads.count == 3


@pytest.mark.parametrize("value", ["", "0"])
def test_unset_or_zero_threads_mean_the_processors_at_hand(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FABCORE_ANALYSIS_THREADS", value)
    pool = AnalysisPool.from_environment()
    assert pool.threads is None
    analyser = pool.analyser()()
    assert isinstance(analyser, MeshFileAnalyser)
    assert analyser.threads.count == default_threads()


@pytest.mark.parametrize("value", ["-1", "two"])
def test_bad_thread_counts_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FABCORE_ANALYSIS_THREADS", value)
    with pytest.raises(ConfigurationError, match="FABCORE_ANALYSIS_THREADS"):
        AnalysisPool.from_environment()
