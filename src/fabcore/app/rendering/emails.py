"""Renders order mails from jinja2 templates: a subject, a text and an HTML part.

Templates
---------
Each template id of :data:`fabcore.domain.notifications.MAIL_RULES` has a
pair ``{id}.txt`` and ``{id}.html`` in ``fabcore/templates/mail``. They
extend ``base.txt`` / ``base.html`` (greeting, body, note, order details,
signature). The note and order details blocks show ``note_text`` /
``note_html`` and ``details_text`` / ``details_html``: the renderer's
renderings of the partials ``_note.*`` and ``_order_details.*``. The subject
is the ``subject`` block of the ``.txt`` template, rendered on its own and
folded to one line.

:meth:`MailRenderer.render_all` renders the mails of one event together: the
order's details are worked out once, and each partial is rendered once for
all the mails that give the variables it names the same values (the
packaged ``_order_details.*`` names only ``details``, ``_note.*`` the note
and the trigger, so both mails of a status change share them). A partial
that includes or extends another template is rendered for each mail.

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
``link_url``, ``order_url``, ``po_number``, ``offer_expires``, ``payment_amount`` (text,
``1,234.50 EUR``), ``payment_label``, ``previous_payment_label``, ``due_in`` (``"in 2 days"``,
``"tomorrow"``, ``"today"``), ``details`` (:class:`OrderDetails`),
``note_text``, ``note_html``, ``details_text`` and ``details_html`` (the
rendered partials) and, in the bodies, ``subject``. Filters: ``money``
(``1,234.50 EUR`` from the Decimal) and ``percent``.

Template errors (a missing file, a syntax error, an undefined name in an
override) raise :class:`~fabcore.domain.errors.ConfigurationError` naming the
template and the shop, with the jinja2 error as its cause.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

import attrs
import jinja2
import markupsafe
from jinja2 import meta, nodes

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
# The partials the base templates show, and the variable each one's rendering fills.
_PARTIALS = (("_note.txt", "note_text"), ("_note.html", "note_html"),
             ("_order_details.txt", "details_text"), ("_order_details.html", "details_html"))
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
    subtotal = order.lines_total
    complete = quote is not None and quote.total is not None and subtotal is not None
    totals = order_totals(order, quote) if complete and quote is not None else None
    po = order.po
    open_offer = order.status is OrderStatus.FIRM_OFFER_SENT and order.offer_expires_at is not None
    return OrderDetails(
        number=order.number,
        status_label=order.status.label,
        payment_label=order.payment_status.label,
        currency=order.currency,
        lines=totals.lines if totals is not None else line_views(order),
        subtotal=subtotal,
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
        self._loaded: dict[str, jinja2.Template] = {}
        # Per loaded partial: the variables it reads (None: it includes other templates).
        self._partials: weakref.WeakKeyDictionary[jinja2.Template, tuple[str, ...] | None] = (
            weakref.WeakKeyDictionary()
        )
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

    def prepare(self) -> None:
        """Compile every mail template now rather than at its first mail.

        A server calls it at start-up: compiling takes tens of milliseconds
        per template, which would otherwise fall on the first requests of
        each kind.
        """
        environments = [("", self._default), *self._shops.items()]
        for shop_id, env in environments:
            for name in env.list_templates():
                self._template(env, name, shop_id)
            for name, _ in _PARTIALS:
                self._names(env, name, shop_id)

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
        order_url: str | None = None,
    ) -> Mail:
        """Render ``intent`` for ``order`` of ``shop``.

        ``order_url`` is where the reader sees the order (the widget for the
        customer, the back office for the shop); mails show it besides
        ``link_url``.

        ``link_url`` is required when the intent carries a link (the signed
        offer or payment URL). With ``quote`` the details show order fees,
        shipping, tax and the total (see :func:`fabcore.app.rendering.invoice.order_totals`);
        without, the sum of the lines. Customer mails reply to the shop's
        first notification address, shop mails to the customer.
        """
        return self.render_all([(intent, link_url, message_id)], order=order,
                               customer=customer, shop=shop, quote=quote,
                               order_urls=[order_url])[0]

    def render_all(
        self,
        mails: Sequence[tuple[MailIntent, str | None, str]],
        *,
        order: Order,
        customer: Customer | None,
        shop: Shop,
        quote: OrderQuote | None = None,
        order_urls: Sequence[str | None] | None = None,
    ) -> list[Mail]:
        """Render each ``(intent, link_url, message_id)`` of one event, as :meth:`render` does.

        ``order_urls``, when given, holds each mail's ``order_url``.

        What the mails share is worked out once: the order's details, and each
        partial for the mails that give the variables it names the same values.
        """
        if order.shop_id != shop.id:
            raise InvalidInput(f"{order} does not belong to shop {shop.id}")
        for intent, link_url, _ in mails:
            if intent.link is not None and not link_url:
                raise InvalidInput(
                    f"mail {intent.template!r} needs a {intent.link.value} link, but none was "
                    "given"
                )
        env = self._env(shop.id)
        common = self._common(order=order, customer=customer, shop=shop, quote=quote)
        partials = [(name, key, self._names(env, name, shop.id)) for name, key in _PARTIALS]
        # Per partial: the values of the variables it names, and what they rendered.
        done: dict[str, list[tuple[tuple[object, ...], str]]] = {}
        rendered: list[Mail] = []
        urls = list(order_urls) if order_urls is not None else [None] * len(mails)
        if len(urls) != len(mails):
            raise InvalidInput("render_all needs one order_url per mail")
        for (intent, link_url, message_id), order_url in zip(mails, urls, strict=True):
            context = self._context(env, intent, common, link_url)
            context["order_url"] = order_url if order_url != link_url else None
            for name, key, names in partials:
                if names is None:
                    block = self._render(env, name, shop.id, context)
                else:
                    given = {n: context[n] for n in names if n in context}
                    values = tuple(given.values())
                    seen = done.setdefault(name, [])
                    found = next((text for old, text in seen if old == values), None)
                    if found is None:
                        found = self._render(env, name, shop.id, given)
                        seen.append((values, found))
                    block = found
                context[key] = markupsafe.Markup(block) if name.endswith(".html") else block
            rendered.append(self._mail(env, intent, context, order, customer, shop, link_url,
                                       message_id))
        return rendered

    def _mail(
        self, env: jinja2.Environment, intent: MailIntent, context: dict[str, object],
        order: Order, customer: Customer | None, shop: Shop, link_url: str | None,
        message_id: str,
    ) -> Mail:
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

    def _names(
        self, env: jinja2.Environment, name: str, shop_id: str
    ) -> tuple[str, ...] | None:
        """The variables the partial ``name`` reads; ``None`` when it includes other templates."""
        template = self._template(env, name, shop_id)
        if template in self._partials:
            return self._partials[template]
        loader = env.loader
        assert loader is not None
        try:
            tree = env.parse(loader.get_source(env, name)[0])
        except jinja2.TemplateError as exc:
            raise _template_error(name, shop_id, exc) from exc
        found: tuple[str, ...] | None = None
        if next(tree.find_all((nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)),
                None) is None:
            found = tuple(sorted(meta.find_undeclared_variables(tree)))
        self._partials[template] = found
        return found

    @staticmethod
    def _common(
        *, order: Order, customer: Customer | None, shop: Shop, quote: OrderQuote | None,
    ) -> dict[str, object]:
        """The variables every mail about ``order`` has."""
        return {
            "shop": shop,
            "order": order,
            "customer": customer,
            "shop_name": shop.name,
            "customer_name": customer.name if customer is not None else None,
            "customer_email": customer.email if customer is not None else None,
            "po_number": order.po.number if order.po is not None else None,
            "offer_expires": _when(order.offer_expires_at),
            "details": _details(order, quote),
        }

    @staticmethod
    def _context(
        env: jinja2.Environment, intent: MailIntent, common: Mapping[str, object],
        link_url: str | None,
    ) -> dict[str, object]:
        # The environment's globals first, as jinja2 merges them, so templates render it as is.
        context: dict[str, object] = dict(env.globals)
        context.update(dict.fromkeys(_OPTIONAL_CONTEXT))
        context.update(intent.context)
        context.update(common)
        context.update(
            recipient=intent.kind.value,
            link_url=link_url,
            # mails_for gives the amount as str(Money): "1,234.50 EUR".
            payment_amount=intent.context.get("amount"),
            payment_label=_payment_label(intent.context.get("payment_status")),
            previous_payment_label=_payment_label(intent.context.get("previous_payment_status")),
            due_in=_due_in(intent.context),
        )
        return context

    def _subject(
        self, env: jinja2.Environment, template_id: str, shop_id: str,
        context: dict[str, object],
    ) -> str:
        name = f"{template_id}.txt"
        template = self._template(env, name, shop_id)
        block = template.blocks.get("subject")
        if block is None:
            raise ConfigurationError(
                f"mail template {name!r} (shop {shop_id}) has no {{% block subject %}}"
            )
        raw = self._run(env, name, shop_id, lambda: block(template.new_context(context, True)))
        # One line: a header cannot hold line breaks.
        subject = _WHITESPACE.sub(" ", raw).strip()
        if not subject:
            raise ConfigurationError(f"mail template {name!r} (shop {shop_id}) gives an empty "
                                     "subject")
        return subject

    def _render(
        self, env: jinja2.Environment, name: str, shop_id: str, context: dict[str, object]
    ) -> str:
        template = self._template(env, name, shop_id)
        return self._run(env, name, shop_id,
                         lambda: template.root_render_func(template.new_context(context, True)))

    def _template(self, env: jinja2.Environment, name: str, shop_id: str) -> jinja2.Template:
        """The template ``name``; the packaged ones, which cannot change, looked up once."""
        found = self._loaded.get(name) if env is self._default else None
        if found is None:
            try:
                found = env.get_template(name)
            except jinja2.TemplateError as exc:
                raise _template_error(name, shop_id, exc) from exc
            if env is self._default:
                self._loaded[name] = found
        return found

    @staticmethod
    def _run(
        env: jinja2.Environment, name: str, shop_id: str, parts: Callable[[], Iterator[str]]
    ) -> str:
        """The text a template (or block) renders, its context given as is (``shared``).

        Contexts hold the environment's globals already (see :meth:`render_all`), so
        they are not copied and merged again for each template as ``render`` does.
        """
        try:
            try:
                return "".join(parts())
            except Exception:
                env.handle_exception()  # re-raises, with the template's lines in the traceback
        except jinja2.TemplateError as exc:
            raise _template_error(name, shop_id, exc) from exc


def _template_error(name: str, shop_id: str, exc: jinja2.TemplateError) -> ConfigurationError:
    if isinstance(exc, jinja2.TemplateNotFound):
        return ConfigurationError(f"mail template {exc.name!r} not found (shop {shop_id})")
    return ConfigurationError(f"mail template {name!r} (shop {shop_id}): {exc}")
