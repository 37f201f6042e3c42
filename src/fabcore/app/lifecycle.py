"""Use cases that move an order through its statuses.

Each named use case (``place``, ``send_firm_offer``, ``ship``...) and the
back office's ``change_status`` build a typed command
(:mod:`fabcore.domain.commands`) and run it through :meth:`Lifecycle.run_command`:
one path, so a status reached by "Change" is reached exactly as by its
named use case (review policy, agreed price, offer expiry, due date...).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from fabcore.app.runner import Runner
from fabcore.domain import access
from fabcore.domain.actor import Actor
from fabcore.domain.commands import (
    AcceptOffer,
    AcceptPo,
    CancelByAdmin,
    CancelByCustomer,
    Command,
    Place,
    ProvidePo,
    RequestChanges,
    RequestPayment,
    SendFirmOffer,
    SubmitForReview,
)
from fabcore.domain.errors import InvalidInput
from fabcore.domain.notifications import LinkPurpose
from fabcore.domain.order import Order, StatusOption
from fabcore.domain.status import OrderStatus


def parse_status(target: OrderStatus | str) -> OrderStatus:
    """An :class:`OrderStatus` from itself or its value; ``InvalidInput`` naming the choices."""
    if isinstance(target, OrderStatus):
        return target
    try:
        return OrderStatus(target)
    except ValueError:
        choices = ", ".join(s.value for s in OrderStatus)
        raise InvalidInput(f"unknown status {target!r}; statuses are: {choices}") from None


class Lifecycle(Runner):
    __slots__ = ()

    def run_command(
        self, actor: Actor, order_id: str, command: Command, *, key: str | None = None
    ) -> Order:
        """Run one trigger command on the order, with its mails (the one path of every move).

        With an idempotency ``key``, a retry with the same key returns the
        order without running the command again (see ``Runner._change``).
        """
        return self._change(
            actor, order_id,
            lambda order, shop: order.execute(actor, self.clock.now(), command, shop),
            key=key, what=type(command).__name__,
        )

    def place(
        self, actor: Actor, order_id: str, note: str | None = None, *, key: str | None = None
    ) -> Order:
        """Place the order directly (allowed when the review policy does not demand review)."""
        return self.run_command(actor, order_id, Place(note=note), key=key)

    def submit_for_review(
        self, actor: Actor, order_id: str, note: str | None = None, *, key: str | None = None
    ) -> Order:
        return self.run_command(actor, order_id, SubmitForReview(note=note), key=key)

    def send_firm_offer(
        self,
        actor: Actor,
        order_id: str,
        valid_for: timedelta | None = None,
        note: str | None = None,
    ) -> Order:
        """Send the firm offer; the customer's mail links to this revision only.

        It is valid for ``valid_for``, else for the shop's offer validity.
        """
        expires_at = None if valid_for is None else self.clock.now() + valid_for
        return self.run_command(actor, order_id, SendFirmOffer(expires_at=expires_at, note=note))

    def accept_offer(
        self, actor: Actor, order_id: str, revision: int, *, key: str | None = None
    ) -> Order:
        return self.run_command(actor, order_id, AcceptOffer(revision=revision), key=key)

    def open_offer_link(self, token: str, order_id: str | None = None) -> Order:
        """The order a firm-offer link points at (the link is checked, nothing changes).

        ``order_id``, where the link's URL names the order too, must be the
        order the link was issued for.
        """
        target = self._link_target(token, LinkPurpose.OFFER, order_id)
        with self.uow() as uow:
            return uow.orders.get(target.order_id)

    def accept_offer_link(self, token: str, order_id: str | None = None) -> Order:
        """The customer accepts the offer from the link in their mail.

        The link accepts only the revision it was issued for: after a newer
        offer, or once accepted, it is refused with ``OfferLinkInvalid``.
        """
        target = self._link_target(token, LinkPurpose.OFFER, order_id)
        return self.accept_offer(target.actor, target.order_id, target.revision)

    def request_changes(self, actor: Actor, order_id: str, message: str) -> Order:
        return self.run_command(actor, order_id, RequestChanges(message=message))

    def provide_po(
        self,
        actor: Actor,
        order_id: str,
        po_number: str,
        document: bytes | None = None,
        document_name: str = "purchase-order.pdf",
    ) -> Order:
        """Record the customer's purchase order (the document is kept in the model store).

        The number and the order are checked before the document is stored.
        """
        ProvidePo(po_number=po_number)
        with self.uow() as uow:
            self._order_for(uow, actor, order_id)
        ref = self.models.put(document, document_name).sha256 if document else None
        return self.run_command(actor, order_id, ProvidePo(po_number, ref))

    def accept_po(
        self,
        actor: Actor,
        order_id: str,
        due_date: date | None = None,
        net_days: int | None = None,
    ) -> Order:
        return self.run_command(actor, order_id, AcceptPo(due_date=due_date, net_days=net_days))

    def move_po_due_date(self, actor: Actor, order_id: str, due_date: date) -> Order:
        """Staff move a PO's payment due date; the reminder goes out again before the new one."""
        access.require_staff(actor, "move payment due dates")

        def work() -> Order:
            with self.uow() as uow:
                order = self._order_for(uow, actor, order_id)
                order.move_po_due_date(actor, self.clock.now(), due_date)
                uow.orders.save(order)
                uow.commit()
                return order

        return self._retrying(work)

    def request_payment(self, actor: Actor, order_id: str) -> Order:
        return self.run_command(actor, order_id, RequestPayment())

    def cancel(self, actor: Actor, order_id: str, reason: str) -> Order:
        """Cancel: a customer before production, staff at any time before the end."""
        command = (CancelByCustomer(reason=reason) if actor.is_customer
                   else CancelByAdmin(reason=reason))
        return self.run_command(actor, order_id, command)

    def reachable_statuses(self, actor: Actor, order_id: str) -> list[StatusOption]:
        """The statuses the actor may move the order to now, each with its trigger and fields.

        What the back office's "Change" menu lists; give the fields to
        :meth:`change_status`.
        """
        with self.uow() as uow:
            return self._order_for(uow, actor, order_id).reachable_statuses(actor)

    def change_status(
        self,
        actor: Actor,
        order_id: str,
        target: OrderStatus | str,
        fields: Mapping[str, object] | None = None,
        note: str | None = None,
        *,
        key: str | None = None,
    ) -> Order:
        """The back office's "Change" button: move to ``target`` by the trigger that leads there.

        ``fields`` are the trigger's data as listed by :meth:`reachable_statuses`
        (strings are parsed: ``{"due_date": "2026-12-01"}``); ``note`` stands
        in for a required reason or message.
        """
        access.require_staff(actor, "change the status")
        status = parse_status(target)
        return self._change(
            actor, order_id,
            lambda order, shop: order.change_status(actor, self.clock.now(), status, shop,
                                                    fields or {}, note=note),
            key=key, what=f"status:{status.value}",
        )
