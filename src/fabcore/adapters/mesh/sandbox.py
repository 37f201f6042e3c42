"""Run a function in a child process that may crash, hang or flood without harm.

:func:`run_sandboxed` starts a fresh Python interpreter (nothing is forked
from the caller, which may run threads), hands it a picklable function and
its arguments on stdin, and waits. The child limits its own address space
(``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``) before calling the function,
and writes no core dump; the parent enforces a wall-clock timeout and keeps
at most ``output_bytes`` of the child's stdout and of its stderr (including
what C libraries print there), so none of it reaches the caller's own
output. Whatever happens comes back as a :class:`SandboxResult` whose
:class:`Outcome` says how the child ended.

Linux only (``resource`` limits, process groups). The function must be
importable by name (a module-level function, not a lambda or a closure);
the child gets the caller's ``sys.path`` to find it. It is safe to call from several
threads at once, for example from ``asyncio.to_thread`` in a web server.
"""

from __future__ import annotations

import contextlib
import enum
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Final, Generic, TypeVar

T = TypeVar("T")

_CHILD: Final = "from fabcore.adapters.mesh.sandbox import _child; _child()"
_READ: Final = 1 << 16


class Outcome(enum.Enum):
    """How the child ended."""

    RETURNED = "returned"
    RAISED = "raised"
    OUT_OF_MEMORY = "out_of_memory"
    CPU_TIME = "cpu_time"
    TIMED_OUT = "timed_out"
    CRASHED = "crashed"
    RESULT_TOO_LARGE = "result_too_large"


@dataclass(frozen=True)
class SandboxLimits:
    """What the child may use: address space, CPU seconds, wall seconds, bytes of output."""

    memory_bytes: int = 4 << 30
    cpu_seconds: int = 120
    wall_seconds: float = 180.0
    output_bytes: int = 64 << 10
    result_bytes: int = 1 << 30


@dataclass(frozen=True)
class SandboxResult(Generic[T]):
    """The outcome, the value when it returned, and what the child printed.

    ``error`` is one line for :attr:`Outcome.RAISED` (``Type: message``) and
    names the signal for :attr:`Outcome.CRASHED`. ``stdout`` and ``stderr``
    are the first ``output_bytes`` the child wrote to each.
    """

    outcome: Outcome
    value: T | None
    error: str
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def output(self) -> str:
        """stdout then stderr, decoded, for logs."""
        return (self.stdout + self.stderr).decode("utf-8", errors="replace")


class _Drain(threading.Thread):
    """Reads a pipe to its end, keeping the first ``keep`` bytes."""

    def __init__(self, fd: int, keep: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.keep = keep
        self.data = bytearray()
        self.total = 0

    def run(self) -> None:
        try:
            while block := os.read(self.fd, _READ):
                self.total += len(block)
                room = self.keep - len(self.data)
                if room > 0:
                    self.data += block[:room]
        finally:
            os.close(self.fd)


def run_sandboxed(
    func: Callable[..., T], *args: Any, limits: SandboxLimits | None = None
) -> SandboxResult[T]:
    """Call ``func(*args)`` in a child process under ``limits``."""
    limits = limits or SandboxLimits()
    payload = pickle.dumps((func, args), protocol=pickle.HIGHEST_PROTOCOL)
    result_read, result_write = os.pipe()
    env = dict(os.environ)
    # The child imports modules (fabcore, the function's own) from where the caller does.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(result_write),
                str(limits.memory_bytes),
                str(limits.cpu_seconds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(result_write,),
            start_new_session=True,
            env=env,
        )
    finally:
        os.close(result_write)
    stdin, stdout, stderr = process.stdin, process.stdout, process.stderr
    if stdin is None or stdout is None or stderr is None:
        raise RuntimeError("the child's pipes were not opened")
    out = _Drain(os.dup(stdout.fileno()), limits.output_bytes)
    err = _Drain(os.dup(stderr.fileno()), limits.output_bytes)
    stdout.close()
    stderr.close()
    result = _Drain(result_read, limits.result_bytes + 1)
    feeder = threading.Thread(target=_feed, args=(stdin, payload), daemon=True)
    for thread in (out, err, result, feeder):
        thread.start()
    timed_out = False
    try:
        process.wait(timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(process)
    for thread in (out, err, result, feeder):
        thread.join()
    seconds = time.monotonic() - started
    code = process.returncode

    def ended(outcome: Outcome, error: str = "", value: T | None = None) -> SandboxResult[T]:
        return SandboxResult(outcome, value, error, bytes(out.data), bytes(err.data), seconds)

    if timed_out:
        return ended(Outcome.TIMED_OUT, f"still running after {limits.wall_seconds:g} s")
    if result.total > limits.result_bytes:
        return ended(Outcome.RESULT_TOO_LARGE, f"result over {limits.result_bytes} bytes")
    if code < 0:
        number = -code
        if number == signal.SIGXCPU:
            return ended(Outcome.CPU_TIME, f"used its {limits.cpu_seconds} s of CPU time")
        return ended(Outcome.CRASHED, f"killed by {_signal_name(number)}")
    try:
        status, body = pickle.loads(bytes(result.data))
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        return ended(Outcome.CRASHED, f"exited with status {code} without a result ({exc})")
    if status == "returned":
        return ended(Outcome.RETURNED, value=body)
    if status == "memory":
        return ended(Outcome.OUT_OF_MEMORY, f"ran out of its {limits.memory_bytes} bytes")
    return ended(Outcome.RAISED, str(body))


def _feed(stream: IO[bytes], payload: bytes) -> None:
    try:
        with stream:
            stream.write(payload)
    except (BrokenPipeError, OSError):
        pass  # the child died before reading it all; its outcome says why


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _child() -> None:  # pragma: no cover - runs in the child process
    import resource
    import traceback

    result_fd, memory, cpu = (int(a) for a in sys.argv[1:4])
    payload = sys.stdin.buffer.read()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    answer: tuple[str, Any]
    try:
        func, args = pickle.loads(payload)
        del payload
        answer = ("returned", func(*args))
    except MemoryError:
        answer = ("memory", None)
    except BaseException as exc:  # reported to the parent, which decides
        lines = traceback.format_exception_only(type(exc), exc)
        answer = ("raised", lines[-1].strip() if lines else type(exc).__name__)
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        data = pickle.dumps(("memory", None))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        data = pickle.dumps(("raised", f"the result cannot be sent back: {exc}"))
    with os.fdopen(result_fd, "wb") as channel:
        channel.write(data)
    sys.stdout.flush()
    os._exit(0)
