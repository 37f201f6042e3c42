"""A payment gateway for demonstrations: its hosted page is a page of fabcore's own.

``fabcore serve`` uses it unless a real gateway is configured
(``FABCORE_PAYMENTS_URL=stripe://...``). Its page says that no money moves;
"Pay" posts the same signed notice the in-memory gateway makes for tests
through the same path as a real gateway's webhook
(:meth:`~fabcore.app.facade.Fabcore.handle_payment_event`), so the amount is
checked against the order's agreed total. The page's figures are signed with
the gateway's secret: only a checkout made for the order (by the customer
who may pay it) can be paid.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from fabcore.adapters.memory import MemoryPaymentGateway
from fabcore.domain.errors import InvalidInput
from fabcore.domain.money import Money
from fabcore.entrypoints.web.pages.common import core_of, read_form, run
from fabcore.entrypoints.web.pages.render import PAGE_EXCEPTION_HANDLERS, html
from fabcore.ports.payments import Checkout

PATH = "/demo-payments"
PathStr = FromPath[str]
AnyRequest = Request[Any, Any, Any]


class DemoPaymentGateway(MemoryPaymentGateway):
    """The in-memory gateway whose checkout page is served at ``{base_url}/demo-payments/``."""

    def __init__(self, base_url: str, secret: bytes = b"memory-gateway-secret") -> None:
        super().__init__(secret)
        self.base_url = base_url.rstrip("/")

    def create_checkout(
        self, order_id: str, order_number: str, amount: Money, idempotency_key: str
    ) -> Checkout:
        found = super().create_checkout(order_id, order_number, amount, idempotency_key)
        query = urlencode({"order": order_id, "number": order_number,
                           "amount": str(amount.amount), "currency": amount.currency,
                           "sig": self.signature(found.id, order_id, amount)})
        return Checkout(found.id, f"{self.base_url}{PATH}/{found.id}?{query}", found.order_id,
                        found.amount)


    def signature(self, checkout_id: str, order_id: str, amount: Money) -> str:
        """What proves a checkout page's figures came from :meth:`create_checkout`."""
        text = f"{checkout_id}|{order_id}|{amount.amount}|{amount.currency}"
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def check(self, checkout_id: str, order_id: str, amount: Money, signature: str) -> None:
        if not hmac.compare_digest(self.signature(checkout_id, order_id, amount).encode(),
                                   signature.encode()):
            raise InvalidInput("this checkout page was not made by the shop")


def _gateway(request: Request[Any, Any, Any]) -> DemoPaymentGateway:
    gateway = core_of(request).payments
    if not isinstance(gateway, DemoPaymentGateway):
        raise InvalidInput("payments go through the shop's payment provider here")
    return gateway


def _back(value: str) -> str:
    parts = urlsplit(value)
    return parts.path if not parts.scheme and not parts.netloc and value.startswith("/w/") \
        else "/"


def _amount(raw: str, currency: str) -> Money:
    try:
        return Money(Decimal(raw), currency)
    except (InvalidOperation, ValueError):
        raise InvalidInput("the checkout's amount is not valid") from None


@get("/{checkout_id:str}")
async def checkout_page(request: AnyRequest, checkout_id: PathStr) -> Response[str]:
    gateway = _gateway(request)
    query = request.query_params
    amount = _amount(query.get("amount", ""), query.get("currency", ""))
    gateway.check(checkout_id, query.get("order", ""), amount, query.get("sig", ""))
    return html("demo_payment.html", checkout_id=checkout_id, amount=amount,
                order=query.get("order", ""), number=query.get("number", ""),
                back=_back(query.get("return", "")), sig=query.get("sig", ""))


@post("/{checkout_id:str}")
async def pay(request: AnyRequest, checkout_id: PathStr) -> Redirect:
    gateway = _gateway(request)
    form = await read_form(request)
    back = _back(form.get("return"))
    if form.get("outcome") == "pay":
        amount = _amount(form.get("amount"), form.get("currency"))
        gateway.check(checkout_id, form.get("order"), amount, form.get("sig"))
        payload, headers = gateway.paid_event(form.get("order"), amount,
                                              reference=f"demo_{checkout_id}")
        await run(core_of(request).handle_payment_event, payload, headers)
    return Redirect(back, status_code=303)


def router() -> Router:
    return Router(path=PATH, route_handlers=[checkout_page, pay], include_in_schema=False,
                  exception_handlers=PAGE_EXCEPTION_HANDLERS)
