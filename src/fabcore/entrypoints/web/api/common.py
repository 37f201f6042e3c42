"""What the API handlers share: who is calling, and domain objects turned into responses."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from fabcore.adapters.serialization import converter
from fabcore.app.facade import Fabcore
from fabcore.domain.accounts import Account
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Customer
from fabcore.domain.errors import NotAuthenticated
from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.quote import Fee, LineBreakdown, LineQuote, LineSpec, OrderQuote
from fabcore.entrypoints.web import auth
from fabcore.entrypoints.web.dto import (
    AccountOut,
    BreakdownOut,
    CustomerOut,
    FeeOut,
    LineQuoteOut,
    MoneyOut,
    OrderOut,
    OrderQuoteOut,
    Problem,
    SpecOut,
    dto,
)
from fabcore.entrypoints.web.problems import PROBLEM_JSON
from fabcore.entrypoints.web.settings import WebSettings

#: The most items one page of a listing holds.
MAX_PAGE = 200
PageLimit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="Items on the page")]
PageOffset = Annotated[int, QueryParameter(ge=0, le=1_000_000, description="Items skipped")]


def next_offset(found: int, limit: int, offset: int) -> int | None:
    """Where the next page starts, given ``found`` items read when asking for ``limit + 1``."""
    return offset + limit if found > limit else None


Core = NamedDependency[Fabcore]
ActorDep = NamedDependency[Actor]
CallerDep = NamedDependency[auth.Caller | None]
WebDep = NamedDependency[WebSettings]


def provide_core(state: State) -> Fabcore:
    return auth.core(state)


def provide_web_settings(state: State) -> WebSettings:
    return auth.settings(state)


def provide_caller(request: Request[Any, Any, Any], core: Core) -> auth.Caller | None:
    """The signed-in caller, or ``None`` for a visitor (a bad token is refused, 401).

    It reads the settings from the state rather than as a dependency: two
    dependencies resolved side by side cost every request a task group.
    """
    found = auth.bearer_or_cookie(request, auth.settings(request.app.state).session_cookie)
    return None if found is None else auth.identify(request, core, found)


def provide_actor(caller: CallerDep) -> Actor:
    """The signed-in actor; 401 for visitors."""
    if caller is None:
        raise NotAuthenticated("sign in first (a session cookie or an Authorization header)")
    return caller.actor


DEPENDENCIES = {
    "core": Provide(provide_core, sync_to_thread=False),
    "web_settings": Provide(provide_web_settings, sync_to_thread=False),
    "caller": Provide(provide_caller, sync_to_thread=True),
    "actor": Provide(provide_actor, sync_to_thread=False),
}


PROBLEMS = {
    status: ResponseSpec(
        data_container=Problem, media_type=PROBLEM_JSON, description=why, generate_examples=False
    )
    for status, why in (
        (400, "Malformed request, or a link or payment notice that is not valid"),
        (401, "Not signed in, or wrong credentials"),
        (403, "Signed in, but not allowed to do this"),
        (404, "No such thing (or not visible to the caller)"),
        (409, "The order's status does not allow this, or someone else changed it"),
        (413, "The request body is too large"),
        (422, "Invalid input: the fields and what is wrong with them"),
        (429, "Too many attempts: wait Retry-After seconds"),
        (500, "A bug on the server (it was logged)"),
        (503, "A backend (database, mail, payments, analysis) is unavailable: retry later"),
    )
}


def documented(handlers: list[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """``handlers``, each documenting the problem answers it may give."""
    for handler in handlers:
        handler.responses = {**PROBLEMS, **(handler.responses or {})}
    return handlers


def shop_actor(actor: Actor, shop: str) -> Actor:
    """The actor, when they belong to the shop in the path (404 otherwise)."""
    return auth.in_shop(actor, shop)


def visitor_or(caller: auth.Caller | None, shop: str) -> Actor:
    """The caller in this shop, or a visitor of it."""
    if caller is None:
        return Actor.visitor(shop)
    return auth.in_shop(caller.actor, shop)


def account_out(account: Account) -> AccountOut:
    return AccountOut(
        id=account.id,
        shop_id=account.shop_id,
        email=account.email,
        name=account.name,
        role=account.role.value,
        customer_id=account.customer_id,
        confirmed=account.confirmed_at is not None,
    )


def customer_out(customer: Customer) -> CustomerOut:
    return dto(customer, CustomerOut)


def spec_out(spec: LineSpec) -> SpecOut:
    return SpecOut(spec.process, spec.material, list(spec.finishes), spec.color, spec.quantity)


def fee_out(fee: Fee) -> FeeOut:
    return FeeOut(fee.name, _money(fee.amount))


def breakdown_out(b: LineBreakdown) -> BreakdownOut:
    return BreakdownOut(
        material_per_part=_money(b.material_per_part),
        machine_hours_per_part=str(b.machine_hours_per_part),
        machine_per_part=_money(b.machine_per_part),
        post_production_per_part=_money(b.post_production_per_part),
        fees=[fee_out(fee) for fee in b.fees],
        fees_total=_money(b.fees_total),
        minimum_price_adjustment=_money(b.minimum_price_adjustment),
        discount_percent=str(b.discount_percent),
        discount=_money(b.discount),
        unit_price=_money(b.unit_price),
        total=_money(b.total),
        notes=list(b.notes),
    )


def line_quote_out(quote: LineQuote) -> LineQuoteOut:
    return LineQuoteOut(
        spec=spec_out(quote.spec),
        breakdown=None if quote.breakdown is None else breakdown_out(quote.breakdown),
        lead_time_days=quote.lead_time_days,
        review_reasons=list(quote.review_reasons),
        filename=quote.filename,
    )


def _money(value: Money) -> MoneyOut:
    return MoneyOut(str(value.amount), value.currency)


def quote_out(quote: OrderQuote) -> OrderQuoteOut:
    return dto(quote, OrderQuoteOut)


def order_out(order: Order) -> OrderOut:
    data = converter.unstructure(order)
    for line, raw in zip(order.lines, data["lines"], strict=True):
        raw["unit_price"] = converter.unstructure(line.unit_price)
        raw["total"] = converter.unstructure(line.total)
    data["history"] = [
        {**raw, "actor": str(entry.actor)}
        for entry, raw in zip(order.history, data["history"], strict=True)
    ]
    state = order.payment_page_state
    data["status_label"] = order.status.label
    data["payment_page_state"] = state.value if state is not None else None
    built: OrderOut = converter.structure(data, OrderOut)
    return built
