"""Orders: building them, moving them through their statuses, paying for them, mailed links."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Annotated, Any

import anyio.to_thread
import attrs
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.params import (
    FromPath,
    HeaderParameter,
    JSONBody,
    MultipartBody,
    QueryParameter,
)
from litestar.status_codes import HTTP_204_NO_CONTENT

from fabcore.app.lifecycle import parse_status
from fabcore.app.pauses import pause
from fabcore.domain.errors import InvalidInput
from fabcore.domain.money import Money
from fabcore.domain.notifications import LinkPurpose
from fabcore.domain.order import Order, StatusOption
from fabcore.domain.quote import Fee, LineSpec
from fabcore.domain.status import OrderStatus
from fabcore.entrypoints.web.api.common import (
    DEPENDENCIES,
    ActorDep,
    Core,
    PageLimit,
    PageOffset,
    documented,
    next_offset,
    order_out,
    quote_out,
    shop_actor,
)
from fabcore.entrypoints.web.dto import (
    AcceptOfferIn,
    AcceptPoIn,
    AddressIn,
    CheckoutOut,
    FieldOut,
    FirmPriceIn,
    LineIn,
    LinePatch,
    MessageIn,
    NoteIn,
    OfferIn,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderQuoteOut,
    OrderSummaryOut,
    PaymentIn,
    PaymentOutcomeOut,
    PaymentPageOut,
    ReasonIn,
    ShippingIn,
    SpecIn,
    StatusChangeIn,
    StatusOptionOut,
    money_out,
)
from fabcore.entrypoints.web.settings import MiB

MAX_PO_DOCUMENT = 20 * MiB

_StatusFilter = Annotated[
    str | None, QueryParameter(pattern="^(" + "|".join(s.value for s in OrderStatus) + ")$")
]


def _spec(data: JSONBody[SpecIn]) -> LineSpec:
    return LineSpec(data.process, data.material, tuple(data.finishes), data.color, data.quantity)


@get("/shops/{shop:str}/orders", sync_to_thread=True)
def list_orders(
    shop: FromPath[str],
    actor: ActorDep,
    core: Core,
    status: _StatusFilter = None,
    customer_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> OrderPage:
    """Staff list the shop's orders, a customer their own; newest first, a page at a time."""
    wanted = OrderStatus(status) if status else None
    found = core.list_order_summaries(
        shop_actor(actor, shop), wanted, customer_id, limit=limit + 1, offset=offset
    )
    page = found[:limit]
    items = [
        OrderSummaryOut(
            s.id,
            s.number,
            s.status.value,
            s.payment_status.value,
            s.customer_id,
            s.created_at,
            money_out(s.total),
            s.lines,
        )
        for s in page
    ]
    return OrderPage(items, limit, offset, next_offset(len(found), limit, offset))


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", min_length=1, max_length=128, required=False,
              description="The client's key for this change: a retry with it does it once"),
]


@post("/shops/{shop:str}/orders", sync_to_thread=True)
def create_order(
    shop: FromPath[str], data: JSONBody[OrderIn], actor: ActorDep, core: Core,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    """Start a draft: a customer for themselves, staff for a customer (or none yet).

    Send an ``Idempotency-Key`` (any unique string per draft) to retry
    safely: the same caller with the same key gets the same draft back.
    """
    order = core.create_order(shop_actor(actor, shop), data.customer_id, key=idempotency_key)
    pause("web.after_commit")
    return order_out(order)


@get("/shops/{shop:str}/orders/{order_id:str}", sync_to_thread=True)
def get_order(
    shop: FromPath[str], order_id: FromPath[str], actor: ActorDep, core: Core
) -> OrderOut:
    return order_out(core.get_order(shop_actor(actor, shop), order_id))


def _changed(core: Core, actor: ActorDep, order_id: FromPath[str]) -> OrderOut:
    return order_out(core.get_order(actor, order_id))


@post("/shops/{shop:str}/orders/{order_id:str}/lines", sync_to_thread=True)
def add_line(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[LineIn],
    actor: ActorDep,
    core: Core,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    """Add an uploaded model as a line, priced instantly (upload it first).

    With an ``Idempotency-Key``, a retry with the same key adds no second line.
    """
    who = shop_actor(actor, shop)
    model = core.stored_model(who, data.model_sha256, data.filename, data.units)
    core.add_line(who, order_id, model, _spec(data.spec), data.notes, key=idempotency_key)
    return _changed(core, who, order_id)


@patch("/shops/{shop:str}/orders/{order_id:str}/lines/{line_id:str}", sync_to_thread=True)
def update_line(
    shop: FromPath[str],
    order_id: FromPath[str],
    line_id: FromPath[str],
    data: JSONBody[LinePatch],
    actor: ActorDep,
    core: Core,
) -> OrderOut:
    """Change what was picked for a part (re-priced) or its notes."""
    who = shop_actor(actor, shop)
    core.update_line(
        who, order_id, line_id, spec=_spec(data.spec) if data.spec else None, notes=data.notes
    )
    return _changed(core, who, order_id)


@delete(
    "/shops/{shop:str}/orders/{order_id:str}/lines/{line_id:str}",
    status_code=HTTP_204_NO_CONTENT,
    sync_to_thread=True,
)
def remove_line(
    shop: FromPath[str],
    order_id: FromPath[str],
    line_id: FromPath[str],
    actor: ActorDep,
    core: Core,
) -> None:
    core.remove_line(shop_actor(actor, shop), order_id, line_id)


@put("/shops/{shop:str}/orders/{order_id:str}/shipping", sync_to_thread=True)
def set_shipping(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[ShippingIn],
    actor: ActorDep,
    core: Core,
) -> OrderOut:
    """Choose how the parts travel; every method but pickup needs an address."""
    who = shop_actor(actor, shop)
    core.set_shipping(
        who, order_id, data.method, data.address.to_domain() if data.address else None
    )
    return _changed(core, who, order_id)


@put("/shops/{shop:str}/orders/{order_id:str}/billing-address", sync_to_thread=True)
def set_billing_address(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[AddressIn],
    actor: ActorDep,
    core: Core,
) -> OrderOut:
    """The order's billing address (a new draft takes the customer's)."""
    who = shop_actor(actor, shop)
    core.set_billing_address(who, order_id, data.to_domain())
    return _changed(core, who, order_id)


@put("/shops/{shop:str}/orders/{order_id:str}/customer/{customer_id:str}", sync_to_thread=True)
def set_customer(
    shop: FromPath[str],
    order_id: FromPath[str],
    customer_id: FromPath[str],
    actor: ActorDep,
    core: Core,
) -> OrderOut:
    """Staff choose the customer of a quote made on their behalf."""
    who = shop_actor(actor, shop)
    core.set_customer(who, order_id, customer_id)
    return _changed(core, who, order_id)


@put("/shops/{shop:str}/orders/{order_id:str}/lines/{line_id:str}/firm-price", sync_to_thread=True)
def set_firm_price(
    shop: FromPath[str],
    order_id: FromPath[str],
    line_id: FromPath[str],
    data: JSONBody[FirmPriceIn],
    actor: ActorDep,
    core: Core,
) -> OrderOut:
    """Staff price a line in review (and its one-off fees); null returns to the instant price."""
    who = shop_actor(actor, shop)
    currency = core.get_order(who, order_id).currency
    unit = Money(data.unit_price, currency) if data.unit_price is not None else None
    fees = [Fee(fee.name, Money(fee.amount, currency)) for fee in data.fees]
    core.set_firm_price(who, order_id, line_id, unit, fees)
    return _changed(core, who, order_id)


@get("/shops/{shop:str}/orders/{order_id:str}/quote", sync_to_thread=True)
def get_quote(
    shop: FromPath[str], order_id: FromPath[str], actor: ActorDep, core: Core
) -> OrderQuoteOut:
    """What the order costs: the agreed breakdown once placed or offered, else today's price."""
    return quote_out(core.quote(shop_actor(actor, shop), order_id))


@get("/shops/{shop:str}/orders/{order_id:str}/review-reasons", sync_to_thread=True)
def review_reasons(
    shop: FromPath[str], order_id: FromPath[str], actor: ActorDep, core: Core
) -> list[str]:
    """Why the order must be reviewed before it can be placed (empty: it may be placed)."""
    return list(core.review_reasons(shop_actor(actor, shop), order_id))


# -- moves -------------------------------------------------------------------------


def _move(
    core: Core, actor: ActorDep, shop: FromPath[str], order_id: FromPath[str], run: Any
) -> OrderOut:
    who = shop_actor(actor, shop)
    order: Order = run(core, who, order_id)
    pause("web.after_commit")
    return order_out(order)


@post("/shops/{shop:str}/orders/{order_id:str}/place", status_code=200, sync_to_thread=True)
def place(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[NoteIn],
    actor: ActorDep,
    core: Core,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    """Place the order (409 with the reasons when the shop's review policy asks for review).

    With an ``Idempotency-Key``, a retry with the same key answers the order
    it placed instead of 409 (already placed).
    """
    return _move(core, actor, shop, order_id,
                 lambda c, w, o: c.place(w, o, data.note, key=idempotency_key))


@post(
    "/shops/{shop:str}/orders/{order_id:str}/submit-for-review",
    status_code=200,
    sync_to_thread=True,
)
def submit_for_review(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[NoteIn],
    actor: ActorDep,
    core: Core,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    """Ask the shop for a firm offer (an ``Idempotency-Key`` makes a retry safe)."""
    return _move(core, actor, shop, order_id,
                 lambda c, w, o: c.submit_for_review(w, o, data.note, key=idempotency_key))


@post(
    "/shops/{shop:str}/orders/{order_id:str}/send-firm-offer", status_code=200, sync_to_thread=True
)
def send_firm_offer(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[OfferIn],
    actor: ActorDep,
    core: Core,
) -> OrderOut:
    """Staff send the firm offer; it is valid ``valid_days`` or the shop's offer validity."""
    days = None if data.valid_days is None else timedelta(days=data.valid_days)
    return _move(
        core, actor, shop, order_id, lambda c, w, o: c.send_firm_offer(w, o, days, data.note)
    )


@post("/shops/{shop:str}/orders/{order_id:str}/accept-offer", status_code=200, sync_to_thread=True)
def accept_offer(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[AcceptOfferIn],
    actor: ActorDep,
    core: Core,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    """Accept the firm offer's revision (an ``Idempotency-Key`` makes a retry safe)."""
    return _move(core, actor, shop, order_id,
                 lambda c, w, o: c.accept_offer(w, o, data.revision, key=idempotency_key))


@post(
    "/shops/{shop:str}/orders/{order_id:str}/request-changes", status_code=200, sync_to_thread=True
)
def request_changes(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[MessageIn],
    actor: ActorDep,
    core: Core,
) -> OrderOut:
    return _move(core, actor, shop, order_id, lambda c, w, o: c.request_changes(w, o, data.message))


@attrs.define
class PurchaseOrderUpload:
    po_number: str
    document: UploadFile | None = None


@post(
    "/shops/{shop:str}/orders/{order_id:str}/purchase-order",
    status_code=200,
    request_max_body_size=MAX_PO_DOCUMENT + MiB,
)
async def provide_po(
    shop: FromPath[str],
    order_id: FromPath[str],
    actor: ActorDep,
    core: Core,
    data: MultipartBody[PurchaseOrderUpload],
) -> OrderOut:
    """Give the purchase order: its number and, optionally, the document (PDF, image)."""
    who = shop_actor(actor, shop)
    document: bytes | None = None
    name = "purchase-order.pdf"
    if data.document is not None:
        name = data.document.filename or name
        document = await data.document.read() or None
        await data.document.close()
    order = await anyio.to_thread.run_sync(
        partial(core.provide_po, who, order_id, data.po_number, document, name)
    )
    return order_out(order)


@post("/shops/{shop:str}/orders/{order_id:str}/accept-po", status_code=200, sync_to_thread=True)
def accept_po(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[AcceptPoIn],
    actor: ActorDep,
    core: Core,
) -> OrderOut:
    return _move(
        core, actor, shop, order_id, lambda c, w, o: c.accept_po(w, o, data.due_date, data.net_days)
    )


@post(
    "/shops/{shop:str}/orders/{order_id:str}/request-payment", status_code=200, sync_to_thread=True
)
def request_payment(
    shop: FromPath[str], order_id: FromPath[str], actor: ActorDep, core: Core
) -> OrderOut:
    return _move(core, actor, shop, order_id, lambda c, w, o: c.request_payment(w, o))


@post("/shops/{shop:str}/orders/{order_id:str}/cancel", status_code=200, sync_to_thread=True)
def cancel(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[ReasonIn],
    actor: ActorDep,
    core: Core,
) -> OrderOut:
    """Cancel: a customer before production, staff at any time before the end."""
    return _move(core, actor, shop, order_id, lambda c, w, o: c.cancel(w, o, data.reason))


def _option_out(option: StatusOption) -> StatusOptionOut:
    return StatusOptionOut(
        option.status.value,
        option.status.label,
        option.trigger.value,
        [FieldOut(f.name, f.label, f.kind, f.required, f.help) for f in option.fields],
    )


@get("/shops/{shop:str}/orders/{order_id:str}/reachable-statuses", sync_to_thread=True)
def reachable_statuses(
    shop: FromPath[str], order_id: FromPath[str], actor: ActorDep, core: Core
) -> list[StatusOptionOut]:
    """What the back office's "Change" menu offers: each status, its trigger and fields."""
    return [_option_out(o) for o in core.reachable_statuses(shop_actor(actor, shop), order_id)]


@post("/shops/{shop:str}/orders/{order_id:str}/status", status_code=200, sync_to_thread=True)
def change_status(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[StatusChangeIn],
    actor: ActorDep,
    core: Core,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    """Staff move the order to a status by the trigger that leads there (the "Change" button).

    With an ``Idempotency-Key``, a retry with the same key moves it once.
    """
    status = parse_status(data.status)
    return _move(
        core,
        actor,
        shop,
        order_id,
        lambda c, w, o: c.change_status(w, o, status, data.fields, data.note,
                                        key=idempotency_key),
    )


# -- payment ----------------------------------------------------------------------------


@get("/shops/{shop:str}/orders/{order_id:str}/payment-page", sync_to_thread=True)
def payment_page(
    shop: FromPath[str], order_id: FromPath[str], actor: ActorDep, core: Core
) -> PaymentPageOut:
    """What the customer's payment page shows: budget offer, firm offer, ready for payment, paid."""
    page = core.payment_page(shop_actor(actor, shop), order_id)
    return PaymentPageOut(
        page.order_id,
        page.number,
        page.state.value if page.state else None,
        page.state.label if page.state else None,
        money_out(page.total),
        page.can_pay,
    )


@post("/shops/{shop:str}/orders/{order_id:str}/checkout", status_code=200, sync_to_thread=True)
def checkout(
    shop: FromPath[str], order_id: FromPath[str], actor: ActorDep, core: Core
) -> CheckoutOut:
    """A hosted payment page for a placed, unpaid order (the same one when asked again)."""
    found = core.start_checkout(shop_actor(actor, shop), order_id)
    amount = money_out(found.amount)
    assert amount is not None
    return CheckoutOut(found.id, found.url, found.order_id, amount)


@post("/shops/{shop:str}/orders/{order_id:str}/payments", status_code=200, sync_to_thread=True)
def record_payment(
    shop: FromPath[str],
    order_id: FromPath[str],
    data: JSONBody[PaymentIn],
    actor: ActorDep,
    core: Core,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    """Staff record a payment made outside the gateway (transfer, cheque, paid PO).

    With an ``Idempotency-Key``, a retry with the same key records it once.
    """
    amount = Money(data.amount, data.currency)
    return _move(
        core,
        actor,
        shop,
        order_id,
        lambda c, w, o: c.record_payment(w, o, data.reference, amount, data.note,
                                         key=idempotency_key),
    )


@delete("/shops/{shop:str}/orders/{order_id:str}/payments", status_code=200, sync_to_thread=True)
def mark_unpaid(
    shop: FromPath[str], order_id: FromPath[str], actor: ActorDep, core: Core
) -> OrderOut:
    """Staff undo a payment (refund, bounced transfer)."""
    return _move(core, actor, shop, order_id, lambda c, w, o: c.mark_unpaid(w, o))


@get(
    "/shops/{shop:str}/orders/{order_id:str}/invoice.pdf",
    sync_to_thread=True,
    media_type="application/pdf",
)
def invoice_pdf(
    shop: FromPath[str], order_id: FromPath[str], actor: ActorDep, core: Core
) -> Response[bytes]:
    """The invoice of a placed order as a PDF (issued under the shop's next number once)."""
    who = shop_actor(actor, shop)
    data = core.invoice_pdf(who, order_id)
    number = core.get_order(who, order_id).invoice
    name = number.number.replace("/", "-") if number is not None else "invoice"
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


# -- mailed links (no sign-in: the link is the proof) --------------------------------------


@get("/links/offers/{token:str}", sync_to_thread=True)
def open_offer(token: FromPath[str], core: Core) -> OrderOut:
    """The order a firm-offer link shows (400 when it is altered, expired or superseded)."""
    return order_out(core.open_offer_link(token))


@post("/links/offers/{token:str}/accept", status_code=200, sync_to_thread=True)
def accept_offer_link(token: FromPath[str], core: Core) -> OrderOut:
    """Accept the offer revision the link was mailed for."""
    return order_out(core.accept_offer_link(token))


@get("/links/pay/{token:str}", sync_to_thread=True)
def open_pay_link(token: FromPath[str], core: Core) -> PaymentPageOut:
    """The payment page a "review and pay" link shows."""
    page = core.open_pay_link(token)
    return PaymentPageOut(
        page.order_id,
        page.number,
        page.state.value if page.state else None,
        page.state.label if page.state else None,
        money_out(page.total),
        page.can_pay,
    )


@post("/links/pay/{token:str}/checkout", status_code=200, sync_to_thread=True)
def pay_link_checkout(token: FromPath[str], core: Core) -> CheckoutOut:
    """A hosted payment page for the order of a "review and pay" link."""
    target = core.open_link(f"/pay/{token}")
    if target.purpose is not LinkPurpose.PAY:
        raise InvalidInput("not a payment link")
    found = core.start_checkout(target.actor, target.order_id)
    amount = money_out(found.amount)
    assert amount is not None
    return CheckoutOut(found.id, found.url, found.order_id, amount)


@post("/payments/webhook", status_code=200)
async def payment_webhook(request: Request[Any, Any, Any], core: Core) -> PaymentOutcomeOut:
    """The payment gateway's notices (the raw body is what its signature covers).

    A repeated notice changes nothing; a forged or malformed one is refused
    (400) with nothing recorded.
    """
    payload = await request.body()
    headers = dict(request.headers)
    outcome = await anyio.to_thread.run_sync(partial(core.handle_payment_event, payload, headers))
    return PaymentOutcomeOut(outcome.order_id, outcome.applied, outcome.detail, outcome.flagged)


router = Router(
    path="/api/v1",
    route_handlers=documented(
        [
            list_orders,
            create_order,
            get_order,
            add_line,
            update_line,
            remove_line,
            set_shipping,
            set_billing_address,
            set_customer,
            set_firm_price,
            get_quote,
            review_reasons,
            place,
            submit_for_review,
            send_firm_offer,
            accept_offer,
            request_changes,
            provide_po,
            accept_po,
            request_payment,
            cancel,
            reachable_statuses,
            change_status,
            payment_page,
            checkout,
            record_payment,
            mark_unpaid,
            invoice_pdf,
            open_offer,
            accept_offer_link,
            open_pay_link,
            pay_link_checkout,
            payment_webhook,
        ]
    ),
    dependencies=DEPENDENCIES,
    tags=["orders"],
)
