"""A web worker's garbage collector: the start-up heap frozen, full collections rare."""

from __future__ import annotations

import collections
import gc
from collections.abc import Iterator

import pytest

from fabcore.entrypoints.web.serve import settle_heap


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does to the collector is undone after it."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def full_collections_over_requests(requests: int = 1_000_000) -> int:
    """Full collections while objects like a request's are made, kept a while and dropped."""
    started: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            started.append(1)

    gc.callbacks.append(count)
    try:
        in_flight: collections.deque[list[object]] = collections.deque(maxlen=5_000)
        for n in range(requests):
            # In a cycle, so only the collector frees it once it is dropped.
            made: list[object] = [{"n": n}]
            made.append(made)
            in_flight.append(made)
    finally:
        gc.callbacks.remove(count)
    return len(started)


def test_settling_freezes_the_heap_built_so_far(collector: None) -> None:
    gc.unfreeze()
    settle_heap()
    assert gc.get_freeze_count() > 0


def test_a_settled_worker_collects_fully_far_less_often(collector: None) -> None:
    gc.freeze()
    with_defaults = full_collections_over_requests()
    gc.unfreeze()
    settle_heap()
    settled = full_collections_over_requests()

    assert with_defaults >= 10
    assert settled <= with_defaults // 5
