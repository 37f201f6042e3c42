"""The widget: end customers quote, order and pay at ``/w/{shop}/...``.

The widget holds its session as a bearer token in the browser's storage
(no cookies, so it works in a third-party iframe and needs no CSRF token).
A page first loads as a shell; htmx then fetches its content with the
token, and every later step swaps content into the shell. Links from mails
(``/w/{shop}/orders/{id}``, ``/offers/{token}``, ``/pay/{token}``) open the
same shell: signed links work without signing in, order links after it.
Shops list the origins allowed to frame the widget in their settings.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath

from fabcore.app.drafting import UploadedModel
from fabcore.domain.actor import Actor
from fabcore.domain.customer import BillingContact
from fabcore.domain.errors import InvalidInput, NotAuthenticated, NotFound
from fabcore.domain.order import PaymentPageState
from fabcore.domain.quote import LineSpec
from fabcore.entrypoints.web import auth
from fabcore.entrypoints.web.pages.common import (
    Form,
    core_of,
    frame_ancestors,
    order_view,
    page_number,
    read_form,
    run,
)
from fabcore.entrypoints.web.pages.render import PAGE_EXCEPTION_HANDLERS, html, render
from fabcore.entrypoints.web.settings import MiB

AnyRequest = Request[Any, Any, Any]
UNITS = ("mm", "cm", "inch", "m")
ORDERS_PER_PAGE = 25
PathStr = FromPath[str]


def caller(request: AnyRequest, shop: str) -> Actor | None:
    """The signed-in customer (or staff) of the bearer token, ``None`` for a visitor."""
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        actor = core_of(request).authenticate(token.strip()).actor
    except NotAuthenticated:
        return None
    return actor if actor.shop_id == shop else None


def _is_htmx(request: AnyRequest) -> bool:
    return request.headers.get("hx-request") == "true"


def page(request: AnyRequest, shop: str, template: str, *, status: int = 200,
         push: str | None = None, trigger: str | None = None, **context: Any) -> Response[str]:
    """Content for htmx, or the shell that loads it for a plain page load."""
    core = core_of(request)
    ancestors = frame_ancestors(core, shop)
    shop_obj = core.get_shop(Actor.visitor(shop))
    if not _is_htmx(request):
        return html("widget/shell.html", frame_ancestors=ancestors, shop=shop_obj,
                    path=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                    origins=list(shop_obj.settings.widget_origins))
    headers: dict[str, str] = {}
    if push:
        headers["HX-Push-Url"] = push
    if trigger:
        headers["HX-Trigger"] = trigger
    return html(template, status=status, frame_ancestors=ancestors, headers=headers,
                shop=shop_obj, base=f"/w/{shop}", units=UNITS, **context)


def _sign_in_page(request: AnyRequest, shop: str, message: str = "",
                  next_url: str = "") -> Response[str]:
    return page(request, shop, "widget/sign_in.html", message=message,
                next_url=next_url or request.url.path)


def _session_trigger(token: str | None) -> str:
    return json.dumps({"fabcore:session": {"token": token}})


def _safe_next(shop: str, next_url: str) -> str:
    """Only paths inside this shop's widget may be returned to."""
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"/w/{shop}/"):
        return f"/w/{shop}/"
    return parts.path


# -- signing in -------------------------------------------------------------------------


@get("/")
async def home(request: AnyRequest, shop: PathStr) -> Response[str]:
    """The cart for a signed-in customer, else sign-in and sign-up."""
    actor = caller(request, shop)
    if not _is_htmx(request):
        return page(request, shop, "")
    if actor is None or not actor.is_customer:
        return _sign_in_page(request, shop, next_url=f"/w/{shop}/")
    return await _cart_page(request, shop, actor)


async def _cart_page(request: AnyRequest, shop: str, actor: Actor) -> Response[str]:
    core = core_of(request)
    order = await run(core.cart, actor)
    return await _order_page(request, shop, actor, order.id, push=f"/w/{shop}/")


@post("/sign-in")
async def sign_in(request: AnyRequest, shop: PathStr) -> Response[str]:
    form = await read_form(request)
    core = core_of(request)
    try:
        signed = await run(core.sign_in, shop, form.get("email"), form.get("password"),
                           auth.network_address(request))
    except NotAuthenticated as exc:
        return page(request, shop, "widget/sign_in.html", status=401, message=str(exc),
                    next_url=form.get("next"))
    return await _signed_in(request, shop, signed.token, signed.actor, form.get("next"))


async def _signed_in(request: AnyRequest, shop: str, token: str, actor: Actor,
                     next_url: str) -> Response[str]:
    """The page the customer was going to, now signed in; the token travels in HX-Trigger."""
    target = _safe_next(shop, next_url)
    request.scope["headers"] = [
        *[(k, v) for k, v in request.scope["headers"] if k != b"authorization"],
        (b"authorization", f"Bearer {token}".encode()),
    ]
    response = await _route_content(request, shop, actor, target)
    response.headers["HX-Trigger"] = _session_trigger(token)
    response.headers["HX-Push-Url"] = target
    return response


async def _route_content(request: AnyRequest, shop: str, actor: Actor,
                         target: str) -> Response[str]:
    rest = target[len(f"/w/{shop}/"):].strip("/").split("/")
    if len(rest) == 2 and rest[0] == "orders":
        return await _order_page(request, shop, actor, rest[1])
    if rest == ["orders"]:
        return await _orders_page(request, shop, actor)
    return await _cart_page(request, shop, actor)


@post("/sign-up")
async def sign_up(request: AnyRequest, shop: PathStr) -> Response[str]:
    form = await read_form(request)
    core = core_of(request)
    contact = None
    if form.get("billing_contact_email"):
        contact = BillingContact(form.get("billing_contact_name") or form.get("name"),
                                 form.get("billing_contact_email"))
    try:
        await run(core.sign_up, shop, name=form.get("name"), email=form.get("email"),
                  password=form.get("password"), company=form.optional("billing_company"),
                  tax_id=form.optional("tax_id"),
                  billing_address=form.address("billing", form.get("name")),
                  billing_contact=contact, network_address=auth.network_address(request))
    except InvalidInput as exc:
        return page(request, shop, "widget/sign_in.html", status=422, message=str(exc),
                    next_url=form.get("next"), signing_up=True)
    signed = await run(core.sign_in, shop, form.get("email"), form.get("password"),
                       auth.network_address(request))
    return await _signed_in(request, shop, signed.token, signed.actor, form.get("next"))


@post("/sign-in-link")
async def sign_in_link(request: AnyRequest, shop: PathStr) -> Response[str]:
    form = await read_form(request)
    await run(core_of(request).request_sign_in_link, shop, form.get("email"),
              auth.network_address(request))
    return _sign_in_page(request, shop, message="If the address has an account, a sign-in link "
                         "is on its way. Check your mail.", next_url=form.get("next"))


@get("/sign-in/{token:str}")
async def link_page(request: AnyRequest, shop: PathStr, token: PathStr) -> Response[str]:
    """A mailed sign-in or confirmation link: one button redeems it (mail scanners only GET)."""
    return page(request, shop, "widget/link.html", token=token)


@get("/confirm/{token:str}")
async def confirm_page(request: AnyRequest, shop: PathStr, token: PathStr) -> Response[str]:
    return page(request, shop, "widget/link.html", token=token, confirming=True)


@post("/sign-in/{token:str}")
async def redeem_link(request: AnyRequest, shop: PathStr, token: PathStr) -> Response[str]:
    signed = await run(core_of(request).sign_in_with_link, token)
    if signed.actor.shop_id != shop:
        raise NotAuthenticated("this link is for another shop")
    return await _signed_in(request, shop, signed.token, signed.actor, f"/w/{shop}/")


@post("/sign-out")
async def sign_out(request: AnyRequest, shop: PathStr) -> Response[str]:
    header = request.headers.get("authorization", "")
    token = header.partition(" ")[2].strip()
    if token and caller(request, shop) is not None:
        await run(core_of(request).sign_out, token)
    response = page(request, shop, "widget/sign_in.html", message="You are signed out.",
                    next_url=f"/w/{shop}/", push=f"/w/{shop}/")
    response.headers["HX-Trigger"] = _session_trigger(None)
    return response


# -- orders -------------------------------------------------------------------------------


def _customer(request: AnyRequest, shop: str) -> Actor:
    actor = caller(request, shop)
    if actor is None:
        raise NotAuthenticated("sign in first")
    return actor


@get("/orders")
async def orders(request: AnyRequest, shop: PathStr) -> Response[str]:
    actor = caller(request, shop)
    if not _is_htmx(request):
        return page(request, shop, "")
    if actor is None:
        return _sign_in_page(request, shop)
    return await _orders_page(request, shop, actor)


async def _orders_page(request: AnyRequest, shop: str, actor: Actor) -> Response[str]:
    number = page_number(request)
    rows = await run(core_of(request).list_order_summaries, actor, limit=ORDERS_PER_PAGE + 1,
                     offset=(number - 1) * ORDERS_PER_PAGE)
    return page(request, shop, "widget/orders.html", rows=rows[:ORDERS_PER_PAGE],
                page_number=number, more=len(rows) > ORDERS_PER_PAGE)


@get("/orders/{order_id:str}")
async def order(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    actor = caller(request, shop)
    if not _is_htmx(request):
        return page(request, shop, "")
    if actor is None:
        return _sign_in_page(request, shop)
    return await _order_page(request, shop, actor, order_id)


async def _order_page(request: AnyRequest, shop: str, actor: Actor, order_id: str,
                      push: str | None = None, message: str = "",
                      trigger: str | None = None) -> Response[str]:
    core = core_of(request)
    order = await run(core.get_order, actor, order_id)
    view = await run(order_view, core, actor, order_id, order.editable)
    return page(request, shop, "widget/order.html", view=view, message=message,
                push=push, trigger=trigger, States=PaymentPageState, token_link=None)


@post("/cart/parts", request_max_body_size=MiB)
async def add_part(request: AnyRequest, shop: PathStr) -> Response[str]:
    """Add an uploaded model (by its sha256) to the customer's cart."""
    actor = _customer(request, shop)
    form = await read_form(request)
    core = core_of(request)
    units = form.get("units", "mm")
    model: UploadedModel = await run(core.stored_model, actor, form.get("sha256"),
                                     form.get("filename") or "model", units)
    order_id = form.get("order_id") or (await run(core.cart, actor)).id
    await run(core.add_part, actor, order_id, model, units)
    return await _order_page(request, shop, actor, order_id, push=f"/w/{shop}/orders/{order_id}")


@post("/orders/{order_id:str}/lines/{line_id:str}")
async def update_line(request: AnyRequest, shop: PathStr, order_id: PathStr,
                      line_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    form = await read_form(request)
    core = core_of(request)
    process, _, material = form.get("option").partition(":")
    order = await run(core.get_order, actor, order_id)
    current = order.line(line_id)
    same = (process, material) == (current.spec.process, current.spec.material)
    spec = LineSpec(process=process, material=material,
                    finishes=tuple(form.all("finish")) if same else (),
                    color=(form.optional("color") if same else None),
                    quantity=form.integer("quantity", 1))
    await run(core.update_line, actor, order_id, line_id, spec=spec)
    return await _order_page(request, shop, actor, order_id)


@post("/orders/{order_id:str}/lines/{line_id:str}/units")
async def change_units(request: AnyRequest, shop: PathStr, order_id: PathStr,
                       line_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    form = await read_form(request)
    await run(core_of(request).change_units, actor, order_id, line_id, form.get("units"))
    return await _order_page(request, shop, actor, order_id)


@post("/orders/{order_id:str}/lines/{line_id:str}/remove")
async def remove_line(request: AnyRequest, shop: PathStr, order_id: PathStr,
                      line_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    await run(core_of(request).remove_line, actor, order_id, line_id)
    return await _order_page(request, shop, actor, order_id)


@get("/orders/{order_id:str}/lines/{line_id:str}/model")
async def line_model(request: AnyRequest, shop: PathStr, order_id: PathStr,
                     line_id: PathStr) -> Response[bytes]:
    """A line's model file, for the viewer."""
    actor = _customer(request, shop)
    name, data = await run(core_of(request).line_model, actor, order_id, line_id)
    return Response(data, media_type="application/octet-stream",
                    headers={"cache-control": "private, max-age=3600",
                             "x-filename": name.encode("ascii", "replace").decode()})


@post("/orders/{order_id:str}/shipping")
async def shipping(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    form = await read_form(request)
    core = core_of(request)
    await run(core.set_shipping, actor, order_id, form.get("method"), form.address("ship"))
    return await _order_page(request, shop, actor, order_id)


@post("/orders/{order_id:str}/billing")
async def billing(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    form = await read_form(request)
    address = form.address("bill")
    if address is None:
        raise InvalidInput("fill in the billing address")
    await run(core_of(request).set_billing_address, actor, order_id, address)
    return await _order_page(request, shop, actor, order_id)


@post("/orders/{order_id:str}/place")
async def place(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    placed = await run(core_of(request).place, actor, order_id)
    return await _order_page(request, shop, actor, order_id,
                             push=f"/w/{shop}/orders/{order_id}",
                             trigger=_placed_trigger(placed.number))


def _placed_trigger(number: str) -> str:
    return json.dumps({"fabcore:placed": {"number": number}})


@post("/orders/{order_id:str}/submit")
async def submit(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    form = await read_form(request)
    placed = await run(core_of(request).submit_for_review, actor, order_id, form.optional("note"))
    return await _order_page(request, shop, actor, order_id, push=f"/w/{shop}/orders/{order_id}",
                             trigger=_placed_trigger(placed.number))


@post("/orders/{order_id:str}/accept")
async def accept(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    form = await read_form(request)
    await run(core_of(request).accept_offer, actor, order_id, form.integer("revision"))
    return await _order_page(request, shop, actor, order_id)


@post("/orders/{order_id:str}/request-changes")
async def request_changes(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    form = await read_form(request)
    await run(core_of(request).request_changes, actor, order_id, form.get("message"))
    return await _order_page(request, shop, actor, order_id)


@post("/orders/{order_id:str}/cancel")
async def cancel(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    form = await read_form(request)
    await run(core_of(request).cancel, actor, order_id, form.get("reason"))
    return await _order_page(request, shop, actor, order_id)


@post("/orders/{order_id:str}/po", request_max_body_size=21 * MiB)
async def provide_po(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    actor = _customer(request, shop)
    form = await read_form(request)
    document = form.files.get("document")
    data = await document.read() if document is not None else None
    name = (document.filename if document is not None else None) or "purchase-order.pdf"
    await run(core_of(request).provide_po, actor, order_id, form.get("po_number"), data or None,
              name)
    return await _order_page(request, shop, actor, order_id)


@post("/orders/{order_id:str}/pay")
async def pay(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    """Pay now: on to the gateway's hosted page, which returns to the order."""
    actor = _customer(request, shop)
    checkout = await run(core_of(request).start_checkout, actor, order_id)
    return _to_gateway(checkout.url, f"/w/{shop}/orders/{order_id}")


def _to_gateway(url: str, back: str) -> Response[str]:
    """On to the gateway's page: the widget opens it in the whole window, not in a frame."""
    if urlsplit(url).path.startswith("/demo-payments/"):
        url = f"{url}&{urlencode({'return': back})}"
    return Response("", status_code=204,
                    headers={"HX-Trigger": json.dumps({"fabcore:checkout": {"url": url}})})


@get("/orders/{order_id:str}/invoice.pdf")
async def invoice(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[bytes]:
    actor = _customer(request, shop)
    core = core_of(request)
    data = await run(core.invoice_pdf, actor, order_id)
    number = (await run(core.get_order, actor, order_id)).number
    return Response(data, media_type="application/pdf", headers={
        "content-disposition": f'attachment; filename="invoice-{number}.pdf"'})


# -- signed links from mails ------------------------------------------------------------


@get("/offers/{token:str}")
async def offer(request: AnyRequest, shop: PathStr, token: PathStr) -> Response[str]:
    """The firm offer a mail links to: the link is the proof, no sign-in needed."""
    if not _is_htmx(request):
        return page(request, shop, "")
    core = core_of(request)
    found = await run(core.open_offer_link, token)
    if found.shop_id != shop:
        raise NotFound("no such offer")
    target = core.open_link(f"/offers/{token}")
    view = await run(order_view, core, target.actor, found.id, False)
    return page(request, shop, "widget/order.html", view=view, message="",
                States=PaymentPageState, token_link=token)


@post("/offers/{token:str}/accept")
async def accept_link(request: AnyRequest, shop: PathStr, token: PathStr) -> Response[str]:
    core = core_of(request)
    accepted = await run(core.accept_offer_link, token)
    if accepted.shop_id != shop:
        raise NotFound("no such offer")
    actor = caller(request, shop)
    if actor is None:
        return _sign_in_page(request, shop, message="Thank you: your order is placed. Sign in "
                             "to pay it or download the invoice.",
                             next_url=f"/w/{shop}/orders/{accepted.id}")
    return await _order_page(request, shop, actor, accepted.id,
                             push=f"/w/{shop}/orders/{accepted.id}",
                             message="Thank you: your order is placed.")


@get("/pay/{token:str}")
async def pay_link(request: AnyRequest, shop: PathStr, token: PathStr) -> Response[str]:
    """The "review and pay" page a mail links to (PO payment due)."""
    if not _is_htmx(request):
        return page(request, shop, "")
    core = core_of(request)
    target = core.open_link(f"/pay/{token}")
    view = await run(order_view, core, target.actor, target.order_id, False)
    if view.order.shop_id != shop:
        raise NotFound("no such order")
    return page(request, shop, "widget/order.html", view=view, message="",
                States=PaymentPageState, token_link=None, pay_token=token)


@post("/pay/{token:str}")
async def pay_with_link(request: AnyRequest, shop: PathStr, token: PathStr) -> Response[str]:
    core = core_of(request)
    target = core.open_link(f"/pay/{token}")
    checkout = await run(core.start_checkout, target.actor, target.order_id)
    return _to_gateway(checkout.url, f"/w/{shop}/pay/{token}")


@get("/embed.js", media_type="text/javascript")
async def embed(request: AnyRequest, shop: PathStr) -> Response[str]:
    """The loader a shop's site includes: it injects the widget's iframe and sizes it."""
    core = core_of(request)
    core.get_shop(Actor.visitor(shop))
    origin = f"{request.url.scheme}://{request.url.netloc}"
    script = render("widget/embed.js", origin=origin, shop=shop)
    return Response(script, media_type="text/javascript; charset=utf-8",
                    headers={"cache-control": "public, max-age=300"})


def router() -> Router:
    return Router(
        path="/w/{shop:str}",
        route_handlers=[
            home, sign_in, sign_up, sign_in_link, link_page, confirm_page, redeem_link, sign_out,
            orders, order, add_part, update_line, change_units, remove_line, line_model,
            shipping, billing, place, submit, accept, request_changes, cancel, provide_po, pay,
            invoice, offer, accept_link, pay_link, pay_with_link, embed,
        ],
        include_in_schema=False,
        exception_handlers=PAGE_EXCEPTION_HANDLERS,
    )


__all__ = ["Form", "router"]
