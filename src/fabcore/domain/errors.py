"""Every error fabcore raises on purpose.

One tree, rooted at :class:`FabcoreError`, so callers can catch as broadly
or as narrowly as they need::

    FabcoreError
    ├── InvalidInput                 bad data from a caller; nothing was changed
    │   ├── CatalogError             a catalog that does not validate
    │   ├── ModelRejected            an uploaded 3D model that cannot be analysed
    │   ├── CurrencyMismatch         money of two currencies combined
    │   └── ConfigurationError       a bad adapter URL or setting
    ├── NotFound                     the thing asked for does not exist
    ├── AlreadyExists                a create that would overwrite
    ├── ConcurrencyConflict          an aggregate changed since it was loaded
    ├── InvalidTransition            the status machine refused a trigger
    ├── GuardFailed                  a trigger's precondition does not hold
    ├── PermissionDenied             the actor may not do this
    ├── OfferLinkInvalid             a signed link that is tampered, stale or expired
    ├── PaymentError                 the payment gateway refused or failed
    ├── DeliveryError                a mail could not be handed over
    │   ├── TemporaryDeliveryError   worth retrying later
    │   └── PermanentDeliveryError   retrying will not help
    └── StorageError                 the storage backend failed

Adapters translate their drivers' exceptions (``sqlite3``, ``psycopg``,
``smtplib``, trimesh, Stripe) into this tree with ``raise ... from`` so the
original stays attached as ``__cause__``.
"""

from __future__ import annotations


class FabcoreError(Exception):
    """Base class of every error fabcore raises on purpose."""


class InvalidInput(FabcoreError):
    """Input from a caller is malformed or out of range; nothing was changed."""


class CatalogError(InvalidInput):
    """A catalog failed validation; ``key`` is the dotted path of the bad entry."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}" if key else reason)


class ModelRejected(InvalidInput):
    """An uploaded 3D model cannot be analysed; ``reason`` says why in plain words."""

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f"{filename}: {reason}")


class CurrencyMismatch(InvalidInput):
    """Two amounts of different currencies were combined."""


class ConfigurationError(InvalidInput):
    """An adapter URL or setting is malformed or names something unknown."""


class NotFound(FabcoreError):
    """The entity asked for does not exist (or is not visible to the actor)."""


class AlreadyExists(FabcoreError):
    """Creating the entity would overwrite one that already exists."""


class ConcurrencyConflict(FabcoreError):
    """The aggregate's version moved since it was loaded; nothing was written."""


class InvalidTransition(FabcoreError):
    """The status machine has no such move from the order's current status."""


class GuardFailed(FabcoreError):
    """A trigger exists from this status, but its precondition does not hold."""


class PermissionDenied(FabcoreError):
    """The actor is not allowed to perform this action; nothing was changed."""


class OfferLinkInvalid(FabcoreError):
    """A signed link is tampered with, expired, for another purpose or stale."""


class PaymentError(FabcoreError):
    """The payment gateway refused the request or an event could not be applied."""


class DeliveryError(FabcoreError):
    """A mail could not be handed to the mail server."""


class TemporaryDeliveryError(DeliveryError):
    """Delivery failed for a reason that may pass (outage, 4xx): retry later."""


class PermanentDeliveryError(DeliveryError):
    """Delivery failed for good (5xx, bad address): retrying will not help."""


class StorageError(FabcoreError):
    """The storage backend failed in a way the caller cannot fix."""
