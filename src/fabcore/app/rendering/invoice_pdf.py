"""The invoice as a PDF document (fpdf2, pure Python).

:func:`render_invoice_pdf` lays out an :class:`~fabcore.app.rendering.invoice.Invoice`
on A4: the seller (legal name, address, VAT id), the invoice number, date
and due date, order and PO number, the buyer (company, address, VAT id), a
table of the lines with their fees, the totals (subtotal, order fees,
minimum order adjustment, shipping, tax, total), how to pay and the bank
account.

Fonts
-----
By default the text is set in Helvetica, one of the fonts every PDF reader
has, so nothing is embedded and the file stays small. Those fonts cover the
Windows-1252 characters: Western European letters (umlauts, accents, ``ß``,
``Œ``, ``š``) and ``€``. Amounts are printed with their currency code
(``1,234.50 EUR``), as everywhere in fabcore. Other letters are reduced to
their base letter (``č`` -> ``c``, ``ł`` -> ``l``) or printed as ``?``.
Pass ``font`` (and ``bold_font``), paths to TrueType files such as
DejaVuSans, to embed a Unicode font instead and print every letter as it is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from fabcore.app.rendering.invoice import Invoice
from fabcore.domain.errors import ConfigurationError
from fabcore.domain.money import Money

__all__ = ["render_invoice_pdf"]

_CORE_FONT = "helvetica"
_CORE_ENCODING = "cp1252"
_TTF_FAMILY = "invoice-text"
# Letters that Unicode decomposition does not reduce to a base letter.
_FALLBACK = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H",
                           "ŧ": "t", "Ŧ": "T", "\u0131": "i"})

_INK = (34, 34, 34)
_MUTED = (100, 100, 100)
_RULE = (200, 200, 200)
_HEAD_FILL = (238, 240, 243)
_MARGIN = 18.0


def _to_cp1252(text: str) -> str:
    """``text`` with every character the core fonts lack replaced (see the module docstring)."""
    out: list[str] = []
    for char in text.translate(_FALLBACK):
        try:
            char.encode(_CORE_ENCODING)
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(c for c in unicodedata.normalize("NFKD", char)
                       if not unicodedata.combining(c))
        try:
            base.encode(_CORE_ENCODING)
            out.append(base or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


def _unchanged(text: str) -> str:
    return text


def _money(value: Money | None) -> str:
    return "-" if value is None else str(value)


class _InvoicePDF(FPDF):
    """An A4 page with the invoice number and page count in the footer."""

    def __init__(self, invoice: Invoice, family: str, clean: Callable[[str], str]) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._invoice = invoice
        self._family = family
        self._clean = clean

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(self._family, "", 8)
        self.set_text_color(*_MUTED)
        text = (f"{self._invoice.shop_name} - Invoice {self._invoice.number} - "
                f"page {self.page_no()} of {{nb}}")
        self.cell(0, 5, self._clean(text), align=Align.C)


def render_invoice_pdf(
    invoice: Invoice, *, font: str | Path | None = None, bold_font: str | Path | None = None
) -> bytes:
    """The PDF bytes of ``invoice`` (see the module docstring for ``font``)."""
    clean: Callable[[str], str]
    if font is None:
        family, clean = _CORE_FONT, _to_cp1252
    else:
        regular = Path(font)
        bold = Path(bold_font) if bold_font is not None else regular
        for path in (regular, bold):
            if not path.is_file():
                raise ConfigurationError(f"invoice font {path} is not a file")
        family, clean = _TTF_FAMILY, _unchanged
    pdf = _InvoicePDF(invoice, family, clean)
    if font is None:
        pdf.core_fonts_encoding = _CORE_ENCODING
    else:
        pdf.add_font(_TTF_FAMILY, "", str(regular))
        pdf.add_font(_TTF_FAMILY, "B", str(bold))
    pdf.set_creation_date(invoice.issued_at)
    pdf.set_title(clean(f"Invoice {invoice.number}"))
    pdf.set_author(clean(invoice.shop_name))
    pdf.set_subject(clean(f"Invoice for order {invoice.order_number}"))
    pdf.set_creator("fabcore")
    pdf.set_lang("en")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.alias_nb_pages()
    pdf.add_page()
    _header(pdf, invoice, family, clean)
    _parties(pdf, invoice, family, clean)
    _lines(pdf, invoice, family, clean)
    _totals(pdf, invoice, family, clean)
    _terms(pdf, invoice, family, clean)
    return bytes(pdf.output())


def _header(pdf: FPDF, invoice: Invoice, family: str, clean: Callable[[str], str]) -> None:
    pdf.set_text_color(*_INK)
    pdf.set_font(family, "B", 16)
    top = pdf.get_y()
    pdf.multi_cell(110, 7, clean(invoice.seller[0]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, "", 9)
    pdf.set_text_color(*_MUTED)
    vat = (f"VAT ID: {invoice.seller_tax_id}",) if invoice.seller_tax_id else ()
    for line in (*invoice.seller[1:], *vat, invoice.shop_email):
        pdf.cell(110, 4.5, clean(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    below_shop = pdf.get_y()
    pdf.set_xy(pdf.w - _MARGIN - 60, top)
    pdf.set_text_color(*_INK)
    pdf.set_font(family, "B", 22)
    pdf.cell(60, 10, "INVOICE", align=Align.R)
    pdf.set_y(max(below_shop, top + 12) + 5)
    pdf.set_draw_color(*_RULE)
    pdf.line(_MARGIN, pdf.get_y(), pdf.w - _MARGIN, pdf.get_y())
    pdf.ln(5)


def _parties(pdf: FPDF, invoice: Invoice, family: str, clean: Callable[[str], str]) -> None:
    top = pdf.get_y()
    pdf.set_font(family, "B", 9)
    pdf.set_text_color(*_MUTED)
    pdf.cell(90, 5, "BILL TO", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*_INK)
    pdf.set_font(family, "", 10)
    vat = (f"VAT ID: {invoice.buyer_tax_id}",) if invoice.buyer_tax_id else ()
    for line in (*invoice.bill_to, *vat, invoice.customer_email):
        pdf.cell(90, 5, clean(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()

    facts = [("Invoice number", invoice.number),
             ("Invoice date", invoice.invoice_date.isoformat()),
             ("Due date", invoice.due_date.isoformat()),
             ("Order number", invoice.order_number)]
    if invoice.po_number:
        facts.append(("PO number", invoice.po_number))
    x = pdf.w - _MARGIN - 80
    pdf.set_y(top)
    for label, value in facts:
        pdf.set_x(x)
        pdf.set_font(family, "", 10)
        pdf.set_text_color(*_MUTED)
        pdf.cell(32, 5, label)
        pdf.set_text_color(*_INK)
        pdf.set_font(family, "B", 10)
        pdf.cell(48, 5, clean(value), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 8)


def _lines(pdf: FPDF, invoice: Invoice, family: str, clean: Callable[[str], str]) -> None:
    pdf.set_font(family, "", 9)
    pdf.set_text_color(*_INK)
    pdf.set_draw_color(*_RULE)
    heading = FontFace(emphasis="BOLD", fill_color=_HEAD_FILL)
    muted = FontFace(color=_MUTED)
    with pdf.table(
        col_widths=(8, 84, 14, 34, 34),
        text_align=(Align.R, Align.L, Align.R, Align.R, Align.R),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=heading,
        line_height=5,
        padding=1.5,
        width=pdf.epw,
    ) as table:
        head = table.row()
        for title in ("#", "Description", "Qty", "Unit price", "Amount"):
            head.cell(title)
        for line in invoice.totals.lines:
            row = table.row()
            row.cell(str(line.position))
            row.cell(clean(f"{line.filename}\n{line.details}"))
            row.cell(str(line.quantity))
            row.cell(_money(line.unit_price))
            amount = line.unit_price * line.quantity if line.unit_price is not None else None
            row.cell(_money(amount))
            for fee in line.fees:
                fee_row = table.row(style=muted)
                fee_row.cell("")
                fee_row.cell(clean(f"+ {fee.name}"), colspan=3)
                fee_row.cell(_money(fee.amount))
            if line.fees:
                total_row = table.row()
                total_row.cell("")
                total_row.cell("Line total", colspan=3)
                total_row.cell(_money(line.total))
    pdf.ln(4)


def _totals(pdf: FPDF, invoice: Invoice, family: str, clean: Callable[[str], str]) -> None:
    t = invoice.totals
    rows: list[tuple[str, Money]] = [("Subtotal", t.subtotal)]
    rows += [(f"Fee: {fee.name}", fee.amount) for fee in t.order_fees]
    if t.minimum_order_adjustment:
        rows.append(("Minimum order adjustment", t.minimum_order_adjustment))
    shipping = f"Shipping ({t.shipping_method})" if t.shipping_method else "Shipping"
    rows.append((shipping, t.shipping))
    rows.append((f"Tax {t.tax_percent} on {t.taxable}", t.tax))
    x = pdf.w - _MARGIN - 100
    if pdf.get_y() + 6 * len(rows) + 12 > pdf.page_break_trigger:
        pdf.add_page()  # keep the totals together
    pdf.set_text_color(*_INK)
    for label, amount in rows:
        pdf.set_x(x)
        pdf.set_font(family, "", 10)
        pdf.cell(64, 6, clean(label))
        pdf.cell(36, 6, str(amount), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*_INK)
    pdf.set_line_width(0.4)
    pdf.line(x, pdf.get_y() + 0.5, pdf.w - _MARGIN, pdf.get_y() + 0.5)
    pdf.set_line_width(0.2)
    pdf.ln(1.5)
    pdf.set_x(x)
    pdf.set_font(family, "B", 12)
    pdf.cell(64, 8, f"Total ({t.currency})")
    pdf.cell(36, 8, str(t.total), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)


def _terms(pdf: FPDF, invoice: Invoice, family: str, clean: Callable[[str], str]) -> None:
    pdf.set_text_color(*_INK)
    pdf.set_font(family, "B", 10)
    pdf.cell(0, 6, "Payment", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, "", 10)
    if invoice.paid:
        pdf.set_text_color(20, 110, 50)
        pdf.set_font(family, "B", 11)
    pdf.multi_cell(0, 5, clean(invoice.payment_terms), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*_INK)
    pdf.set_font(family, "", 10)
    if invoice.bank:
        pdf.ln(2)
        for line in invoice.bank:
            pdf.cell(0, 5, clean(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
