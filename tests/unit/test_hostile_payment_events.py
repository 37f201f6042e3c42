"""Hostile payment notices: a gateway returns an event or ``None``, or refuses; nothing else.

Payloads are any bytes and headers any strings, signed or not, so each
gateway must answer every one with a ``PaymentEvent``, ``None`` or a
``PaymentEventRejected`` giving a short reason. The named cases are inputs
that once escaped as other exceptions. The Stripe gateway never reaches the
network here: only ``verify_event`` is called.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fabcore.adapters.clock import ManualClock
from fabcore.adapters.stripe import StripeGateway
from fabcore.domain.errors import InvalidInput, PaymentEventRejected
from fabcore.domain.money import Money
from fabcore.ports.payments import PaymentEvent, PaymentGateway
from fabcore.testing import MemoryPaymentGateway
from stripe_server import event_body, sign

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STAMP = int(NOW.timestamp())
SECRET = "whsec_hostile_0123456789abcdef"
STRIPE = StripeGateway(
    "sk_test_never_used", [SECRET], success_url="https://shop.example/paid",
    cancel_url="https://shop.example/orders", api_base="http://127.0.0.1:9",
    clock=ManualClock(NOW), max_network_retries=0,
)
MEMORY = MemoryPaymentGateway()
GATEWAYS = pytest.mark.parametrize("gateway", [STRIPE, MEMORY], ids=["stripe", "memory"])


def stripe_signed(payload: bytes, timestamp: int = STAMP) -> dict[str, str]:
    return {"Stripe-Signature": sign(payload, SECRET, timestamp)}


def signed(gateway: PaymentGateway, payload: bytes) -> dict[str, str]:
    if isinstance(gateway, MemoryPaymentGateway):
        return gateway.headers_for(payload)
    return stripe_signed(payload)


def verdict(
    gateway: PaymentGateway, payload: bytes, headers: dict[str, str]
) -> PaymentEvent | PaymentEventRejected | None:
    """The event, ``None`` or the refusal; any other exception fails the test."""
    found: PaymentEvent | PaymentEventRejected | None
    try:
        found = gateway.verify_event(payload, headers)
    except PaymentEventRejected as exc:
        found = exc
    if isinstance(found, PaymentEventRejected):
        assert 0 < len(str(found)) <= 300, str(found)
    else:
        assert found is None or isinstance(found, PaymentEvent)
    return found


def refusal(gateway: PaymentGateway, payload: bytes, headers: dict[str, str]) -> str:
    found = verdict(gateway, payload, headers)
    assert isinstance(found, PaymentEventRejected), found
    return str(found)


def paid_session(**changes: Any) -> dict[str, Any]:
    return {"id": "cs_test_1", "object": "checkout.session", "amount_total": 14343,
            "currency": "eur", "client_reference_id": "ord-1", "payment_intent": "pi_1",
            "payment_status": "paid", **changes}


def memory_body(**changes: Any) -> bytes:
    body = {"id": "evt_1", "type": "payment.succeeded", "order_id": "ord-1",
            "amount": "143.43", "currency": "EUR", "reference": "pi_1", **changes}
    return json.dumps(body).encode()


DEEP = b"[" * 100_000 + b"]" * 100_000


# -- inputs that once escaped as other exceptions -----------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    ["\N{SUPERSCRIPT TWO}", "\N{FULLWIDTH DIGIT ONE}7", "1" * 4301, str(10**12)],
    ids=["unicode-digit", "fullwidth-digit", "4301-digits", "13-digits"],
)
def test_stripe_timestamps_int_cannot_read_are_refused(timestamp: str) -> None:
    # Once a ValueError from int(): str.isdigit() accepts Unicode digits.
    reason = refusal(STRIPE, b"{}", {"Stripe-Signature": f"t={timestamp},v1=ab"})
    assert reason.startswith("malformed Stripe-Signature header: timestamp ")
    assert len(reason) < 120


def test_stripe_non_ascii_signature_is_refused() -> None:
    # Once a TypeError from hmac.compare_digest.
    headers = {"Stripe-Signature": f"t={STAMP},v1=\N{LATIN SMALL LETTER E WITH ACUTE}"}
    assert "matches none of the webhook signing secrets" in refusal(STRIPE, b"{}", headers)


def test_stripe_signed_timestamp_beyond_the_calendar_is_refused_as_stale() -> None:
    # Once a ValueError, OSError or OverflowError from datetime.fromtimestamp.
    body = event_body("checkout.session.completed", paid_session())
    reason = refusal(STRIPE, body, stripe_signed(body, 999_999_999_999))
    assert "signed at Unix time 999999999999, more than 300 s from now" in reason


@pytest.mark.parametrize("units", [10**40, 100_000_000, -1])
def test_stripe_signed_amount_out_of_range_is_refused(units: int) -> None:
    # 10**40 was once a decimal.InvalidOperation from Money.
    body = event_body("checkout.session.completed", paid_session(amount_total=units))
    assert "out of range: Stripe amounts are 0 to 99999999" in refusal(
        STRIPE, body, stripe_signed(body))


def test_stripe_largest_amount_is_read() -> None:
    body = event_body("checkout.session.completed", paid_session(amount_total=99_999_999))
    found = verdict(STRIPE, body, stripe_signed(body))
    assert isinstance(found, PaymentEvent)
    assert found.amount == Money("999999.99", "EUR")


@pytest.mark.parametrize(
    ("gateway", "reason"),
    [(STRIPE, "malformed Stripe event: JSON nested too deeply"),
     (MEMORY, "malformed payment event: not JSON")],
    ids=["stripe", "memory"],
)
def test_signed_json_nested_too_deeply_is_refused(gateway: PaymentGateway, reason: str) -> None:
    # Once a RecursionError from json.loads.
    assert refusal(gateway, DEEP, signed(gateway, DEEP)) == reason


def test_stripe_fields_that_are_not_valid_unicode_are_refused() -> None:
    body = event_body("checkout.session.completed", paid_session(payment_intent="pi_\ud800"))
    assert "'payment_intent' is not valid Unicode" in refusal(STRIPE, body, stripe_signed(body))


def test_memory_non_ascii_signature_is_refused() -> None:
    # Once a TypeError from hmac.compare_digest.
    headers = {MEMORY.SIGNATURE_HEADER: "\N{LATIN SMALL LETTER E WITH ACUTE}"}
    assert "signature does not match" in refusal(MEMORY, memory_body(), headers)


# The comments say what each case once gave instead.
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"amount": "1e40"}, "malformed payment event: amount '1e40'"),  # InvalidOperation
        ({"currency": "eur"}, "malformed payment event: amount '143.43' 'eur'"),  # InvalidInput
        ({"amount": "10.005"}, "EUR has 2 decimals"),  # an event of 10.01 EUR
        ({"amount": "-5.00"}, "0 to 12 digits of EUR minor units"),  # an event of -5.00 EUR
        ({"amount": "1000000000000.00", "currency": "JPY"}, "0 to 12 digits of JPY"),
        ({"id": {"a": 1}}, "id must be non-empty text"),  # an event with id "{'a': 1}"
        ({"reference": 7, "order_id": ""}, "order_id, reference must be non-empty text"),
        ({"order_id": "\ud800"}, "order_id must be non-empty text"),
        ({"type": None}, "no type"),
    ],
)
def test_memory_signed_but_malformed_events_are_refused(
    changes: dict[str, Any], reason: str
) -> None:
    body = memory_body(**changes)
    assert reason in refusal(MEMORY, body, MEMORY.headers_for(body))


@pytest.mark.parametrize(
    "amount", [Money("10000000000.00", "EUR"), Money("-0.01", "EUR"), Money("1e12", "JPY")])
def test_memory_checkout_beyond_the_range_is_refused(amount: Money) -> None:
    with pytest.raises(InvalidInput, match="0 to 12 digits"):
        MEMORY.create_checkout("ord-1", "00001", amount, "key-1")
    assert MEMORY.checkouts == {}


def test_memory_largest_amount_is_read() -> None:
    body = memory_body(amount="9999999999.99")
    found = verdict(MEMORY, body, MEMORY.headers_for(body))
    assert isinstance(found, PaymentEvent)
    assert found.amount == Money("9999999999.99", "EUR")


# -- properties ---------------------------------------------------------------------------

# Text of any code point, lone surrogates included (a str may hold them).
CHARACTER = st.characters(exclude_categories=()) | st.characters(
    min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
TEXT = st.text(CHARACTER, max_size=30)
HEX_64 = st.text("0123456789abcdef", min_size=64, max_size=64)
STAMPS = st.integers(min_value=-(10**15), max_value=10**15).map(str) | TEXT
SIGNATURE_LIKE = st.builds(
    lambda t, v, rest: f"t={t},v1={v}{rest}", STAMPS, HEX_64 | TEXT, TEXT)
HEADER_NAMES = st.sampled_from([
    "Stripe-Signature", "stripe-signature", "STRIPE-SIGNATURE",
    MemoryPaymentGateway.SIGNATURE_HEADER, MemoryPaymentGateway.SIGNATURE_HEADER.lower(),
    "Content-Type",
]) | TEXT
HEADERS = st.dictionaries(HEADER_NAMES, TEXT | SIGNATURE_LIKE | HEX_64, max_size=4)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=15,
)
FUZZ = settings(max_examples=300, deadline=None)


@GATEWAYS
@FUZZ
@given(payload=st.binary(max_size=300), headers=HEADERS)
def test_any_bytes_and_headers_give_a_result_or_a_refusal(
    gateway: PaymentGateway, payload: bytes, headers: dict[str, str]
) -> None:
    verdict(gateway, payload, headers)


@GATEWAYS
@FUZZ
@given(payload=st.binary(max_size=300))
def test_any_signed_bytes_give_a_result_or_a_refusal(
    gateway: PaymentGateway, payload: bytes
) -> None:
    verdict(gateway, payload, signed(gateway, payload))


@GATEWAYS
@FUZZ
@given(document=JSON)
def test_any_signed_json_gives_a_result_or_a_refusal(
    gateway: PaymentGateway, document: object
) -> None:
    payload = json.dumps(document).encode()
    verdict(gateway, payload, signed(gateway, payload))


ANY_VALUE = JSON | st.integers(min_value=-(10**50), max_value=10**50) | st.sampled_from(
    ["eur", "EUR", "jpy", "idr", "kwd", "isk", "euro", "", "paid", "pi_1", "ord-1", "1.5"])
STRIPE_OBJECT = st.fixed_dictionaries({}, optional={
    "id": ANY_VALUE,
    "amount_total": ANY_VALUE,
    "amount_received": ANY_VALUE,
    "amount": ANY_VALUE,
    "currency": ANY_VALUE,
    "client_reference_id": ANY_VALUE,
    "metadata": st.fixed_dictionaries({}, optional={"order_id": ANY_VALUE}) | ANY_VALUE,
    "payment_status": st.just("paid") | ANY_VALUE,
    "payment_intent": st.fixed_dictionaries({}, optional={"id": ANY_VALUE}) | ANY_VALUE,
})
STRIPE_EVENT = st.fixed_dictionaries({}, optional={
    "id": ANY_VALUE,
    "type": st.sampled_from([
        "checkout.session.completed", "checkout.session.async_payment_succeeded",
        "payment_intent.succeeded", "customer.created"]) | ANY_VALUE,
    "data": st.fixed_dictionaries({}, optional={"object": STRIPE_OBJECT}) | ANY_VALUE,
})


@FUZZ
@given(event=STRIPE_EVENT)
def test_signed_stripe_shaped_events_give_a_result_or_a_refusal(event: dict[str, Any]) -> None:
    payload = json.dumps(event).encode()
    verdict(STRIPE, payload, stripe_signed(payload))


MEMORY_EVENT = st.fixed_dictionaries({}, optional={
    "id": ANY_VALUE,
    "type": st.just("payment.succeeded") | ANY_VALUE,
    "order_id": ANY_VALUE,
    "amount": st.decimals().map(str) | ANY_VALUE,
    "currency": ANY_VALUE,
    "reference": ANY_VALUE,
})


@FUZZ
@given(event=MEMORY_EVENT)
def test_signed_memory_shaped_events_give_a_result_or_a_refusal(event: dict[str, Any]) -> None:
    payload = json.dumps(event).encode()
    verdict(MEMORY, payload, MEMORY.headers_for(payload))


@settings(max_examples=200, deadline=None)
@given(units=st.integers(min_value=0, max_value=99_999_999),
       currency=st.sampled_from(["eur", "usd", "jpy", "krw"]))
def test_every_amount_in_stripes_range_is_read_exactly(units: int, currency: str) -> None:
    body = event_body("payment_intent.succeeded", {
        "id": "pi_1", "object": "payment_intent", "amount_received": units,
        "currency": currency, "metadata": {"order_id": "ord-1"}})
    found = verdict(STRIPE, body, stripe_signed(body))
    decimals = 0 if currency in ("jpy", "krw") else 2
    assert isinstance(found, PaymentEvent)
    assert found.amount == Money(Decimal(units).scaleb(-decimals), currency.upper())


@settings(max_examples=200, deadline=None)
@given(amount=st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2))
def test_every_amount_in_the_memory_gateways_range_is_read_exactly(amount: Decimal) -> None:
    money = Money(amount, "EUR")
    found = verdict(MEMORY, *MEMORY.paid_event("ord-1", money))
    assert isinstance(found, PaymentEvent)
    assert (found.order_id, found.amount) == ("ord-1", money)
