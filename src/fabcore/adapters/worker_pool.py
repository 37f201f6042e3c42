"""A mesh analyser that runs another one in worker processes, with limits.

:class:`PooledAnalyser` satisfies the ``MeshAnalyser`` port. Each of its
worker processes (started with ``spawn``, so no lock or thread of the
server is copied) loads the analyser once and then analyses one file at a
time, within an address-space limit (``RLIMIT_AS``). The calling thread
waits for its answer; a file that takes longer than the timeout gets its
worker killed and replaced, and a worker that dies (out of memory, a crash
in a native library) is replaced too. Either way the upload is refused
with ``ModelRejected`` in plain words, and the server goes on.

At most ``queue`` calls wait for a worker; beyond that the pool refuses
with ``InfrastructureError`` at once (a web front answers 503), so a flood
of uploads cannot pile up threads.

A worker keeps the memory its analyses free for the next file (on glibc):
it stays at the size of the largest analysis so far, within its limit,
rather than shrinking after each one and faulting the pages in again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import queue as queues
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from fabcore.domain.analysis import ModelAnalysis, Units
from fabcore.domain.errors import InfrastructureError, ModelRejected
from fabcore.ports.mesh import MeshAnalyser

__all__ = ["PooledAnalyser", "keep_freed_memory"]

log = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("spawn")

#: How long a new worker may take to import and build its analyser.
STARTUP_TIMEOUT_S = 120.0


# mallopt(3) parameters of glibc.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Have glibc keep the memory this process frees, for its next allocations.

    By default glibc hands blocks of more than a few megabytes back to the
    system as soon as they are freed, so every analysis faults its arrays
    in again, page by page: about 15,000 faults and 60 ms of kernel time for a
    1M-triangle STL on a virtual machine, and occasionally several times
    that. Kept, the next analysis reuses the pages. Each worker calls it;
    so may a process of your own that analyses one file after another (it
    changes the whole process's allocator). Returns False where the C
    library is not glibc (nothing is changed there).
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # Blocks up to 1 GiB come from the heap, and the heap's free top is never trimmed.
    return bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30) and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def _limit_memory(megabytes: int) -> None:
    import resource

    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(conn: Connection, factory: Callable[[], MeshAnalyser], memory_mb: int) -> None:
    """A worker's life: build the analyser, then answer one request after another."""
    analyser = factory()
    keep_freed_memory()
    _limit_memory(memory_mb)
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        filename, units = request
        data = conn.recv_bytes()
        try:
            answer: tuple[str, Any] = ("ok", analyser.analyse(data, filename, units))
        except ModelRejected as exc:
            answer = ("rejected", exc.reason)
        except MemoryError:
            answer = ("rejected", "the model is too complex to analyse within the server's "
                                  "memory limit; simplify the mesh or split it into parts")
        except Exception:
            # A bug in the analyser: reported as one, with its traceback, not as a bad file.
            answer = ("error", traceback.format_exc())
        del data, request
        conn.send(answer)


class _Worker:
    def __init__(self, factory: Callable[[], MeshAnalyser], memory_mb: int) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process: BaseProcess = _CONTEXT.Process(
            target=_serve, args=(child, factory, memory_mb), daemon=True,
            name="fabcore-analysis",
        )
        self.process.start()
        child.close()
        self.ready = False

    def wait_until_ready(self) -> None:
        """Wait for the worker to have loaded its analyser: not part of a file's time."""
        if self.ready:
            return
        try:
            started = self.conn.poll(STARTUP_TIMEOUT_S)
            answer = self.conn.recv() if started else None
        except (EOFError, OSError):
            answer = None
        if answer != ("ready", None):
            self.stop()
            raise InfrastructureError("an analysis worker did not start; see the server log")
        self.ready = True

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class PooledAnalyser:
    """Runs ``factory()``'s analyser in ``workers`` processes (see the module docstring).

    ``factory`` must be picklable (a class, or a function of a module).
    """

    def __init__(
        self,
        factory: Callable[[], MeshAnalyser],
        *,
        workers: int = 2,
        memory_mb: int = 4096,
        timeout_s: float = 60.0,
        queue: int = 32,
    ) -> None:
        if workers < 1 or queue < 0 or timeout_s <= 0 or memory_mb < 256:
            raise ValueError("need workers >= 1, queue >= 0, timeout_s > 0, memory_mb >= 256")
        self._factory = factory
        self._memory_mb = memory_mb
        self._timeout = timeout_s
        self._idle: queues.Queue[_Worker] = queues.Queue()
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._closed = False
        self._workers = [_Worker(factory, memory_mb) for _ in range(workers)]
        for worker in self._workers:
            self._idle.put(worker)

    def __repr__(self) -> str:
        return (f"PooledAnalyser(workers={len(self._workers)}, memory_mb={self._memory_mb}, "
                f"timeout_s={self._timeout:g})")

    def analyse(self, data: bytes, filename: str, units: Units | str = Units.MM) -> ModelAnalysis:
        if self._closed:
            raise InfrastructureError("the analysis workers are shut down")
        if not self._slots.acquire(blocking=False):
            raise InfrastructureError(
                "too many models are being analysed right now; try again in a minute"
            )
        try:
            worker = self._idle.get()
            try:
                return self._run(worker, data, filename, units)
            finally:
                if not self._closed:
                    self._idle.put(worker if worker.process.is_alive() else self._replace(worker))
        finally:
            self._slots.release()

    def _run(self, worker: _Worker, data: bytes, filename: str, units: Units | str
             ) -> ModelAnalysis:
        worker.wait_until_ready()
        try:
            # The file goes as raw bytes: pickled inside a tuple, it would be copied whole.
            worker.conn.send((filename, units))
            worker.conn.send_bytes(data)
            if not worker.conn.poll(self._timeout):
                worker.stop()
                raise ModelRejected(
                    filename, f"analysing the model took longer than {self._timeout:g} s; "
                    "simplify the mesh or split it into parts"
                )
            kind, value = worker.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            log.warning("analysis worker %s stopped on %s", worker.process.pid, filename)
            worker.stop()
            raise ModelRejected(
                filename, "the model could not be analysed (the analysis stopped); check the "
                "file in a CAD program and export it again"
            ) from None
        if kind == "rejected":
            raise ModelRejected(filename, value)
        if kind == "error":
            raise RuntimeError(f"the analyser failed on {filename}:\n{value}")
        analysis: ModelAnalysis = value
        return analysis

    def _replace(self, dead: _Worker) -> _Worker:
        dead.stop()
        fresh = _Worker(self._factory, self._memory_mb)
        self._workers[self._workers.index(dead)] = fresh
        return fresh

    def close(self) -> None:
        """Stop the workers (calls waiting for one are refused)."""
        self._closed = True
        for worker in self._workers:
            worker.stop()
