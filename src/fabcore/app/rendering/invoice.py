"""Invoices a person can read (text and HTML) and the order totals behind them.

Where the amounts come from
---------------------------
The :class:`~fabcore.domain.order.Order` knows what each line costs (the
staff's firm price or the instant price, plus one-off line fees) but not the
order-level charges: order fees (startup), minimum order adjustment,
shipping and tax. Those come from the order's
:class:`~fabcore.domain.quote.OrderQuote`, which the caller passes in, made
by :meth:`fabcore.domain.order.Order.quote` (the agreed breakdown once the
order is placed).

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
from fabcore.domain.order import InvoiceRecord, Order
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
    subtotal = order.lines_total
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
    """A rendered invoice: a plain-text and an HTML version, and the data they show.

    What an EU business invoice needs is here: the seller's legal name,
    address and tax (VAT) id, the buyer's company, address and tax id, the
    invoice number (from the shop's gapless sequence) and date, the due
    date, the lines, the tax, and how to pay (bank details where the shop
    gave them). The fields are the data for other renderings (see
    :mod:`fabcore.app.rendering.invoice_pdf`).
    """

    number: str
    text: str
    html: str
    totals: OrderTotals
    issued_at: datetime
    due_date: date
    seller: tuple[str, ...]
    seller_tax_id: str | None
    shop_name: str
    shop_email: str
    order_number: str
    bill_to: tuple[str, ...]
    buyer_tax_id: str | None
    customer_email: str
    payment_terms: str
    bank: tuple[str, ...]
    po_number: str | None
    paid: bool

    @property
    def invoice_date(self) -> date:
        return self.issued_at.astimezone(UTC).date()


_env = make_environment(jinja2.PackageLoader("fabcore", "templates/invoice"), auto_reload=False)


def _bill_to(order: Order, customer: Customer) -> tuple[str, ...]:
    """The buyer: the billing address, headed by the customer's company when it lacks one."""
    lines = address_lines(order.billing_address or customer.billing_address) or (customer.name,)
    if customer.company and customer.company not in lines:
        lines = (customer.company, *lines)
    return lines


def _seller(shop: Shop) -> tuple[str, ...]:
    address = shop.settings.address
    if address is None:
        return (shop.legal_name,)
    return (shop.legal_name, *(line for line in address_lines(address)
                               if line not in (address.name, address.company)))


def _terms(record: InvoiceRecord, total: Money, shop: Shop, order: Order) -> str:
    if order.paid:
        return f"Paid. Thank you: nothing is left to pay on this invoice of {total}."
    bank = shop.settings.bank
    due = record.due_date.isoformat()
    po = order.po
    basis = (f" (purchase order {po.number})" if po is not None and po.due_date is not None
             else f" ({shop.settings.payment_terms_days} days net)")
    if bank is None:
        return f"Please pay {total} by {due}{basis} online from your order page."
    return (f"Please pay {total} by {due}{basis} by bank transfer to the account below, "
            f"quoting invoice number {record.number}.")


def render_invoice(
    order: Order,
    customer: Customer | None,
    shop: Shop,
    quote: OrderQuote,
    record: InvoiceRecord,
) -> Invoice:
    """Render the invoice ``record`` of ``order`` (amounts per :func:`order_totals`).

    ``quote`` is the order's quote (the agreed breakdown once placed). The
    billing address is the order's, else the customer's.
    """
    if customer is None:
        raise GuardFailed(f"{order} has no customer to invoice")
    if customer.id != order.customer_id:
        raise InvalidInput(f"customer {customer.id} is not the customer of {order}")
    if shop.id != order.shop_id:
        raise InvalidInput(f"shop {shop.id} is not the shop of {order}")
    totals = order_totals(order, quote)
    settings = shop.settings
    bank = settings.bank
    bank_lines = (
        (f"Account holder: {bank.holder}", f"IBAN: {bank.iban_grouped}",
         *((f"BIC: {bank.bic}",) if bank.bic else ()),
         *((f"Bank: {bank.bank_name}",) if bank.bank_name else ()))
        if bank is not None and not order.paid else ()
    )
    invoice = Invoice(
        number=record.number,
        text="",
        html="",
        totals=totals,
        issued_at=record.issued_at,
        due_date=record.due_date,
        seller=_seller(shop),
        seller_tax_id=settings.tax_id,
        shop_name=shop.legal_name,
        shop_email=settings.notify_emails[0],
        order_number=order.number,
        bill_to=_bill_to(order, customer),
        buyer_tax_id=customer.tax_id,
        customer_email=customer.email,
        payment_terms=_terms(record, totals.total, shop, order),
        bank=bank_lines,
        po_number=order.po.number if order.po is not None else None,
        paid=order.paid,
    )
    context: dict[str, object] = {"invoice": invoice, "totals": totals}
    return attrs.evolve(
        invoice,
        text=_env.get_template("invoice.txt").render(context),
        html=_env.get_template("invoice.html").render(context),
    )
