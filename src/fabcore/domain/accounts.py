"""Accounts: who can sign in to a shop, and the secrets that stand for them.

An :class:`Account` is a person who signs in to one shop: a customer (tied
to their :class:`~fabcore.domain.customer.Customer`) or a staff member
(``staff`` or ``owner``). Its password is kept only as a hash made by the
:class:`~fabcore.ports.security.PasswordHasher` port.

A :class:`Secret` is a random token handed out once and kept only as its
SHA-256: a signed-in session, a single-use link (sign in, confirm the
e-mail address, accept a staff invitation) or an API key for a service.
Nothing that can be read from storage lets anyone sign in.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from fabcore.domain import checks
from fabcore.domain.actor import Actor, ActorKind
from fabcore.domain.errors import InvalidInput


class Role(enum.Enum):
    """What an account may do in its shop."""

    CUSTOMER = "customer"
    STAFF = "staff"
    OWNER = "owner"

    @property
    def is_staff(self) -> bool:
        return self is not Role.CUSTOMER


def _account_name(value: str) -> str:
    return checks.text(value, "name")


def _lower_email(value: str) -> str:
    return checks.email(value).lower()


@attrs.define
class Account:
    """A person who signs in to one shop (see the module docstring).

    ``email`` is kept in lower case and is unique within the shop.
    ``customer_id`` is set exactly for customers. ``confirmed_at`` is when
    the person proved they read mail at ``email``; ``disabled`` accounts
    cannot sign in.
    """

    id: str
    shop_id: str
    email: str = attrs.field(converter=_lower_email)
    name: str = attrs.field(converter=_account_name)
    role: Role
    created_at: datetime = attrs.field(converter=checks.utc)
    customer_id: str | None = None
    password_hash: str | None = None
    confirmed_at: datetime | None = attrs.field(default=None, converter=checks.optional_utc)
    disabled: bool = False

    def __attrs_post_init__(self) -> None:
        if (self.role is Role.CUSTOMER) != (self.customer_id is not None):
            raise InvalidInput("a customer's account, and only that, names the customer")

    @property
    def actor(self) -> Actor:
        """The actor this account acts as once signed in."""
        if self.role is Role.CUSTOMER and self.customer_id is not None:
            return Actor.customer(self.shop_id, self.customer_id)
        return Actor(ActorKind.STAFF, self.id, self.shop_id, is_owner=self.role is Role.OWNER)


class SecretKind(enum.Enum):
    """What a secret token is for."""

    SESSION = "session"          # a signed-in browser or widget
    SIGN_IN_LINK = "sign_in"     # a single-use "magic" link mailed to sign in
    CONFIRM_EMAIL = "confirm"    # a single-use link proving the e-mail address
    INVITATION = "invitation"    # a single-use link for new staff to set a password
    API_KEY = "api_key"          # a service's key, until revoked

    @property
    def single_use(self) -> bool:
        return self in (SecretKind.SIGN_IN_LINK, SecretKind.CONFIRM_EMAIL, SecretKind.INVITATION)


@attrs.define
class Secret:
    """A token handed out once, kept as its SHA-256 (``digest``).

    ``account_id`` names who it stands for (``None`` for API keys, which act
    as the shop's automation). ``label`` is what people see of it (an API
    key's name and prefix). A secret counts while it is not expired, not
    revoked and, if single-use, not used.
    """

    digest: str = attrs.field(converter=checks.sha256)
    kind: SecretKind
    shop_id: str
    created_at: datetime = attrs.field(converter=checks.utc)
    expires_at: datetime | None = attrs.field(default=None, converter=checks.optional_utc)
    account_id: str | None = None
    label: str = ""
    used_at: datetime | None = attrs.field(default=None, converter=checks.optional_utc)
    revoked_at: datetime | None = attrs.field(default=None, converter=checks.optional_utc)

    def valid_at(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        if self.kind.single_use and self.used_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at
