"""What the widget's and the back office's pages share: forms, the core, order views."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
import attrs
from litestar import Request
from litestar.datastructures import UploadFile

from fabcore.app.facade import Fabcore
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address
from fabcore.domain.errors import InvalidInput, NotFound
from fabcore.domain.order import Order, OrderLine
from fabcore.domain.quote import LineQuote, OrderQuote
from fabcore.entrypoints.web import auth
from fabcore.entrypoints.web.settings import WebSettings

_T = TypeVar("_T")


def core_of(request: Request[Any, Any, Any]) -> Fabcore:
    return auth.core(request.app.state)


def frame_ancestors(core: Fabcore, shop: str) -> str:
    """The origins that may frame the shop's widget: its own and the shop's allowed ones."""
    try:
        settings = core.get_shop(Actor.visitor(shop)).settings
    except NotFound:
        return "'self'"
    return " ".join(("'self'", *settings.widget_origins))


def settings_of(request: Request[Any, Any, Any]) -> WebSettings:
    return auth.settings(request.app.state)


async def run(work: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a use case off the event loop."""
    return await anyio.to_thread.run_sync(partial(work, *args, **kwargs))


@attrs.frozen
class Form:
    """A submitted form's text fields and files."""

    fields: dict[str, list[str]]
    files: dict[str, UploadFile]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def optional(self, name: str) -> str | None:
        return self.get(name) or None

    def all(self, name: str) -> list[str]:
        return [v for v in self.fields.get(name, []) if v]

    def integer(self, name: str, default: int | None = None) -> int:
        raw = self.get(name)
        if not raw and default is not None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(f"{name.replace('_', ' ')} must be a whole number") from None

    def address(self, prefix: str, default_name: str = "") -> Address | None:
        """The address in fields ``{prefix}_name`` ... (``None`` when they are all blank).

        A blank name is ``default_name``.
        """
        keys = ("name", "company", "line1", "line2", "postal_code", "city", "region", "country")
        values = {key: self.get(f"{prefix}_{key}") for key in keys}
        if not any(values.values()):
            return None
        values["name"] = values["name"] or default_name
        return Address(
            name=values["name"], line1=values["line1"], postal_code=values["postal_code"],
            city=values["city"], country=values["country"].upper(),
            company=values["company"] or None, line2=values["line2"] or None,
            region=values["region"] or None,
        )


def page_number(request: Request[Any, Any, Any]) -> int:
    """The ``page`` of a list the query asks for: 1 unless a whole number above 1."""
    raw = request.query_params.get("page", "")
    return int(raw) if raw.isdigit() and int(raw) > 1 else 1


async def read_form(request: Request[Any, Any, Any]) -> Form:
    data = await request.form()
    fields: dict[str, list[str]] = {}
    files: dict[str, UploadFile] = {}
    for key, value in data.multi_items():
        if isinstance(value, UploadFile):
            if value.filename:
                files[key] = value
        else:
            fields.setdefault(key, []).append(str(value))
    return Form(fields, files)


@attrs.frozen
class LineView:
    """A line of an order as a part card shows it."""

    line: OrderLine
    quote: LineQuote | None
    options: tuple[LineQuote, ...]
    finishes: tuple[tuple[str, str], ...]
    colors: tuple[str, ...]


@attrs.frozen
class OrderView:
    """An order with what its page shows beside it."""

    order: Order
    quote: OrderQuote
    lines: tuple[LineView, ...]
    review_reasons: tuple[str, ...]
    shipping_methods: tuple[tuple[str, str, bool], ...]
    reachable: tuple[str, ...]
    labels: dict[str, str]
    shipping_names: dict[str, str]

    def option(self, process: str, material: str) -> str:
        """A process and material as people read them: the catalog's labels."""
        return self.labels.get(f"{process}:{material}", f"{process} · {material}")

    def shipping(self, method: str) -> str:
        """A shipping method as people read it: the catalog's label."""
        return self.shipping_names.get(method, method)


def order_view(core: Fabcore, actor: Actor, order_id: str, with_options: bool) -> OrderView:
    """The order ``actor`` may see, priced, with each line's options when ``with_options``."""
    order = core.get_order(actor, order_id)
    quote = core.quote(actor, order_id)
    catalog = core.catalog(actor)
    quotes = {q.filename: q for q in quote.lines}
    views: list[LineView] = []
    for index, line in enumerate(order.lines):
        line_quote = quote.lines[index] if index < len(quote.lines) else quotes.get(
            line.model_filename)
        options: tuple[LineQuote, ...] = ()
        finishes: tuple[tuple[str, str], ...] = ()
        colors: tuple[str, ...] = ()
        if with_options:
            options = tuple(core.quote_options(actor, line.model_sha256, line.units,
                                               line.spec.quantity))
            process = catalog.processes.get(line.spec.process)
            if process is not None:
                finishes = tuple((f.id, f.label) for f in process.finishes.values()
                                 if f.allows(line.spec.material))
                material = process.materials.get(line.spec.material)
                colors = material.colors if material is not None else ()
        views.append(LineView(line, line_quote, options, finishes, colors))
    reasons = core.review_reasons(actor, order_id) if order.editable else ()
    methods = tuple((m.id, f"{m.label} ({m.days} days{', ' + str(m.price) if m.price else ''})",
                     m.pickup) for m in catalog.shipping.values())
    reachable = tuple(option.status.value for option in order.reachable_statuses(actor))
    labels = {f"{p.id}:{m.id}": f"{p.label} · {m.label}" for p in catalog.processes.values()
              for m in p.materials.values()}
    names = {m.id: m.label for m in catalog.shipping.values()}
    return OrderView(order, quote, tuple(views), reasons, methods, reachable, labels, names)
