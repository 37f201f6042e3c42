"""Who may see and do what: the access rules of every use case, in one place.

Two kinds of refusal, kept apart on purpose:

- what an actor may not **see** (another shop's data, another customer's
  order or account) is reported as ``NotFound``, exactly as if it did not
  exist, so nobody can probe for other people's orders;
- what an actor can see but may not **do** (a customer pulling a
  staff-only trigger, staff changing owner-only settings) is
  ``PermissionDenied``.
"""

from __future__ import annotations

from typing import Protocol

from fabcore.domain.actor import Actor, ActorKind
from fabcore.domain.errors import NotFound, PermissionDenied
from fabcore.domain.status import Who


class ShopOwned(Protocol):
    """Anything that belongs to a shop, and perhaps to one customer of it."""

    @property
    def shop_id(self) -> str: ...


class CustomerOwned(ShopOwned, Protocol):
    @property
    def customer_id(self) -> str | None: ...


def require_staff(actor: Actor, action: str) -> None:
    """Staff, owners and the shop's automation only."""
    if not actor.is_staff:
        raise PermissionDenied(f"{actor} may not {action}: shop staff only")


def require_owner(actor: Actor, action: str) -> None:
    """Owners and the shop's automation only."""
    require_staff(actor, action)
    if not actor.manages_shop:
        raise PermissionDenied(f"{actor} may not {action}: the shop's owners only")


def require_signed_in(actor: Actor, action: str) -> None:
    if actor.kind is ActorKind.VISITOR:
        raise PermissionDenied(f"sign in to {action}")


def require_shop(actor: Actor, shop_id: str, what: str = "shop") -> None:
    """``NotFound`` unless the actor belongs to ``shop_id``."""
    if actor.shop_id != shop_id:
        raise NotFound(f"no {what} {shop_id!r}")


def visible_order(actor: Actor, order: CustomerOwned, label: str) -> None:
    """``NotFound`` unless the actor may see the order: staff of its shop, or its customer."""
    if order.shop_id != actor.shop_id or actor.kind is ActorKind.VISITOR or (
        actor.is_customer and order.customer_id != actor.id
    ):
        raise NotFound(f"no {label}")


def visible_customer(actor: Actor, customer: ShopOwned, customer_id: str) -> None:
    """``NotFound`` unless the actor is staff of the customer's shop, or the customer."""
    if customer.shop_id != actor.shop_id or actor.kind is ActorKind.VISITOR or (
        actor.is_customer and customer_id != actor.id
    ):
        raise NotFound(f"no customer {customer_id!r}")


def listed_customer(actor: Actor, customer_id: str | None) -> str | None:
    """The customer filter a listing runs with: a customer lists their own orders only."""
    if actor.is_customer:
        if customer_id not in (None, actor.id):
            raise PermissionDenied(f"{actor} cannot list another customer's orders")
        return actor.id
    require_signed_in(actor, "list orders")
    return customer_id


def may_pull(actor: Actor, who: Who, action: str, label: str) -> None:
    """``PermissionDenied`` unless ``actor`` may pull a trigger for ``who`` (order already visible).

    Staff act for the customer where the table says C/S; only the customer
    accepts an offer or asks for changes to it.
    """
    if actor.is_customer:
        if who is Who.STAFF:
            raise PermissionDenied(f"only shop staff may {action} ({label})")
    elif not actor.is_staff:
        raise PermissionDenied(f"sign in to {action} ({label})")
    elif who is Who.CUSTOMER:
        raise PermissionDenied(f"only the customer may {action} ({label})")
