"""Threads for one analysis: results in order, errors where they belong, nothing left running."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from fabcore.adapters.mesh import MeshFileAnalyser
from fabcore.adapters.mesh.threads import MAX_THREADS, Threads, default_threads
from fabcore.domain.errors import InvalidInput


def test_default_is_the_processors_at_hand_at_most_four() -> None:
    assert 1 <= default_threads() <= MAX_THREADS


def test_one_thread_runs_everything_in_the_caller() -> None:
    caller = threading.get_ident()
    seen: list[int] = []

    def where(item: int) -> int:
        seen.append(threading.get_ident())
        return item * 2

    assert list(Threads(1).map(where, range(5))) == [0, 2, 4, 6, 8]
    assert Threads(1).submit(where, 7).result() == 14
    assert set(seen) == {caller}


def test_map_keeps_the_order_of_the_items_when_they_finish_out_of_order() -> None:
    def slow_first(item: int) -> int:
        time.sleep(0.05 if item % 3 == 0 else 0.0)
        return item

    assert list(Threads(3).map(slow_first, range(20))) == list(range(20))


def test_map_works_beside_the_caller_on_other_threads() -> None:
    caller = threading.get_ident()
    workers = list(Threads(2).map(lambda _: threading.get_ident(), range(4)))
    assert caller not in workers


def test_an_error_comes_where_its_item_would_have_come() -> None:
    def fail_at(item: int) -> int:
        if item in (3, 6):
            time.sleep(0.02 if item == 3 else 0.0)
            raise ValueError(f"item {item}")
        return item

    results = Threads(4).map(fail_at, range(10))
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="item 3"):
        next(results)


def test_map_starts_only_a_few_items_ahead_of_the_caller() -> None:
    started: list[int] = []

    def record(item: int) -> int:
        started.append(item)
        return item

    items = Threads(2).map(record, range(100))
    assert next(items) == 0
    time.sleep(0.05)
    assert max(started) <= 2
    items.close()


def test_ahead_fetches_in_order_and_closes_the_source_when_the_caller_stops() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            closed.set()

    assert list(Threads(2).ahead(source())) == list(range(10))
    assert closed.is_set()
    closed.clear()
    fetched = Threads(2).ahead(source())
    assert [next(fetched), next(fetched)] == [0, 1]
    fetched.close()
    assert closed.is_set()


def test_ahead_raises_the_sources_error_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("damaged")

    items = Threads(2).ahead(source())
    assert [next(items), next(items)] == [1, 2]
    with pytest.raises(OSError, match="damaged"):
        next(items)


def test_each_runs_every_item_once() -> None:
    done: list[int] = []
    lock = threading.Lock()

    def record(item: int) -> None:
        with lock:
            done.append(item)

    for count in (1, 2, 4):
        done.clear()
        Threads(count).each(record, list(range(7)))
        assert sorted(done) == list(range(7))


def test_each_takes_back_the_items_a_busy_pool_has_not_started() -> None:
    threads = Threads(2)
    release = threading.Event()
    # Both of the pool's threads are kept busy with other work.
    busy = [threads.submit(release.wait, 5.0) for _ in range(2)]
    try:
        where: list[int] = []
        threads.each(lambda _: where.append(threading.get_ident()), [0, 1, 2])
        assert where == [threading.get_ident()] * 3
    finally:
        release.set()
        for future in busy:
            future.result()


@pytest.mark.parametrize("failing", [0, 1])
def test_each_raises_once_every_started_item_has_ended(failing: int) -> None:
    started: set[int] = set()
    ended: set[int] = set()

    def work(item: int) -> None:
        started.add(item)
        try:
            if item == failing:
                raise ValueError(f"item {item}")
            time.sleep(0.05)
        finally:
            ended.add(item)

    with pytest.raises(ValueError, match=f"item {failing}"):
        Threads(2).each(work, [0, 1])
    assert started == ended


def test_no_thread_to_start_runs_the_work_in_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    from fabcore.adapters.mesh import threads

    class Refusing:
        def submit(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threads, "_pool", lambda size: Refusing())
    assert Threads(2).submit(threading.get_ident).result() == threading.get_ident()
    assert list(Threads(2).map(lambda x: x + 1, range(3))) == [1, 2, 3]


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_the_analyser_refuses_a_thread_count_that_is_not_a_positive_whole_number(
    threads: object,
) -> None:
    with pytest.raises(InvalidInput, match="threads"):
        MeshFileAnalyser(threads=threads)  # type: ignore[arg-type]


def test_the_analyser_says_how_many_threads_it_uses() -> None:
    assert "threads=3" in repr(MeshFileAnalyser(threads=3))
    assert MeshFileAnalyser().threads.count == default_threads()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_makes_its_own_pool() -> None:
    list(Threads(2).map(abs, range(4)))
    child = os.fork()
    if child == 0:
        code = 1
        try:
            # The parent's pool has no threads here: using it would wait forever.
            signal.alarm(20)
            code = 0 if list(Threads(2).map(abs, range(-3, 0))) == [3, 2, 1] else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
