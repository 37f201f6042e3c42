"""Threads for one analysis: independent steps and blocks of text side by side.

numpy lets go of the interpreter lock inside its loops over large arrays,
so two steps on big arrays (measuring faces while finding the topology,
parsing two blocks of an OBJ file) run on two cores at once. ``Threads(1)``
runs everything in the calling thread, in order.

The pools are shared by every analysis in the process, one per size, and
made again in a child process after ``fork`` (threads do not survive it).
Work is submitted from the analysing thread only, never from inside a
pool's task, so a task never waits on another queued behind it.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Final, ParamSpec, TypeVar, cast

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")

# More threads than this gain little: the work is bound by memory bandwidth.
MAX_THREADS: Final = 4


class _Pools:
    """The pools of this process, one per size."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        # A new lock too: after a fork, another thread may have held the old one.
        self.lock = threading.Lock()
        self.by_size: dict[int, ThreadPoolExecutor] = {}

    def get(self, size: int) -> ThreadPoolExecutor:
        with self.lock:
            pool = self.by_size.get(size)
            if pool is None:
                pool = ThreadPoolExecutor(size, thread_name_prefix="fabcore-mesh")
                self.by_size[size] = pool
            return pool


_POOLS = _Pools()


def default_threads() -> int:
    """The processors this process may run on, at most :data:`MAX_THREADS`."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without affinity
        available = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, available))


def _pool(size: int) -> ThreadPoolExecutor:
    return _POOLS.get(size)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOLS.reset)


class Threads:
    """Runs work for one analysis on up to ``count`` threads."""

    def __init__(self, count: int) -> None:
        self.count = max(1, count)

    def __repr__(self) -> str:
        return f"Threads({self.count})"

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """``fn(*args, **kwargs)`` started beside the caller (with one thread: run now)."""
        if self.count > 1:
            try:
                return _pool(self.count).submit(fn, *args, **kwargs)
            except RuntimeError:
                # No thread could be started (address-space limit, shutdown): run here.
                pass
        done: Future[R] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            done.set_exception(exc)
        return done

    def each(self, fn: Callable[[T], object], items: Sequence[T]) -> None:
        """``fn(item)`` for every item, side by side.

        The caller runs the first item, then any other that no thread has
        started yet (the pool being busy with other work), so splitting work
        never leaves the caller waiting behind a queue. An exception is raised
        once every item that started has ended.
        """
        if self.count == 1 or len(items) < 2:
            for item in items:
                fn(item)
            return
        others = [(self.submit(fn, item), item) for item in items[1:]]
        try:
            fn(items[0])
            for future, item in others:
                if future.cancel():
                    fn(item)
        finally:
            for future, _ in others:
                future.cancel()
            wait([future for future, _ in others])
        for future, _ in others:
            if not future.cancelled():
                future.result()

    def ahead(self, items: Iterable[T]) -> Generator[T, None, None]:
        """The items, each next one fetched beside the caller while it works on the last.

        Fetching is never concurrent with itself, so ``items`` may be a
        generator; it is closed once the caller stops.
        """
        if self.count == 1:
            yield from items
            return
        source = iter(items)
        coming = self.submit(_step, source)
        try:
            while True:
                more, item = coming.result()
                if not more:
                    return
                coming = self.submit(_step, source)
                yield cast(T, item)
        finally:
            wait((coming,))
            if isinstance(source, Generator):
                source.close()

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Generator[R, None, None]:
        """``fn`` of each item, in the items' order, at most ``count`` started ahead.

        An exception is raised where its item's result would have come,
        after the results of the items before it.
        """
        if self.count == 1:
            yield from map(fn, items)
            return
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(self.submit(fn, item))
                if len(pending) > self.count:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            # Once the caller stops, what has not started never will, and what has is waited for.
            for future in pending:
                future.cancel()
            wait(pending)


def _step(source: Iterator[T]) -> tuple[bool, T | None]:
    for item in source:
        return True, item
    return False, None
