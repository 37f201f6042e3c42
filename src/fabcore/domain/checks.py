"""The small input checks shared by the whole package; each raises ``InvalidInput``.

One helper per repeated check, so a rule (what counts as UTC, a digest, a
currency code) is written once.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from fabcore.domain.errors import InvalidInput

# Deliberately loose: one "@", no whitespace, a dot in the domain. Deliverability
# is the mailer's business.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def utc(value: datetime, what: str = "time") -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused (their zone is a guess)."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def optional_utc(value: datetime | None, what: str = "time") -> datetime | None:
    """:func:`utc`, letting ``None`` through."""
    return None if value is None else utc(value, what)


def day(value: date | str, what: str = "date") -> date:
    """A calendar date, or its ISO text ``YYYY-MM-DD``; datetimes are refused."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"{what} must be a date (YYYY-MM-DD), got {value!r}") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(f"{what} must be a date, got {value!r}")
    return value


def text(value: str, what: str) -> str:
    """Return ``value`` stripped; blank text is refused."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    return value.strip()


def optional_text(value: str | None, what: str) -> str | None:
    """:func:`text`, with ``None`` and blank text both meaning "not given"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return text(value, what)


def email(value: str, what: str = "e-mail address") -> str:
    """Return ``value`` stripped when it looks like an e-mail address."""
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise InvalidInput(f"{what} is not an e-mail address: {value!r}")
    return value.strip()


def sha256(value: str, what: str = "sha256 digest") -> str:
    """A SHA-256 hex digest in lower case (64 hex digits)."""
    digest = value.lower() if isinstance(value, str) else ""
    if not _SHA256.fullmatch(digest):
        raise InvalidInput(f"{what} must be 64 hex digits, got {value!r}")
    return digest


def currency(value: str) -> str:
    """A three-letter ISO 4217 code in upper case, as given (``EUR``)."""
    if not (isinstance(value, str) and len(value) == 3 and value.isalpha() and value.isupper()
            and value.isascii()):
        raise InvalidInput(f"currency must be a three-letter ISO 4217 code, got {value!r}")
    return value


def whole_number(value: object, what: str, minimum: int = 0, maximum: int | None = None) -> int:
    """An ``int`` (not a bool) within bounds; numeric text is accepted."""
    if isinstance(value, str) and value.strip().lstrip("+-").isdecimal() and value.isascii():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be a whole number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum:,}" if maximum is not None else ""
        raise InvalidInput(f"{what} must be at least {minimum}{upper}, got {value}")
    return value
