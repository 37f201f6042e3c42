"""A shop: the tenant every order, customer and staff member belongs to."""

from __future__ import annotations

import attrs

from fabcore.domain import _checks
from fabcore.domain.errors import InvalidInput
from fabcore.domain.money import Money
from fabcore.domain.review import ReviewPolicy


def _emails(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    addresses = tuple(_checks.email(v, "shop notification address") for v in values)
    if not addresses:
        raise InvalidInput("a shop needs at least one notification address")
    return addresses


def _currency(value: str) -> str:
    return Money.zero(value).currency


@attrs.define
class ShopSettings:
    """How a shop works.

    ``notify_emails`` receive the shop's copy of every order mail;
    ``sender_email`` is the From address of mails sent in the shop's name.
    With ``payment_before_production`` an order may be released or
    manufactured only once it is paid or its purchase order is accepted.
    """

    currency: str = attrs.field(converter=_currency)
    notify_emails: tuple[str, ...] = attrs.field(converter=_emails)
    sender_email: str = attrs.field(converter=_checks.email)
    review: ReviewPolicy = attrs.field(factory=ReviewPolicy)
    payment_before_production: bool = False


@attrs.define
class Shop:
    """A manufacturing shop using fabcore."""

    id: str
    name: str
    settings: ShopSettings
