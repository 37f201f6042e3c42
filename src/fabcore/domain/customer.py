"""End customers of a shop, with their billing details."""

from __future__ import annotations

import attrs

from fabcore.domain import checks
from fabcore.domain.errors import InvalidInput


def _country(value: str) -> str:
    code = checks.text(value, "country").upper()
    if len(code) != 2 or not code.isalpha():
        raise InvalidInput(f"country must be an ISO 3166-1 alpha-2 code, got {value!r}")
    return code


def _postal_code(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"postal code must be text, got {value!r}")
    return value.strip()



def _address_line_2_or_none(value: str | None) -> str | None:
    return checks.optional_text(value, "address line 2")


def _address_name(value: str) -> str:
    return checks.text(value, "address name")


def _billing_contact_name(value: str) -> str:
    return checks.text(value, "billing contact name")


def _city(value: str) -> str:
    return checks.text(value, "city")


def _company_or_none(value: str | None) -> str | None:
    return checks.optional_text(value, "company")


def _name(value: str) -> str:
    return checks.text(value, "name")


def _region_or_none(value: str | None) -> str | None:
    return checks.optional_text(value, "region")


def _street_address(value: str) -> str:
    return checks.text(value, "street address")


def _tax_id_or_none(value: str | None) -> str | None:
    return checks.optional_text(value, "tax id")


@attrs.frozen
class Address:
    """A postal address (billing or shipping)."""

    name: str = attrs.field(converter=_address_name)
    line1: str = attrs.field(converter=_street_address)
    # Some countries have no postal codes: blank is allowed.
    postal_code: str = attrs.field(converter=_postal_code)
    city: str = attrs.field(converter=_city)
    country: str = attrs.field(converter=_country)
    company: str | None = attrs.field(
        default=None, converter=_company_or_none
    )
    line2: str | None = attrs.field(
        default=None, converter=_address_line_2_or_none
    )
    region: str | None = attrs.field(
        default=None, converter=_region_or_none
    )


@attrs.frozen
class BillingContact:
    """Someone in the customer's accounts department who gets carbon copies."""

    name: str = attrs.field(converter=_billing_contact_name)
    email: str = attrs.field(converter=checks.email)


@attrs.define
class Customer:
    """An end customer of one shop.

    When ``billing_contact`` is given, it is copied on the mails about the
    offer, the placed order and purchase-order payment (see
    :mod:`fabcore.domain.notifications`). ``company`` and ``tax_id`` (a VAT
    identification number) appear on invoices to a business.
    """

    id: str
    shop_id: str
    name: str = attrs.field(converter=_name)
    email: str = attrs.field(converter=checks.email)
    company: str | None = attrs.field(
        default=None, converter=_company_or_none
    )
    billing_address: Address | None = None
    billing_contact: BillingContact | None = None
    tax_id: str | None = attrs.field(
        default=None, converter=_tax_id_or_none
    )
