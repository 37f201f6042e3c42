"""The sandbox: whatever the child does, the caller gets an outcome, never harm."""

from __future__ import annotations

import ctypes
import os
import sys
import time

import pytest

from fabcore.adapters.mesh.sandbox import Outcome, SandboxLimits, run_sandboxed

QUICK = SandboxLimits(memory_bytes=1 << 30, cpu_seconds=20, wall_seconds=30.0)


def add(a: int, b: int) -> int:
    return a + b


def fail(message: str) -> None:
    raise ValueError(message)


def crash() -> None:
    ctypes.string_at(0)


def sleep_forever() -> None:
    while True:
        time.sleep(1)


def spin() -> None:
    while True:
        pass


def allocate(size: int) -> int:
    return len(bytearray(size))


def chatter(size: int) -> str:
    sys.stdout.write("x" * size)
    sys.stdout.flush()
    os.write(1, b"from C-level fd 1\n")
    os.write(2, b"e" * size)
    return "done"


def exit_early() -> None:
    os._exit(3)


def big_result(size: int) -> bytes:
    return b"r" * size


def test_returns_the_value() -> None:
    result = run_sandboxed(add, 2, 3, limits=QUICK)
    assert (result.outcome, result.value) == (Outcome.RETURNED, 5)
    assert result.stdout == result.stderr == b""


def test_an_exception_is_reported_in_one_line() -> None:
    result = run_sandboxed(fail, "bad input", limits=QUICK)
    assert result.outcome is Outcome.RAISED
    assert result.error == "ValueError: bad input"
    assert result.value is None


def test_a_segmentation_fault_is_a_crash() -> None:
    result = run_sandboxed(crash, limits=QUICK)
    assert result.outcome is Outcome.CRASHED
    assert "SIGSEGV" in result.error


def test_wall_time_limit() -> None:
    limits = SandboxLimits(memory_bytes=1 << 30, cpu_seconds=20, wall_seconds=1.0)
    result = run_sandboxed(sleep_forever, limits=limits)
    assert result.outcome is Outcome.TIMED_OUT


def test_cpu_time_limit() -> None:
    limits = SandboxLimits(memory_bytes=1 << 30, cpu_seconds=1, wall_seconds=60.0)
    result = run_sandboxed(spin, limits=limits)
    assert result.outcome is Outcome.CPU_TIME


def test_memory_limit() -> None:
    limits = SandboxLimits(memory_bytes=512 << 20, cpu_seconds=20, wall_seconds=30.0)
    assert run_sandboxed(allocate, 64 << 20, limits=limits).value == 64 << 20
    result = run_sandboxed(allocate, 1 << 30, limits=limits)
    assert result.outcome is Outcome.OUT_OF_MEMORY


def test_output_is_captured_and_cut() -> None:
    limits = SandboxLimits(memory_bytes=1 << 30, wall_seconds=30.0, output_bytes=100)
    result = run_sandboxed(chatter, 5_000_000, limits=limits)
    assert (result.outcome, result.value) == (Outcome.RETURNED, "done")
    assert result.stdout == b"x" * 100
    assert result.stderr == b"e" * 100


def test_c_level_output_is_captured() -> None:
    result = run_sandboxed(chatter, 0, limits=QUICK)
    assert result.stdout == b"from C-level fd 1\n"


def test_exit_without_a_result() -> None:
    result = run_sandboxed(exit_early, limits=QUICK)
    assert result.outcome is Outcome.CRASHED
    assert "status 3" in result.error


def test_result_over_its_limit() -> None:
    limits = SandboxLimits(memory_bytes=1 << 30, wall_seconds=30.0, result_bytes=1000)
    assert run_sandboxed(big_result, 10_000, limits=limits).outcome is Outcome.RESULT_TOO_LARGE
    assert run_sandboxed(big_result, 100, limits=limits).value == b"r" * 100


def test_large_arguments_reach_the_child() -> None:
    result = run_sandboxed(len, b"a" * (50 << 20), limits=QUICK)
    assert result.value == 50 << 20


@pytest.mark.parametrize("count", [4])
def test_threads_may_share_it(count: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(lambda i: run_sandboxed(add, i, i, limits=QUICK), range(count)))
    assert [r.value for r in results] == [2 * i for i in range(count)]
