"""Invoices a person can read (text and HTML) and the order totals behind them.

Where the amounts come from
---------------------------
The :class:`~fabcore.domain.order.Order` knows what each line costs (the
staff's firm price or the instant price, plus one-off line fees) but not the
order-level charges: order fees (startup), minimum order adjustment,
shipping and tax. Those come from the order's
:class:`~fabcore.domain.quote.OrderQuote`, which the caller passes in, made
by :func:`fabcore.domain.order_quote.quote_order` from the shop's catalog.

The quote must match the order: same currency, same shipping method, and
its subtotal must equal the sum of the order's line totals (else
``InvalidInput``: the order changed since it was quoted). Lines come from
the order; the other amounts, tax and total from the quote. Every amount is
a :class:`~fabcore.domain.money.Money`, so what the invoice prints adds up
to the cent: ``subtotal + order fees + minimum order adjustment + shipping
+ tax == total``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import jinja2

from fabcore.app.rendering.templating import (
    LineView,
    address_lines,
    line_views,
    make_environment,
    percent,
)
from fabcore.domain.customer import Customer
from fabcore.domain.errors import CurrencyMismatch, GuardFailed, InvalidInput
from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.quote import Fee, OrderQuote
from fabcore.domain.shop import Shop

__all__ = ["Invoice", "OrderTotals", "order_totals", "render_invoice"]


@attrs.frozen
class OrderTotals:
    """The amounts an order is charged, line by line and in total."""

    currency: str
    lines: tuple[LineView, ...]
    subtotal: Money
    order_fees: tuple[Fee, ...]
    minimum_order_adjustment: Money
    shipping_method: str | None
    shipping: Money
    tax_rate: Decimal
    tax: Money
    total: Money

    @property
    def taxable(self) -> Money:
        return self.total - self.tax

    @property
    def tax_percent(self) -> str:
        return percent(self.tax_rate)


def order_totals(order: Order, quote: OrderQuote) -> OrderTotals:
    """Charges of ``order`` per the module docstring.

    ``GuardFailed`` when the order has no lines or an unpriced one,
    ``CurrencyMismatch`` when the quote is in another currency, and
    ``InvalidInput`` when the quote does not match the order.
    """
    if quote.currency != order.currency:
        raise CurrencyMismatch(f"the quote is in {quote.currency}; {order} is in {order.currency}")
    if not order.lines:
        raise GuardFailed(f"{order} has no lines")
    unpriced = [f"{line.model_filename} ({line.unpriced_reason()})"
                for line in order.lines if line.total is None]
    subtotal = order.total
    if unpriced or subtotal is None:
        raise GuardFailed(f"{order} has unpriced lines: {', '.join(unpriced)}")
    method = order.shipping.method if order.shipping is not None else None
    if quote.shipping_method != method:
        raise InvalidInput(
            f"the quote ships by {quote.shipping_method!r}, {order} by {method!r}"
        )
    if quote.subtotal != subtotal or quote.total is None:
        raise InvalidInput(
            f"the quote does not match {order}: its subtotal is {quote.subtotal}, the order's "
            f"lines add up to {subtotal}; quote the order again"
        )
    return OrderTotals(
        currency=order.currency,
        lines=line_views(order),
        subtotal=subtotal,
        order_fees=quote.order_fees,
        minimum_order_adjustment=quote.minimum_order_adjustment,
        shipping_method=method,
        shipping=quote.shipping,
        tax_rate=quote.tax_rate,
        tax=quote.tax,
        total=quote.total,
    )


@attrs.frozen
class Invoice:
    """A rendered invoice: its number, a plain-text and an HTML version, and what they show.

    The fields after ``totals`` are the invoice's data for other renderings
    (see :mod:`fabcore.app.rendering.invoice_pdf`). ``bill_to`` holds the lines of the
    billing address, or the customer's name and company when there is none.
    """

    number: str
    text: str
    html: str
    totals: OrderTotals
    issued_at: datetime
    shop_name: str
    shop_email: str
    order_number: str
    bill_to: tuple[str, ...]
    customer_email: str
    payment_terms: str
    po_number: str | None
    po_due_date: date | None
    paid: bool

    @property
    def invoice_date(self) -> date:
        return self.issued_at.astimezone(UTC).date()


_env = make_environment(jinja2.PackageLoader("fabcore", "templates/invoice"), auto_reload=False)


def render_invoice(
    order: Order,
    customer: Customer | None,
    shop: Shop,
    quote: OrderQuote,
    *,
    issued_at: datetime,
    payment_terms: str,
    number: str | None = None,
) -> Invoice:
    """Render the invoice for ``order`` (number ``INV-{order number}`` unless given).

    ``quote`` is :func:`fabcore.domain.order_quote.quote_order` of the order
    (amounts per :func:`order_totals`). The billing address is the order's,
    else the customer's.
    """
    if not isinstance(issued_at, datetime) or issued_at.utcoffset() is None:
        raise InvalidInput(f"issued_at must be a timezone-aware datetime, got {issued_at!r}")
    if customer is None:
        raise GuardFailed(f"{order} has no customer to invoice")
    if customer.id != order.customer_id:
        raise InvalidInput(f"customer {customer.id} is not the customer of {order}")
    if shop.id != order.shop_id:
        raise InvalidInput(f"shop {shop.id} is not the shop of {order}")
    totals = order_totals(order, quote)
    invoice_number = number if number is not None else f"INV-{order.number}"
    context: dict[str, object] = {
        "number": invoice_number,
        "shop": shop,
        "customer": customer,
        "order": order,
        "totals": totals,
        "invoice_date": issued_at.astimezone(UTC).date().isoformat(),
        "payment_terms": payment_terms,
        "po_number": order.po.number if order.po is not None else None,
        "po_due_date": (order.po.due_date.isoformat()
                        if order.po is not None and order.po.due_date is not None else None),
        "billing_address": address_lines(order.billing_address or customer.billing_address),
        "paid": order.paid,
    }
    text = _env.get_template("invoice.txt").render(context)
    html = _env.get_template("invoice.html").render(context)
    billing = address_lines(order.billing_address or customer.billing_address)
    bill_to = billing or tuple(part for part in (customer.name, customer.company) if part)
    return Invoice(
        invoice_number, text, html, totals,
        issued_at=issued_at,
        shop_name=shop.name,
        shop_email=shop.settings.notify_emails[0],
        order_number=order.number,
        bill_to=bill_to,
        customer_email=customer.email,
        payment_terms=payment_terms,
        po_number=order.po.number if order.po is not None else None,
        po_due_date=order.po.due_date if order.po is not None else None,
        paid=order.paid,
    )
