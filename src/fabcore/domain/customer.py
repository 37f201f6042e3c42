"""End customers of a shop, with their billing details."""

from __future__ import annotations

import attrs

from fabcore.domain import _checks
from fabcore.domain.errors import InvalidInput


def _country(value: str) -> str:
    code = _checks.text(value, "country").upper()
    if len(code) != 2 or not code.isalpha():
        raise InvalidInput(f"country must be an ISO 3166-1 alpha-2 code, got {value!r}")
    return code


@attrs.frozen
class Address:
    """A postal address (billing or shipping)."""

    name: str
    line1: str
    postal_code: str
    city: str
    country: str = attrs.field(converter=_country)
    company: str | None = None
    line2: str | None = None
    region: str | None = None


@attrs.frozen
class BillingContact:
    """Someone in the customer's accounts department who gets carbon copies."""

    name: str
    email: str = attrs.field(converter=_checks.email)


@attrs.define
class Customer:
    """An end customer of one shop.

    When ``billing_contact`` is given, it is copied on the mails about the
    offer, the placed order and purchase-order payment (see
    :mod:`fabcore.domain.notifications`).
    """

    id: str
    shop_id: str
    name: str
    email: str = attrs.field(converter=_checks.email)
    company: str | None = None
    billing_address: Address | None = None
    billing_contact: BillingContact | None = None
