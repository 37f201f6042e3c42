"""The payment gateway contract, run against every gateway fabcore ships.

The Stripe gateway creates its checkouts on the local Stripe stand-in (the
``stripe_server`` fixture); its notices are signed by the Stripe library's
own helper, so verifying them checks the scheme against Stripe's code.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Protocol

import pytest
import stripe

from fabcore.adapters.clock import ManualClock
from fabcore.adapters.stripe import StripeGateway, to_minor_units
from fabcore.domain.money import Money
from fabcore.ports.payments import PaymentGateway
from fabcore.testing import MemoryPaymentGateway
from fabcore.testing.payments import PaymentGatewayContract, SignPaidEvent

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRET = "whsec_contract_0123456789abcdef"


class TestMemoryPaymentGateway(PaymentGatewayContract):
    @pytest.fixture
    def gateway(self) -> MemoryPaymentGateway:
        return MemoryPaymentGateway()

    @pytest.fixture
    def signed_paid_event(self, gateway: MemoryPaymentGateway) -> SignPaidEvent:
        return gateway.paid_event


class StripeStandIn(Protocol):
    """What the gateway needs of the ``stripe_server`` fixture."""

    api_key: str

    @property
    def url(self) -> str: ...


def _stripe_paid_notice(order_id: str, amount: Money) -> tuple[bytes, dict[str, str]]:
    """A ``checkout.session.completed`` delivery for a new payment, as Stripe signs it."""
    session = {
        "id": "cs_test_" + secrets.token_hex(12), "object": "checkout.session",
        "amount_total": to_minor_units(amount), "currency": amount.currency.lower(),
        "client_reference_id": order_id, "metadata": {"order_id": order_id},
        "mode": "payment", "payment_intent": "pi_" + secrets.token_hex(12),
        "payment_status": "paid", "status": "complete",
    }
    event = {"id": "evt_" + secrets.token_hex(12), "object": "event",
             "type": "checkout.session.completed", "data": {"object": session}}
    payload = json.dumps(event).encode()
    signature = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), SECRET, timestamp=int(NOW.timestamp()))
    return payload, {"Content-Type": "application/json", "Stripe-Signature": str(signature)}


class TestStripeGateway(PaymentGatewayContract):
    @pytest.fixture
    def gateway(self, stripe_server: StripeStandIn) -> PaymentGateway:
        return StripeGateway(
            stripe_server.api_key, [SECRET], success_url="https://shop.example/paid",
            cancel_url="https://shop.example/orders", api_base=stripe_server.url,
            clock=ManualClock(NOW), max_network_retries=0,
        )

    @pytest.fixture
    def signed_paid_event(self) -> SignPaidEvent:
        return _stripe_paid_notice
