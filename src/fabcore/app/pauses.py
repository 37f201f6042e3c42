"""Named places where a process can be made to wait, so fault tests can kill it there.

``FABCORE_PAUSE_AT`` lists points and seconds, ``point=seconds`` separated
by commas (``relay.before_send=60,analysis.before=60``). A process that
reaches a listed point on the first attempt of its work writes
``<point>-<pid>`` into the folder ``FABCORE_PAUSE_DIR`` (when set), then
waits. Unset, as in production, a point costs one dictionary look-up.

The points: ``relay.before_send`` (mails claimed, none sent yet),
``analysis.before`` (a large upload's analysis started, nothing measured
yet) and ``web.after_commit`` (an order created and committed, its answer
not yet sent).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["POINTS", "pause"]

POINTS = frozenset({"relay.before_send", "analysis.before", "web.after_commit"})


def _seconds(point: str) -> float:
    for item in os.environ.get("FABCORE_PAUSE_AT", "").split(","):
        name, _, value = item.partition("=")
        if name.strip() == point:
            return float(value or 0)
    return 0.0


def pause(point: str, attempt: int = 1) -> None:
    """Wait at ``point`` if ``FABCORE_PAUSE_AT`` lists it and this is the first attempt."""
    if point not in POINTS:
        raise ValueError(f"unknown pause point {point!r}")
    if attempt != 1 or "FABCORE_PAUSE_AT" not in os.environ:
        return
    seconds = _seconds(point)
    if seconds <= 0:
        return
    folder = os.environ.get("FABCORE_PAUSE_DIR")
    if folder:
        (Path(folder) / f"{point}-{os.getpid()}").touch()
    time.sleep(seconds)
