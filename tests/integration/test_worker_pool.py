"""The analysis worker pool: limits, timeouts, crashes and bugs, with real processes."""

from __future__ import annotations

import platform
import threading
from collections.abc import Iterator

import pytest

from fabcore.adapters.worker_pool import PooledAnalyser
from fabcore.domain.errors import InfrastructureError, ModelRejected
from pool_analysers import Scripted, SlowToStart, broken_factory


@pytest.fixture
def pool() -> Iterator[PooledAnalyser]:
    made = PooledAnalyser(Scripted, workers=1, memory_mb=1024, timeout_s=3, queue=1)
    try:
        yield made
    finally:
        made.close()


def test_answers_and_refusals_come_back(pool: PooledAnalyser) -> None:
    assert pool.analyse(b"ok", "part.stl").filename == "part.stl"
    with pytest.raises(ModelRejected, match="not a model"):
        pool.analyse(b"reject", "bad.stl")


def test_a_file_over_the_time_limit_is_refused_and_the_worker_replaced(
    pool: PooledAnalyser,
) -> None:
    with pytest.raises(ModelRejected, match="longer than 3 s"):
        pool.analyse(b"sleep", "slow.stl")
    assert pool.analyse(b"ok", "next.stl").filename == "next.stl"


def test_a_crashing_worker_is_replaced(pool: PooledAnalyser) -> None:
    with pytest.raises(ModelRejected, match="the analysis stopped"):
        pool.analyse(b"crash", "crash.stl")
    assert pool.analyse(b"ok", "next.stl").filename == "next.stl"


def test_the_memory_limit_refuses_a_hog() -> None:
    # The hog fills a gigabyte before the limit stops it: on a busy machine that
    # can take longer than the other tests' 3 s, and this test is about memory.
    pool = PooledAnalyser(Scripted, workers=1, memory_mb=1024, timeout_s=60, queue=1)
    try:
        with pytest.raises(ModelRejected, match="memory limit"):
            pool.analyse(b"hog", "huge.stl")
        assert pool.analyse(b"ok", "next.stl").filename == "next.stl"
    finally:
        pool.close()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")
def test_a_worker_reuses_the_memory_an_analysis_freed(pool: PooledAnalyser) -> None:
    pool.analyse(b"fill", "first.stl")
    second = pool.analyse(b"fill", "second.stl")
    # 64 MiB is 16,384 pages: memory given back to the system is faulted in page by page.
    assert int(second.filename.split()[0]) < 1_000, second.filename


def test_a_bug_in_the_analyser_is_a_bug_not_a_refusal(pool: PooledAnalyser) -> None:
    with pytest.raises(RuntimeError, match="IndexError: a bug in the analyser"):
        pool.analyse(b"bug", "part.stl")


def test_a_full_queue_refuses_at_once(pool: PooledAnalyser) -> None:
    # One worker and a queue of one: of three slow calls at once, one is refused
    # at once while the other two hold the worker and the queue for seconds.
    started = threading.Barrier(3)
    outcomes: list[str] = []
    lock = threading.Lock()

    def slow() -> None:
        started.wait()
        try:
            pool.analyse(b"sleep", "slow.stl")
        except ModelRejected:
            outcome = "timed out"
        except InfrastructureError as refused:
            outcome = "refused" if "try again" in str(refused) else repr(refused)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=slow) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "timed out", "timed out"]


def test_a_worker_starting_slowly_does_not_count_against_the_first_file() -> None:
    made = PooledAnalyser(SlowToStart, workers=1, memory_mb=1024, timeout_s=3, queue=1)
    try:
        assert made.analyse(b"ok", "first.stl").filename == "first.stl"
    finally:
        made.close()


def test_a_worker_that_cannot_start_is_an_outage_not_a_bad_file() -> None:
    made = PooledAnalyser(broken_factory, workers=1, memory_mb=1024, timeout_s=3, queue=1)
    try:
        with pytest.raises(InfrastructureError, match="did not start"):
            made.analyse(b"ok", "first.stl")
    finally:
        made.close()
