"""Background work: the outbox relay, PO payment reminders, and looking after failed mails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fabcore.app.relay import RelayResult, relay_outbox, retry
from fabcore.app.runner import CONFLICT_RETRIES, Runner
from fabcore.domain import access
from fabcore.domain.actor import Actor
from fabcore.domain.errors import ConcurrencyConflict, InfrastructureError, NotFound
from fabcore.domain.order import PO_REMINDER_DAYS
from fabcore.ports.outbox import OutboxMessage, OutboxStatus


class Jobs(Runner):
    __slots__ = ()

    def send_due_reminders(self, now: datetime | None = None) -> int:
        """Queue the PO-payment reminder for every order whose day has come, once each.

        Safe to run as often as you like: a reminder is recorded on the order in
        the same unit of work as its mail; a new due date gets a new reminder.
        """
        now = now or self.clock.now()
        sent = 0
        with self.uow() as uow:
            last_day = now.date() + timedelta(days=PO_REMINDER_DAYS)
            candidates = [o.id for o in uow.orders.po_payments_due_by(last_day)]
        for order_id in candidates:
            for attempt in range(CONFLICT_RETRIES + 1):
                try:
                    with self.uow() as uow:
                        order = uow.orders.get(order_id)
                        event = order.claim_po_payment_reminder(now)
                        if event is None:
                            break
                        self._save_with_mails(uow, order, [event],
                                              self._shop(uow, order.shop_id))
                        sent += 1
                        break
                except ConcurrencyConflict:
                    if attempt == CONFLICT_RETRIES:
                        raise
        return sent

    def relay_outbox(
        self, now: datetime | None = None, batch: int = 100, holder: str | None = None
    ) -> RelayResult:
        """Hand due mails from the outbox to the mailer (at least once, with retries).

        ``holder`` names this run for the leases it takes (a task queue's job
        id): the same run started again also takes back what it had claimed.
        """
        return relay_outbox(self.uow, self.mailer, now or self.clock.now(), batch=batch,
                            holder=holder)

    def backends(self) -> dict[str, str | None]:
        """Whether each backend answers now: None where it does, else why not.

        ``database``, ``models`` (the model store), ``mail`` (the transport,
        asked without sending) and ``jobs`` (the task queue, where there is one).
        """
        checks: dict[str, Callable[[], object]] = {
            "database": self.outbox_counts,
            "models": self.models.check,
            "mail": self.mailer.check,
            "jobs": self.jobs.check,
        }
        found: dict[str, str | None] = {}
        for name, check in checks.items():
            try:
                check()
            except InfrastructureError as exc:
                found[name] = str(exc) or type(exc).__name__
            else:
                found[name] = None
        return found

    def outbox_counts(self) -> dict[OutboxStatus, int]:
        """Mails waiting to be sent and mails given up on, over every shop (for operators)."""
        with self.uow() as uow:
            return {status: uow.outbox.count(status)
                    for status in (OutboxStatus.PENDING, OutboxStatus.FAILED)}

    def list_outbox(
        self,
        actor: Actor,
        status: OutboxStatus | None = None,
        order_id: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[OutboxMessage]:
        """Staff see their shop's mails, oldest first, by delivery status and order; a page."""
        access.require_staff(actor, "see the outbox")
        with self.uow() as uow:
            return list(uow.outbox.list(status, order_id, shop_id=actor.shop_id, limit=limit,
                                        offset=offset))

    def retry_mail(self, actor: Actor, message_id: str) -> OutboxMessage:
        """Staff put a failed mail of their shop back in the queue, due now."""
        access.require_staff(actor, "retry mails")
        with self.uow() as uow:
            message = uow.outbox.get(message_id)
        if message.shop_id != actor.shop_id:
            raise NotFound(f"no outbox message {message_id!r}")
        return retry(self.uow, message_id, self.clock.now())
