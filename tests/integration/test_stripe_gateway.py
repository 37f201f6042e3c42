"""The Stripe gateway against a local server speaking Stripe's API, and signed webhooks."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import stripe

from fabcore.adapters.clock import ManualClock
from fabcore.adapters.memory import RecordingMailer
from fabcore.adapters.stripe import StripeGateway, from_minor_units, to_minor_units
from fabcore.app.bootstrap import bootstrap, make_payments
from fabcore.app.samples import bracket_stl, create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address
from fabcore.domain.errors import (
    ConfigurationError,
    InvalidInput,
    PaymentEventRejected,
    PaymentGatewayError,
)
from fabcore.domain.money import Money
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import PaymentStatus
from fabcore.ports.payments import PaymentEvent
from stripe_server import (
    API_KEY,
    HOST,
    StripeServer,
    event_body,
    payment_intent,
    sign,
    webhook,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRET = "whsec_current_0123456789abcdef"
OLD_SECRET = "whsec_previous_fedcba9876543210"
SUCCESS = "https://shop.example/paid?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://shop.example/orders"
ORDER_ID = "0f3c9a2be1d84f55a1c2b3d4e5f60718"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


def _gateway(server: StripeServer | None, clock: ManualClock, *,
             secrets: tuple[str, ...] = (SECRET,), retries: int = 0,
             api_key: str = API_KEY, api_base: str | None = None) -> StripeGateway:
    base = api_base or (server.url if server is not None else f"http://{HOST}:9")
    return StripeGateway(api_key, secrets, success_url=SUCCESS, cancel_url=CANCEL,
                         api_base=base, clock=clock, max_network_retries=retries)


@pytest.fixture
def gateway(stripe_server: StripeServer, clock: ManualClock) -> StripeGateway:
    return _gateway(stripe_server, clock)


def _stamp(clock: ManualClock) -> int:
    return int(clock.now().timestamp())


def _paid_session(order_id: str = ORDER_ID, amount: int = 14343, currency: str = "eur",
                  intent: str | None = "pi_3PaidIntent") -> dict[str, Any]:
    return {
        "id": "cs_test_a1b2c3", "object": "checkout.session", "amount_total": amount,
        "currency": currency, "client_reference_id": order_id, "mode": "payment",
        "metadata": {"order_id": order_id, "order_number": "00001"},
        "payment_intent": intent, "payment_status": "paid", "status": "complete",
    }


# -- amounts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "units"),
    [
        (Money("143.43", "EUR"), 14343),
        (Money("0.01", "USD"), 1),
        (Money("999999.99", "EUR"), 99999999),  # Stripe's largest amount: eight digits
        (Money("9999999999.99", "IDR"), 999999999999),  # twelve for IDR
        (Money("0.00", "EUR"), 0),
        (Money("1500", "JPY"), 1500),
        (Money("2500", "KRW"), 2500),
        (Money("12.340", "KWD"), 12340),
        (Money("5", "ISK"), 500),  # Stripe keeps ISK in two decimals
        (Money("100.00", "XAF"), 100),
    ],
)
def test_amounts_go_to_stripe_in_its_minor_units_exactly(amount: Money, units: int) -> None:
    assert to_minor_units(amount) == units
    assert from_minor_units(units, amount.currency.lower()) == amount


@pytest.mark.parametrize(
    ("amount", "reason"),
    [(Money("12.345", "KWD"), "end in 0"), (Money("100.50", "XAF"), "0 decimals")],
)
def test_amounts_stripe_cannot_take_exactly_are_refused(amount: Money, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        to_minor_units(amount)


@pytest.mark.parametrize(
    "amount",
    [Money("1000000.00", "EUR"), Money("10000000000.00", "IDR"), Money("100000000", "JPY"),
     Money("-0.01", "EUR")],
)
def test_amounts_beyond_stripes_range_are_refused(amount: Money) -> None:
    with pytest.raises(InvalidInput, match=r"Stripe takes .* amounts from 0 to 9+ minor units"):
        to_minor_units(amount)


@pytest.mark.parametrize(
    ("units", "currency"),
    [(100_000_000, "eur"), (1_000_000_000_000, "idr"), (-1, "eur"), (10**40, "usd")],
)
def test_stripe_amounts_beyond_its_range_are_refused(units: int, currency: str) -> None:
    with pytest.raises(PaymentEventRejected, match=r"out of range: Stripe amounts are 0 to 9+ "):
        from_minor_units(units, currency)


@pytest.mark.parametrize("bad", [12.5, "1250", None, True])
def test_a_stripe_amount_must_be_an_integer(bad: object) -> None:
    with pytest.raises(PaymentEventRejected, match="malformed Stripe amount"):
        from_minor_units(bad, "eur")


@pytest.mark.parametrize("currency", ["euro", "", "€ur", "e1r"])
def test_a_stripe_currency_must_be_three_letters(currency: str) -> None:
    with pytest.raises(PaymentEventRejected, match="not a three-letter code"):
        from_minor_units(100, currency)


# -- checkout --------------------------------------------------------------------------


def test_checkout_session_carries_amount_currency_order_and_idempotency_key(
    gateway: StripeGateway, stripe_server: StripeServer
) -> None:
    checkout = gateway.create_checkout(ORDER_ID, "00001", Money("143.43", "EUR"), "key-1")

    [request] = stripe_server.session_requests()
    assert request.method == "POST"
    assert request.header("Authorization") == f"Bearer {API_KEY}"
    assert request.header("Idempotency-Key") == "key-1"
    params = request.params
    assert params["mode"] == "payment"
    assert params["line_items"] == [{
        "quantity": "1",
        "price_data": {"currency": "eur", "unit_amount": "14343",
                       "product_data": {"name": "Order 00001"}},
    }]
    assert params["client_reference_id"] == ORDER_ID
    assert params["metadata"] == {"order_id": ORDER_ID, "order_number": "00001"}
    assert params["payment_intent_data"] == {"metadata": params["metadata"]}
    assert (params["success_url"], params["cancel_url"]) == (SUCCESS, CANCEL)

    session = stripe_server.sessions[checkout.id]
    assert checkout.id.startswith("cs_test_")
    assert checkout.url == session["url"]
    assert (checkout.order_id, checkout.amount) == (ORDER_ID, Money("143.43", "EUR"))
    assert (session["amount_total"], session["currency"]) == (14343, "eur")


def test_zero_decimal_currency_is_sent_without_multiplying(
    gateway: StripeGateway, stripe_server: StripeServer
) -> None:
    gateway.create_checkout(ORDER_ID, "00002", Money("1500", "JPY"), "key-jpy")
    [request] = stripe_server.session_requests()
    price = request.params["line_items"][0]["price_data"]
    assert (price["currency"], price["unit_amount"]) == ("jpy", "1500")


def test_repeated_call_with_the_same_key_returns_the_same_session(
    gateway: StripeGateway, stripe_server: StripeServer
) -> None:
    first = gateway.create_checkout(ORDER_ID, "00001", Money("143.43", "EUR"), "key-1")
    again = gateway.create_checkout(ORDER_ID, "00001", Money("143.43", "EUR"), "key-1")
    assert again == first
    assert len(stripe_server.sessions) == 1
    assert [r.header("Idempotency-Key") for r in stripe_server.session_requests()] == [
        "key-1", "key-1"]


def test_same_key_with_another_amount_is_refused_like_stripe_does(
    gateway: StripeGateway, stripe_server: StripeServer
) -> None:
    gateway.create_checkout(ORDER_ID, "00001", Money("143.43", "EUR"), "key-1")
    with pytest.raises(
        PaymentGatewayError, match=r"IdempotencyError .*HTTP 400.*same parameters"
    ) as err:
        gateway.create_checkout(ORDER_ID, "00001", Money("150.00", "EUR"), "key-1")
    assert isinstance(err.value.__cause__, stripe.IdempotencyError)
    assert len(stripe_server.sessions) == 1


def test_a_declined_request_becomes_a_payment_error(
    gateway: StripeGateway, stripe_server: StripeServer
) -> None:
    stripe_server.fail_next(402, "card_error", "Your card was declined.", code="card_declined")
    with pytest.raises(
        PaymentGatewayError, match=r"HTTP 402, code card_declined\): Your card"
    ) as err:
        gateway.create_checkout(ORDER_ID, "00001", Money("143.43", "EUR"), "key-1")
    assert isinstance(err.value.__cause__, stripe.CardError)
    assert "order 00001" in str(err.value)


def test_a_server_error_becomes_a_payment_error(
    gateway: StripeGateway, stripe_server: StripeServer
) -> None:
    stripe_server.fail_next(500, "api_error", "Something went wrong on Stripe's end.")
    with pytest.raises(PaymentGatewayError, match=r"APIError .*HTTP 500") as err:
        gateway.create_checkout(ORDER_ID, "00001", Money("143.43", "EUR"), "key-1")
    assert isinstance(err.value.__cause__, stripe.APIError)
    assert stripe_server.sessions == {}


def test_a_server_error_is_retried_with_the_same_idempotency_key(
    stripe_server: StripeServer, clock: ManualClock
) -> None:
    gateway = _gateway(stripe_server, clock, retries=1)
    stripe_server.fail_next(500, "api_error", "Something went wrong on Stripe's end.")
    checkout = gateway.create_checkout(ORDER_ID, "00001", Money("143.43", "EUR"), "key-1")
    keys = [r.header("Idempotency-Key") for r in stripe_server.session_requests()]
    assert keys == ["key-1", "key-1"]
    assert list(stripe_server.sessions) == [checkout.id]


def test_a_wrong_api_key_becomes_a_payment_error(
    stripe_server: StripeServer, clock: ManualClock
) -> None:
    gateway = _gateway(stripe_server, clock, api_key="sk_test_wrong")
    with pytest.raises(PaymentGatewayError, match=r"AuthenticationError .*HTTP 401") as err:
        gateway.create_checkout(ORDER_ID, "00001", Money("143.43", "EUR"), "key-1")
    assert isinstance(err.value.__cause__, stripe.AuthenticationError)


def test_an_unreachable_stripe_becomes_a_payment_error(clock: ManualClock) -> None:
    with StripeServer() as server:
        base = server.url
    gateway = _gateway(None, clock, api_base=base)
    with pytest.raises(PaymentGatewayError, match=r"APIConnectionError .*no response") as err:
        gateway.create_checkout(ORDER_ID, "00001", Money("143.43", "EUR"), "key-1")
    assert isinstance(err.value.__cause__, stripe.APIConnectionError)


# -- webhook signatures -------------------------------------------------------------------


def test_a_signed_checkout_completed_event_is_read(
    gateway: StripeGateway, clock: ManualClock
) -> None:
    payload, headers = webhook("checkout.session.completed", _paid_session(), secret=SECRET,
                               timestamp=_stamp(clock), event_id="evt_1")
    assert gateway.verify_event(payload, headers) == PaymentEvent(
        id="evt_1", order_id=ORDER_ID, amount=Money("143.43", "EUR"), reference="pi_3PaidIntent"
    )


def test_a_signed_payment_intent_succeeded_event_is_read(
    gateway: StripeGateway, clock: ManualClock
) -> None:
    intent = payment_intent(ORDER_ID, 1500, "jpy", "pi_3Yen")
    payload, headers = webhook("payment_intent.succeeded", intent, secret=SECRET,
                               timestamp=_stamp(clock), event_id="evt_2")
    assert gateway.verify_event(payload, headers) == PaymentEvent(
        id="evt_2", order_id=ORDER_ID, amount=Money("1500", "JPY"), reference="pi_3Yen"
    )


def test_a_session_without_payment_intent_is_referenced_by_its_id(
    gateway: StripeGateway, clock: ManualClock
) -> None:
    payload, headers = webhook("checkout.session.completed", _paid_session(intent=None),
                               secret=SECRET, timestamp=_stamp(clock))
    event = gateway.verify_event(payload, headers)
    assert event is not None
    assert event.reference == "cs_test_a1b2c3"


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("customer.created", {"id": "cus_1", "object": "customer"}),
        ("checkout.session.completed", {**_paid_session(), "payment_status": "unpaid"}),
        ("checkout.session.completed",
         {**_paid_session(), "client_reference_id": None, "metadata": {}}),
        ("payment_intent.succeeded", {**payment_intent(ORDER_ID, 100, "eur"), "metadata": {}}),
        ("payment_intent.payment_failed", payment_intent(ORDER_ID, 100, "eur")),
    ],
    ids=["other-type", "unpaid-session", "not-an-order", "intent-without-order", "failed"],
)
def test_authentic_events_that_are_no_order_payment_give_none(
    gateway: StripeGateway, clock: ManualClock, event_type: str, obj: dict[str, Any]
) -> None:
    payload, headers = webhook(event_type, obj, secret=SECRET, timestamp=_stamp(clock))
    assert gateway.verify_event(payload, headers) is None


def test_one_flipped_bit_in_the_body_is_refused(
    gateway: StripeGateway, clock: ManualClock
) -> None:
    payload, headers = webhook("checkout.session.completed", _paid_session(), secret=SECRET,
                               timestamp=_stamp(clock))
    position = payload.index(b"14343") + 4
    tampered = payload[:position] + bytes([payload[position] ^ 0x01]) + payload[position + 1:]
    assert b"14342" in tampered
    with pytest.raises(PaymentEventRejected, match="matches none of the webhook signing secrets"):
        gateway.verify_event(tampered, headers)


def test_one_flipped_bit_in_the_signature_is_refused(
    gateway: StripeGateway, clock: ManualClock
) -> None:
    payload, headers = webhook("checkout.session.completed", _paid_session(), secret=SECRET,
                               timestamp=_stamp(clock))
    header = headers["Stripe-Signature"]
    last = header[-1]
    headers["Stripe-Signature"] = header[:-1] + ("0" if last != "0" else "1")
    with pytest.raises(PaymentEventRejected, match="matches none"):
        gateway.verify_event(payload, headers)


def test_an_event_signed_with_another_secret_is_refused(
    gateway: StripeGateway, clock: ManualClock
) -> None:
    payload, headers = webhook("checkout.session.completed", _paid_session(),
                               secret="whsec_attacker", timestamp=_stamp(clock))
    with pytest.raises(PaymentEventRejected, match="matches none"):
        gateway.verify_event(payload, headers)


def test_a_moved_timestamp_breaks_the_signature(
    gateway: StripeGateway, clock: ManualClock
) -> None:
    payload, headers = webhook("checkout.session.completed", _paid_session(), secret=SECRET,
                               timestamp=_stamp(clock) - 1000)
    signature = headers["Stripe-Signature"].split(",")[1]
    headers["Stripe-Signature"] = f"t={_stamp(clock)},{signature}"
    with pytest.raises(PaymentEventRejected, match="matches none"):
        gateway.verify_event(payload, headers)


def test_during_rotation_both_secrets_verify(
    stripe_server: StripeServer, clock: ManualClock
) -> None:
    rotating = _gateway(stripe_server, clock, secrets=(OLD_SECRET, SECRET))
    for secret in (OLD_SECRET, SECRET):
        payload, headers = webhook("checkout.session.completed", _paid_session(), secret=secret,
                                   timestamp=_stamp(clock))
        assert rotating.verify_event(payload, headers) is not None
    rotated = _gateway(stripe_server, clock, secrets=(SECRET,))
    payload, headers = webhook("checkout.session.completed", _paid_session(),
                               secret=OLD_SECRET, timestamp=_stamp(clock))
    with pytest.raises(PaymentEventRejected, match="matches none"):
        rotated.verify_event(payload, headers)


def test_a_header_with_one_signature_per_secret_verifies(
    gateway: StripeGateway, clock: ManualClock
) -> None:
    body = event_body("checkout.session.completed", _paid_session())
    stamp = _stamp(clock)
    old = sign(body, OLD_SECRET, stamp).split(",")[1]
    new = sign(body, SECRET, stamp).split(",")[1]
    assert gateway.verify_event(body, {"Stripe-Signature": f"t={stamp},{old},{new}"})


def test_header_names_are_case_insensitive(gateway: StripeGateway, clock: ManualClock) -> None:
    payload, headers = webhook("checkout.session.completed", _paid_session(), secret=SECRET,
                               timestamp=_stamp(clock))
    lower = {k.lower(): v for k, v in headers.items()}
    assert gateway.verify_event(payload, lower) is not None


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_timestamp_within_the_tolerance_is_accepted(
    gateway: StripeGateway, clock: ManualClock, offset: int
) -> None:
    payload, headers = webhook("checkout.session.completed", _paid_session(), secret=SECRET,
                               timestamp=_stamp(clock) + offset)
    assert gateway.verify_event(payload, headers) is not None


def test_a_stale_event_is_refused_as_a_replay(gateway: StripeGateway, clock: ManualClock) -> None:
    payload, headers = webhook("checkout.session.completed", _paid_session(), secret=SECRET,
                               timestamp=_stamp(clock))
    assert gateway.verify_event(payload, headers) is not None
    clock.advance(timedelta(seconds=301))
    with pytest.raises(
        PaymentEventRejected, match="more than 300 s from now: refused as a possible"
    ):
        gateway.verify_event(payload, headers)


def test_an_event_from_the_future_is_refused(gateway: StripeGateway, clock: ManualClock) -> None:
    payload, headers = webhook("checkout.session.completed", _paid_session(), secret=SECRET,
                               timestamp=_stamp(clock) + 3600)
    with pytest.raises(PaymentEventRejected, match="more than 300 s from now"):
        gateway.verify_event(payload, headers)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no Stripe-Signature header"),
        ({"Stripe-Signature": ""}, "no Stripe-Signature header"),
        ({"Stripe-Signature": "v1=abc"}, "no timestamp"),
        ({"Stripe-Signature": "t=soon,v1=abc"}, "timestamp 'soon'"),
        ({"Stripe-Signature": "t=1767225600,v0=abc"}, "no v1 signature"),
    ],
    ids=["missing", "empty", "no-t", "bad-t", "no-v1"],
)
def test_missing_or_malformed_signature_header_is_refused(
    gateway: StripeGateway, headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(PaymentEventRejected, match=reason):
        gateway.verify_event(event_body("checkout.session.completed", _paid_session()), headers)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"id": "evt_1", "type": "checkout.session.completed"}).encode(), "'data'"),
        (event_body("checkout.session.completed", {**_paid_session(), "amount_total": "14343"}),
         "malformed Stripe amount"),
        (event_body("checkout.session.completed", {**_paid_session(), "currency": "euro"}),
         "malformed Stripe amount"),
    ],
    ids=["not-json", "not-object", "no-data", "string-amount", "bad-currency"],
)
def test_an_authentic_but_malformed_event_is_refused(
    gateway: StripeGateway, clock: ManualClock, body: bytes, reason: str
) -> None:
    headers = {"Stripe-Signature": sign(body, SECRET, _stamp(clock))}
    with pytest.raises(PaymentEventRejected, match=reason):
        gateway.verify_event(body, headers)


def test_signatures_agree_with_the_stripe_library(clock: ManualClock) -> None:
    body = event_body("checkout.session.completed", _paid_session())
    ours = sign(body, SECRET, int(time.time()))
    assert stripe.WebhookSignature.verify_header(body, ours, SECRET, tolerance=300)
    sdk_clock = ManualClock(datetime.now(UTC))
    theirs = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    assert _gateway(None, sdk_clock).verify_event(body, {"Stripe-Signature": theirs})


# -- configuration ----------------------------------------------------------------------


def test_without_the_stripe_package_the_gateway_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    monkeypatch.setitem(sys.modules, "stripe", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'fabcore\[stripe\]'"):
        _gateway(None, clock)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"api_key": ""}, "needs an API key"),
        ({"webhook_secrets": ()}, "at least one webhook signing secret"),
        ({"webhook_secrets": (SECRET, "")}, "none empty"),
        ({"webhook_secrets": SECRET}, "not one string"),
        ({"success_url": ""}, "success_url and a cancel_url"),
        ({"tolerance_s": 0}, "tolerance_s must be positive"),
    ],
    ids=["no-key", "no-secret", "empty-secret", "secret-as-str", "no-url", "no-tolerance"],
)
def test_gateway_settings_are_checked(changes: dict[str, Any], reason: str) -> None:
    settings: dict[str, Any] = {"api_key": API_KEY, "webhook_secrets": (SECRET,),
                                "success_url": SUCCESS, "cancel_url": CANCEL,
                                "tolerance_s": 300} | changes
    with pytest.raises(ConfigurationError, match=reason):
        StripeGateway(settings.pop("api_key"), settings.pop("webhook_secrets"), **settings)


def test_stripe_url_reads_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, stripe_server: StripeServer
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", f"{OLD_SECRET}, {SECRET}")
    gateway = make_payments(
        f"stripe://?api_base={stripe_server.url}&success_url=https://s.example/ok"
        "&cancel_url=https://s.example/no&tolerance=60"
    )
    assert isinstance(gateway, StripeGateway)
    checkout = gateway.create_checkout(ORDER_ID, "00001", Money("10.00", "EUR"), "k")
    assert checkout.id in stripe_server.sessions
    assert stripe_server.session_requests()[0].params["success_url"] == "https://s.example/ok"
    for secret in (OLD_SECRET, SECRET):
        payload, headers = webhook("checkout.session.completed", _paid_session(),
                                   secret=secret, timestamp=int(time.time()))
        assert gateway.verify_event(payload, headers) is not None


@pytest.mark.parametrize(
    ("url", "env", "reason"),
    [
        ("stripe://?success_url=a&cancel_url=b", {"STRIPE_WEBHOOK_SECRETS": SECRET},
         "STRIPE_API_KEY"),
        ("stripe://?success_url=a&cancel_url=b", {"STRIPE_API_KEY": API_KEY},
         "STRIPE_WEBHOOK_SECRETS"),
        ("stripe://", {"STRIPE_API_KEY": API_KEY, "STRIPE_WEBHOOK_SECRETS": SECRET},
         "success_url, cancel_url"),
        ("stripe://sk_live_oops@api?success_url=a&cancel_url=b",
         {"STRIPE_API_KEY": API_KEY, "STRIPE_WEBHOOK_SECRETS": SECRET}, "secrets go in"),
        ("stripe://?success_url=a&cancel_url=b&colour=red",
         {"STRIPE_API_KEY": API_KEY, "STRIPE_WEBHOOK_SECRETS": SECRET}, "unknown"),
        ("stripe://?success_url=a&cancel_url=b&tolerance=-1",
         {"STRIPE_API_KEY": API_KEY, "STRIPE_WEBHOOK_SECRETS": SECRET}, "tolerance"),
    ],
    ids=["no-key", "no-secrets", "no-urls", "key-in-url", "unknown-option", "bad-tolerance"],
)
def test_stripe_url_errors_name_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, url: str, env: dict[str, str], reason: str
) -> None:
    for name in ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRETS", "STRIPE_SUCCESS_URL",
                 "STRIPE_CANCEL_URL", "STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=reason):
        make_payments(url)


# -- end to end: checkout, payment, webhook, mails ----------------------------------------


def test_a_stripe_payment_marks_the_order_paid_once(
    monkeypatch: pytest.MonkeyPatch, stripe_server: StripeServer
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", SECRET)
    app = bootstrap(
        "memory://", secret_key=b"k" * 32,
        payments=f"stripe://?api_base={stripe_server.url}&success_url={CANCEL}"
                 f"&cancel_url={CANCEL}",
    )
    mailer = app.mailer
    assert isinstance(mailer, RecordingMailer)
    shop = create_sample_shop(app)
    address = Address("Ada Lovelace", "1 Analytical Way", "10115", "Berlin", "DE")
    ada = app.register_customer(Actor.visitor(shop.id), name="Ada Lovelace",
                                email="ada@example.com", billing_address=address)
    as_ada = Actor.customer(shop.id, ada.id)
    model = app.upload_model(as_ada, bracket_stl(), "bracket.stl")
    order = app.create_order(as_ada)
    app.add_line(as_ada, order.id, model, LineSpec("fdm", "pla", quantity=10))
    app.set_shipping(as_ada, order.id, "standard", address)
    order = app.place(as_ada, order.id)
    total = app.quote(as_ada, order.id).total
    assert total is not None

    checkout = app.start_checkout(as_ada, order.id)
    assert app.start_checkout(as_ada, order.id) == checkout
    session = stripe_server.sessions[checkout.id]
    assert Decimal(session["amount_total"]).scaleb(-2) == total.amount
    assert session["client_reference_id"] == order.id

    paid = stripe_server.complete_session(checkout.id, payment_intent="pi_3EndToEnd")
    now = int(time.time())
    completed = webhook("checkout.session.completed", paid, secret=SECRET, timestamp=now)
    intent = payment_intent(order.id, session["amount_total"], "eur", "pi_3EndToEnd")
    succeeded = webhook("payment_intent.succeeded", intent, secret=SECRET, timestamp=now)
    app.relay_outbox()
    before = len(mailer.sent)

    outcome = app.handle_payment_event(*completed)
    assert (outcome.order_id, outcome.applied) == (order.id, True)
    assert not app.handle_payment_event(*completed).applied
    assert not app.handle_payment_event(*succeeded).applied  # same payment, other event

    order = app.get_order(as_ada, order.id)
    assert order.payment_status is PaymentStatus.PAID
    [entry] = order.payments
    assert (entry.reference, entry.amount) == ("pi_3EndToEnd", total)
    app.relay_outbox()
    subjects = sorted(m.subject for m in mailer.sent[before:])
    assert len(subjects) == 2
    assert all(order.number in s for s in subjects)

    forged = (completed[0].replace(b"pi_3EndToEnd", b"pi_3Forged00"), completed[1])
    with pytest.raises(PaymentEventRejected, match="matches none"):
        app.handle_payment_event(*forged)
