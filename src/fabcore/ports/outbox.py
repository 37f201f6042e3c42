"""Transactional outbox: mails written with the change that caused them."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

from fabcore.ports.mailer import Mail


class OutboxStatus(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@attrs.define
class OutboxMessage:
    """One mail waiting in (or done with) the outbox.

    ``lease_holder`` names the relay run that claimed the message for its
    current attempt (None once the outcome is recorded): the same run,
    started again after its process died, takes its messages back at once
    instead of waiting for the lease to run out.
    """

    id: str
    shop_id: str
    order_id: str | None
    mail: Mail
    created_at: datetime
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    lease_holder: str | None = None


class Outbox(Protocol):
    """The outbox table of a unit of work.

    ``add`` is part of the surrounding transaction: a mail is stored if and
    only if the change that caused it commits.
    """

    def add(self, message: OutboxMessage) -> None:
        """Queue a message; ``AlreadyExists`` if its id is taken."""
        ...

    def add_all(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue several messages in this order, in one go where the backend allows.

        ``AlreadyExists`` if an id is taken or given twice; then none of them
        is queued.
        """
        ...

    def get(self, message_id: str) -> OutboxMessage:
        """One message by id; ``NotFound`` when unknown."""
        ...

    def due(
        self, now: datetime, limit: int, holder: str | None = None
    ) -> Sequence[OutboxMessage]:
        """Pending messages whose next attempt is due, oldest first.

        With a ``holder``, pending messages whose ``lease_holder`` it is come
        too, whenever their next attempt. Adapters for several concurrent
        workers lock what they return for the rest of the transaction and
        skip rows others hold.
        """
        ...

    def claim(
        self, now: datetime, limit: int, lease_until: datetime, holder: str | None = None
    ) -> Sequence[OutboxMessage]:
        """Take the messages ``due`` would return for one delivery attempt each.

        Each one's ``attempts`` goes up by one, its ``next_attempt_at``
        becomes ``lease_until`` and its ``lease_holder`` ``holder``, in one
        step where the backend allows (SQL adapters: one statement, so the
        write lock is held only for it); returned oldest first as stored.
        Part of the unit of work, like ``update``.
        """
        ...

    def count(self, status: OutboxStatus) -> int:
        """How many messages are in ``status`` (for pending and failed ones: cheap)."""
        ...

    def update(self, message: OutboxMessage) -> None:
        """Store a message's new delivery state; ``NotFound`` when unknown.

        Only the delivery state is stored: ``status``, ``attempts``,
        ``next_attempt_at``, ``last_error``, ``sent_at`` and ``lease_holder``.
        The mail and the rest are fixed once queued.
        """
        ...

    def list(
        self,
        status: OutboxStatus | None = None,
        order_id: str | None = None,
        *,
        shop_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Sequence[OutboxMessage]:
        """Messages, oldest first, optionally by status, order and shop; a page of them.

        ``offset`` messages are skipped, then at most ``limit`` returned.
        """
        ...
