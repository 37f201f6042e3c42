"""Payment gateway port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs

from fabcore.domain.money import Money


@attrs.frozen
class Checkout:
    """A hosted payment page created for one order."""

    id: str
    url: str
    order_id: str
    amount: Money


@attrs.frozen
class PaymentEvent:
    """A verified notice from the gateway that money arrived for an order.

    ``id`` is the gateway's id of this notice; ``reference`` names the
    payment itself, and is the same in every notice about that payment (a
    redelivery, or another event type), so the app counts it once.
    """

    id: str
    order_id: str
    amount: Money
    reference: str


class PaymentGateway(Protocol):
    """Creates checkouts and verifies the gateway's incoming events.

    :class:`fabcore.testing.payments.PaymentGatewayContract` holds an adapter
    to this behaviour.
    """

    def create_checkout(
        self, order_id: str, order_number: str, amount: Money, idempotency_key: str
    ) -> Checkout:
        """Create (or, for a repeated key, return the same) checkout for an order.

        Raises :class:`~fabcore.domain.errors.InvalidInput` for an amount the
        provider cannot charge exactly and
        :class:`~fabcore.domain.errors.PaymentGatewayError` when the provider fails.
        """
        ...

    def verify_event(self, payload: bytes, headers: Mapping[str, str]) -> PaymentEvent | None:
        """Check the event's signature and read it.

        Returns ``None`` for authentic events that are not payments; raises
        :class:`~fabcore.domain.errors.PaymentEventRejected` for unsigned,
        forged or malformed ones. The payload may be any bytes and the headers
        any strings: nothing else is raised.
        """
        ...
