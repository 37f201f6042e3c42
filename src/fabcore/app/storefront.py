"""Use cases of the pages: the customer's cart, parts and their files, and the shop's order list.

The widget keeps one draft per customer as the cart (:meth:`Storefront.cart`)
and adds an uploaded part priced at its cheapest option
(:meth:`Storefront.add_part`). The back office lists orders by status with
counts, search, filters and pages (:meth:`Storefront.search_orders`) and
exports them as CSV (:meth:`Storefront.orders_csv`).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import attrs

from fabcore.app.drafting import Drafting, UploadedModel, _units
from fabcore.domain import access
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import Units
from fabcore.domain.customer import Customer
from fabcore.domain.errors import InvalidInput, PermissionDenied
from fabcore.domain.order import Order, OrderLine
from fabcore.domain.order_summary import OrderSummary
from fabcore.domain.pricing import price_line
from fabcore.domain.shop import ShopContext
from fabcore.domain.status import OrderStatus, PaymentStatus
from fabcore.ports.repositories import UnitOfWork

MAX_PAGE_SIZE = 200
_MAX_QUERY = 200


@attrs.frozen
class OrderSearch:
    """What the back office's order list asks for.

    ``text`` matches the order number, the customer's name, company or
    e-mail address (case does not matter); dates are inclusive, in UTC.
    """

    status: OrderStatus | None = None
    payment: PaymentStatus | None = None
    text: str = ""
    created_from: date | None = None
    created_to: date | None = None
    page: int = 1
    per_page: int = 25

    def __attrs_post_init__(self) -> None:
        if len(self.text) > _MAX_QUERY:
            raise InvalidInput(f"search text is longer than {_MAX_QUERY} characters")
        if self.page < 1:
            raise InvalidInput(f"page must be 1 or more, got {self.page}")
        if not 1 <= self.per_page <= MAX_PAGE_SIZE:
            raise InvalidInput(f"per_page must be from 1 to {MAX_PAGE_SIZE}, got {self.per_page}")
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise InvalidInput("the first date is after the last one")


@attrs.frozen
class OrderRow:
    """One row of the order list: the summary and who the customer is."""

    summary: OrderSummary
    customer_name: str | None
    customer_email: str | None


@attrs.frozen
class OrderPage:
    """One page of the order list, and how many orders each status tab holds."""

    rows: tuple[OrderRow, ...]
    total: int
    page: int
    pages: int
    counts: dict[OrderStatus, int]

    @property
    def all_count(self) -> int:
        return sum(self.counts.values())


class Storefront(Drafting):
    __slots__ = ()

    def cart(self, actor: Actor) -> Order:
        """The customer's open draft (the newest), started when there is none."""
        access.require_signed_in(actor, "keep a cart")
        if not actor.is_customer:
            raise PermissionDenied("only customers have a cart; staff start drafts in the "
                                   "quotation tool")
        with self.uow() as uow:
            drafts = uow.orders.summaries(actor.shop_id, OrderStatus.DRAFT, actor.id, 1)
            if drafts:
                return self._order_for(uow, actor, drafts[0].id)
        return self.create_order(actor)

    def add_part(
        self, actor: Actor, order_id: str, model: UploadedModel, units: Units | str = Units.MM,
        quantity: int = 1,
    ) -> OrderLine:
        """Add an uploaded part at its first option: the cheapest priced one (``quote_options``).

        ``NotFound`` unless the model was analysed in ``units``.
        """
        unit = _units(units)
        options = self.quote_options(actor, model.ref.sha256, unit, quantity)
        if not options:
            raise InvalidInput(f"the shop makes nothing of {model.ref.filename}")
        analysis = self.stored_model(actor, model.ref.sha256, model.ref.filename, unit).analysis

        def change(_: UnitOfWork, order: Order, shop: ShopContext) -> OrderLine:
            quote = price_line(shop.catalog, analysis, options[0].spec)
            line = OrderLine(id=self.new_id(), model_sha256=model.ref.sha256,
                             model_filename=model.ref.filename, analysis=analysis,
                             spec=quote.spec, quote=quote, units=unit)
            order.set_line(line)
            return line

        return self._edit(actor, order_id, change)

    def line_model(self, actor: Actor, order_id: str, line_id: str) -> tuple[str, bytes]:
        """The file name and bytes of a line's model, for whoever may see the order."""
        with self.uow() as uow:
            order = self._order_for(uow, actor, order_id)
        line = order.line(line_id)
        return line.model_filename, self.models.get(line.model_sha256)

    def change_units(
        self, actor: Actor, order_id: str, line_id: str, units: Units | str
    ) -> OrderLine:
        """Measure a line's model again in other units and price its options again."""
        unit = _units(units)
        with self.uow() as uow:
            line = self._order_for(uow, actor, order_id).line(line_id)
        model = self.upload_model(actor, self.models.get(line.model_sha256),
                                  line.model_filename, unit)

        def change(_: UnitOfWork, order: Order, shop: ShopContext) -> OrderLine:
            current = order.line(line_id)
            quote = price_line(shop.catalog, model.analysis, current.spec)
            changed = attrs.evolve(current, analysis=attrs.evolve(
                model.analysis, filename=current.model_filename), quote=quote, units=unit)
            order.set_line(changed)
            return changed

        return self._edit(actor, order_id, change)

    def search_orders(self, actor: Actor, search: OrderSearch) -> OrderPage:
        """Staff's order list (see :class:`OrderSearch`), newest first."""
        access.require_staff(actor, "search orders")
        with self.uow() as uow:
            summaries = list(uow.orders.summaries(actor.shop_id, None, None, None))
            customers = {c.id: c for c in uow.customers.list(actor.shop_id)}
        text = search.text.strip().lower()
        counts: dict[OrderStatus, int] = dict.fromkeys(OrderStatus, 0)
        rows: list[OrderRow] = []
        start = _day_start(search.created_from)
        end = _day_start(search.created_to + timedelta(days=1)) if search.created_to else None
        for summary in summaries:
            customer = customers.get(summary.customer_id or "")
            if text and not _matches(text, summary, customer):
                continue
            if search.payment is not None and summary.payment_status is not search.payment:
                continue
            if start is not None and summary.created_at < start:
                continue
            if end is not None and summary.created_at >= end:
                continue
            counts[summary.status] += 1
            if search.status is not None and summary.status is not search.status:
                continue
            rows.append(OrderRow(summary, customer.name if customer else None,
                                 customer.email if customer else None))
        pages = max(1, -(-len(rows) // search.per_page))
        first = (search.page - 1) * search.per_page
        return OrderPage(tuple(rows[first:first + search.per_page]), len(rows),
                         search.page, pages, counts)

    def orders_csv(self, actor: Actor, search: OrderSearch) -> str:
        """Every order the search finds (all pages) as CSV, one row an order."""
        everything = attrs.evolve(search, page=1, per_page=MAX_PAGE_SIZE)
        found = self.search_orders(actor, everything)
        rows = list(found.rows)
        for page in range(2, found.pages + 1):
            rows.extend(self.search_orders(actor, attrs.evolve(everything, page=page)).rows)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["number", "created_at", "status", "payment_status", "customer",
                         "email", "lines", "total", "currency"])
        for row in rows:
            summary = row.summary
            total = summary.total
            writer.writerow([
                summary.number, summary.created_at.isoformat(), summary.status.label,
                summary.payment_status.label, _cell(row.customer_name or ""),
                _cell(row.customer_email or ""), summary.lines,
                f"{total.amount:.2f}" if total is not None else "",
                total.currency if total is not None else "",
            ])
        return out.getvalue()


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), UTC) if day is not None else None


def _matches(text: str, summary: OrderSummary, customer: Customer | None) -> bool:
    fields = [summary.number]
    if customer is not None:
        fields += [customer.name, customer.email, customer.company or ""]
    return any(text in field.lower() for field in fields)


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


__all__ = ["MAX_PAGE_SIZE", "OrderPage", "OrderRow", "OrderSearch", "Storefront"]
