"""Renders order mails from jinja2 templates: a subject, a text and an HTML part.

Templates
---------
Each template id of :data:`fabcore.domain.notifications.MAIL_RULES` has a
pair ``{id}.txt`` and ``{id}.html`` in ``fabcore/templates/mail``. They
extend ``base.txt`` / ``base.html`` (greeting, body, note, order details,
signature) and include ``_order_details.*`` and ``_note.*``. The subject is
the ``subject`` block of the ``.txt`` template, rendered on its own and
folded to one line.

HTML templates are autoescaped; text templates are not (a customer's
``<script>`` note stays literal in the text part and is escaped in the HTML
part). Undefined names fail loudly (``StrictUndefined``): optional values
are always present, as ``None`` when absent.

Per-shop overrides
------------------
``MailRenderer(overrides={"shop-1": "/etc/fabcore/mail/shop-1"})``: for that
shop, any template file found in the folder (a body, ``base.html``, a
partial) wins over the packaged one; everything else falls back to the
package. Each shop with overrides gets its own jinja2 environment, so
``extends`` and ``include`` resolve through the shop's folder first too.

Template variables
------------------
Everything in :attr:`MailIntent.context` (``order_number``, ``shop_name``,
``status_label``, ``previous_status_label``, ``new_status_label``, ``note``,
``trigger``, ``due_date``, ``offer_revision``, ``tracking_number``, ...),
plus ``shop``, ``order``, ``customer`` (domain objects), ``recipient``
(``"customer"`` or ``"shop"``), ``customer_name``, ``customer_email``,
``link_url``, ``po_number``, ``offer_expires``, ``payment_amount`` (text,
``1,234.50 EUR``), ``payment_label``, ``previous_payment_label``, ``due_in`` (``"in 2 days"``,
``"tomorrow"``, ``"today"``), ``details`` (:class:`OrderDetails`) and, in the
bodies, ``subject``. Filters: ``money`` (``1,234.50 EUR`` from the Decimal)
and ``percent``.

Template errors (a missing file, a syntax error, an undefined name in an
override) raise :class:`~fabcore.domain.errors.ConfigurationError` naming the
template and the shop, with the jinja2 error as its cause.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

import attrs
import jinja2

from fabcore.app.context import current_request_id
from fabcore.app.rendering.invoice import OrderTotals, order_totals
from fabcore.app.rendering.templating import LineView, address_lines, line_views, make_environment
from fabcore.domain.customer import Customer
from fabcore.domain.errors import ConfigurationError, InvalidInput
from fabcore.domain.money import Money
from fabcore.domain.notifications import MailIntent, Recipient
from fabcore.domain.order import Order
from fabcore.domain.quote import OrderQuote
from fabcore.domain.shop import Shop
from fabcore.domain.status import OrderStatus, PaymentStatus
from fabcore.ports.mailer import Mail

__all__ = ["MailRenderer", "OrderDetails"]

PACKAGE_TEMPLATES = ("fabcore", "templates/mail")

# Keys mails_for puts in the context only sometimes; templates always see them.
_OPTIONAL_CONTEXT = (
    "previous_status", "previous_status_label", "new_status", "new_status_label", "trigger",
    "note", "previous_payment_status", "payment_status", "amount", "payment_reference",
    "due_date", "offer_revision", "offer_expires_at", "tracking_number",
)
_WHITESPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")


@attrs.frozen
class OrderDetails:
    """The order as the details block of a mail shows it."""

    number: str
    status_label: str
    payment_label: str
    currency: str
    lines: tuple[LineView, ...]
    subtotal: Money | None
    totals: OrderTotals | None
    shipping_method: str | None
    shipping_address: tuple[str, ...]
    po_number: str | None
    po_due_date: str | None
    tracking_number: str | None
    offer_expires: str | None


def _details(order: Order, quote: OrderQuote | None) -> OrderDetails:
    complete = quote is not None and quote.total is not None and order.lines_total is not None
    totals = order_totals(order, quote) if complete and quote is not None else None
    po = order.po
    open_offer = order.status is OrderStatus.FIRM_OFFER_SENT and order.offer_expires_at is not None
    return OrderDetails(
        number=order.number,
        status_label=order.status.label,
        payment_label=order.payment_status.label,
        currency=order.currency,
        lines=line_views(order),
        subtotal=order.lines_total,
        totals=totals,
        shipping_method=order.shipping.method if order.shipping is not None else None,
        shipping_address=address_lines(order.shipping.address if order.shipping else None),
        po_number=po.number if po is not None else None,
        po_due_date=po.due_date.isoformat() if po is not None and po.due_date else None,
        tracking_number=order.tracking_number,
        offer_expires=_when(order.offer_expires_at) if open_offer else None,
    )


def _when(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else None


def _due_in(context: Mapping[str, str]) -> str | None:
    due, at = context.get("due_date"), context.get("at")
    if due is None or at is None:
        return None
    days = (date.fromisoformat(due) - datetime.fromisoformat(at).date()).days
    if days > 1:
        return f"in {days} days"
    if days == 1:
        return "tomorrow"
    if days == 0:
        return "today"
    return f"overdue by {-days} day{'s' if days < -1 else ''}"


def _payment_label(value: str | None) -> str | None:
    return PaymentStatus(value).label if value is not None else None


class MailRenderer:
    """Turns a :class:`MailIntent` into a :class:`Mail` (see the module docstring)."""

    def __init__(self, overrides: Mapping[str, str | Path] | None = None) -> None:
        package = jinja2.PackageLoader(*PACKAGE_TEMPLATES)
        self._default = make_environment(package, auto_reload=False)
        self._shops: dict[str, jinja2.Environment] = {}
        for shop_id, folder in (overrides or {}).items():
            path = Path(folder)
            if not path.is_dir():
                raise ConfigurationError(
                    f"mail template folder for shop {shop_id!r} is not a directory: {path}"
                )
            loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(path), package])
            self._shops[shop_id] = make_environment(loader)

    def __repr__(self) -> str:
        return f"MailRenderer(overrides for shops={sorted(self._shops)!r})"

    def _env(self, shop_id: str) -> jinja2.Environment:
        return self._shops.get(shop_id, self._default)

    def render(
        self,
        intent: MailIntent,
        *,
        order: Order,
        customer: Customer | None,
        shop: Shop,
        link_url: str | None,
        message_id: str,
        quote: OrderQuote | None = None,
    ) -> Mail:
        """Render ``intent`` for ``order`` of ``shop``.

        ``link_url`` is required when the intent carries a link (the signed
        offer or payment URL). With ``quote`` the details show order fees,
        shipping, tax and the total (see :func:`fabcore.app.rendering.invoice.order_totals`);
        without, the sum of the lines. Customer mails reply to the shop's
        first notification address, shop mails to the customer.
        """
        if intent.link is not None and not link_url:
            raise InvalidInput(
                f"mail {intent.template!r} needs a {intent.link.value} link, but none was given"
            )
        if order.shop_id != shop.id:
            raise InvalidInput(f"{order} does not belong to shop {shop.id}")
        context = self._context(intent, order=order, customer=customer, shop=shop,
                                link_url=link_url, quote=quote)
        env = self._env(shop.id)
        subject = self._subject(env, intent.template, shop.id, context)
        context["subject"] = subject
        text = self._render(env, f"{intent.template}.txt", shop.id, context)
        html = self._render(env, f"{intent.template}.html", shop.id, context)
        if intent.kind is Recipient.CUSTOMER:
            reply_to: str | None = shop.settings.notify_emails[0]
        else:
            reply_to = customer.email if customer is not None else None
        return Mail(
            message_id=message_id,
            sender=shop.settings.sender_email,
            to=intent.to,
            subject=subject,
            text=_BLANK_LINES.sub("\n\n", text).strip() + "\n",
            html=html,
            cc=intent.cc,
            reply_to=reply_to,
            link=link_url,
            request_id=current_request_id(),
        )

    def render_account(
        self,
        template: str,
        *,
        shop: Shop,
        to: str,
        name: str,
        link_url: str | None,
        expires_at: datetime | None,
        message_id: str,
        extra: Mapping[str, str] | None = None,
    ) -> Mail:
        """Render an account mail (``account_confirm``, ``account_sign_in_link``, ...).

        Account mails greet the person by ``name``, carry one single-use
        link and say until when it works; they extend ``account_base``.
        """
        context: dict[str, object] = {
            "shop": shop, "shop_name": shop.name, "name": name, "link_url": link_url,
            "expires": _when(expires_at), **(extra or {}),
        }
        env = self._env(shop.id)
        subject = self._subject(env, template, shop.id, context)
        context["subject"] = subject
        text = self._render(env, f"{template}.txt", shop.id, context)
        return Mail(
            message_id=message_id,
            sender=shop.settings.sender_email,
            to=(to,),
            subject=subject,
            text=_BLANK_LINES.sub("\n\n", text).strip() + "\n",
            html=self._render(env, f"{template}.html", shop.id, context),
            reply_to=shop.settings.notify_emails[0],
            link=link_url,
            request_id=current_request_id(),
        )

    @staticmethod
    def _context(
        intent: MailIntent, *, order: Order, customer: Customer | None, shop: Shop,
        link_url: str | None, quote: OrderQuote | None,
    ) -> dict[str, object]:
        context: dict[str, object] = dict.fromkeys(_OPTIONAL_CONTEXT)
        context.update(intent.context)
        context.update(
            shop=shop,
            order=order,
            customer=customer,
            shop_name=shop.name,
            recipient=intent.kind.value,
            customer_name=customer.name if customer is not None else None,
            customer_email=customer.email if customer is not None else None,
            link_url=link_url,
            po_number=order.po.number if order.po is not None else None,
            offer_expires=_when(order.offer_expires_at),
            # mails_for gives the amount as str(Money): "1,234.50 EUR".
            payment_amount=intent.context.get("amount"),
            payment_label=_payment_label(intent.context.get("payment_status")),
            previous_payment_label=_payment_label(intent.context.get("previous_payment_status")),
            due_in=_due_in(intent.context),
            details=_details(order, quote),
        )
        return context

    @staticmethod
    def _subject(
        env: jinja2.Environment, template_id: str, shop_id: str, context: dict[str, object]
    ) -> str:
        name = f"{template_id}.txt"
        try:
            template = env.get_template(name)
            block = template.blocks.get("subject")
            if block is None:
                raise ConfigurationError(
                    f"mail template {name!r} (shop {shop_id}) has no {{% block subject %}}"
                )
            raw = "".join(block(template.new_context(dict(context))))
        except jinja2.TemplateError as exc:
            raise _template_error(name, shop_id, exc) from exc
        # One line: a header cannot hold line breaks.
        subject = _WHITESPACE.sub(" ", raw).strip()
        if not subject:
            raise ConfigurationError(f"mail template {name!r} (shop {shop_id}) gives an empty "
                                     "subject")
        return subject

    @staticmethod
    def _render(
        env: jinja2.Environment, name: str, shop_id: str, context: dict[str, object]
    ) -> str:
        try:
            return env.get_template(name).render(context)
        except jinja2.TemplateError as exc:
            raise _template_error(name, shop_id, exc) from exc


def _template_error(name: str, shop_id: str, exc: jinja2.TemplateError) -> ConfigurationError:
    if isinstance(exc, jinja2.TemplateNotFound):
        return ConfigurationError(f"mail template {exc.name!r} not found (shop {shop_id})")
    return ConfigurationError(f"mail template {name!r} (shop {shop_id}): {exc}")
