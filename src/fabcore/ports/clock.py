"""Clock port: where "now" comes from, so tests and jobs can set it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the current time."""

    def now(self) -> datetime:
        """The current time as a timezone-aware UTC datetime."""
        ...
