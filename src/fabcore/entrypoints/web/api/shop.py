"""The shop's catalog and settings, its customers, and its outbox."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, Router, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from fabcore.adapters.serialization import converter
from fabcore.app.accounts import KEEP, Keep
from fabcore.app.catalogs import parse_catalog
from fabcore.domain.customer import Address, BillingContact
from fabcore.domain.errors import InvalidInput, PermissionDenied
from fabcore.domain.money import Money
from fabcore.domain.review import ReviewMode, ReviewPolicy
from fabcore.domain.shop import BankAccount, ShopSettings
from fabcore.entrypoints.web.api.common import (
    DEPENDENCIES,
    ActorDep,
    CallerDep,
    Core,
    PageLimit,
    PageOffset,
    customer_out,
    documented,
    next_offset,
    shop_actor,
    visitor_or,
)
from fabcore.entrypoints.web.dto import (
    AddressIn,
    BankIO,
    ContactIn,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    OutboxMessageOut,
    OutboxPage,
    ReviewPolicyIO,
    SettingsIO,
)
from fabcore.ports.outbox import OutboxMessage, OutboxStatus

MAX_CATALOG_BYTES = 1024 * 1024


@get("/shops/{shop:str}/catalog", sync_to_thread=True)
def get_catalog(shop: FromPath[str], core: Core, caller: CallerDep) -> dict[str, Any]:
    """What the shop sells and how it prices it (anyone may look)."""
    data: dict[str, Any] = converter.unstructure(core.catalog(visitor_or(caller, shop)))
    return data


@put("/shops/{shop:str}/catalog", request_max_body_size=MAX_CATALOG_BYTES)
async def put_catalog(
    shop: FromPath[str], request: Request[Any, Any, Any], actor: ActorDep, core: Core
) -> dict[str, Any]:
    """Owners replace the catalog with TOML (the body); errors name the bad key (422)."""
    owner = shop_actor(actor, shop)
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the catalog must be UTF-8 TOML text") from None
    catalog = await anyio.to_thread.run_sync(partial(parse_catalog, text, "the uploaded catalog"))
    await anyio.to_thread.run_sync(partial(core.update_catalog, owner, catalog))
    data: dict[str, Any] = converter.unstructure(catalog)
    return data


def _settings_out(settings: ShopSettings) -> SettingsIO:
    review = settings.review
    return SettingsIO(
        notify_emails=list(settings.notify_emails),
        sender_email=settings.sender_email,
        review=ReviewPolicyIO(
            mode=review.mode.value,
            max_order_total=str(review.max_order_total.amount)
            if review.max_order_total is not None
            else None,
            max_quantity=review.max_quantity,
            dfm_warnings_require_review=review.dfm_warnings_require_review,
        ),
        payment_before_production=settings.payment_before_production,
        offer_validity_days=settings.offer_validity_days,
        payment_terms_days=settings.payment_terms_days,
        legal_name=settings.legal_name,
        address=AddressIn(**converter.unstructure(settings.address))
        if settings.address is not None
        else None,
        tax_id=settings.tax_id,
        bank=BankIO(
            settings.bank.holder, settings.bank.iban, settings.bank.bic, settings.bank.bank_name
        )
        if settings.bank is not None
        else None,
        invoice_prefix=settings.invoice_prefix,
    )


def _settings_in(data: JSONBody[SettingsIO], currency: str) -> ShopSettings:
    review = data.review
    return ShopSettings(
        notify_emails=tuple(data.notify_emails),
        sender_email=data.sender_email,
        review=ReviewPolicy(
            mode=ReviewMode(review.mode),
            max_order_total=Money(review.max_order_total, currency)
            if review.max_order_total is not None
            else None,
            max_quantity=review.max_quantity,
            dfm_warnings_require_review=review.dfm_warnings_require_review,
        ),
        payment_before_production=data.payment_before_production,
        offer_validity_days=data.offer_validity_days,
        payment_terms_days=data.payment_terms_days,
        legal_name=data.legal_name,
        address=data.address.to_domain() if data.address is not None else None,
        tax_id=data.tax_id,
        bank=BankAccount(data.bank.holder, data.bank.iban, data.bank.bic, data.bank.bank_name)
        if data.bank is not None
        else None,
        invoice_prefix=data.invoice_prefix,
    )


@get("/shops/{shop:str}/settings", sync_to_thread=True)
def get_settings(shop: FromPath[str], actor: ActorDep, core: Core) -> SettingsIO:
    """How the shop works (staff)."""
    staff = shop_actor(actor, shop)
    if not staff.is_staff:
        raise PermissionDenied("the shop's settings are for its staff")
    return _settings_out(core.get_shop(staff).settings)


@put("/shops/{shop:str}/settings", sync_to_thread=True)
def put_settings(
    shop: FromPath[str], data: JSONBody[SettingsIO], actor: ActorDep, core: Core
) -> SettingsIO:
    """Owners change how the shop works: review, payment and offer terms, invoice details."""
    owner = shop_actor(actor, shop)
    settings = _settings_in(data, core.catalog(owner).currency)
    return _settings_out(core.update_shop_settings(owner, settings).settings)


@get("/shops/{shop:str}/customers", sync_to_thread=True)
def list_customers(
    shop: FromPath[str], actor: ActorDep, core: Core, limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> CustomerPage:
    """Staff list the shop's customers by id, a page at a time."""
    found = core.list_customers(shop_actor(actor, shop), limit=limit + 1, offset=offset)
    return CustomerPage([customer_out(c) for c in found[:limit]], limit, offset,
                        next_offset(len(found), limit, offset))


@post("/shops/{shop:str}/customers", sync_to_thread=True)
def create_customer(
    shop: FromPath[str], data: JSONBody[CustomerIn], actor: ActorDep, core: Core
) -> CustomerOut:
    """Staff register a customer (for a quote made on their behalf)."""
    customer = core.register_customer(
        shop_actor(actor, shop),
        name=data.name,
        email=data.email,
        company=data.company,
        tax_id=data.tax_id,
        billing_address=data.billing_address.to_domain() if data.billing_address else None,
        billing_contact=data.billing_contact.to_domain() if data.billing_contact else None,
    )
    return customer_out(customer)


@get("/shops/{shop:str}/customers/{customer_id:str}", sync_to_thread=True)
def get_customer(
    shop: FromPath[str], customer_id: FromPath[str], actor: ActorDep, core: Core
) -> CustomerOut:
    return customer_out(core.get_customer(shop_actor(actor, shop), customer_id))


@patch("/shops/{shop:str}/customers/{customer_id:str}", sync_to_thread=True)
def update_customer(
    shop: FromPath[str],
    customer_id: FromPath[str],
    data: JSONBody[CustomerPatch],
    actor: ActorDep,
    core: Core,
) -> CustomerOut:
    """The customer (or staff) change contact and billing details; ``clear`` removes some."""
    cleared = set(data.clear)

    def field(name: str, value: Any) -> Any:
        if name in cleared:
            return None
        return KEEP if value is None else value

    address: Address | Keep | None = field(
        "billing_address", data.billing_address.to_domain() if data.billing_address else None
    )
    contact: BillingContact | Keep | None = None if "billing_contact" in cleared else KEEP
    customer = core.update_customer(
        shop_actor(actor, shop),
        customer_id,
        name=KEEP if data.name is None else data.name,
        email=KEEP if data.email is None else data.email,
        company=field("company", data.company),
        tax_id=field("tax_id", data.tax_id),
        billing_address=address,
        billing_contact=contact,
    )
    return customer_out(customer)


@put("/shops/{shop:str}/customers/{customer_id:str}/billing-contact", sync_to_thread=True)
def put_billing_contact(
    shop: FromPath[str],
    customer_id: FromPath[str],
    data: JSONBody[ContactIn],
    actor: ActorDep,
    core: Core,
) -> CustomerOut:
    """Add or change the billing contact, copied on offer, order and PO mails."""
    customer = core.set_billing_contact(shop_actor(actor, shop), customer_id, data.to_domain())
    return customer_out(customer)


@delete(
    "/shops/{shop:str}/customers/{customer_id:str}/billing-contact",
    status_code=HTTP_204_NO_CONTENT,
    sync_to_thread=True,
)
def delete_billing_contact(
    shop: FromPath[str], customer_id: FromPath[str], actor: ActorDep, core: Core
) -> None:
    core.set_billing_contact(shop_actor(actor, shop), customer_id, None)


def _message_out(message: OutboxMessage) -> OutboxMessageOut:
    return OutboxMessageOut(
        id=message.id,
        order_id=message.order_id,
        status=message.status.value,
        attempts=message.attempts,
        to=list(message.mail.to),
        subject=message.mail.subject,
        created_at=message.created_at,
        sent_at=message.sent_at,
        next_attempt_at=message.next_attempt_at,
        last_error=message.last_error,
    )


@get("/shops/{shop:str}/outbox", sync_to_thread=True)
def list_outbox(
    shop: FromPath[str],
    actor: ActorDep,
    core: Core,
    status: Annotated[str | None, QueryParameter(pattern="^(pending|sent|failed)$")] = None,
    order_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> OutboxPage:
    """The shop's mails, oldest first, by delivery status and order (staff), a page at a time."""
    wanted = OutboxStatus(status) if status else None
    found = core.list_outbox(shop_actor(actor, shop), wanted, order_id, limit=limit + 1,
                             offset=offset)
    return OutboxPage([_message_out(m) for m in found[:limit]], limit, offset,
                      next_offset(len(found), limit, offset))


@post("/shops/{shop:str}/outbox/{message_id:str}/retry", status_code=200, sync_to_thread=True)
def retry_mail(
    shop: FromPath[str], message_id: FromPath[str], actor: ActorDep, core: Core
) -> OutboxMessageOut:
    """Queue a mail that failed for good again (after fixing the address or server)."""
    return _message_out(core.retry_mail(shop_actor(actor, shop), message_id))


router = Router(
    path="/api/v1",
    route_handlers=documented(
        [
            get_catalog,
            put_catalog,
            get_settings,
            put_settings,
            list_customers,
            create_customer,
            get_customer,
            update_customer,
            put_billing_contact,
            delete_billing_contact,
            list_outbox,
            retry_mail,
        ]
    ),
    dependencies=DEPENDENCIES,
    tags=["shop"],
)
