"""Analysers that misbehave on purpose, for the worker pool's tests (importable by workers)."""

from __future__ import annotations

import os
import resource
import time

from fabcore.domain.analysis import ModelAnalysis, Units
from fabcore.domain.errors import ModelRejected


def _figures(filename: str) -> ModelAnalysis:
    return ModelAnalysis(filename=filename, format="stl", volume_cm3=1.0, area_cm2=6.0,
                         bbox_mm=(10.0, 10.0, 10.0), triangles=12, bodies=1, watertight=True,
                         winding_consistent=True, convex_hull_volume_cm3=1.0,
                         overhang_area_cm2=0.0)


class Scripted:
    """Does what the file says: ``ok``, ``sleep``, ``crash``, ``hog``, ``bug``, ``reject``,
    ``fill`` (64 MiB written and freed; the figures' filename says how many
    pages that faulted in).
    """

    def analyse(self, data: bytes, filename: str, units: Units | str = Units.MM
                ) -> ModelAnalysis:
        command = data.decode()
        if command == "sleep":
            time.sleep(60)
        elif command == "crash":
            os._exit(3)
        elif command == "hog":
            hog = [bytearray(64 * 1024 * 1024) for _ in range(64)]
            del hog
        elif command == "bug":
            raise IndexError("a bug in the analyser")
        elif command == "reject":
            raise ModelRejected(filename, "not a model")
        elif command == "fill":
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            block = b"\x01" * (64 * 1024 * 1024)
            del block
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
            return _figures(f"{faults} faults")
        return _figures(filename)


class SlowToStart(Scripted):
    """Takes longer to build than the pool's time limit for one file."""

    def __init__(self) -> None:
        time.sleep(4)


def broken_factory() -> Scripted:
    raise ImportError("a dependency of the analyser is missing")
