"""The back office: shop staff run orders at ``/admin/{shop}/...``.

Staff sign in with a session cookie (HttpOnly, SameSite=Lax), the same one
the JSON API takes. Every form that changes something carries the session's
CSRF token in a hidden field (or htmx sends it as ``X-CSRF-Token``); forms
post and redirect, so the pages work without JavaScript.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import attrs
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Redirect

from fabcore.app.catalog_toml import catalog_to_toml
from fabcore.app.catalogs import parse_catalog
from fabcore.app.storefront import OrderSearch
from fabcore.domain.accounts import Role
from fabcore.domain.actor import Actor, ActorKind
from fabcore.domain.customer import BillingContact
from fabcore.domain.errors import (
    CatalogError,
    FabcoreError,
    InvalidInput,
    NotAuthenticated,
    PermissionDenied,
)
from fabcore.domain.money import Money
from fabcore.domain.order import PaymentPageState
from fabcore.domain.quote import Fee, LineSpec
from fabcore.domain.review import ReviewMode, ReviewPolicy
from fabcore.domain.status import OrderStatus, PaymentStatus
from fabcore.entrypoints.web import auth
from fabcore.entrypoints.web.pages.common import (
    Form,
    core_of,
    order_view,
    page_number,
    read_form,
    run,
    settings_of,
)
from fabcore.entrypoints.web.pages.render import PAGE_EXCEPTION_HANDLERS, html, message_of
from fabcore.entrypoints.web.settings import MiB
from fabcore.ports.outbox import OutboxStatus

AnyRequest = Request[Any, Any, Any]
PathStr = FromPath[str]
UNITS = ("mm", "cm", "inch", "m")
CSRF_FIELD = "csrf_token"
CUSTOMERS_PER_PAGE = 50


class SignInFirst(Exception):
    """No staff session: the browser goes to the sign-in page."""


def _session(request: AnyRequest, shop: str) -> tuple[Actor, str]:
    """The signed-in staff member of this shop and their session token."""
    token = request.cookies.get(settings_of(request).session_cookie)
    if not token:
        raise SignInFirst
    try:
        actor = core_of(request).authenticate(token).actor
    except NotAuthenticated:
        raise SignInFirst from None
    if actor.shop_id != shop or not actor.is_staff:
        raise SignInFirst
    return actor, token


def staff(request: AnyRequest, shop: str) -> Actor:
    return _session(request, shop)[0]


async def staff_form(request: AnyRequest, shop: str) -> tuple[Actor, Form]:
    """The staff member of a form post, once the form's CSRF token matched the session."""
    actor, token = _session(request, shop)
    form = await read_form(request)
    auth.check_csrf(form.get(CSRF_FIELD) or request.headers.get(auth.CSRF_HEADER, ""), token)
    return actor, form


def _sign_in_first(request: AnyRequest, exc: Exception) -> Response[Any]:
    shop = request.path_params.get("shop", "")
    target = f"/admin/{shop}/sign-in?{urlencode({'next': request.url.path})}"
    if request.headers.get("hx-request") == "true":
        return Response("", status_code=200, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


def view(request: AnyRequest, shop: str, template: str, *, status: int = 200,
         **context: Any) -> Response[str]:
    """A back-office page for the signed-in staff member (the layout needs the CSRF token)."""
    actor, token = _session(request, shop)
    core = core_of(request)
    return html(template, status=status, shop=core.get_shop(actor), me=actor,
                csrf=auth.csrf_token(token), base=f"/admin/{shop}", units=UNITS,
                path=request.url.path, **context)


def back(url: str, notice: str = "") -> Redirect:
    if notice:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode({'notice': notice})}"
    return Redirect(url, status_code=303)


# -- signing in ---------------------------------------------------------------------------


@get("/sign-in")
async def sign_in_page(request: AnyRequest, shop: PathStr) -> Response[str]:
    core = core_of(request)
    return html("admin/sign_in.html", shop=core.get_shop(Actor.visitor(shop)),
                next_url=request.query_params.get("next", ""), message="")


def _next(shop: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"/admin/{shop}/"):
        return f"/admin/{shop}/orders"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _with_session(request: AnyRequest, target: str, token: str, max_age: int) -> Redirect:
    web = settings_of(request)
    return Redirect(target, status_code=303, cookies=[
        Cookie(key=web.session_cookie, value=token, max_age=max_age, httponly=True,
               secure=web.secure_cookies, samesite="lax", path="/"),
        Cookie(key=web.csrf_cookie, value=auth.csrf_token(token), max_age=max_age,
               httponly=False, secure=web.secure_cookies, samesite="lax", path="/"),
    ])


@post("/sign-in")
async def sign_in(request: AnyRequest, shop: PathStr) -> Response[Any]:
    form = await read_form(request)
    core = core_of(request)
    try:
        signed = await run(core.sign_in, shop, form.get("email"), form.get("password"),
                           auth.network_address(request))
    except FabcoreError as exc:
        return html("admin/sign_in.html", status=401, shop=core.get_shop(Actor.visitor(shop)),
                    next_url=form.get("next"), message=message_of(exc))
    if not signed.actor.is_staff:
        await run(core.sign_out, signed.token)
        return html("admin/sign_in.html", status=403, shop=core.get_shop(Actor.visitor(shop)),
                    next_url=form.get("next"),
                    message="This account is a customer account: the back office is for the "
                            "shop's staff.")
    age = int((signed.expires_at - core.clock.now()).total_seconds())
    return _with_session(request, _next(shop, form.get("next")), signed.token, age)


@get("/invitation/{token:str}")
async def invitation_page(request: AnyRequest, shop: PathStr, token: PathStr) -> Response[str]:
    core = core_of(request)
    return html("admin/invitation.html", shop=core.get_shop(Actor.visitor(shop)), token=token,
                message="")


@post("/invitation/{token:str}")
async def accept_invitation(request: AnyRequest, shop: PathStr, token: PathStr) -> Response[Any]:
    form = await read_form(request)
    core = core_of(request)
    signed = await run(core.accept_invitation, token, form.get("password"))
    age = int((signed.expires_at - core.clock.now()).total_seconds())
    return _with_session(request, f"/admin/{shop}/orders", signed.token, age)


@post("/sign-out")
async def sign_out(request: AnyRequest, shop: PathStr) -> Response[Any]:
    _, token = _session(request, shop)
    await staff_form(request, shop)
    await run(core_of(request).sign_out, token)
    web = settings_of(request)
    return Redirect(f"/admin/{shop}/sign-in", status_code=303, cookies=[
        Cookie(key=web.session_cookie, value="", max_age=0, httponly=True,
               secure=web.secure_cookies, samesite="lax", path="/"),
        Cookie(key=web.csrf_cookie, value="", max_age=0, secure=web.secure_cookies,
               samesite="lax", path="/"),
    ])


@get("/")
async def home(request: AnyRequest, shop: PathStr) -> Redirect:
    staff(request, shop)
    return Redirect(f"/admin/{shop}/orders", status_code=303)


# -- orders --------------------------------------------------------------------------------


def _search(request: AnyRequest) -> OrderSearch:
    query = request.query_params

    def day(name: str) -> date | None:
        raw = query.get(name, "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(f"{name.replace('_', ' ')} must be a date like 2026-12-01") \
                from None

    status = query.get("status") or None
    payment = query.get("payment") or None
    try:
        page = int(query.get("page") or 1)
    except ValueError:
        page = 1
    try:
        return OrderSearch(
            status=OrderStatus(status) if status else None,
            payment=PaymentStatus(payment) if payment else None,
            text=query.get("q", ""), created_from=day("from"), created_to=day("to"),
            page=max(page, 1),
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


@get("/orders")
async def orders(request: AnyRequest, shop: PathStr) -> Response[str]:
    actor = staff(request, shop)
    search = _search(request)
    found = await run(core_of(request).search_orders, actor, search)
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "notice")}
    return view(request, shop, "admin/orders.html", found=found, search=search,
                statuses=list(OrderStatus), payments=list(PaymentStatus),
                query=params, urlencode=urlencode,
                notice=request.query_params.get("notice", ""))


@get("/orders.csv")
async def orders_csv(request: AnyRequest, shop: PathStr) -> Response[str]:
    actor = staff(request, shop)
    text = await run(core_of(request).orders_csv, actor, _search(request))
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{shop}-orders.csv"',
        "cache-control": "no-store"})


@get("/orders/{order_id:str}")
async def order(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[str]:
    actor = staff(request, shop)
    core = core_of(request)
    found = await run(order_view, core, actor, order_id, True)
    options = await run(core.reachable_statuses, actor, order_id)
    mails = await run(core.list_outbox, actor, None, order_id)
    catalog = core.catalog(actor)
    current = found.order.price(catalog) if found.order.agreed_quote is not None else None
    customer = (await run(core.get_customer, actor, found.order.customer_id)
                if found.order.customer_id else None)
    customers = await run(core.list_customers, actor) if found.order.customer_id is None else []
    people = {member.id: member.name for member in await run(core.list_staff, actor)}
    if customer is not None:
        people[customer.id] = customer.name
    return view(request, shop, "admin/order.html", view=found, options=options, mails=mails,
                current=current, customer=customer, customers=customers,
                who=partial(_who, people),
                States=PaymentPageState, notice=request.query_params.get("notice", ""))


def _who(people: dict[str, str], actor: Actor) -> str:
    """Who made a change, as the history names them: "Olga Owner (staff)"."""
    if actor.kind is ActorKind.SYSTEM:
        return "the shop's automation"
    name = people.get(actor.id)
    return f"{name} ({actor.kind.value})" if name else actor.kind.value


def _order_url(shop: str, order_id: str) -> str:
    return f"/admin/{shop}/orders/{quote(order_id, safe='')}"


@post("/orders/{order_id:str}/status")
async def change_status(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Redirect:
    """The "Change" button: to the chosen status, with the fields it needs."""
    actor, form = await staff_form(request, shop)
    target = form.get("status")
    fields = {name: values[0].strip() for name, values in form.fields.items()
              if name.startswith("f_") and values and values[0].strip()}
    changed = await run(core_of(request).change_status, actor, order_id, target,
                        {name[2:]: value for name, value in fields.items()},
                        form.optional("note"))
    return back(_order_url(shop, order_id), f"Status changed to {changed.status.label}.")


@post("/orders/{order_id:str}/firm-offer")
async def send_firm_offer(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Redirect:
    actor, form = await staff_form(request, shop)

    days = form.optional("valid_days")
    valid_for = timedelta(days=form.integer("valid_days")) if days else None
    await run(core_of(request).send_firm_offer, actor, order_id, valid_for, form.optional("note"))
    return back(_order_url(shop, order_id), "The firm offer was sent.")


def _money(raw: str, currency: str, what: str) -> Money:
    try:
        return Money(Decimal(raw.replace(",", "")), currency)
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{what} must be an amount like 12.50") from None


@post("/orders/{order_id:str}/lines/{line_id:str}")
async def edit_line(request: AnyRequest, shop: PathStr, order_id: PathStr,
                    line_id: PathStr) -> Redirect:
    """Edit a line in review: option, quantity, finishes, color, unit price and fees."""
    actor, form = await staff_form(request, shop)
    core = core_of(request)
    order_now = await run(core.get_order, actor, order_id)
    line = order_now.line(line_id)
    process, _, material = form.get("option").partition(":")
    same = (process, material) == (line.spec.process, line.spec.material)
    spec = LineSpec(process=process, material=material,
                    finishes=tuple(form.all("finish")) if same else (),
                    color=form.optional("color") if same else None,
                    quantity=form.integer("quantity", 1))
    if spec != line.spec:
        await run(core.update_line, actor, order_id, line_id, spec=spec)
    price = form.get("unit_price")
    fees = tuple(Fee(name, _money(amount, order_now.currency, f"the fee {name!r}"))
                 for name, amount in zip(form.fields.get("fee_name", []),
                                         form.fields.get("fee_amount", []), strict=False)
                 if name.strip() and amount.strip())
    unit_price = _money(price, order_now.currency, "the unit price") if price else None
    if unit_price != line.firm_unit_price or fees != line.line_fees:
        await run(core.set_firm_price, actor, order_id, line_id, unit_price, fees)
    return back(_order_url(shop, order_id), "The line was saved.")


@post("/orders/{order_id:str}/lines/{line_id:str}/remove")
async def remove_line(request: AnyRequest, shop: PathStr, order_id: PathStr,
                      line_id: PathStr) -> Redirect:
    actor, _ = await staff_form(request, shop)
    await run(core_of(request).remove_line, actor, order_id, line_id)
    return back(_order_url(shop, order_id), "The line was removed.")


@get("/orders/{order_id:str}/lines/{line_id:str}/model")
async def line_model(request: AnyRequest, shop: PathStr, order_id: PathStr,
                     line_id: PathStr) -> Response[bytes]:
    actor = staff(request, shop)
    name, data = await run(core_of(request).line_model, actor, order_id, line_id)
    return Response(data, media_type="application/octet-stream", headers={
        "cache-control": "private, max-age=3600",
        "content-disposition": f'attachment; filename="{quote(name)}"'})


@post("/orders/{order_id:str}/parts")
async def add_part(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[Any]:
    """Add an uploaded model to an order (the quotation tool, or a line in review)."""
    actor, form = await staff_form(request, shop)
    core = core_of(request)
    units = form.get("units", "mm")
    model = await run(core.stored_model, actor, form.get("sha256"),
                      form.get("filename") or "model", units)
    await run(core.add_part, actor, order_id, model, units)
    return Response("", status_code=200,
                    headers={"HX-Redirect": _order_url(shop, order_id)})


@post("/orders/{order_id:str}/shipping")
async def shipping(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Redirect:
    actor, form = await staff_form(request, shop)
    await run(core_of(request).set_shipping, actor, order_id, form.get("method"),
              form.address("ship"))
    return back(_order_url(shop, order_id), "Shipping saved.")


@post("/orders/{order_id:str}/customer")
async def set_customer(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Redirect:
    actor, form = await staff_form(request, shop)
    await run(core_of(request).set_customer, actor, order_id, form.get("customer_id"))
    return back(_order_url(shop, order_id), "Customer set.")


@post("/orders/{order_id:str}/payments")
async def record_payment(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Redirect:
    actor, form = await staff_form(request, shop)
    core = core_of(request)
    currency = (await run(core.get_order, actor, order_id)).currency
    await run(core.record_payment, actor, order_id, form.get("reference"),
              _money(form.get("amount"), currency, "the amount"), form.optional("note"))
    return back(_order_url(shop, order_id), "Payment recorded.")


@post("/orders/{order_id:str}/unpaid")
async def mark_unpaid(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Redirect:
    actor, form = await staff_form(request, shop)
    await run(core_of(request).mark_unpaid, actor, order_id, form.optional("note"))
    return back(_order_url(shop, order_id), "Marked unpaid.")


@get("/orders/{order_id:str}/invoice.pdf")
async def invoice(request: AnyRequest, shop: PathStr, order_id: PathStr) -> Response[bytes]:
    actor = staff(request, shop)
    core = core_of(request)
    data = await run(core.invoice_pdf, actor, order_id)
    number = (await run(core.get_order, actor, order_id)).number
    return Response(data, media_type="application/pdf", headers={
        "content-disposition": f'attachment; filename="invoice-{number}.pdf"'})


# -- the quotation tool --------------------------------------------------------------------


@get("/quotes/new")
async def new_quote(request: AnyRequest, shop: PathStr) -> Response[str]:
    actor = staff(request, shop)
    customers = await run(core_of(request).list_customers, actor)
    drafts = await run(core_of(request).search_orders, actor,
                       OrderSearch(status=OrderStatus.DRAFT, per_page=50))
    return view(request, shop, "admin/quote_new.html", customers=customers, drafts=drafts)


@post("/quotes")
async def start_quote(request: AnyRequest, shop: PathStr) -> Redirect:
    """Start a draft for a chosen customer, or for a customer created here."""
    actor, form = await staff_form(request, shop)
    core = core_of(request)
    customer_id = form.get("customer_id")
    if not customer_id:
        customer = await run(core.register_customer, actor, name=form.get("name"),
                             email=form.get("email"), company=form.optional("company"),
                             billing_address=form.address("billing", form.get("name")))
        customer_id = customer.id
    draft = await run(core.create_order, actor, customer_id)
    return back(_order_url(shop, draft.id), "Draft started: add the parts.")


# -- customers, catalog, settings, staff, outbox --------------------------------------------


@get("/customers")
async def customers(request: AnyRequest, shop: PathStr) -> Response[str]:
    actor = staff(request, shop)
    page = page_number(request)
    found = await run(core_of(request).list_customers, actor, limit=CUSTOMERS_PER_PAGE + 1,
                      offset=(page - 1) * CUSTOMERS_PER_PAGE)
    return view(request, shop, "admin/customers.html", customers=found[:CUSTOMERS_PER_PAGE],
                page=page, more=len(found) > CUSTOMERS_PER_PAGE,
                notice=request.query_params.get("notice", ""))


@post("/customers")
async def add_customer(request: AnyRequest, shop: PathStr) -> Redirect:
    actor, form = await staff_form(request, shop)
    contact = (BillingContact(form.get("billing_contact_name") or form.get("name"),
                              form.get("billing_contact_email"))
               if form.get("billing_contact_email") else None)
    await run(core_of(request).register_customer, actor, name=form.get("name"),
              email=form.get("email"), company=form.optional("company"),
              tax_id=form.optional("tax_id"),
              billing_address=form.address("billing", form.get("name")),
              billing_contact=contact)
    return back(f"/admin/{shop}/customers", "Customer added.")


@get("/catalog")
async def catalog(request: AnyRequest, shop: PathStr) -> Response[str]:
    actor = staff(request, shop)
    found = core_of(request).catalog(actor)
    return view(request, shop, "admin/catalog.html", catalog=found, error=None, text="",
                lines=[], notice=request.query_params.get("notice", ""))


@get("/catalog.toml")
async def catalog_toml(request: AnyRequest, shop: PathStr) -> Response[str]:
    """The current catalog as a TOML file, ready to edit and upload again."""
    actor = staff(request, shop)
    text = catalog_to_toml(core_of(request).catalog(actor))
    return Response(text, media_type="application/toml; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{shop}-catalog.toml"',
        "cache-control": "no-store"})


@post("/catalog", request_max_body_size=2 * MiB)
async def upload_catalog(request: AnyRequest, shop: PathStr) -> Response[Any]:
    """Replace the catalog with an uploaded TOML file; errors are shown at their key."""
    actor, form = await staff_form(request, shop)
    upload = form.files.get("file")
    raw = (await upload.read()) if upload is not None else form.get("text").encode()
    core = core_of(request)
    try:
        text = raw.decode("utf-8")
        parsed = await run(parse_catalog, text, "the uploaded catalog")
        await run(core.update_catalog, actor, parsed)
    except UnicodeDecodeError:
        return view(request, shop, "admin/catalog.html", status=422,
                    catalog=core.catalog(actor), error=("", "the file is not UTF-8 text"),
                    text="", lines=[], notice="")
    except CatalogError as exc:
        return view(request, shop, "admin/catalog.html", status=422,
                    catalog=core.catalog(actor), error=(exc.key, exc.reason), text=text,
                    lines=_marked(text, exc.key), notice="")
    return back(f"/admin/{shop}/catalog", "The catalog was replaced.")


def _marked(text: str, key: str) -> list[tuple[int, str, bool]]:
    """The TOML's lines around the ones that define ``key`` (or its table), those marked."""
    parts = [p for p in key.replace("[", ".").replace("]", "").split(".") if p]
    marked: set[int] = set()
    lines = text.splitlines()
    table = ".".join(p for p in parts[:-1] if not p.isdigit())
    leaf = parts[-1] if parts else ""
    current = ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[]").strip()
            if parts and current == ".".join(p for p in parts if not p.isdigit()):
                marked.add(number)
        elif leaf and stripped.split("=")[0].strip() == leaf and (
                not table or current == table or current.startswith(table)):
            marked.add(number)
    near = {n for mark in marked for n in range(mark - 4, mark + 5)}
    return [(number, line, number in marked) for number, line in enumerate(lines, 1)
            if number in near]


@get("/settings")
async def settings_page(request: AnyRequest, shop: PathStr) -> Response[str]:
    actor = staff(request, shop)
    return view(request, shop, "admin/settings.html", settings=core_of(request).get_shop(
        actor).settings, modes=list(ReviewMode), notice=request.query_params.get("notice", ""),
                widget_base=f"{request.url.scheme}://{request.url.netloc}")


@post("/settings")
async def save_settings(request: AnyRequest, shop: PathStr) -> Redirect:
    actor, form = await staff_form(request, shop)
    core = core_of(request)
    current = core.get_shop(actor).settings
    currency = core.catalog(actor).currency
    total = form.get("max_order_total")
    quantity = form.get("max_quantity")
    settings = attrs.evolve(
        current,
        review=ReviewPolicy(
            mode=ReviewMode(form.get("mode") or "instant"),
            max_order_total=_money(total, currency, "the order total threshold")
            if total else None,
            max_quantity=form.integer("max_quantity") if quantity else None,
            dfm_warnings_require_review=form.get("dfm_warnings") == "on",
        ),
        payment_before_production=form.get("payment_before_production") == "on",
        offer_validity_days=form.integer("offer_validity_days", current.offer_validity_days),
        widget_origins=tuple(o for o in form.get("widget_origins").split() if o),
    )
    await run(core.update_shop_settings, actor, settings)
    return back(f"/admin/{shop}/settings", "Settings saved.")


@get("/staff")
async def staff_page(request: AnyRequest, shop: PathStr) -> Response[str]:
    actor = staff(request, shop)
    core = core_of(request)
    if not actor.is_owner:
        raise PermissionDenied("only the shop's owners manage staff and API keys")
    members = await run(core.list_staff, actor)
    keys = await run(core.list_api_keys, actor)
    return view(request, shop, "admin/staff.html", members=members, keys=keys,
                new_key=None, roles=[Role.STAFF, Role.OWNER],
                notice=request.query_params.get("notice", ""))


@post("/staff")
async def invite(request: AnyRequest, shop: PathStr) -> Redirect:
    actor, form = await staff_form(request, shop)
    await run(core_of(request).invite_staff, actor, email=form.get("email"),
              name=form.get("name"), role=Role(form.get("role") or "staff"))
    return back(f"/admin/{shop}/staff", "Invitation sent.")


@post("/staff/{account_id:str}/disable")
async def disable(request: AnyRequest, shop: PathStr, account_id: PathStr) -> Redirect:
    actor, _ = await staff_form(request, shop)
    await run(core_of(request).disable_staff, actor, account_id)
    return back(f"/admin/{shop}/staff", "Account disabled.")


@post("/api-keys")
async def create_key(request: AnyRequest, shop: PathStr) -> Response[str]:
    actor, form = await staff_form(request, shop)
    core = core_of(request)
    issued = await run(core.create_api_key, actor, form.get("name"))
    members = await run(core.list_staff, actor)
    keys = await run(core.list_api_keys, actor)
    return view(request, shop, "admin/staff.html", members=members, keys=keys,
                new_key=issued.key, roles=[Role.STAFF, Role.OWNER], notice="")


@post("/api-keys/{digest:str}/revoke")
async def revoke_key(request: AnyRequest, shop: PathStr, digest: PathStr) -> Redirect:
    actor, _ = await staff_form(request, shop)
    await run(core_of(request).revoke_api_key, actor, digest)
    return back(f"/admin/{shop}/staff", "API key revoked.")


@get("/outbox")
async def outbox(request: AnyRequest, shop: PathStr) -> Response[str]:
    actor = staff(request, shop)
    raw = request.query_params.get("status") or "failed"
    status = OutboxStatus(raw) if raw in {s.value for s in OutboxStatus} else None
    messages = await run(core_of(request).list_outbox, actor, status)
    return view(request, shop, "admin/outbox.html", messages=list(reversed(messages))[:200],
                box_status=raw, statuses=list(OutboxStatus),
                notice=request.query_params.get("notice", ""))


@post("/outbox/{message_id:str}/retry")
async def retry(request: AnyRequest, shop: PathStr, message_id: PathStr) -> Redirect:
    actor, _ = await staff_form(request, shop)
    await run(core_of(request).retry_mail, actor, message_id)
    return back(f"/admin/{shop}/outbox", "The mail is queued again.")


def router() -> Router:
    return Router(
        path="/admin/{shop:str}",
        route_handlers=[
            sign_in_page, sign_in, invitation_page, accept_invitation, sign_out, home, orders,
            orders_csv, order, change_status, send_firm_offer, edit_line, remove_line,
            line_model, add_part, shipping, set_customer, record_payment, mark_unpaid, invoice,
            new_quote, start_quote, customers, add_customer, catalog, catalog_toml,
            upload_catalog, settings_page, save_settings, staff_page, invite, disable,
            create_key, revoke_key, outbox, retry,
        ],
        include_in_schema=False,
        exception_handlers={**PAGE_EXCEPTION_HANDLERS, SignInFirst: _sign_in_first},
    )
