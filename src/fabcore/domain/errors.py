"""Every error fabcore raises on purpose, grouped by who must act.

One tree, rooted at :class:`FabcoreError`. Its three branches say what a
caller does about an error::

    FabcoreError
    ├── Refusal                      the caller must change something; never retry
    │   ├── InvalidInput             malformed or out-of-range data; nothing was changed
    │   │   ├── CatalogError         a catalog that does not validate (``key`` names the entry)
    │   │   ├── ModelRejected        an uploaded 3D model that cannot be analysed
    │   │   ├── CurrencyMismatch     money of two currencies combined
    │   │   └── ConfigurationError   a bad adapter URL or setting
    │   ├── NotFound                 the thing asked for does not exist (or is not visible)
    │   ├── AlreadyExists            a create that would overwrite
    │   ├── NotAuthenticated         not signed in, or the credentials are wrong
    │   ├── PermissionDenied         the actor may not do this
    │   ├── TooManyAttempts          too many tries in a short time: wait, then try again
    │   ├── InvalidTransition        the status machine has no such move from here
    │   │   └── GuardFailed          the move exists, but its precondition does not hold
    │   ├── OfferLinkInvalid         a signed link that is tampered, stale or expired
    │   └── PaymentEventRejected     a payment notice that is forged, malformed or inapplicable
    ├── Conflict                     someone else changed the same thing: retry
    │   └── ConcurrencyConflict      an aggregate changed since it was loaded
    └── InfrastructureError          a backend failed: an operator must act; retry later
        ├── StorageError             the database or model store failed or is unreachable
        ├── DeliveryError            a mail could not be handed over
        │   ├── TemporaryDeliveryError   worth retrying later
        │   └── PermanentDeliveryError   retrying will not help
        └── PaymentGatewayError      the payment provider failed or is unreachable

The command line exits 2 on a refusal and 1 on the others; the HTTP API
answers 4xx for refusals (401 NotAuthenticated, 403 PermissionDenied, 404
NotFound, 409 InvalidTransition and AlreadyExists, 413 an oversize model,
422 other bad input, 429 TooManyAttempts), 409 for conflicts and 503 for
infrastructure.
Anything outside this tree is a bug in fabcore and is never reported as a
refusal.

Adapters translate their drivers' exceptions (``sqlite3``, ``psycopg``,
``smtplib``, botocore, trimesh, Stripe) into this tree with ``raise ... from`` so the
original stays attached as ``__cause__``.
"""

from __future__ import annotations


class FabcoreError(Exception):
    """Base class of every error fabcore raises on purpose."""


class Refusal(FabcoreError):
    """The request cannot be carried out as given; retrying it unchanged will not help."""


class Conflict(FabcoreError):
    """The request lost a race with another change; retrying it may succeed."""


class InfrastructureError(FabcoreError):
    """A backend (database, mail server, payment provider) failed; retry once it is back."""


class InvalidInput(Refusal):
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


class NotFound(Refusal):
    """The entity asked for does not exist (or is not visible to the actor)."""


class AlreadyExists(Refusal):
    """Creating the entity would overwrite one that already exists."""


class NotAuthenticated(Refusal):
    """Nobody is signed in, or the credentials given do not match an account.

    The message never says which of the e-mail address or the password was wrong.
    """


class PermissionDenied(Refusal):
    """The actor is not allowed to perform this action; nothing was changed."""


class TooManyAttempts(Refusal):
    """Too many attempts (sign-ins, links asked for) in a short time; ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class InvalidTransition(Refusal):
    """The status machine has no such move from the order's current status."""


class GuardFailed(InvalidTransition):
    """A trigger exists from this status, but its precondition does not hold."""


class OfferLinkInvalid(Refusal):
    """A signed link is tampered with, expired, for another purpose or stale."""


class PaymentEventRejected(Refusal):
    """A payment notice is unsigned, forged, malformed, or for an order it cannot apply to.

    Nothing was recorded; a gateway redelivering the same notice gets the same answer.
    """


class ConcurrencyConflict(Conflict):
    """The aggregate's version moved since it was loaded; nothing was written."""


class StorageError(InfrastructureError):
    """The database or model store failed or is unreachable; nothing of the change was written."""


class DeliveryError(InfrastructureError):
    """A mail could not be handed to the mail server."""


class TemporaryDeliveryError(DeliveryError):
    """Delivery failed for a reason that may pass (outage, 4xx): retry later."""


class PermanentDeliveryError(DeliveryError):
    """Delivery failed for good (5xx, bad address): retrying will not help."""


class PaymentGatewayError(InfrastructureError):
    """The payment provider failed, timed out or answered something unusable."""
