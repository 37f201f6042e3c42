"""A local stand-in for Stripe's API and webhooks, for the Stripe gateway tests.

:class:`StripeServer` is a stdlib HTTP server on 127.0.0.1 (in a thread)
that answers ``POST /v1/checkout/sessions`` the way Stripe documents it:
form-encoded parameters with bracketed keys (``line_items[0][price_data][currency]``),
``Authorization: Bearer <secret key>``, a Checkout Session object back,
errors as ``{"error": {"type": ..., "message": ...}}`` with Stripe's status
codes, and ``Idempotency-Key`` honoured (the same key returns the same
session; the same key with other parameters is a 400 ``idempotency_error``).
It records every request and can be told to fail the next ones.

The webhook helpers build event bodies shaped like Stripe's and sign them
the documented way: ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256
of "<t>.<body>" with the endpoint secret>``.

The ``stripe_server`` fixture (registered by ``tests/conftest.py``) runs one
server for a test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl

import attrs
import pytest

HOST = "127.0.0.1"
API_KEY = "sk_test_fabcore_local"
_KEY_PART = re.compile(r"[^\[\]]+")


@attrs.frozen
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]
    form: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@attrs.frozen
class _Failure:
    status: int
    error: dict[str, Any]
    headers: dict[str, str]


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = _KEY_PART.findall(key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    decoded: dict[str, Any] = _listify(root)
    return decoded


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


class StripeServer:
    """See the module docstring. Use as a context manager, or ``start``/``stop``."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[str, tuple[tuple[tuple[str, str], ...], dict[str, Any]]] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"stripe": self})
        self._httpd = ThreadingHTTPServer((HOST, 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def fail_next(
        self, status: int, error_type: str, message: str, *, code: str | None = None,
        times: int = 1, should_retry: bool | None = None,
    ) -> None:
        """Answer the next ``times`` API requests with this error."""
        error: dict[str, Any] = {"type": error_type, "message": message}
        if code is not None:
            error["code"] = code
        headers = {} if should_retry is None else {
            "Stripe-Should-Retry": "true" if should_retry else "false"}
        with self._lock:
            self._failures.extend(_Failure(status, error, headers) for _ in range(times))

    def session_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == "/v1/checkout/sessions"]

    def complete_session(
        self, session_id: str, payment_intent: str | None = None
    ) -> dict[str, Any]:
        """Mark a session paid, as after the customer paid; returns the session object."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(
                status="complete", payment_status="paid",
                payment_intent=payment_intent or "pi_" + secrets.token_hex(12),
            )
            paid: dict[str, Any] = json.loads(json.dumps(session))
            return paid

    # -- request handling (called from the server threads) --------------------

    def _handle(self, method: str, path: str, headers: dict[str, str], body: str
                ) -> tuple[int, dict[str, Any], dict[str, str]]:
        form = tuple(parse_qsl(body, keep_blank_values=True))
        params = decode_form(body)
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, params, form))
            if self._failures:
                failure = self._failures.pop(0)
                return failure.status, {"error": failure.error}, failure.headers
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, _error("invalid_request_error",
                               "Invalid API Key provided: " + headers.get("authorization", "")), {}
        if (method, path) != ("POST", "/v1/checkout/sessions"):
            return 404, _error("invalid_request_error",
                               f"Unrecognized request URL ({method}: {path})."), {}
        key = headers.get("idempotency-key")
        fingerprint = tuple(sorted(form))
        with self._lock:
            if key is not None and key in self._idempotent:
                earlier, response = self._idempotent[key]
                if earlier != fingerprint:
                    return 400, _error(
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        f"parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                    ), {}
                return 200, response, {"Idempotent-Replayed": "true"}
        status, response = self._create_session(params)
        if status == 200 and key is not None:
            with self._lock:
                self._idempotent[key] = (fingerprint, response)
        return status, response, {}

    def _create_session(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if params.get("mode") != "payment":
            return 400, _error("invalid_request_error", "Missing required param: mode.")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            return 400, _error("invalid_request_error", "Missing required param: line_items.")
        total, currencies = 0, set()
        for item in items:
            price = item.get("price_data", {})
            unit, quantity = price.get("unit_amount", ""), item.get("quantity", "")
            currency = price.get("currency", "")
            if not (unit.isdigit() and quantity.isdigit()):
                return 400, _error("invalid_request_error",
                                   "Invalid integer: unit_amount and quantity must be integers.")
            if not re.fullmatch(r"[a-z]{3}", currency):
                return 400, _error("invalid_request_error", f"Invalid currency: {currency}.")
            total += int(unit) * int(quantity)
            currencies.add(currency)
        if len(currencies) != 1:
            return 400, _error("invalid_request_error", "Line items must share one currency.")
        session_id = "cs_test_" + secrets.token_hex(16)
        session: dict[str, Any] = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "currency": currencies.pop(),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        with self._lock:
            self.sessions[session_id] = session
            return 200, json.loads(json.dumps(session))


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"error": {"type": error_type, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    stripe: StripeServer
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.stripe._handle(method, self.path, headers, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_" + secrets.token_hex(7))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stripe_server() -> Iterator[StripeServer]:
    """A local Stripe stand-in, running, stopped after the test."""
    with StripeServer() as server:
        yield server


# -- webhooks ------------------------------------------------------------------------


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for ``payload``, computed as Stripe documents."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_body(event_type: str, obj: dict[str, Any], event_id: str | None = None,
               created: int = 1_767_225_600) -> bytes:
    """A webhook event body shaped like Stripe's (``data.object`` holds ``obj``)."""
    event = {
        "id": event_id or "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event, separators=(",", ":")).encode()


def webhook(event_type: str, obj: dict[str, Any], *, secret: str, timestamp: int,
            event_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a signed webhook delivery."""
    body = event_body(event_type, obj, event_id)
    return body, {"Content-Type": "application/json",
                  "Stripe-Signature": sign(body, secret, timestamp)}


def payment_intent(order_id: str, amount: int, currency: str, intent_id: str | None = None,
                   ) -> dict[str, Any]:
    """A succeeded PaymentIntent carrying fabcore's order metadata."""
    return {
        "id": intent_id or "pi_" + secrets.token_hex(12),
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": currency,
        "metadata": {"order_id": order_id},
        "status": "succeeded",
    }

