"""Use cases for signing in: accounts, sessions, single-use links, staff and API keys.

Secrets (session tokens, links, API keys) are random, handed out once, and
stored as their SHA-256 only (:class:`~fabcore.domain.accounts.Secret`);
a presented token is found by its SHA-256, so how long a lookup takes
tells nothing about a stored token.
Passwords are stored as slow hashes (the ``PasswordHasher`` port) and
rehashed at sign-in when the parameters change.

Nothing here tells whether an e-mail address has an account: a wrong
address and a wrong password get the same answer in about the same time,
asking for a sign-in link always "sends" one, and signing up with an
address already taken mails its owner instead. Attempts are counted per
address and per network address (``TooManyAttempts`` past the limits),
in the database so several web nodes count together.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, Final, cast

import attrs

from fabcore.app.runner import Runner
from fabcore.domain import access
from fabcore.domain.accounts import Account, Role, Secret, SecretKind
from fabcore.domain.actor import Actor, ActorKind
from fabcore.domain.customer import Address, BillingContact, Customer
from fabcore.domain.errors import (
    AlreadyExists,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)
from fabcore.domain.shop import Shop
from fabcore.ports.outbox import OutboxMessage
from fabcore.ports.repositories import UnitOfWork

SESSION_TTL: Final = timedelta(days=30)
LINK_TTL: Final = timedelta(minutes=30)
CONFIRM_TTL: Final = timedelta(days=7)
INVITATION_TTL: Final = timedelta(days=7)
THROTTLE_WINDOW: Final = timedelta(minutes=15)
# Failed sign-ins per e-mail address, and attempts per network address, in a window.
MAX_FAILURES_PER_EMAIL: Final = 5
MAX_ATTEMPTS_PER_ADDRESS: Final = 30
MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 1024

SESSION_PREFIX: Final = "fcs_"
LINK_PREFIX: Final = "fcl_"
API_KEY_PREFIX: Final = "fck_"


def digest(token: str) -> str:
    """The SHA-256 a secret token is stored as."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _password(value: str) -> str:
    if not isinstance(value, str) or not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )
    return value


@attrs.frozen
class SignedIn:
    """A new session: ``token`` is what the browser (cookie) or widget (bearer) presents."""

    token: str
    account: Account
    expires_at: datetime

    @property
    def actor(self) -> Actor:
        return self.account.actor


@attrs.frozen
class Authenticated:
    """Who presented a token: the actor, and the account behind it (``None`` for API keys)."""

    actor: Actor
    account: Account | None
    secret: Secret


@attrs.frozen
class IssuedKey:
    """An API key, shown once in full (``key``); ``secret.label`` is what lists show of it."""

    key: str
    secret: Secret


class Identity(Runner):
    __slots__ = ()

    # -- set-up and sign-up ---------------------------------------------------------

    def create_owner(
        self, shop_id: str, *, email: str, name: str, password: str
    ) -> Account:
        """Give a new shop its first owner (an operator's step, no actor)."""
        account = Account(
            id=self.new_id(), shop_id=shop_id, email=email, name=name, role=Role.OWNER,
            created_at=self.clock.now(), password_hash=self.hasher.hash(_password(password)),
            confirmed_at=self.clock.now(),
        )
        with self.uow() as uow:
            uow.shops.get(shop_id)
            uow.accounts.add(account)
            uow.commit()
        return account

    def sign_up(
        self,
        shop_id: str,
        *,
        name: str,
        email: str,
        password: str,
        company: str | None = None,
        tax_id: str | None = None,
        billing_address: Address | None = None,
        billing_contact: BillingContact | None = None,
        network_address: str = "",
    ) -> None:
        """Create a customer account and mail a link to confirm the address.

        The answer is the same whether or not the address is taken: when it
        is, its owner is mailed a sign-in link instead and nothing else
        changes. The new customer may sign in with the password at once.
        """
        now = self.clock.now()
        self._count_attempt(shop_id, network_address, now)
        password_hash = self.hasher.hash(_password(password))
        customer = Customer(id=self.new_id(), shop_id=shop_id, name=name, email=email,
                            company=company, tax_id=tax_id, billing_address=billing_address,
                            billing_contact=billing_contact)
        with self.uow() as uow:
            shop = uow.shops.get(shop_id)
            existing = uow.accounts.find_by_email(shop_id, email)
            if existing is not None:
                if not existing.disabled:
                    uow.outbox.add(self._link_mail(uow, shop, existing, SecretKind.SIGN_IN_LINK,
                                                   "account_exists", now))
                uow.commit()
                if not existing.disabled:
                    self._mails_queued()
                return
            account = Account(id=self.new_id(), shop_id=shop_id, email=email, name=name,
                              role=Role.CUSTOMER, created_at=now, customer_id=customer.id,
                              password_hash=password_hash)
            try:
                uow.customers.add(customer)
            except AlreadyExists:
                # A customer the shop registered itself: the account joins it.
                found = uow.customers.find_by_email(shop_id, email)
                if found is None:
                    raise
                account = attrs.evolve(account, customer_id=found.id)
            uow.accounts.add(account)
            uow.outbox.add(self._link_mail(uow, shop, account, SecretKind.CONFIRM_EMAIL,
                                           "account_confirm", now))
            uow.commit()
        self._mails_queued()

    # -- signing in and out ----------------------------------------------------------

    def sign_in(
        self, shop_id: str, email: str, password: str, network_address: str = ""
    ) -> SignedIn:
        """A session for the account with this e-mail address and password.

        ``NotAuthenticated`` names neither which was wrong; ``TooManyAttempts``
        after too many failures for the address or attempts from the network
        address in a short time.
        """
        now = self.clock.now()
        self._count_attempt(shop_id, network_address, now)
        email_key = f"email:{shop_id}:{email.strip().lower()}"
        with self.uow() as uow:
            failures = uow.throttle.hit(email_key, now, THROTTLE_WINDOW) - 1
            uow.commit()
        if failures >= MAX_FAILURES_PER_EMAIL:
            raise TooManyAttempts(
                "too many failed sign-ins for this e-mail address: try again later, or ask "
                "for a sign-in link", int(THROTTLE_WINDOW.total_seconds()))
        with self.uow() as uow:
            account = uow.accounts.find_by_email(shop_id, email)
        stored = account.password_hash if account is not None else None
        # Verify against a real hash even for an unknown address, so both take as long.
        matched = self.hasher.verify(stored or _decoy_hash(self), password)
        if account is None or account.disabled or stored is None or not matched:
            raise NotAuthenticated("the e-mail address or the password is wrong")
        with self.uow() as uow:
            uow.throttle.clear(email_key)
            if self.hasher.needs_rehash(stored):
                account = attrs.evolve(uow.accounts.get(account.id),
                                       password_hash=self.hasher.hash(password))
                uow.accounts.save(account)
            signed_in = self._session(uow, account, now)
            uow.commit()
        return signed_in

    def request_sign_in_link(
        self, shop_id: str, email: str, network_address: str = ""
    ) -> None:
        """Mail a single-use sign-in link if the address has an account (answering the same)."""
        now = self.clock.now()
        self._count_attempt(shop_id, network_address, now)
        with self.uow() as uow:
            shop = uow.shops.get(shop_id)
            account = uow.accounts.find_by_email(shop_id, email)
            if account is None or account.disabled:
                return
            uow.outbox.add(self._link_mail(uow, shop, account, SecretKind.SIGN_IN_LINK,
                                           "account_sign_in_link", now))
            uow.commit()
        self._mails_queued()

    def sign_in_with_link(self, token: str) -> SignedIn:
        """Sign in with a mailed link (a sign-in link, or the sign-up confirmation); once only.

        Opening it also confirms the e-mail address.
        """
        return self._redeem(token, (SecretKind.SIGN_IN_LINK, SecretKind.CONFIRM_EMAIL), None)

    def accept_invitation(self, token: str, password: str) -> SignedIn:
        """New staff choose their password from the invitation link, and are signed in."""
        return self._redeem(token, (SecretKind.INVITATION,), _password(password))

    def sign_out(self, token: str) -> None:
        """End the session of ``token`` (an unknown or ended session changes nothing)."""
        with self.uow() as uow:
            secret = uow.secrets.get(digest(token))
            if secret is None or secret.kind is not SecretKind.SESSION or secret.revoked_at:
                return
            secret.revoked_at = self.clock.now()
            uow.secrets.save(secret)
            uow.commit()

    def authenticate(self, token: str) -> Authenticated:
        """Who a session token or API key stands for; ``NotAuthenticated`` when nobody."""
        if not isinstance(token, str) or not token.startswith((SESSION_PREFIX, API_KEY_PREFIX)):
            raise NotAuthenticated("sign in first")
        now = self.clock.now()
        with self.uow() as uow:
            secret = uow.secrets.get(digest(token))
            if secret is None or secret.kind not in (SecretKind.SESSION, SecretKind.API_KEY) \
                    or not secret.valid_at(now):
                raise NotAuthenticated("the session has ended: sign in again")
            if secret.kind is SecretKind.API_KEY:
                return Authenticated(Actor.system(secret.shop_id, secret.label), None, secret)
            if secret.account_id is None:
                raise NotAuthenticated("the session has ended: sign in again")
            account = uow.accounts.get(secret.account_id)
        if account.disabled:
            raise NotAuthenticated("the account is disabled")
        return Authenticated(account.actor, account, secret)

    def change_password(self, actor: Actor, current: str, new: str) -> None:
        """Change the signed-in person's password; their other sessions end."""
        password = _password(new)
        with self.uow() as uow:
            account = self._account_of(uow, actor)
        if account.password_hash is None or not self.hasher.verify(account.password_hash,
                                                                   current):
            raise NotAuthenticated("the current password is wrong")
        with self.uow() as uow:
            account = attrs.evolve(uow.accounts.get(account.id),
                                   password_hash=self.hasher.hash(password))
            uow.accounts.save(account)
            uow.secrets.revoke_for_account(account.id, SecretKind.SESSION, self.clock.now())
            uow.commit()

    def account_of(self, actor: Actor) -> Account:
        """The account of a signed-in person."""
        with self.uow() as uow:
            return self._account_of(uow, actor)

    # -- staff and API keys (owners) ---------------------------------------------------------

    def invite_staff(self, actor: Actor, *, email: str, name: str, role: Role) -> Account:
        """Owners add a staff member (or owner), who gets a link to choose a password."""
        access.require_owner(actor, "invite staff")
        if not role.is_staff:
            raise InvalidInput("invite staff or owners; customers sign up themselves")
        now = self.clock.now()
        account = Account(id=self.new_id(), shop_id=actor.shop_id, email=email, name=name,
                          role=role, created_at=now)
        with self.uow() as uow:
            shop = uow.shops.get(actor.shop_id)
            uow.accounts.add(account)
            inviter = uow.accounts.get(actor.id).name if actor.kind is ActorKind.STAFF \
                else shop.name
            uow.outbox.add(self._link_mail(uow, shop, account, SecretKind.INVITATION,
                                           "staff_invitation", now,
                                           extra={"inviter": inviter, "role": role.value}))
            uow.commit()
        self._mails_queued()
        return account

    def list_staff(self, actor: Actor) -> list[Account]:
        access.require_staff(actor, "list staff")
        with self.uow() as uow:
            return list(uow.accounts.list(actor.shop_id, staff=True))

    def disable_staff(self, actor: Actor, account_id: str) -> Account:
        """Owners take back a staff member's access (sessions end); the last owner stays."""
        access.require_owner(actor, "remove staff")
        with self.uow() as uow:
            account = uow.accounts.get(account_id)
            if account.shop_id != actor.shop_id or not account.role.is_staff:
                raise NotFound(f"no staff member {account_id!r}")
            owners = [a for a in uow.accounts.list(actor.shop_id, staff=True)
                      if a.role is Role.OWNER and not a.disabled]
            if account.role is Role.OWNER and [o.id for o in owners] == [account.id]:
                raise PermissionDenied("the shop's last owner cannot be removed")
            account = attrs.evolve(account, disabled=True)
            uow.accounts.save(account)
            uow.secrets.revoke_for_account(account.id, SecretKind.SESSION, self.clock.now())
            uow.commit()
        return account

    def create_api_key(self, actor: Actor, name: str) -> IssuedKey:
        """Owners issue a key for a service; it is shown once, acts as the shop's automation."""
        access.require_owner(actor, "create API keys")
        label_name = name.strip() if isinstance(name, str) else ""
        if not label_name or len(label_name) > 80:
            raise InvalidInput("an API key needs a name of 1 to 80 characters")
        prefix = secrets.token_hex(4)
        key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        secret = Secret(digest(key), SecretKind.API_KEY, actor.shop_id, self.clock.now(),
                        label=f"{label_name} ({API_KEY_PREFIX}{prefix})")
        with self.uow() as uow:
            uow.secrets.add(secret)
            uow.commit()
        return IssuedKey(key, secret)

    def list_api_keys(self, actor: Actor) -> list[Secret]:
        access.require_owner(actor, "list API keys")
        with self.uow() as uow:
            return list(uow.secrets.list(actor.shop_id, SecretKind.API_KEY))

    def revoke_api_key(self, actor: Actor, key_digest: str) -> Secret:
        access.require_owner(actor, "revoke API keys")
        with self.uow() as uow:
            secret = uow.secrets.get(key_digest)
            if secret is None or secret.shop_id != actor.shop_id \
                    or secret.kind is not SecretKind.API_KEY:
                raise NotFound("no such API key")
            if secret.revoked_at is None:
                secret.revoked_at = self.clock.now()
                uow.secrets.save(secret)
                uow.commit()
            return secret

    # -- machinery ------------------------------------------------------------------------------

    def _count_attempt(self, shop_id: str, network_address: str, now: datetime) -> None:
        if not network_address:
            return
        with self.uow() as uow:
            attempts = uow.throttle.hit(f"address:{network_address}", now, THROTTLE_WINDOW)
            uow.commit()
        if attempts > MAX_ATTEMPTS_PER_ADDRESS:
            raise TooManyAttempts("too many attempts from your network: try again later",
                                  int(THROTTLE_WINDOW.total_seconds()))

    @staticmethod
    def _account_of(uow: UnitOfWork, actor: Actor) -> Account:
        if actor.is_customer:
            account = uow.accounts.find_by_customer(actor.id)
        elif actor.kind is ActorKind.STAFF:
            account = uow.accounts.get(actor.id)
        else:
            account = None
        if account is None or account.shop_id != actor.shop_id:
            raise NotAuthenticated(f"{actor} has no account to sign in with")
        return account

    def _session(self, uow: UnitOfWork, account: Account, now: datetime) -> SignedIn:
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        expires = now + SESSION_TTL
        uow.secrets.add(Secret(digest(token), SecretKind.SESSION, account.shop_id, now,
                               expires_at=expires, account_id=account.id))
        return SignedIn(token, account, expires)

    def _link_mail(
        self, uow: UnitOfWork, shop: Shop, account: Account, kind: SecretKind, template: str,
        now: datetime, extra: dict[str, str] | None = None,
    ) -> OutboxMessage:
        ttl = {SecretKind.CONFIRM_EMAIL: CONFIRM_TTL, SecretKind.INVITATION: INVITATION_TTL}
        expires = now + ttl.get(kind, LINK_TTL)
        token = LINK_PREFIX + secrets.token_urlsafe(32)
        uow.secrets.add(Secret(digest(token), kind, shop.id, now, expires_at=expires,
                               account_id=account.id))
        path = {SecretKind.CONFIRM_EMAIL: "confirm",
                SecretKind.INVITATION: "invitation"}.get(kind, "sign-in")
        message_id = self.new_id()
        mail = self.notifier.renderer.render_account(
            template, shop=shop, to=account.email, name=account.name,
            link_url=self.notifier.urls.account(path, token, shop.id,
                                                staff=account.role is not Role.CUSTOMER),
            expires_at=expires,
            message_id=f"<{message_id}@fabcore>", extra=extra,
        )
        return OutboxMessage(id=message_id, shop_id=shop.id, order_id=None, mail=mail,
                             created_at=now)

    def _redeem(
        self, token: str, kinds: tuple[SecretKind, ...], password: str | None
    ) -> SignedIn:
        now = self.clock.now()
        with self.uow() as uow:
            secret = uow.secrets.get(digest(token)) if isinstance(token, str) else None
            if secret is None or secret.kind not in kinds or secret.account_id is None:
                raise NotAuthenticated("this link is not valid: ask for a new one")
            if not secret.valid_at(now):
                raise NotAuthenticated("this link was used already or has expired: ask for "
                                       "a new one")
            secret.used_at = now
            uow.secrets.save(secret)
            account = uow.accounts.get(secret.account_id)
            if account.disabled:
                raise NotAuthenticated("the account is disabled")
            changes: dict[str, object] = {}
            if account.confirmed_at is None:
                changes["confirmed_at"] = now
            if password is not None:
                changes["password_hash"] = self.hasher.hash(password)
            if changes:
                account = attrs.evolve(account, **cast(dict[str, Any], changes))
                uow.accounts.save(account)
            signed_in = self._session(uow, account, now)
            uow.commit()
        return signed_in


def _decoy_hash(identity: Identity) -> str:
    """A hash of a random password, made once per process, for unknown addresses."""
    found = _DECOYS.get(id(identity.hasher))
    if found is None:
        found = _DECOYS[id(identity.hasher)] = identity.hasher.hash(secrets.token_urlsafe(16))
    return found


_DECOYS: dict[int, str] = {}

