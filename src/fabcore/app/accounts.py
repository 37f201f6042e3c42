"""Use cases for shops and customers: set-up, sign-up, contact and billing details, settings."""

from __future__ import annotations

import enum
from typing import Any, cast

import attrs

from fabcore.app.runner import Runner
from fabcore.domain import access
from fabcore.domain.actor import Actor, ActorKind
from fabcore.domain.catalog import Catalog
from fabcore.domain.customer import Address, BillingContact, Customer
from fabcore.domain.errors import AlreadyExists, InvalidInput, PermissionDenied
from fabcore.domain.shop import Shop, ShopSettings


class Keep(enum.Enum):
    """Marks an argument left out of an update: the stored value stays."""

    KEEP = "keep"


KEEP = Keep.KEEP


class Accounts(Runner):
    __slots__ = ()

    def create_shop(
        self,
        shop_id: str,
        *,
        name: str,
        catalog: Catalog,
        email: str | None = None,
        settings: ShopSettings | None = None,
    ) -> Shop:
        """Set up a shop (an operator's step, no actor): its catalog and its settings.

        Give ``email`` (it receives the shop's copy of every order mail and
        sends the mails in its name, with every other setting at its
        default) or the whole ``settings``.
        """
        if settings is None:
            if email is None:
                raise InvalidInput("a new shop needs an e-mail address or its settings")
            settings = ShopSettings.for_email(email)
        shop = Shop(shop_id, name, settings)
        with self.uow() as uow:
            uow.shops.add(shop, catalog)
            uow.commit()
        return shop

    def get_shop(self, actor: Actor) -> Shop:
        """The actor's shop: its name and settings."""
        with self.uow() as uow:
            return uow.shops.get(actor.shop_id)

    def update_shop_settings(self, actor: Actor, settings: ShopSettings) -> Shop:
        """The shop's owners change how the shop works (review, payment terms, invoice details)."""
        access.require_owner(actor, "change the shop settings")
        with self.uow() as uow:
            shop = attrs.evolve(uow.shops.get(actor.shop_id), settings=settings)
            uow.shops.save(shop)
            uow.commit()
        return shop

    def catalog(self, actor: Actor) -> Catalog:
        """What the actor's shop sells and how it prices it (visitors may see it)."""
        with self.uow() as uow:
            return uow.shops.catalog(actor.shop_id)

    def update_catalog(self, actor: Actor, catalog: Catalog) -> None:
        """The shop's owners replace its catalog; orders keep the prices they agreed.

        The currency may change only while the shop has no orders: existing
        orders are priced in the currency they were created in.
        """
        access.require_owner(actor, "change the catalog")
        with self.uow() as uow:
            current = uow.shops.catalog(actor.shop_id)
            if catalog.currency != current.currency and uow.orders.summaries(
                actor.shop_id, limit=1
            ):
                raise InvalidInput(
                    f"the shop's orders are in {current.currency}: a catalog in "
                    f"{catalog.currency} cannot replace it"
                )
            uow.shops.save(uow.shops.get(actor.shop_id), catalog)
            uow.commit()

    def register_customer(
        self,
        actor: Actor,
        *,
        name: str,
        email: str,
        company: str | None = None,
        tax_id: str | None = None,
        billing_address: Address | None = None,
        billing_contact: BillingContact | None = None,
    ) -> Customer:
        """Create a customer account of the actor's shop: sign-up (a visitor) or by staff.

        ``AlreadyExists`` when the shop has a customer with that e-mail address.
        """
        if actor.kind not in (ActorKind.VISITOR, ActorKind.STAFF, ActorKind.SYSTEM):
            raise PermissionDenied(f"{actor} is signed in as a customer: sign out to sign up")
        customer = Customer(
            id=self.new_id(), shop_id=actor.shop_id, name=name, email=email, company=company,
            tax_id=tax_id, billing_address=billing_address, billing_contact=billing_contact,
        )
        with self.uow() as uow:
            uow.shops.get(actor.shop_id)
            uow.customers.add(customer)
            uow.commit()
        return customer

    def update_customer(
        self,
        actor: Actor,
        customer_id: str,
        *,
        name: str | Keep = KEEP,
        email: str | Keep = KEEP,
        company: str | Keep | None = KEEP,
        tax_id: str | Keep | None = KEEP,
        billing_address: Address | Keep | None = KEEP,
        billing_contact: BillingContact | Keep | None = KEEP,
    ) -> Customer:
        """Change a customer's contact and billing details: the customer, or their shop's staff.

        Arguments left out stay as they are; ``None`` removes an optional
        detail (the company, tax id, billing address or billing contact).
        Orders already placed keep the billing address they were placed with.
        """
        changes = {
            key: value for key, value in (
                ("name", name), ("email", email), ("company", company), ("tax_id", tax_id),
                ("billing_address", billing_address), ("billing_contact", billing_contact),
            ) if value is not KEEP
        }

        def work() -> Customer:
            with self.uow() as uow:
                customer = self._customer_for(uow, actor, customer_id)
                access.require_signed_in(actor, "change customer details")
                updated = attrs.evolve(customer, **cast(dict[str, Any], changes))
                if updated.email.lower() != customer.email.lower():
                    other = uow.customers.find_by_email(customer.shop_id, updated.email)
                    if other is not None and other.id != customer.id:
                        raise AlreadyExists(
                            f"another customer of the shop has the e-mail {updated.email}"
                        )
                uow.customers.save(updated)
                uow.commit()
                return updated

        return self._retrying(work)

    def set_billing_contact(
        self, actor: Actor, customer_id: str, contact: BillingContact | None
    ) -> Customer:
        """Add, change or (with ``None``) remove the customer's billing contact."""
        return self.update_customer(actor, customer_id, billing_contact=contact)
