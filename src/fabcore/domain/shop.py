"""A shop: the tenant every order, customer and staff member belongs to.

What a shop sells and at what price (processes, materials, currency, tax
rate, minimum order value, shipping) is its :class:`~fabcore.domain.catalog.Catalog`.
How it works (who reviews what, notifications, payment and offer terms, the
details its invoices carry) is its :class:`ShopSettings`. Each setting has
exactly one of these two homes.
"""

from __future__ import annotations

import re

import attrs

from fabcore.domain import checks
from fabcore.domain.catalog import Catalog
from fabcore.domain.customer import Address
from fabcore.domain.errors import InvalidInput
from fabcore.domain.review import ReviewPolicy

# Upper bounds of the day counts: beyond them a setting is a typo, not a term.
MAX_OFFER_VALIDITY_DAYS = 365
MAX_PAYMENT_TERMS_DAYS = 365

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")
_PREFIX = re.compile(r"[A-Za-z0-9/_-]{0,12}")


def _emails(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    addresses = tuple(checks.email(v, "shop notification address") for v in values)
    if not addresses:
        raise InvalidInput("a shop needs at least one notification address")
    return addresses


def _iban(value: str) -> str:
    compact = re.sub(r"\s+", "", checks.text(value, "IBAN")).upper()
    if not _IBAN.fullmatch(compact):
        raise InvalidInput(f"IBAN is not well formed: {value!r}")
    # ISO 13616 check digits: move the first four characters to the end, letters
    # to numbers (A=10 ... Z=35); the number mod 97 must be 1.
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    if int(digits) % 97 != 1:
        raise InvalidInput(f"IBAN check digits do not match: {value!r}")
    return compact


def _bic(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    compact = value.strip().upper()
    if not _BIC.fullmatch(compact):
        raise InvalidInput(f"BIC must be 8 or 11 letters and digits, got {value!r}")
    return compact


def _offer_days(value: object) -> int:
    return checks.whole_number(value, "offer validity (days)", 1, MAX_OFFER_VALIDITY_DAYS)


def _terms_days(value: object) -> int:
    return checks.whole_number(value, "payment terms (days)", 1, MAX_PAYMENT_TERMS_DAYS)


def _prefix(value: str) -> str:
    if not isinstance(value, str) or not _PREFIX.fullmatch(value):
        raise InvalidInput(
            f"invoice prefix must be up to 12 letters, digits, '-', '_' or '/', got {value!r}"
        )
    return value



def _account_holder(value: str) -> str:
    return checks.text(value, "account holder")


def _bank_name_or_none(value: str | None) -> str | None:
    return checks.optional_text(value, "bank name")


def _legal_name_or_none(value: str | None) -> str | None:
    return checks.optional_text(value, "legal name")


_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?")
MAX_WIDGET_ORIGINS = 20


def _origins(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Web origins (``https://shop.example``, ``http://localhost:8080``), each once."""
    if isinstance(values, str):
        raise InvalidInput("widget origins must be a list of origins, not one string")
    found: list[str] = []
    for value in values:
        origin = value.strip().lower().rstrip("/") if isinstance(value, str) else value
        if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
            raise InvalidInput(
                f"widget origin {value!r} must be a scheme and host, like https://shop.example"
            )
        if origin not in found:
            found.append(origin)
    if len(found) > MAX_WIDGET_ORIGINS:
        raise InvalidInput(f"at most {MAX_WIDGET_ORIGINS} widget origins")
    return tuple(found)


def _shop_id(value: str) -> str:
    return checks.text(value, "shop id")


def _shop_name(value: str) -> str:
    return checks.text(value, "shop name")


def _tax_id_or_none(value: str | None) -> str | None:
    return checks.optional_text(value, "tax id")


@attrs.frozen
class BankAccount:
    """Where customers pay invoices by bank transfer (SEPA: IBAN, and BIC where needed)."""

    holder: str = attrs.field(converter=_account_holder)
    iban: str = attrs.field(converter=_iban)
    bic: str | None = attrs.field(default=None, converter=_bic)
    bank_name: str | None = attrs.field(
        default=None, converter=_bank_name_or_none
    )

    @property
    def iban_grouped(self) -> str:
        """The IBAN in groups of four, as printed on paper."""
        return " ".join(self.iban[i:i + 4] for i in range(0, len(self.iban), 4))


@attrs.define
class ShopSettings:
    """How a shop works (see the module docstring for what lives in the catalog instead).

    ``notify_emails`` receive the shop's copy of every order mail;
    ``sender_email`` is the From address of mails sent in the shop's name.
    ``review`` decides which orders reach the shop for review before they
    are placed. With ``payment_before_production`` an order may be released
    or manufactured only once it is paid or its purchase order is accepted.
    A firm offer is valid for ``offer_validity_days`` unless staff set
    another expiry; an invoice is due ``payment_terms_days`` after it is
    issued (or on the accepted purchase order's due date).

    The seller details an invoice needs: ``legal_name`` (defaults to the
    shop's name), ``address``, ``tax_id`` (VAT identification number) and
    ``bank`` (for payment by transfer); invoices are numbered
    ``{invoice_prefix}{number}`` without gaps per shop.

    ``widget_origins`` are the web origins whose pages may embed the shop's
    widget (besides fabcore's own).
    """

    notify_emails: tuple[str, ...] = attrs.field(converter=_emails)
    sender_email: str = attrs.field(converter=checks.email)
    review: ReviewPolicy = attrs.field(factory=ReviewPolicy)
    payment_before_production: bool = False
    offer_validity_days: int = attrs.field(default=14, converter=_offer_days)
    payment_terms_days: int = attrs.field(default=14, converter=_terms_days)
    legal_name: str | None = attrs.field(
        default=None, converter=_legal_name_or_none
    )
    address: Address | None = None
    tax_id: str | None = attrs.field(
        default=None, converter=_tax_id_or_none
    )
    bank: BankAccount | None = None
    invoice_prefix: str = attrs.field(default="INV-", converter=_prefix)
    widget_origins: tuple[str, ...] = attrs.field(default=(), converter=_origins)

    @classmethod
    def for_email(cls, email: str) -> ShopSettings:
        """Settings of a shop that is mailed at, and mails from, one address."""
        return cls(notify_emails=(email,), sender_email=email)


@attrs.define
class Shop:
    """A manufacturing shop using fabcore."""

    id: str = attrs.field(converter=_shop_id)
    name: str = attrs.field(converter=_shop_name)
    settings: ShopSettings

    @property
    def legal_name(self) -> str:
        """The name invoices carry: the legal name, else the shop's name."""
        return self.settings.legal_name or self.name


@attrs.frozen
class ShopContext:
    """What an order needs to know of its shop to change: its settings and its catalog."""

    shop: Shop
    catalog: Catalog

    @property
    def settings(self) -> ShopSettings:
        return self.shop.settings
