"""Contract tests every ``PaymentGateway`` adapter must pass.

Subclass :class:`PaymentGatewayContract` in a pytest module and provide two
fixtures: ``gateway``, the adapter (its checkouts may go to the provider's
test mode or a local stand-in), and ``signed_paid_event``, a function making
the payload and headers the provider posts when an order is paid, signed
for real with the gateway's secret::

    class TestMyGateway(PaymentGatewayContract):
        @pytest.fixture
        def gateway(self) -> PaymentGateway:
            return MyGateway(api_base=TEST_SERVER, webhook_secret=SECRET)

        @pytest.fixture
        def signed_paid_event(self) -> SignPaidEvent:
            return lambda order_id, amount: my_paid_notice(order_id, amount, SECRET)

Each call of ``signed_paid_event`` stands for a new payment, with its own
reference. The Hypothesis tests verify many notices with one ``gateway``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabcore.domain.errors import PaymentEventRejected
from fabcore.domain.money import Money
from fabcore.ports.payments import PaymentEvent, PaymentGateway

__all__ = ["PaymentGatewayContract", "SignPaidEvent"]

SignPaidEvent = Callable[[str, Money], tuple[bytes, dict[str, str]]]
"""``(order_id, amount) -> (payload, headers)`` of a signed "paid" notice."""

ORDER_ID = "0f3c9a2be1d84f55a1c2b3d4e5f60718"
AMOUNT = Money("143.43", "EUR")
AMOUNTS = [Money("143.43", "EUR"), Money("0.01", "EUR"), Money("1500", "JPY")]

# Any code point, lone surrogates included: a str may hold them.
_TEXT = st.text(
    st.characters(exclude_categories=())
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),
    max_size=40,
)
# Every example reuses the test's gateway, and every subclass runs the same
# test method on its own gateway; neither keeps state between examples.
_FUZZ = settings(deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.differing_executors])


def _garbled(value: str) -> list[str]:
    last = value[-1:] or "x"
    return [
        value[:-1] + ("0" if last != "0" else "1"),
        value[::-1],
        value.upper() if value.upper() != value else value.lower(),
        value + "\N{LATIN SMALL LETTER E WITH ACUTE}",
        "",
        "garbled",
    ]


def _refused(gateway: PaymentGateway, payload: bytes, headers: dict[str, str]) -> str:
    with pytest.raises(PaymentEventRejected) as caught:
        gateway.verify_event(payload, headers)
    reason = str(caught.value)
    assert reason, "a refusal names its reason"
    return reason


class PaymentGatewayContract:
    """Checkouts are idempotent; only genuine, well-formed notices are read."""

    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        raise NotImplementedError(
            "a PaymentGatewayContract subclass must provide a `gateway` fixture")

    @pytest.fixture
    def signed_paid_event(self) -> SignPaidEvent:
        raise NotImplementedError(
            "a PaymentGatewayContract subclass must provide a `signed_paid_event` fixture")

    # -- checkouts ----------------------------------------------------------------------

    def test_a_checkout_is_for_the_order_and_amount(self, gateway: PaymentGateway) -> None:
        checkout = gateway.create_checkout(ORDER_ID, "00042", AMOUNT, "checkout-00042-1")
        assert (checkout.order_id, checkout.amount) == (ORDER_ID, AMOUNT)
        assert checkout.id
        url = urlsplit(checkout.url)
        assert url.scheme in ("http", "https")
        assert url.netloc

    def test_the_same_idempotency_key_gives_the_same_checkout(
        self, gateway: PaymentGateway
    ) -> None:
        first = gateway.create_checkout(ORDER_ID, "00042", AMOUNT, "checkout-00042-1")
        again = gateway.create_checkout(ORDER_ID, "00042", AMOUNT, "checkout-00042-1")
        assert again == first

    def test_another_idempotency_key_gives_another_checkout(
        self, gateway: PaymentGateway
    ) -> None:
        first = gateway.create_checkout(ORDER_ID, "00042", AMOUNT, "checkout-00042-1")
        other = gateway.create_checkout("another-order", "00043", AMOUNT, "checkout-00043-1")
        assert other.id != first.id
        assert other.order_id == "another-order"

    # -- genuine notices ------------------------------------------------------------------

    @pytest.mark.parametrize("amount", AMOUNTS, ids=str)
    def test_a_signed_paid_notice_gives_the_order_amount_reference_and_id(
        self, gateway: PaymentGateway, signed_paid_event: SignPaidEvent, amount: Money
    ) -> None:
        event = gateway.verify_event(*signed_paid_event(ORDER_ID, amount))
        assert isinstance(event, PaymentEvent)
        assert (event.order_id, event.amount) == (ORDER_ID, amount)
        assert event.reference
        assert event.id

    def test_the_same_notice_twice_gives_the_same_event(
        self, gateway: PaymentGateway, signed_paid_event: SignPaidEvent
    ) -> None:
        payload, headers = signed_paid_event(ORDER_ID, AMOUNT)
        first = gateway.verify_event(payload, headers)
        again = gateway.verify_event(payload, headers)
        assert isinstance(first, PaymentEvent)
        assert again == first

    def test_two_payments_have_two_references(
        self, gateway: PaymentGateway, signed_paid_event: SignPaidEvent
    ) -> None:
        one = gateway.verify_event(*signed_paid_event(ORDER_ID, AMOUNT))
        two = gateway.verify_event(*signed_paid_event(ORDER_ID, AMOUNT))
        assert isinstance(one, PaymentEvent)
        assert isinstance(two, PaymentEvent)
        assert one.reference != two.reference

    # -- refusals -----------------------------------------------------------------------

    @pytest.mark.parametrize("where", [0, 0.5, -1], ids=["first", "middle", "last"])
    def test_a_tampered_payload_is_refused(
        self, gateway: PaymentGateway, signed_paid_event: SignPaidEvent, where: float
    ) -> None:
        payload, headers = signed_paid_event(ORDER_ID, AMOUNT)
        position = int(len(payload) * where) if where >= 0 else len(payload) - 1
        tampered = bytearray(payload)
        tampered[position] ^= 0x01
        _refused(gateway, bytes(tampered), headers)

    def test_the_headers_of_another_notice_are_refused(
        self, gateway: PaymentGateway, signed_paid_event: SignPaidEvent
    ) -> None:
        payload, _ = signed_paid_event(ORDER_ID, AMOUNT)
        _, other_headers = signed_paid_event(ORDER_ID, Money("0.01", "EUR"))
        _refused(gateway, payload, other_headers)

    def test_a_notice_without_headers_is_refused(
        self, gateway: PaymentGateway, signed_paid_event: SignPaidEvent
    ) -> None:
        payload, _ = signed_paid_event(ORDER_ID, AMOUNT)
        _refused(gateway, payload, {})

    def test_a_notice_with_garbled_headers_is_refused(
        self, gateway: PaymentGateway, signed_paid_event: SignPaidEvent
    ) -> None:
        payload, headers = signed_paid_event(ORDER_ID, AMOUNT)
        assert headers, "a signed notice carries its signature in a header"
        for kind in range(len(_garbled("x"))):
            garbled = {name: _garbled(value)[kind] for name, value in headers.items()}
            _refused(gateway, payload, garbled)

    def test_an_empty_body_is_refused(
        self, gateway: PaymentGateway, signed_paid_event: SignPaidEvent
    ) -> None:
        _, headers = signed_paid_event(ORDER_ID, AMOUNT)
        _refused(gateway, b"", headers)
        _refused(gateway, b"", {})

    @_FUZZ
    @given(payload=st.binary(max_size=400), data=st.data())
    def test_any_bytes_and_headers_give_an_event_none_or_a_refusal(
        self, gateway: PaymentGateway, signed_paid_event: SignPaidEvent, payload: bytes,
        data: st.DataObject,
    ) -> None:
        real_payload, real_headers = signed_paid_event(ORDER_ID, AMOUNT)
        names = st.sampled_from(sorted(real_headers)) | _TEXT
        values = st.sampled_from(sorted(real_headers.values())) | _TEXT
        headers = data.draw(st.dictionaries(names, values, max_size=4), label="headers")
        body = data.draw(st.sampled_from([payload, real_payload]), label="body")
        outcome: PaymentEvent | PaymentEventRejected | None
        try:
            outcome = gateway.verify_event(body, headers)
        except PaymentEventRejected as exc:
            outcome = exc
        if isinstance(outcome, PaymentEventRejected):
            assert str(outcome), "a refusal names its reason"
        else:
            assert outcome is None or isinstance(outcome, PaymentEvent)
