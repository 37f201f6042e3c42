"""Request and response bodies of the HTTP API: attrs classes, mapped with the one converter.

Constraints are declared twice on purpose: ``msgspec.Meta`` is what the
server enforces when it decodes a body, ``annotated_types`` (and, for
patterns, which it cannot express, Litestar's ``KwargDefinition``) is what
the OpenAPI schema shows, so the schema says exactly what is checked. Amounts
travel as decimal strings, never as JSON numbers. The domain checks
everything again (and refuses with 422 naming the field).

Responses are built from domain objects by :func:`dto`: the adapters'
cattrs converter unstructures the object and structures the plain data
into the response class, which names the fields a client sees (and never,
say, a password hash).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, TypeVar

import annotated_types as at
import attrs
import msgspec
from litestar.params import KwargDefinition

from fabcore.adapters.serialization import converter
from fabcore.domain.commands import MAX_NET_DAYS
from fabcore.domain.customer import Address, BillingContact
from fabcore.domain.money import Money
from fabcore.domain.quote import MAX_QUANTITY

_T = TypeVar("_T")


# Plain ASCII addresses: a pattern that reads the same in Python and in JSON Schema.
_EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
_AMOUNT_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,6})?$"
_SHA256_PATTERN = r"^[0-9a-f]{64}$"
_COUNTRY_PATTERN = r"^[A-Za-z]{2}$"
_CURRENCY_PATTERN = r"^[A-Z]{3}$"
_PREFIX_PATTERN = r"^[A-Za-z0-9/_-]{0,12}$"
# Some character that is not white space (what ``str.strip`` removes: the core
# refuses blank names and texts), spelled out because ``\S`` means less in the
# JSON Schema's regular expressions than in Python's.
FILLED_PATTERN = (r"[^\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
           r"\u3000]")

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=FILLED_PATTERN),
                 KwargDefinition(min_length=1, max_length=200, pattern=FILLED_PATTERN)]
LongText = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=FILLED_PATTERN),
                     KwargDefinition(min_length=1, max_length=2000, pattern=FILLED_PATTERN)]
OptionalText = Annotated[str, msgspec.Meta(min_length=0, max_length=200),
                         at.MinLen(0), at.MaxLen(200)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=FILLED_PATTERN),
                 KwargDefinition(min_length=1, max_length=120, pattern=FILLED_PATTERN)]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=1024),
                     at.MinLen(8), at.MaxLen(1024)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64),
               at.MinLen(1), at.MaxLen(64)]
Postal = Annotated[str, msgspec.Meta(min_length=0, max_length=20),
                   at.MinLen(0), at.MaxLen(20)]
TaxId = Annotated[str, msgspec.Meta(min_length=0, max_length=40),
                  at.MinLen(0), at.MaxLen(40)]
AnyPassword = Annotated[str, msgspec.Meta(min_length=1, max_length=1024),
                        at.MinLen(1), at.MaxLen(1024)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=512),
                  at.MinLen(1), at.MaxLen(512)]
KeyName = Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=FILLED_PATTERN),
                    KwargDefinition(min_length=1, max_length=80, pattern=FILLED_PATTERN)]
Word = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=FILLED_PATTERN),
                 KwargDefinition(min_length=1, max_length=64, pattern=FILLED_PATTERN)]
Filename = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=FILLED_PATTERN),
                     KwargDefinition(min_length=1, max_length=255, pattern=FILLED_PATTERN)]
Notes = Annotated[str, msgspec.Meta(min_length=0, max_length=2000),
                  at.MinLen(0), at.MaxLen(2000)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=FILLED_PATTERN),
                  KwargDefinition(min_length=1, max_length=120, pattern=FILLED_PATTERN)]
Iban = Annotated[str, msgspec.Meta(min_length=15, max_length=42),
                 at.MinLen(15), at.MaxLen(42)]
Bic = Annotated[str, msgspec.Meta(min_length=0, max_length=11),
                at.MinLen(0), at.MaxLen(11)]
Field = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=FILLED_PATTERN),
                  KwargDefinition(min_length=1, max_length=40, pattern=FILLED_PATTERN)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=_EMAIL_PATTERN),
                  KwargDefinition(min_length=3, max_length=254, pattern=_EMAIL_PATTERN)]
Sha256 = Annotated[str, msgspec.Meta(pattern=_SHA256_PATTERN),
                   KwargDefinition(min_length=64, max_length=64, pattern=_SHA256_PATTERN)]
Amount = Annotated[str, msgspec.Meta(pattern=_AMOUNT_PATTERN, max_length=20),
                   KwargDefinition(max_length=20, pattern=_AMOUNT_PATTERN)]
Country = Annotated[str, msgspec.Meta(pattern=_COUNTRY_PATTERN),
                    KwargDefinition(min_length=2, max_length=2, pattern=_COUNTRY_PATTERN)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY), at.Ge(1), at.Le(MAX_QUANTITY)]
Days = Annotated[int, msgspec.Meta(ge=1, le=365), at.Ge(1), at.Le(365)]
NetDays = Annotated[int, msgspec.Meta(ge=0, le=MAX_NET_DAYS), at.Ge(0), at.Le(MAX_NET_DAYS)]
Revision = Annotated[int, msgspec.Meta(ge=1, le=1_000_000), at.Ge(1), at.Le(1_000_000)]
Currency = Annotated[str, msgspec.Meta(pattern=_CURRENCY_PATTERN),
                     KwargDefinition(min_length=3, max_length=3, pattern=_CURRENCY_PATTERN)]
Prefix = Annotated[str, msgspec.Meta(pattern=_PREFIX_PATTERN),
                   KwargDefinition(max_length=12, pattern=_PREFIX_PATTERN)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000), at.Ge(1), at.Le(1_000_000_000)]
Units = Literal["mm", "cm", "inch", "m"]


def dto(value: object, cls: type[_T], **extra: object) -> _T:
    """The response ``cls`` of a domain object (plus computed ``extra`` fields)."""
    data = converter.unstructure(value)
    if extra:
        data = {**data, **converter.unstructure(extra)}
    built: _T = converter.structure(data, cls)
    return built


def money_out(value: Money | None) -> MoneyOut | None:
    return None if value is None else MoneyOut(str(value.amount), value.currency)


# -- shared pieces ---------------------------------------------------------------


@attrs.define
class MoneyOut:
    amount: str
    currency: str


@attrs.define
class AddressIn:
    name: Name
    line1: Text
    postal_code: Postal
    city: Name
    country: Country
    company: OptionalText | None = None
    line2: OptionalText | None = None
    region: OptionalText | None = None

    def to_domain(self) -> Address:
        return Address(self.name, self.line1, self.postal_code, self.city, self.country,
                       company=self.company, line2=self.line2, region=self.region)


@attrs.define
class AddressOut:
    name: str
    line1: str
    postal_code: str
    city: str
    country: str
    company: str | None = None
    line2: str | None = None
    region: str | None = None


@attrs.define
class ContactIn:
    name: Name
    email: Email

    def to_domain(self) -> BillingContact:
        return BillingContact(self.name, self.email)


@attrs.define
class ContactOut:
    name: str
    email: str


@attrs.define
class Message:
    """A plain answer: what happened, in words."""

    detail: str


# -- accounts ----------------------------------------------------------------------


@attrs.define
class SignUpIn:
    name: Name
    email: Email
    password: Password
    company: OptionalText | None = None
    tax_id: TaxId | None = None
    billing_address: AddressIn | None = None
    billing_contact: ContactIn | None = None


@attrs.define
class SignInIn:
    email: Email
    password: AnyPassword


@attrs.define
class EmailIn:
    email: Email


@attrs.define
class TokenIn:
    token: Token


@attrs.define
class InvitationIn:
    token: Token
    password: Password


@attrs.define
class PasswordChangeIn:
    current: AnyPassword
    new: Password


@attrs.define
class AccountOut:
    id: str
    shop_id: str
    email: str
    name: str
    role: str
    customer_id: str | None
    confirmed: bool


@attrs.define
class SessionOut:
    """A new session: send ``token`` as ``Authorization: Bearer``, or use the cookie set.

    Cookie sessions must send ``csrf_token`` in the ``X-CSRF-Token`` header
    of every unsafe request.
    """

    token: str
    csrf_token: str
    expires_at: datetime
    account: AccountOut


@attrs.define
class StaffIn:
    email: Email
    name: Name
    role: Literal["staff", "owner"] = "staff"


@attrs.define
class ApiKeyIn:
    name: KeyName


@attrs.define
class ApiKeyOut:
    digest: str
    label: str
    created_at: datetime
    revoked_at: datetime | None = None


@attrs.define
class IssuedKeyOut:
    """``key`` is shown this once; keep it safe."""

    key: str
    api_key: ApiKeyOut


# -- customers ---------------------------------------------------------------------


@attrs.define
class CustomerIn:
    name: Name
    email: Email
    company: OptionalText | None = None
    tax_id: TaxId | None = None
    billing_address: AddressIn | None = None
    billing_contact: ContactIn | None = None


@attrs.define
class CustomerPatch:
    """Fields given change; ``clear`` lists optional details to remove."""

    name: Name | None = None
    email: Email | None = None
    company: OptionalText | None = None
    tax_id: TaxId | None = None
    billing_address: AddressIn | None = None
    clear: list[Literal["company", "tax_id", "billing_address", "billing_contact"]] = (
        attrs.Factory(list)
    )


@attrs.define
class CustomerOut:
    id: str
    shop_id: str
    name: str
    email: str
    company: str | None = None
    tax_id: str | None = None
    billing_address: AddressOut | None = None
    billing_contact: ContactOut | None = None


# -- models and quotes ----------------------------------------------------------------------


@attrs.define
class WarningOut:
    code: str
    message: str


@attrs.define
class AnalysisOut:
    filename: str
    format: str
    volume_cm3: float
    area_cm2: float
    bbox_mm: list[float]
    triangles: int
    bodies: int
    watertight: bool
    winding_consistent: bool
    convex_hull_volume_cm3: float
    overhang_area_cm2: float
    warnings: list[WarningOut]


@attrs.define
class ModelOut:
    sha256: str
    filename: str
    size: int
    units: str
    analysis: AnalysisOut


@attrs.define
class AnalysisStatusOut:
    """Where a model's analysis stands; a page polls ``status_url`` until it is finished.

    ``state`` is ``pending`` (waiting for a worker; ``waiting`` analyses in
    the queue), ``analysing`` (since ``started_at``; ``attempts`` counts the
    starts), ``done`` (``analysis`` is set) or ``rejected`` (``reason`` says why).
    """

    sha256: str
    filename: str
    size: int
    units: str
    state: Literal["pending", "analysing", "done", "rejected"]
    status_url: str
    attempts: int = 0
    waiting: int = 0
    requested_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reason: str | None = None
    analysis: AnalysisOut | None = None


@attrs.define
class SpecIn:
    process: Word
    material: Word
    finishes: list[Word] = attrs.Factory(list)
    color: Word | None = None
    quantity: Quantity = 1


@attrs.define
class SpecOut:
    process: str
    material: str
    finishes: list[str]
    color: str | None
    quantity: int


@attrs.define
class FeeOut:
    name: str
    amount: MoneyOut


@attrs.define
class BreakdownOut:
    material_per_part: MoneyOut
    machine_hours_per_part: str
    machine_per_part: MoneyOut
    post_production_per_part: MoneyOut
    fees: list[FeeOut]
    fees_total: MoneyOut
    minimum_price_adjustment: MoneyOut
    discount_percent: str
    discount: MoneyOut
    unit_price: MoneyOut
    total: MoneyOut
    notes: list[str]


@attrs.define
class LineQuoteOut:
    spec: SpecOut
    breakdown: BreakdownOut | None
    lead_time_days: int
    review_reasons: list[str]
    filename: str


@attrs.define
class OrderQuoteOut:
    currency: str
    lines: list[LineQuoteOut]
    subtotal: MoneyOut
    order_fees: list[FeeOut]
    minimum_order_adjustment: MoneyOut
    shipping_method: str | None
    shipping: MoneyOut
    tax_rate: str
    tax: MoneyOut
    total: MoneyOut | None
    lead_time_days: int
    review_reasons: list[str]


# -- orders -------------------------------------------------------------------------------


@attrs.define
class OrderIn:
    customer_id: Id | None = None


@attrs.define
class LineIn:
    model_sha256: Sha256
    filename: Filename
    spec: SpecIn
    units: Units = "mm"
    notes: Notes = ""


@attrs.define
class LinePatch:
    spec: SpecIn | None = None
    notes: Notes | None = None


@attrs.define
class LineOut:
    id: str
    model_sha256: str
    model_filename: str
    spec: SpecOut
    notes: str
    analysis: AnalysisOut
    quote: LineQuoteOut | None
    firm_unit_price: MoneyOut | None
    line_fees: list[FeeOut]
    unit_price: MoneyOut | None
    total: MoneyOut | None


@attrs.define
class ShippingIn:
    method: Word
    address: AddressIn | None = None


@attrs.define
class ShippingOut:
    method: str
    address: AddressOut | None


@attrs.define
class FeeIn:
    name: Label
    amount: Amount


@attrs.define
class FirmPriceIn:
    """``unit_price`` null returns the line to its instant price."""

    unit_price: Amount | None
    fees: list[FeeIn] = attrs.Factory(list)


@attrs.define
class PurchaseOrderOut:
    number: str
    provided_at: datetime
    document_ref: str | None
    due_date: date | None


@attrs.define
class HistoryOut:
    from_status: str
    to_status: str
    trigger: str
    actor: str
    at: datetime
    note: str | None


@attrs.define
class InvoiceOut:
    number: str
    issued_at: datetime
    due_date: date


@attrs.define
class OrderOut:
    id: str
    shop_id: str
    number: str
    status: str
    status_label: str
    payment_status: str
    payment_page_state: str | None
    customer_id: str | None
    created_at: datetime
    lines: list[LineOut]
    shipping: ShippingOut | None
    billing_address: AddressOut | None
    offer_revision: int
    offer_expires_at: datetime | None
    po: PurchaseOrderOut | None
    tracking_number: str | None
    history: list[HistoryOut]
    invoice: InvoiceOut | None
    version: int


@attrs.define
class OrderSummaryOut:
    id: str
    number: str
    status: str
    payment_status: str
    customer_id: str | None
    created_at: datetime
    total: MoneyOut | None
    lines: int


@attrs.define
class OrderPage:
    """One page of a listing, newest first; ask for the next with ``offset=next_offset``."""

    items: list[OrderSummaryOut]
    limit: int
    offset: int
    next_offset: int | None


@attrs.define
class CustomerPage:
    """One page of the shop's customers, by id; the next is at ``offset=next_offset``."""

    items: list[CustomerOut]
    limit: int
    offset: int
    next_offset: int | None


@attrs.define
class OutboxPage:
    """One page of the shop's mails, oldest first; the next is at ``offset=next_offset``."""

    items: list[OutboxMessageOut]
    limit: int
    offset: int
    next_offset: int | None


@attrs.define
class NoteIn:
    note: Notes | None = None


@attrs.define
class OfferIn:
    valid_days: Days | None = None
    note: Notes | None = None


@attrs.define
class AcceptOfferIn:
    revision: Revision


@attrs.define
class MessageIn:
    message: LongText


@attrs.define
class ReasonIn:
    reason: LongText


@attrs.define
class AcceptPoIn:
    """Give exactly one of ``due_date`` and ``net_days``."""

    due_date: date | None = None
    net_days: NetDays | None = None


@attrs.define
class FieldOut:
    name: str
    label: str
    kind: str
    required: bool
    help: str


@attrs.define
class StatusOptionOut:
    status: str
    label: str
    trigger: str
    fields: list[FieldOut]


@attrs.define
class StatusChangeIn:
    """``fields`` are those :class:`StatusOptionOut` lists for the status, as strings."""

    status: Field
    fields: dict[Field, Notes] = attrs.Factory(dict)
    note: Notes | None = None


@attrs.define
class PaymentIn:
    reference: Text
    amount: Amount
    currency: Currency
    note: Notes | None = None


@attrs.define
class PaymentPageOut:
    order_id: str
    number: str
    state: str | None
    state_label: str | None
    total: MoneyOut | None
    can_pay: bool


@attrs.define
class CheckoutOut:
    id: str
    url: str
    order_id: str
    amount: MoneyOut


@attrs.define
class PaymentOutcomeOut:
    order_id: str
    applied: bool
    detail: str
    flagged: bool


@attrs.define
class LinkOut:
    """Where a mailed link leads: the purpose, the order, the offer revision."""

    purpose: str
    order_id: str
    revision: int


# -- shop --------------------------------------------------------------------------------


@attrs.define
class ReviewPolicyIO:
    mode: Literal["instant", "semi_manual", "manual"] = "instant"
    max_order_total: Amount | None = None
    max_quantity: PositiveInt | None = None
    dfm_warnings_require_review: bool = True


@attrs.define
class BankIO:
    holder: Name
    iban: Iban
    bic: Bic | None = None
    bank_name: OptionalText | None = None


@attrs.define
class SettingsIO:
    notify_emails: Annotated[list[Email], msgspec.Meta(min_length=1, max_length=10),
                             at.MinLen(1), at.MaxLen(10)]
    sender_email: Email
    review: ReviewPolicyIO
    payment_before_production: bool = False
    offer_validity_days: Days = 14
    payment_terms_days: Days = 14
    legal_name: OptionalText | None = None
    address: AddressIn | None = None
    tax_id: TaxId | None = None
    bank: BankIO | None = None
    invoice_prefix: Prefix = "INV-"


@attrs.define
class OutboxMessageOut:
    id: str
    order_id: str | None
    status: str
    attempts: int
    to: list[str]
    subject: str
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None


@attrs.define
class ProblemField:
    """One invalid field: its name, what is wrong, and where it was (body, query, path)."""

    field: str | None
    message: str | None
    location: str | None


@attrs.define
class Problem:
    """RFC 9457 problem details: ``type`` identifies the kind, ``detail`` says what to change.

    ``errors`` lists the fields of an invalid request; ``key`` and ``reason``
    name the bad entry of a catalog; ``filename`` and ``reason`` say why a
    model was refused.
    """

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemField] | None = None
    key: str | None = None
    reason: str | None = None
    filename: str | None = None
