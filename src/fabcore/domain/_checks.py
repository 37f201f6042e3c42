"""Small input checks shared by the domain classes; each raises ``InvalidInput``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fabcore.domain.errors import InvalidInput

# Deliberately loose: one "@", no whitespace, a dot in the domain. Deliverability
# is the mailer's business.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def utc(value: datetime, what: str = "time") -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused (their zone is a guess)."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def text(value: str, what: str) -> str:
    """Return ``value`` stripped; blank text is refused."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    return value.strip()


def email(value: str, what: str = "e-mail address") -> str:
    """Return ``value`` stripped when it looks like an e-mail address."""
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise InvalidInput(f"{what} is not an e-mail address: {value!r}")
    return value.strip()
