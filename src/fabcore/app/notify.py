"""The one place where order events become outbox messages.

:func:`fabcore.domain.notifications.mails_for` says which mails an event
causes and to whom; :class:`Notifier` issues the signed link a mail carries,
renders the mails of the events (with the order's details and the price as
agreed; what they share is rendered once, see
:meth:`~fabcore.app.rendering.emails.MailRenderer.render_all`) and wraps each
as an :class:`~fabcore.ports.outbox.OutboxMessage` for the unit of work to
store beside the change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from fabcore.app.links import LinkBuilder, LinkSigner
from fabcore.app.rendering.emails import MailRenderer
from fabcore.domain.customer import Customer
from fabcore.domain.events import OrderEvent
from fabcore.domain.notifications import LinkPurpose, mails_for
from fabcore.domain.order import Order
from fabcore.domain.shop import ShopContext
from fabcore.ports.outbox import OutboxMessage


@attrs.define
class Notifier:
    """Renders the mails of order events into outbox messages (see the module docstring).

    An offer link is valid until the offer expires; a payment link for
    ``pay_link_validity``.
    """

    renderer: MailRenderer
    links: LinkSigner
    urls: LinkBuilder
    new_id: Callable[[], str]
    pay_link_validity: timedelta = timedelta(days=60)

    def messages(
        self,
        events: Sequence[OrderEvent],
        order: Order,
        customer: Customer | None,
        shop: ShopContext,
        now: datetime,
    ) -> list[OutboxMessage]:
        """The outbox messages of every mail ``events`` cause, in order (customer's first)."""
        intents = [intent for event in events
                   for intent in mails_for(event, order, customer, shop.shop)]
        if not intents:
            return []
        quote = order.quote(shop.catalog)
        ids = [self.new_id() for _ in intents]
        mails = self.renderer.render_all(
            [(intent, self._link(intent.link, order, now), f"<{message_id}@fabcore>")
             for intent, message_id in zip(intents, ids, strict=True)],
            order=order, customer=customer, shop=shop.shop, quote=quote,
        )
        return [OutboxMessage(id=message_id, shop_id=shop.shop.id, order_id=order.id, mail=mail,
                              created_at=now)
                for message_id, mail in zip(ids, mails, strict=True)]

    def _link(self, purpose: LinkPurpose | None, order: Order, now: datetime) -> str | None:
        if purpose is LinkPurpose.OFFER:
            expires = order.offer_expires_at or now + self.pay_link_validity
            return self.urls.offer(self.links.issue(order.id, purpose, order.offer_revision,
                                                    expires))
        if purpose is LinkPurpose.PAY:
            token = self.links.issue(order.id, purpose, order.offer_revision,
                                     now + self.pay_link_validity)
            return self.urls.pay(token)
        return None
