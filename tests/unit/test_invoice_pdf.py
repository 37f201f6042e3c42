"""The invoice PDF: a real document that opens, shows the invoice and renders to a readable page."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import attrs
import pypdfium2 as pdfium
import pytest
from document_builders import NOW, customer, order, quote, shop
from PIL import Image

from app_fixtures import ADDRESS, START
from fabcore.app.drafting import UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.app.rendering.invoice import Invoice, render_invoice
from fabcore.app.rendering.invoice_pdf import render_invoice_pdf
from fabcore.app.rendering.templating import LineView
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address, Customer
from fabcore.domain.errors import ConfigurationError, GuardFailed
from fabcore.domain.money import Money
from fabcore.domain.order import InvoiceRecord
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus

RECORD = InvoiceRecord("INV-2026-0001", NOW, date(2026, 4, 1))
A4_POINTS = (595, 842)
UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _invoice(billing: Address | None = None, status: OrderStatus = OrderStatus.PO_PAYMENT_DUE,
             paid: bool = False) -> Invoice:
    the_order = order(status, paid=paid)
    if billing is not None:
        the_order.billing_address = billing
    buyer = attrs.evolve(customer(), tax_id="DE 987 654 321")
    return render_invoice(the_order, buyer, shop(), quote(the_order), RECORD)


def _pages(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def _words(text: str) -> str:
    return " ".join(text.split())


def _render_png(data: bytes, path: Path, page: int = 0) -> Image.Image:
    pdf = pdfium.PdfDocument(data)
    try:
        image = pdf[page].render(scale=2).to_pil()
    finally:
        pdf.close()
    image.save(path)
    return Image.open(path).convert("L")


def _ink(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> float:
    """Fraction of pixels in ``box`` that are clearly not white."""
    region = image.crop(box) if box else image
    histogram = region.histogram()
    dark = sum(histogram[:200])
    return dark / (region.width * region.height)


def test_the_pdf_opens_as_one_a4_page_with_the_whole_invoice() -> None:
    data = render_invoice_pdf(_invoice())

    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    pdf = pdfium.PdfDocument(data)
    try:
        assert len(pdf) == 1
        width, height = pdf[0].get_size()
        assert (round(width), round(height)) == A4_POINTS
        assert pdf.get_metadata_dict()["Title"] == "Invoice INV-2026-0001"
    finally:
        pdf.close()
    [text] = _pages(data)
    words = _words(text)
    for expected in (
        "Acme Additive GmbH", "Werkstraße 12 70565 Stuttgart DE VAT ID: DE123456789",
        "INVOICE", "Invoice number INV-2026-0001", "Invoice date 2026-03-02",
        "Due date 2026-04-01", "Order number 2026-0001", "PO number PO-4711",
        "Grace Hopper", "Hopper Robotics GmbH", "7 Compiler Lane", "Building B",
        "10117 Berlin", "VAT ID: DE 987 654 321", "grace@example.com",
        "bracket.stl", "fdm / pla, black, finishes: sanding", "4 12.35 EUR 49.40 EUR",
        "housing.step", "2 87.50 EUR 175.00 EUR", "+ CNC programming 45.00 EUR",
        "Line total 220.00 EUR",
        "Subtotal 269.40 EUR", "Fee: startup FDM / PLA 5.00 EUR",
        "Fee: startup CNC / Aluminium 10.00 EUR", "Shipping (dhl) 12.90 EUR",
        "Tax 19% on 297.30 EUR 56.49 EUR", "Total (EUR) 353.79 EUR",
        "Payment Please pay 353.79 EUR by 2026-04-01 (purchase order PO-4711) by bank "
        "transfer to the account below, quoting invoice number INV-2026-0001.",
        "Account holder: Acme Additive GmbH IBAN: DE89 3704 0044 0532 0130 00 BIC: COBADEFFXXX",
        "page 1 of 1",
    ):
        assert expected in words, expected
    assert "Paid." not in words


def test_page_one_renders_to_a_readable_png(tmp_path: Path) -> None:
    png = tmp_path / "invoice.png"
    image = _render_png(render_invoice_pdf(_invoice()), png)

    assert png.stat().st_size > 10_000
    assert abs(image.width - 2 * A4_POINTS[0]) <= 2  # rendered at 144 dpi
    assert abs(image.height - 2 * A4_POINTS[1]) <= 2
    assert 0.01 < _ink(image) < 0.3
    top, middle = (0, 0, image.width, 300), (0, 500, image.width, 1100)
    assert _ink(image, top) > 0.01  # shop name and the INVOICE title
    assert _ink(image, middle) > 0.01  # lines table and totals


def test_a_paid_invoice_says_so() -> None:
    [text] = _pages(render_invoice_pdf(_invoice(status=OrderStatus.PLACED, paid=True)))
    assert "Paid. Thank you: nothing is left to pay on this invoice of 353.79 EUR." in _words(text)
    assert "PO number" not in text
    assert "IBAN" not in text


def test_euro_sign_and_umlauts_print_with_the_standard_fonts() -> None:
    billing = Address("Jürgen Müller-Straße", "Königsallee 12", "40212", "Düsseldorf", "DE",
                      company="Œuvre & Söhne")
    invoice = attrs.evolve(_invoice(billing), payment_terms="Zahlbar in € binnen 14 Tagen.")
    [text] = _pages(render_invoice_pdf(invoice))
    for expected in ("Jürgen Müller-Straße", "Königsallee 12", "40212 Düsseldorf",
                     "Œuvre & Söhne", "Zahlbar in € binnen 14 Tagen."):
        assert expected in text, expected


def test_letters_the_standard_fonts_lack_are_reduced_to_their_base_letter() -> None:
    billing = Address("Łukasz Dvořák", "ulica Świętokrzyska 5", "00-001", "Warszawa", "PL",
                      company="Zhōngguó 中国")
    [text] = _pages(render_invoice_pdf(_invoice(billing)))
    assert "Lukasz Dvorák" in text  # á is one of the standard fonts' letters
    assert "ulica Swietokrzyska 5" in text
    assert "Zhongguó ??" in text


@pytest.mark.skipif(not UNICODE_FONT.is_file(), reason="DejaVuSans is not installed here")
def test_an_embedded_unicode_font_prints_every_letter() -> None:
    billing = Address("Łukasz Dvořák", "ulica Świętokrzyska 5", "00-001", "Warszawa", "PL")
    data = render_invoice_pdf(_invoice(billing), font=UNICODE_FONT)
    [text] = _pages(data)
    assert "Łukasz Dvořák" in text
    assert "ulica Świętokrzyska 5" in text
    assert "Total (EUR) 353.79 EUR" in _words(text)


def test_a_missing_font_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is not a file"):
        render_invoice_pdf(_invoice(), font=tmp_path / "nope.ttf")


def _with_lines(count: int) -> Invoice:
    invoice = _invoice()
    many = tuple(
        LineView(position=n, filename=f"part-{n:03d}.stl", details="fdm / pla, black",
                 quantity=n, unit_price=Money("1.50", "EUR"), fees=(),
                 total=Money("1.50", "EUR") * n, notes="")
        for n in range(1, count + 1)
    )
    return attrs.evolve(invoice, totals=attrs.evolve(invoice.totals, lines=many))


def test_a_long_invoice_flows_onto_more_pages(tmp_path: Path) -> None:
    data = render_invoice_pdf(_with_lines(60))
    pages = _pages(data)
    assert len(pages) >= 2
    assert f"page {len(pages)} of {len(pages)}" in _words(pages[-1])
    assert "part-060.stl" in pages[-1]
    assert "Total (EUR) 353.79 EUR" in _words(pages[-1])
    assert _ink(_render_png(data, tmp_path / "last.png", len(pages) - 1)) > 0.005


def test_the_totals_are_never_split_across_pages() -> None:
    for count in range(8, 20):
        pages = [_words(text) for text in _pages(render_invoice_pdf(_with_lines(count)))]
        [page] = [p for p in pages if "Subtotal" in p]
        assert "Total (EUR) 353.79 EUR" in page, count


def test_the_same_invoice_gives_the_same_bytes() -> None:
    assert render_invoice_pdf(_invoice()) == render_invoice_pdf(_invoice())


# -- through the application ----------------------------------------------------------------


def test_the_app_serves_the_invoice_pdf_of_a_placed_order(
    app: Fabcore, as_ada: Actor, ada: Customer, bracket: UploadedModel, tmp_path: Path,
) -> None:
    order_ = app.create_order(as_ada)
    app.add_line(as_ada, order_.id, bracket, LineSpec("fdm", "pla", quantity=10))
    app.set_shipping(as_ada, order_.id, "standard", ADDRESS)
    with pytest.raises(GuardFailed, match="no invoice before it is placed"):
        app.invoice_pdf(as_ada, order_.id)
    app.place(as_ada, order_.id)
    total = app.quote(as_ada, order_.id).total
    assert total is not None

    data = app.invoice_pdf(as_ada, order_.id)

    [text] = _pages(data)
    words = _words(text)
    assert "Invoice number INV-00001" in words
    assert ada.name in words
    assert f"Total (EUR) {total}" in words
    assert "Acme Prototyping GmbH Werkstraße 12 70565 Stuttgart DE VAT ID: DE123456789" in words
    due = (START + timedelta(days=14)).date().isoformat()
    assert f"Due date {due}" in words
    assert f"Please pay {total} by {due} (14 days net) by bank transfer" in words
    assert _ink(_render_png(data, tmp_path / "app-invoice.png")) > 0.01
