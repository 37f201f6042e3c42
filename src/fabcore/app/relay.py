"""The outbox relay: sends queued mails, with retries and exponential backoff.

Mails are written to the outbox in the unit of work of the change that
caused them; :func:`relay_outbox` hands them to a :class:`Mailer` later.

Messages are claimed :data:`CLAIM` at a time in a short unit of work
(each attempt counted, and each next attempt put :data:`SENDING_LEASE`
ahead, so no other relay takes them meanwhile), sent with no transaction
open, then their outcomes are recorded in a second unit of work. A slow
mail server therefore holds no lock on the database (SQLite has a single
writer: a delivery inside the write transaction would stall every change of
every order). A run given a ``holder`` (a task queue's job id) records it
on what it claims; the same job run again after its worker died takes
those messages back at once rather than after the lease. Delivery is **at
least once**: a crash after the mail server accepted a mail but before the
outcomes are recorded sends the mails of that claim again, with the same
``Message-ID`` (the mail is rendered once, when it is queued), so receiving
systems can recognise the duplicates; a crash before a mail was handed
over sends it once.

Outcomes per attempt:

- accepted: ``SENT`` with ``sent_at``;
- :class:`~fabcore.domain.errors.TemporaryDeliveryError`, or any other
  exception from the mailer (recorded by its ``repr``): stays ``PENDING``,
  next attempt after ``min(base_delay * 2 ** (attempts - 1), max_delay)``;
  ``FAILED`` once ``max_attempts`` attempts are used up;
- :class:`~fabcore.domain.errors.PermanentDeliveryError`: ``FAILED`` at once.

:func:`retry` puts a failed message back in the queue (staff, after fixing
an address or the mail server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from fabcore.app.context import request_scope
from fabcore.app.pauses import pause
from fabcore.domain import checks
from fabcore.domain.errors import (
    GuardFailed,
    InvalidInput,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from fabcore.ports.mailer import Mailer
from fabcore.ports.outbox import OutboxMessage, OutboxStatus
from fabcore.ports.repositories import UnitOfWork

__all__ = ["CLAIM", "RUN_BATCH", "SENDING_LEASE", "RelayResult", "backoff", "relay_outbox",
           "retry"]

log = logging.getLogger(__name__)

DEFAULT_BASE_DELAY = timedelta(seconds=30)
DEFAULT_MAX_DELAY = timedelta(hours=1)

#: Messages claimed (and then recorded) in one unit of work.
CLAIM = 10

#: Mails a background relay takes in one run; a run that takes that many is
#: followed by another at once, so a backlog goes out at the relay's pace.
RUN_BATCH = 100

#: How long a claimed message stays out of every relay's reach while it and
#: the others of its claim are sent; far longer than the mailers' timeouts.
SENDING_LEASE = timedelta(minutes=10)


@attrs.frozen
class RelayResult:
    """What one relay run did: mails sent, rescheduled and given up on.

    ``last_error`` is the mailer's error of the last attempt that failed (a
    diagnosis: two runs with the same counts compare equal).
    """

    sent: int = 0
    retried: int = 0
    failed: int = 0
    last_error: str | None = attrs.field(default=None, eq=False)

    @property
    def processed(self) -> int:
        return self.sent + self.retried + self.failed

    def __add__(self, other: RelayResult) -> RelayResult:
        return RelayResult(self.sent + other.sent, self.retried + other.retried,
                           self.failed + other.failed, other.last_error or self.last_error)


def backoff(attempts: int, base_delay: timedelta, max_delay: timedelta) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: ``base * 2**(attempts-1)``, capped."""
    try:
        return min(base_delay * (1 << max(attempts - 1, 0)), max_delay)
    except OverflowError:
        return max_delay


def relay_outbox(
    uow_factory: Callable[[], UnitOfWork],
    mailer: Mailer,
    now: datetime,
    *,
    batch: int = 100,
    max_attempts: int = 8,
    base_delay: timedelta = DEFAULT_BASE_DELAY,
    max_delay: timedelta = DEFAULT_MAX_DELAY,
    holder: str | None = None,
) -> RelayResult:
    """Send up to ``batch`` due outbox messages, :data:`CLAIM` at a time.

    Never raises for a mail that cannot be sent (see the module docstring);
    errors of the storage itself propagate. A message is tried at most once
    per call.
    """
    now = checks.utc(now, "now")
    if batch < 1 or max_attempts < 1:
        raise InvalidInput("batch and max_attempts must be at least 1")
    if base_delay <= timedelta(0) or max_delay < base_delay:
        raise InvalidInput("need 0 < base_delay <= max_delay")
    sent = retried = failed = 0
    last_error: str | None = None
    seen: set[str] = set()
    more = True
    while more and len(seen) < batch:
        with uow_factory() as uow:
            wanted = min(CLAIM, batch - len(seen))
            due = uow.outbox.claim(now, wanted, now + SENDING_LEASE, holder)
            if due:
                uow.commit()
        # Fewer than asked: nothing else is due now, and mails queued from
        # here on wake the relay again, so no empty claim closes the run.
        more = len(due) == wanted
        # A message met again in this run was not stored as claimed (it
        # would not be due): leave it rather than send it over and over.
        claimed = [m for m in due if m.id not in seen]
        if not claimed:
            break
        seen.update(m.id for m in claimed)
        pause("relay.before_send", min(m.attempts for m in claimed))
        outcomes = [_attempt(message, mailer, now, max_attempts=max_attempts,
                             base_delay=base_delay, max_delay=max_delay)
                    for message in claimed]
        with uow_factory() as uow:
            for message in claimed:
                uow.outbox.update(message)
            uow.commit()
        for message, outcome in zip(claimed, outcomes, strict=True):
            if outcome is OutboxStatus.SENT:
                sent += 1
                continue
            last_error = message.last_error
            if outcome is OutboxStatus.FAILED:
                failed += 1
            else:
                retried += 1
    return RelayResult(sent, retried, failed, last_error)


def _attempt(
    message: OutboxMessage, mailer: Mailer, now: datetime, *, max_attempts: int,
    base_delay: timedelta, max_delay: timedelta,
) -> OutboxStatus:
    """Try one delivery (already counted in ``attempts``) and record its outcome."""
    message.lease_holder = None
    try:
        mailer.send(message.mail)
    except PermanentDeliveryError as exc:
        message.last_error = str(exc) or repr(exc)
        message.status = OutboxStatus.FAILED
        message.next_attempt_at = None
        log.warning("outbox %s failed permanently: %s", message.id, message.last_error)
        return OutboxStatus.FAILED
    except TemporaryDeliveryError as exc:
        message.last_error = str(exc) or repr(exc)
    except Exception as exc:
        # A broken mailer must not stop the relay: treat it like an outage.
        message.last_error = repr(exc)
        log.exception("outbox %s: unexpected error from the mailer", message.id)
    else:
        message.status = OutboxStatus.SENT
        message.sent_at = now
        message.next_attempt_at = None
        with request_scope(message.mail.request_id):
            log.info("mail sent", extra={"message_id": message.mail.message_id,
                                         "outbox_id": message.id, "attempt": message.attempts})
        return OutboxStatus.SENT
    if message.attempts >= max_attempts:
        message.status = OutboxStatus.FAILED
        message.next_attempt_at = None
        log.warning("outbox %s failed after %d attempts: %s", message.id, message.attempts,
                    message.last_error)
        return OutboxStatus.FAILED
    message.next_attempt_at = now + backoff(message.attempts, base_delay, max_delay)
    return OutboxStatus.PENDING


def retry(
    uow_factory: Callable[[], UnitOfWork], message_id: str, now: datetime
) -> OutboxMessage:
    """Put a ``FAILED`` message back in the queue, due at ``now`` with fresh attempts.

    ``last_error`` is kept until the next attempt. ``NotFound`` for an unknown
    id, ``GuardFailed`` when the message has not failed.
    """
    now = checks.utc(now, "now")
    with uow_factory() as uow:
        message = uow.outbox.get(message_id)
        if message.status is not OutboxStatus.FAILED:
            raise GuardFailed(
                f"outbox message {message_id} is {message.status.value}: only failed "
                "messages can be retried"
            )
        message.status = OutboxStatus.PENDING
        message.attempts = 0
        message.next_attempt_at = now
        message.lease_holder = None
        uow.outbox.update(message)
        uow.commit()
    return message
