"""Invoices: what a person reads on them, and that the printed numbers add up to the cent."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import attrs
import pytest
from document_builders import (
    CUSTOMER_EMAIL,
    DELIVERY,
    NOW,
    ORDER_NUMBER,
    TAX_RATE,
    customer,
    eur,
    order,
    quote,
    shop,
)

from fabcore.app.catalogs import load_sample_catalog
from fabcore.app.rendering.invoice import Invoice, order_totals, render_invoice
from fabcore.domain.errors import CurrencyMismatch, GuardFailed, InvalidInput
from fabcore.domain.order import InvoiceRecord, Order, OrderLine, Shipping
from fabcore.domain.pricing import price_line
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus

DUE = NOW.date() + timedelta(days=14)
RECORD = InvoiceRecord("INV-2026-0001", NOW, DUE)
_ROW = re.compile(r"^(?P<label>\S.*?|\s+\S.*?)\s{2,}(?P<amount>-?[\d,]+\.\d{2}) EUR$")


def invoice_for(the_order: Order | None = None, record: InvoiceRecord = RECORD) -> Invoice:
    the_order = the_order or order(OrderStatus.PLACED)
    return render_invoice(the_order, customer(), shop(), quote(the_order), record)


def amounts(text: str) -> dict[str, Decimal]:
    """Every ``label .... 1,234.56 EUR`` row of the text invoice, by its stripped label."""
    rows: dict[str, Decimal] = {}
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            label = match["label"].strip()
            assert label not in rows, f"duplicate row {label!r}"
            rows[label] = Decimal(match["amount"].replace(",", ""))
    return rows


def test_text_invoice_shows_who_what_and_when() -> None:
    text = invoice_for().text
    for expected in (
        "INVOICE INV-2026-0001", "Acme Additive GmbH", "Invoice date:   2026-03-02",
        "Due date:       2026-03-16", f"Order number:   {ORDER_NUMBER}", "Grace Hopper",
        "Hopper Robotics GmbH", "7 Compiler Lane", "Building B", "10117 Berlin", CUSTOMER_EMAIL,
        "1. bracket.stl", "fdm / pla, black, finishes: sanding",
        "2. housing.step", "cnc / aluminium, finishes: anodized",
    ):
        assert expected in text
    assert "9 Dock Street" not in text  # the delivery address is not the billing address
    assert "PO number" not in text


def test_printed_numbers_add_up_exactly() -> None:
    rows = amounts(invoice_for().text)
    assert rows["4 x 12.35 EUR"] == Decimal("49.40")
    assert rows["2 x 87.50 EUR"] == Decimal("175.00")
    assert rows["+ CNC programming"] == Decimal("45.00")
    assert rows["Line total"] == Decimal("220.00")
    assert rows["Subtotal"] == rows["4 x 12.35 EUR"] + rows["Line total"] == Decimal("269.40")
    fees = rows["Fee: startup FDM / PLA"] + rows["Fee: startup CNC / Aluminium"]
    assert rows["Shipping (dhl)"] == Decimal("12.90")
    taxable = rows["Subtotal"] + fees + rows["Shipping (dhl)"]
    assert taxable == Decimal("297.30")
    tax_label = "Tax 19% on 297.30 EUR"
    assert rows[tax_label] == (taxable * TAX_RATE).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert rows["Total (EUR)"] == taxable + rows[tax_label] == Decimal("353.79")


def test_html_invoice_has_the_same_amounts() -> None:
    html = invoice_for().html
    for amount in ("49.40 EUR", "175.00 EUR", "45.00 EUR", "220.00 EUR", "269.40 EUR",
                   "12.90 EUR", "56.49 EUR", "353.79 EUR"):
        assert amount in html
    assert "Tax 19% on 297.30 EUR" in html
    assert "Invoice INV-2026-0001" in html


def test_what_an_eu_business_invoice_needs_is_on_it() -> None:
    buyer = attrs.evolve(customer(), tax_id="DE 987 654 321")
    the_order = order()
    invoice = render_invoice(the_order, buyer, shop(), quote(the_order), RECORD)
    seller = ("From:\n  Acme Additive GmbH\n  Werkstraße 12\n  70565 Stuttgart\n  DE\n"
              "  VAT ID: DE123456789\n")
    assert seller in invoice.text
    assert "Bill to:\n  Grace Hopper\n  Hopper Robotics GmbH\n" in invoice.text
    assert "  VAT ID: DE 987 654 321\n  grace@example.com" in invoice.text
    assert ("Please pay 353.79 EUR by 2026-03-16 (14 days net) by bank transfer to the account "
            "below, quoting invoice number INV-2026-0001.") in invoice.text
    assert "IBAN: DE89 3704 0044 0532 0130 00" in invoice.text
    assert "BIC: COBADEFFXXX" in invoice.text
    for part in ("DE123456789", "DE 987 654 321", "2026-03-16", "DE89 3704 0044 0532 0130 00"):
        assert part in invoice.html


def test_a_shop_without_bank_details_asks_for_online_payment() -> None:
    bare = attrs.evolve(shop(), settings=attrs.evolve(shop().settings, bank=None, address=None,
                                                      tax_id=None, legal_name=None))
    the_order = order()
    invoice = render_invoice(the_order, customer(), bare, quote(the_order), RECORD)
    assert "Please pay 353.79 EUR by 2026-03-16 (14 days net) online" in invoice.text
    assert "IBAN" not in invoice.text
    assert invoice.seller == ("Acme Additive",)


def test_po_number_and_due_date_are_shown_when_present() -> None:
    po_order = order(OrderStatus.PO_PAYMENT_DUE)
    invoice = invoice_for(po_order, InvoiceRecord("INV-2026-0002", NOW, date(2026, 4, 1)))
    for part in (invoice.text, invoice.html):
        assert "PO-4711" in part
        assert "2026-04-01" in part
    assert "by 2026-04-01 (purchase order PO-4711)" in invoice.text


def test_the_number_is_the_records() -> None:
    invoice = invoice_for(record=InvoiceRecord("RE-2026/117", NOW, DUE))
    assert invoice.number == "RE-2026/117"
    assert "INVOICE RE-2026/117" in invoice.text


def test_minimum_order_adjustment_gets_its_own_row() -> None:
    the_order = order()
    small = attrs.evolve(quote(the_order), minimum_order_adjustment=eur("7.70"),
                         tax=eur("57.95"), total=eur("362.95"))
    invoice = render_invoice(the_order, customer(), shop(), small, RECORD)
    rows = amounts(invoice.text)
    assert rows["Minimum order adjustment"] == Decimal("7.70")
    assert rows["Total (EUR)"] == Decimal("362.95")


def test_paid_order_says_so() -> None:
    paid = invoice_for(order(paid=True))
    assert "Paid. Thank you: nothing is left to pay" in paid.text
    assert "IBAN" not in paid.text
    assert "Paid." not in invoice_for().text


def test_html_escapes_customer_input_and_text_keeps_it() -> None:
    the_order = order()
    evil = "<script>alert(1)</script>"
    the_order.billing_address = attrs.evolve(DELIVERY, name=evil)
    invoice = render_invoice(the_order, customer(), shop(), quote(the_order), RECORD)
    assert "<script>" not in invoice.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in invoice.html
    assert evil in invoice.text


def test_quote_that_does_not_match_the_order_is_refused() -> None:
    the_order = order()
    the_order.lines[0].firm_unit_price = eur("11.00")  # changed after it was quoted
    with pytest.raises(InvalidInput, match="quote the order again"):
        render_invoice(the_order, customer(), shop(), quote(order()), RECORD)
    other_method = order()
    other_method.shipping = Shipping("express", DELIVERY)
    with pytest.raises(InvalidInput, match="ships by"):
        invoice_for(other_method)


def test_quote_in_another_currency_is_refused() -> None:
    the_order = order()
    foreign = attrs.evolve(quote(the_order), currency="USD")
    with pytest.raises(CurrencyMismatch):
        order_totals(the_order, foreign)


def test_unpriced_order_cannot_be_invoiced() -> None:
    the_order = order(OrderStatus.WAITING_FOR_REVIEW)
    the_order.lines[0].quote = None
    with pytest.raises(GuardFailed, match=r"unpriced lines: bracket.stl \(not quoted\)"):
        invoice_for(the_order)


def test_invoice_needs_the_orders_customer() -> None:
    the_order = order()
    with pytest.raises(GuardFailed, match="no customer"):
        render_invoice(the_order, None, shop(), quote(the_order), RECORD)
    stranger = attrs.evolve(customer(), id="cust-9")
    with pytest.raises(InvalidInput, match="not the customer"):
        render_invoice(the_order, stranger, shop(), quote(the_order), RECORD)


def test_invoice_from_the_sample_catalog_matches_the_quote() -> None:
    catalog = load_sample_catalog()
    the_order = order()
    spec = LineSpec("fdm", "pla", ("sanding",), "black", 4)
    analysis = the_order.lines[0].analysis
    line_quote = price_line(catalog, analysis, spec)
    the_order.lines = [OrderLine("l1", "ab" * 32, "bracket.stl", analysis, line_quote.spec,
                                 quote=line_quote)]
    the_order.shipping = Shipping("standard", DELIVERY)
    the_quote = the_order.price(catalog)
    assert the_quote.total is not None

    invoice = render_invoice(the_order, customer(), shop(), the_quote, RECORD)
    rows = amounts(invoice.text)
    assert rows["Total (EUR)"] == the_quote.total.amount
    printed = sum(amount for label, amount in rows.items()
                  if label.startswith(("Subtotal", "Fee:", "Minimum", "Shipping", "Tax")))
    assert printed == the_quote.total.amount
