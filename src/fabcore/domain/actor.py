"""Who does something: a customer, a shop's staff member, or the shop's automation."""

from __future__ import annotations

import enum

import attrs


class ActorKind(enum.Enum):
    CUSTOMER = "customer"
    STAFF = "staff"
    # The shop's own automation (payment gateway events, reminders, ERP sync).
    # It may do what staff may, never what only the customer may.
    SYSTEM = "system"


@attrs.frozen
class Actor:
    """The authenticated party behind a change; recorded in the order history."""

    kind: ActorKind
    id: str
    shop_id: str

    @classmethod
    def customer(cls, customer_id: str, shop_id: str) -> Actor:
        return cls(ActorKind.CUSTOMER, customer_id, shop_id)

    @classmethod
    def staff(cls, user_id: str, shop_id: str) -> Actor:
        return cls(ActorKind.STAFF, user_id, shop_id)

    @classmethod
    def system(cls, shop_id: str, name: str = "system") -> Actor:
        return cls(ActorKind.SYSTEM, name, shop_id)

    @property
    def is_customer(self) -> bool:
        return self.kind is ActorKind.CUSTOMER

    def __str__(self) -> str:
        return f"{self.kind.value} {self.id}"
