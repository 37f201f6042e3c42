"""Stripe payment gateway: Checkout Sessions out, signed webhook events in.

Needs the optional extra ``fabcore[stripe]`` (the official ``stripe``
package); it is imported when a :class:`StripeGateway` is made.

Checkout
--------
:meth:`StripeGateway.create_checkout` creates a Checkout Session
(``mode=payment``) with one line item, "Order {number}", for the order's
total. Amounts go to Stripe as integers in Stripe's minor unit of the
currency, computed from the Decimal exactly: two decimals for most
currencies, none for Stripe's zero-decimal ones (JPY, KRW, ...), three for
BHD, JOD, KWD, OMR and TND (whose last digit Stripe requires to be 0). Stripe
takes at most eight digits of minor units (99999999, that is 999,999.99
EUR), twelve for IDR, and no negative amounts. An amount Stripe cannot take
exactly is refused with ``InvalidInput``, never rounded. The order id
travels as ``client_reference_id`` and, with the order number, in the
metadata of the session and of its PaymentIntent. The idempotency key the
app gives is sent as Stripe's ``Idempotency-Key``, so a repeated call
returns the same session.

Webhooks
--------
:meth:`StripeGateway.verify_event` checks the ``Stripe-Signature`` header
(``t=<unix time>,v1=<hex>``) the documented way: HMAC-SHA256 with the
endpoint's signing secret over ``"{t}.{raw body}"``. Any of the configured
secrets may match, so a secret can be rotated without dropping events; the
timestamp must be within ``tolerance_s`` of the gateway's clock, which
refuses replays of old deliveries. Then:

* ``checkout.session.completed`` and ``checkout.session.async_payment_succeeded``
  with ``payment_status`` ``paid``: the session's ``amount_total`` and
  ``currency``; the order is ``client_reference_id`` (else ``metadata.order_id``);
* ``payment_intent.succeeded``: ``amount_received`` and ``currency``; the order
  is ``metadata.order_id``.

The payment's reference is the PaymentIntent id (the session id where a
session has none), so the two events Stripe sends for one checkout name
the same payment and count once. Authentic events of other types, unpaid
sessions and payments that carry no order id (made outside fabcore) give
``None``. Whatever the bytes and headers, anything else raises
``PaymentEventRejected`` naming the reason: a missing, malformed or forged
signature, a stale timestamp, a body that is not a JSON object, a field of
the wrong type or not valid Unicode, an amount out of Stripe's range.

Every error of the Stripe library is translated to ``PaymentGatewayError`` in one
place (:func:`_stripe_errors`), with the original as ``__cause__``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fabcore.adapters.clock import SystemClock
from fabcore.domain.errors import (
    ConfigurationError,
    InvalidInput,
    PaymentEventRejected,
    PaymentGatewayError,
)
from fabcore.domain.money import Money
from fabcore.ports.clock import Clock
from fabcore.ports.payments import Checkout, PaymentEvent

if TYPE_CHECKING:
    import stripe as stripe_sdk
    from stripe.params.checkout import SessionCreateParams

__all__ = ["StripeGateway", "from_minor_units", "to_minor_units"]

SIGNATURE_HEADER = "Stripe-Signature"

# https://docs.stripe.com/currencies: Stripe's decimals per currency, where not two.
_ZERO_DECIMAL = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
    "VUV", "XAF", "XOF", "XPF",
})
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts: an
# amount has at most eight digits of minor units, twelve for IDR.
_MAX_UNITS = 99_999_999
_MORE_UNITS = {"IDR": 999_999_999_999}

# Unix seconds have ten digits until 2286; longer is malformed, and int()
# refuses strings of more than 4300 digits anyway.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_DATETIME = int((datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH).total_seconds())
_SURROGATE = re.compile("[\ud800-\udfff]")

_SESSION_PAID_EVENTS = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
)
_INTENT_PAID_EVENT = "payment_intent.succeeded"


def _exponent(currency: str) -> int:
    if currency in _ZERO_DECIMAL:
        return 0
    if currency in _THREE_DECIMAL:
        return 3
    return 2


def _max_units(currency: str) -> int:
    return _MORE_UNITS.get(currency, _MAX_UNITS)


def to_minor_units(amount: Money) -> int:
    """``amount`` as the integer Stripe expects (``12.34 EUR`` -> 1234, ``500 JPY`` -> 500)."""
    minor = amount.amount.scaleb(_exponent(amount.currency))
    if minor != minor.to_integral_value():
        raise InvalidInput(
            f"{amount} cannot be charged exactly: Stripe takes {amount.currency} in "
            f"{_exponent(amount.currency)} decimals"
        )
    units = int(minor)
    if not 0 <= units <= _max_units(amount.currency):
        raise InvalidInput(
            f"{amount} cannot be charged: Stripe takes {amount.currency} amounts from 0 to "
            f"{_max_units(amount.currency)} minor units"
        )
    if amount.currency in _THREE_DECIMAL and units % 10:
        raise InvalidInput(
            f"{amount} cannot be charged: Stripe requires {amount.currency} amounts to end in 0"
        )
    return units


def from_minor_units(units: object, currency: object) -> Money:
    """The Money of a Stripe amount (integer minor units) and currency (``"eur"``)."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise PaymentEventRejected(
            f"malformed Stripe amount {_shown(units)}: expected an integer")
    if not isinstance(currency, str):
        raise PaymentEventRejected(f"malformed Stripe currency {_shown(currency)}")
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise PaymentEventRejected(
            f"malformed Stripe amount {_shown(units)} {_shown(currency)}: "
            "the currency is not a three-letter code")
    code = currency.upper()
    if not 0 <= units <= _max_units(code):
        raise PaymentEventRejected(
            f"Stripe amount {_shown(units)} {currency} is out of range: Stripe amounts "
            f"are 0 to {_max_units(code)} minor units")
    value = Decimal(units).scaleb(-_exponent(code))
    try:
        money = Money(value, code)
    except InvalidInput as exc:
        raise PaymentEventRejected(f"malformed Stripe amount {units} {currency!r}: {exc}") from exc
    if money.amount != value:
        raise PaymentEventRejected(f"Stripe amount {units} {currency} is not a whole {code} amount")
    return money


def _shown(value: object) -> str:
    """``value`` short enough for a message: an event's fields may be of any size and depth."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40]) + "..."
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int) and not -(10**20) < value < 10**20:
        return f"{Decimal(value):.3E}"
    return repr(value)


def _moment(timestamp: int) -> str:
    if timestamp > _LAST_DATETIME:
        return f"Unix time {timestamp}"
    return (_EPOCH + timedelta(seconds=timestamp)).isoformat()


def _import_stripe() -> Any:
    try:
        import stripe
    except ImportError as exc:
        raise ConfigurationError(
            "the Stripe gateway needs the stripe package: pip install 'fabcore[stripe]'"
        ) from exc
    return stripe


@contextmanager
def _stripe_errors(action: str) -> Iterator[None]:
    """Translate the Stripe library's errors into ``PaymentGatewayError``."""
    stripe = _import_stripe()
    try:
        yield
    except stripe.StripeError as exc:
        raise PaymentGatewayError(f"Stripe could not {action}: {_describe(exc)}") from exc


def _describe(exc: stripe_sdk.StripeError) -> str:
    kind = type(exc).__name__
    status = f"HTTP {exc.http_status}" if exc.http_status is not None else "no response"
    code = f", code {exc.code}" if exc.code else ""
    message = exc.user_message or str(exc) or "no message"
    return f"{kind} ({status}{code}): {message}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _parse_signature(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not _TIMESTAMP.fullmatch(value):
                raise PaymentEventRejected(
                    f"malformed {SIGNATURE_HEADER} header: timestamp {_shown(value)}"
                )
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise PaymentEventRejected(f"malformed {SIGNATURE_HEADER} header: no timestamp (t=)")
    if not signatures:
        raise PaymentEventRejected(f"malformed {SIGNATURE_HEADER} header: no v1 signature")
    return timestamp, signatures


def _field(obj: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PaymentEventRejected(f"malformed Stripe event: {what} {key!r} is {_shown(value)}")
    return _text(value, key) if isinstance(value, str) else value


def _text(value: str, key: str) -> str:
    # JSON escapes can spell lone surrogates, which no database or mail can store.
    if _SURROGATE.search(value):
        raise PaymentEventRejected(f"malformed Stripe event: {key!r} is not valid Unicode")
    return value


def _order_id(obj: Mapping[str, Any], *, client_reference: bool) -> str | None:
    if client_reference:
        reference = obj.get("client_reference_id")
        if isinstance(reference, str) and reference:
            return _text(reference, "client_reference_id")
    metadata = obj.get("metadata")
    found = metadata.get("order_id") if isinstance(metadata, Mapping) else None
    return _text(found, "metadata.order_id") if isinstance(found, str) and found else None


class StripeGateway:
    """The :class:`~fabcore.ports.payments.PaymentGateway` for Stripe (see the module docs).

    ``webhook_secrets`` are the endpoint's signing secrets (``whsec_...``);
    any of them may verify an event. ``api_base`` points the library at
    another server (a local test server or stripe-mock). ``success_url``
    and ``cancel_url`` are where Stripe sends the customer after paying or
    giving up; Stripe fills in ``{CHECKOUT_SESSION_ID}`` in them.
    """

    def __init__(
        self,
        api_key: str,
        webhook_secrets: Sequence[str],
        *,
        success_url: str,
        cancel_url: str,
        api_base: str | None = None,
        tolerance_s: int = 300,
        clock: Clock | None = None,
        max_network_retries: int = 2,
    ) -> None:
        stripe = _import_stripe()
        if not api_key:
            raise ConfigurationError("Stripe needs an API key (sk_live_... or sk_test_...)")
        if isinstance(webhook_secrets, str):
            raise ConfigurationError("webhook_secrets is a list of secrets, not one string")
        secrets = tuple(s for s in webhook_secrets if s)
        if not secrets or len(secrets) != len(webhook_secrets):
            raise ConfigurationError("Stripe needs at least one webhook signing secret, none empty")
        if not success_url or not cancel_url:
            raise ConfigurationError("Stripe checkout needs a success_url and a cancel_url")
        if tolerance_s <= 0:
            raise ConfigurationError(f"tolerance_s must be positive, got {tolerance_s}")
        self._secrets = tuple(s.encode() for s in secrets)
        self._success_url = success_url
        self._cancel_url = cancel_url
        self._tolerance_s = tolerance_s
        self._clock: Clock = clock or SystemClock()
        self._api_base = api_base
        base = {"api": api_base} if api_base else None
        self._client: stripe_sdk.StripeClient = stripe.StripeClient(
            api_key, base_addresses=base, max_network_retries=max_network_retries
        )

    def __repr__(self) -> str:
        return (f"StripeGateway(api_base={self._api_base or 'stripe'!r}, "
                f"webhook secrets={len(self._secrets)})")

    def create_checkout(
        self, order_id: str, order_number: str, amount: Money, idempotency_key: str
    ) -> Checkout:
        metadata = {"order_id": order_id, "order_number": order_number}
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [{
                "quantity": 1,
                "price_data": {
                    "currency": amount.currency.lower(),
                    "unit_amount": to_minor_units(amount),
                    "product_data": {"name": f"Order {order_number}"},
                },
            }],
            "client_reference_id": order_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": self._success_url,
            "cancel_url": self._cancel_url,
        }
        with _stripe_errors(f"create a checkout for order {order_number}"):
            session = self._client.v1.checkout.sessions.create(
                params, {"idempotency_key": idempotency_key}
            )
        if not session.url:
            raise PaymentGatewayError(
                f"Stripe returned checkout session {session.id} without a URL"
            )
        return Checkout(session.id, session.url, order_id, amount)

    def verify_event(self, payload: bytes, headers: Mapping[str, str]) -> PaymentEvent | None:
        header = _header(headers, SIGNATURE_HEADER)
        if not header:
            raise PaymentEventRejected(f"the event has no {SIGNATURE_HEADER} header")
        timestamp, signatures = _parse_signature(header)
        signed = str(timestamp).encode() + b"." + payload
        expected = [hmac.new(secret, signed, hashlib.sha256).hexdigest()
                    for secret in self._secrets]
        # compare_digest refuses str with non-ASCII characters; no such one can match.
        if not any(s.isascii() and hmac.compare_digest(e, s)
                   for e in expected for s in signatures):
            raise PaymentEventRejected(
                "the event's signature matches none of the webhook signing secrets"
            )
        now = self._clock.now().timestamp()
        if abs(now - timestamp) > self._tolerance_s:
            raise PaymentEventRejected(
                f"the event was signed at {_moment(timestamp)}, more than "
                f"{self._tolerance_s} s from now: refused as a possible replay"
            )
        return self._read(payload)

    def _read(self, payload: bytes) -> PaymentEvent | None:
        try:
            event = json.loads(payload)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
            raise PaymentEventRejected(f"malformed Stripe event: not JSON ({exc})") from exc
        except RecursionError as exc:
            raise PaymentEventRejected("malformed Stripe event: JSON nested too deeply") from exc
        if not isinstance(event, dict):
            raise PaymentEventRejected("malformed Stripe event: not a JSON object")
        event_id = _field(event, "id", str, "event")
        kind = _field(event, "type", str, "event")
        data = _field(event, "data", dict, "event")
        obj = _field(data, "object", dict, "event data")
        if kind in _SESSION_PAID_EVENTS:
            if obj.get("payment_status") != "paid":
                return None
            order_id = _order_id(obj, client_reference=True)
            if order_id is None:
                return None
            amount = from_minor_units(obj.get("amount_total"), obj.get("currency"))
            intent = obj.get("payment_intent")
            if isinstance(intent, dict):
                intent = intent.get("id")
            reference = _text(intent, "payment_intent") if isinstance(intent, str) and intent \
                else _field(obj, "id", str, "checkout session")
        elif kind == _INTENT_PAID_EVENT:
            order_id = _order_id(obj, client_reference=False)
            if order_id is None:
                return None
            received = obj.get("amount_received", obj.get("amount"))
            amount = from_minor_units(received, obj.get("currency"))
            reference = _field(obj, "id", str, "payment intent")
        else:
            return None
        return PaymentEvent(id=event_id, order_id=order_id, amount=amount, reference=reference)
