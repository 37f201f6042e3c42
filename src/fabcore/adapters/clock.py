"""Clocks: the system's, and one that tests and demos move by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from fabcore.domain.errors import InvalidInput


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told to move (thread-safe)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise InvalidInput("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise InvalidInput("ManualClock needs timezone-aware times")
        with self._lock:
            self._now = moment.astimezone(UTC)
