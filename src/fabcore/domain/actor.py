"""Who does something: a visitor, a customer, a shop's staff member or owner, or automation.

Every constructor takes the shop first, then who it is within the shop::

    Actor.customer("acme", customer_id)
    Actor.staff("acme", "sam")
    Actor.owner("acme", "olga")
    Actor.system("acme", "payment-gateway")
    Actor.visitor("acme")
"""

from __future__ import annotations

import enum

import attrs


class ActorKind(enum.Enum):
    # Someone not signed in: may sign up, look at the catalog and get quotes.
    VISITOR = "visitor"
    CUSTOMER = "customer"
    STAFF = "staff"
    # The shop's own automation (payment gateway events, reminders, ERP sync).
    # It may do what the owner may, never what only the customer may.
    SYSTEM = "system"


@attrs.frozen
class Actor:
    """The party behind a change; recorded in the order history.

    ``is_owner`` marks a staff member who also manages the shop: its
    settings, catalog, staff and API keys.
    """

    kind: ActorKind
    id: str
    shop_id: str
    is_owner: bool = False

    @classmethod
    def customer(cls, shop_id: str, customer_id: str) -> Actor:
        return cls(ActorKind.CUSTOMER, customer_id, shop_id)

    @classmethod
    def staff(cls, shop_id: str, user_id: str) -> Actor:
        return cls(ActorKind.STAFF, user_id, shop_id)

    @classmethod
    def owner(cls, shop_id: str, user_id: str) -> Actor:
        """A staff member who manages the shop."""
        return cls(ActorKind.STAFF, user_id, shop_id, is_owner=True)

    @classmethod
    def system(cls, shop_id: str, name: str = "system") -> Actor:
        return cls(ActorKind.SYSTEM, name, shop_id)

    @classmethod
    def visitor(cls, shop_id: str) -> Actor:
        return cls(ActorKind.VISITOR, "visitor", shop_id)

    @property
    def is_customer(self) -> bool:
        return self.kind is ActorKind.CUSTOMER

    @property
    def manages_shop(self) -> bool:
        """Owners and the shop's automation: who may change settings, catalog and staff."""
        return self.kind is ActorKind.SYSTEM or (self.kind is ActorKind.STAFF and self.is_owner)

    @property
    def is_staff(self) -> bool:
        """Staff, owners and the shop's automation: whoever acts for the shop."""
        return self.kind in (ActorKind.STAFF, ActorKind.SYSTEM)

    def __str__(self) -> str:
        kind = "owner" if self.is_owner else self.kind.value
        return f"{kind} {self.id}"
