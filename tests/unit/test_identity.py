"""Signing up and in, sessions, single-use links, staff and API keys, through the use cases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app_fixtures import START
from fabcore.adapters.argon2 import Argon2Hasher
from fabcore.adapters.clock import ManualClock
from fabcore.adapters.memory import MemoryDatabase, RecordingMailer
from fabcore.app.bootstrap import bootstrap
from fabcore.app.facade import Fabcore
from fabcore.app.links import parse_link
from fabcore.app.samples import create_sample_shop
from fabcore.domain.accounts import Role
from fabcore.domain.actor import Actor, ActorKind
from fabcore.domain.errors import (
    AlreadyExists,
    InvalidInput,
    NotAuthenticated,
    PermissionDenied,
    TooManyAttempts,
)
from fabcore.ports.mailer import Mail

SHOP = "acme"
FAST = Argon2Hasher(time_cost=1, memory_cost=1024)


@pytest.fixture
def database() -> MemoryDatabase:
    return MemoryDatabase()


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def app(database: MemoryDatabase, mailer: RecordingMailer, clock: ManualClock) -> Fabcore:
    built = bootstrap(database, mail=mailer, clock=clock, secret_key=b"k" * 32, hasher=FAST,
                      base_url="https://shop.example")
    create_sample_shop(built, SHOP)
    return built


def _mails(app: Fabcore, mailer: RecordingMailer) -> list[Mail]:
    start = len(mailer.sent)
    app.relay_outbox()
    return mailer.sent[start:]


def _token(mail: Mail) -> str:
    assert mail.link is not None
    return mail.link.rsplit("/", 1)[1]


def _sign_up(app: Fabcore, email: str = "ada@example.com", password: str = "correct horse") -> None:
    app.sign_up(SHOP, name="Ada Lovelace", email=email, password=password,
                network_address="192.0.2.1")


def test_sign_up_mails_a_confirmation_and_the_password_works_at_once(
    app: Fabcore, mailer: RecordingMailer, clock: ManualClock
) -> None:
    _sign_up(app)
    [mail] = _mails(app, mailer)
    assert mail.to == ("ada@example.com",)
    assert mail.subject == "[Acme Prototyping] Confirm your e-mail address"
    assert mail.link is not None
    assert mail.link.startswith("https://shop.example/w/acme/confirm/fcl_")
    assert mail.link in mail.text

    signed_in = app.sign_in(SHOP, "ADA@example.com", "correct horse", "192.0.2.1")
    assert signed_in.account.confirmed_at is None
    assert signed_in.actor.is_customer
    customer = app.get_customer(signed_in.actor, signed_in.actor.id)
    assert (customer.name, customer.email) == ("Ada Lovelace", "ada@example.com")
    assert app.authenticate(signed_in.token).actor == signed_in.actor

    clock.advance(timedelta(hours=1))
    confirmed = app.sign_in_with_link(_token(mail))
    assert confirmed.account.confirmed_at == START + timedelta(hours=1)
    with pytest.raises(NotAuthenticated, match="used already"):
        app.sign_in_with_link(_token(mail))


def test_signing_up_with_a_taken_address_mails_its_owner_and_changes_nothing(
    app: Fabcore, mailer: RecordingMailer
) -> None:
    _sign_up(app)
    _mails(app, mailer)
    _sign_up(app, "Ada@Example.com", password="attacker chose this")
    [mail] = _mails(app, mailer)
    assert mail.subject == "[Acme Prototyping] You already have an account"
    assert mail.link is not None
    assert "/sign-in/fcl_" in mail.link
    with pytest.raises(NotAuthenticated):
        app.sign_in(SHOP, "ada@example.com", "attacker chose this")
    assert app.sign_in(SHOP, "ada@example.com", "correct horse").account.name == "Ada Lovelace"
    assert len(app.list_customers(Actor.staff(SHOP, "sam"))) == 1


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(app: Fabcore) -> None:
    _sign_up(app)
    answers = []
    for email, password in (("ada@example.com", "wrong password"),
                            ("nobody@example.com", "correct horse")):
        with pytest.raises(NotAuthenticated) as refused:
            app.sign_in(SHOP, email, password)
        answers.append(str(refused.value))
    assert answers == ["the e-mail address or the password is wrong"] * 2


def test_failed_sign_ins_are_throttled_per_address_then_allowed_again(
    app: Fabcore, clock: ManualClock
) -> None:
    _sign_up(app)
    for _ in range(5):
        with pytest.raises(NotAuthenticated):
            app.sign_in(SHOP, "ada@example.com", "wrong password")
    with pytest.raises(TooManyAttempts, match="too many failed sign-ins") as refused:
        app.sign_in(SHOP, "ada@example.com", "correct horse")
    assert refused.value.retry_after == 900
    clock.advance(timedelta(minutes=16))
    assert app.sign_in(SHOP, "ada@example.com", "correct horse")
    with pytest.raises(NotAuthenticated):
        app.sign_in(SHOP, "ada@example.com", "wrong password")


def test_attempts_from_one_network_address_are_throttled(app: Fabcore) -> None:
    _sign_up(app)
    for n in range(30):
        with pytest.raises(NotAuthenticated):
            app.sign_in(SHOP, f"guess{n}@example.com", "whatever!", "203.0.113.9")
    with pytest.raises(TooManyAttempts, match="from your network"):
        app.sign_in(SHOP, "ada@example.com", "correct horse", "203.0.113.9")
    assert app.sign_in(SHOP, "ada@example.com", "correct horse", "198.51.100.1")


def test_passwords_are_rehashed_when_the_parameters_change(
    database: MemoryDatabase, mailer: RecordingMailer, clock: ManualClock, app: Fabcore
) -> None:
    _sign_up(app)
    stronger = bootstrap(database, mail=mailer, clock=clock, secret_key=b"k" * 32,
                         hasher=Argon2Hasher(time_cost=2, memory_cost=2048))
    customer = stronger.list_customers(Actor.staff(SHOP, "sam"))[0]
    before = stronger.account_of(Actor.customer(SHOP, customer.id)).password_hash
    stronger.sign_in(SHOP, "ada@example.com", "correct horse")
    after = stronger.account_of(Actor.customer(SHOP, customer.id)).password_hash
    assert before is not None
    assert after is not None
    assert "t=1" in before
    assert "t=2" in after
    assert stronger.sign_in(SHOP, "ada@example.com", "correct horse")


def test_a_sign_in_link_is_mailed_only_to_accounts_and_works_once(
    app: Fabcore, mailer: RecordingMailer, clock: ManualClock
) -> None:
    _sign_up(app)
    _mails(app, mailer)
    app.request_sign_in_link(SHOP, "nobody@example.com")
    assert _mails(app, mailer) == []
    app.request_sign_in_link(SHOP, "ada@example.com")
    [mail] = _mails(app, mailer)
    assert mail.subject == "[Acme Prototyping] Your sign-in link"
    assert mail.link is not None
    signed_in = app.sign_in_with_link(_token(mail))
    assert signed_in.account.email == "ada@example.com"
    with pytest.raises(NotAuthenticated):
        app.sign_in_with_link(_token(mail))

    app.request_sign_in_link(SHOP, "ada@example.com")
    [late] = _mails(app, mailer)
    clock.advance(timedelta(minutes=31))
    with pytest.raises(NotAuthenticated, match="expired"):
        app.sign_in_with_link(_token(late))
    with pytest.raises(NotAuthenticated, match="not valid"):
        app.sign_in_with_link("fcl_made-up")


def test_sessions_end_on_sign_out_and_after_thirty_days(app: Fabcore, clock: ManualClock) -> None:
    _sign_up(app)
    one = app.sign_in(SHOP, "ada@example.com", "correct horse")
    two = app.sign_in(SHOP, "ada@example.com", "correct horse")
    app.sign_out(one.token)
    with pytest.raises(NotAuthenticated):
        app.authenticate(one.token)
    assert app.authenticate(two.token).actor == two.actor
    clock.advance(timedelta(days=30))
    with pytest.raises(NotAuthenticated):
        app.authenticate(two.token)
    for bad in ("", "fcs_", "Bearer x", "fcl_not-a-session"):
        with pytest.raises(NotAuthenticated):
            app.authenticate(bad)


def test_changing_the_password_ends_the_other_sessions(app: Fabcore) -> None:
    _sign_up(app)
    session = app.sign_in(SHOP, "ada@example.com", "correct horse")
    with pytest.raises(NotAuthenticated, match="current password"):
        app.change_password(session.actor, "wrong", "battery staple")
    with pytest.raises(InvalidInput, match="8 to 1024"):
        app.change_password(session.actor, "correct horse", "short")
    app.change_password(session.actor, "correct horse", "battery staple")
    with pytest.raises(NotAuthenticated):
        app.authenticate(session.token)
    assert app.sign_in(SHOP, "ada@example.com", "battery staple")


def test_owners_invite_staff_who_choose_a_password(
    app: Fabcore, mailer: RecordingMailer
) -> None:
    owner = app.create_owner(SHOP, email="olga@acme.example", name="Olga", password="owner pass")
    as_owner = app.sign_in(SHOP, "olga@acme.example", "owner pass").actor
    assert as_owner.is_owner
    sam = app.invite_staff(as_owner, email="sam@acme.example", name="Sam", role=Role.STAFF)
    [mail] = _mails(app, mailer)
    assert mail.subject == "[Acme Prototyping] You are invited to the back office"
    assert "Olga invited you" in mail.text
    assert mail.link is not None
    assert "/invitation/fcl_" in mail.link

    signed_in = app.accept_invitation(_token(mail), "staff password")
    assert signed_in.actor == Actor(ActorKind.STAFF, sam.id, SHOP)
    assert not signed_in.actor.is_owner
    with pytest.raises(PermissionDenied, match="owners only"):
        app.invite_staff(signed_in.actor, email="eve@acme.example", name="Eve", role=Role.OWNER)
    with pytest.raises(AlreadyExists):
        app.invite_staff(as_owner, email="SAM@acme.example", name="Sam", role=Role.STAFF)
    assert [a.email for a in app.list_staff(signed_in.actor)] == [
        "olga@acme.example", "sam@acme.example"]

    app.disable_staff(as_owner, sam.id)
    with pytest.raises(NotAuthenticated):
        app.authenticate(signed_in.token)
    with pytest.raises(NotAuthenticated):
        app.sign_in(SHOP, "sam@acme.example", "staff password")
    with pytest.raises(PermissionDenied, match="last owner"):
        app.disable_staff(as_owner, owner.id)


def test_api_keys_act_for_the_shop_until_revoked(app: Fabcore) -> None:
    app.create_owner(SHOP, email="olga@acme.example", name="Olga", password="owner pass")
    owner = app.sign_in(SHOP, "olga@acme.example", "owner pass").actor
    issued = app.create_api_key(owner, "ERP sync")
    assert issued.key.startswith("fck_")
    assert issued.key not in issued.secret.label
    assert issued.secret.label.startswith("ERP sync (fck_")
    who = app.authenticate(issued.key)
    assert who.actor.kind is ActorKind.SYSTEM
    assert who.actor.shop_id == SHOP
    assert [k.label for k in app.list_api_keys(owner)] == [issued.secret.label]
    assert app.list_order_summaries(who.actor) == []

    app.revoke_api_key(owner, issued.secret.digest)
    with pytest.raises(NotAuthenticated):
        app.authenticate(issued.key)
    with pytest.raises(PermissionDenied):
        app.create_api_key(Actor.staff(SHOP, "sam"), "mine")


def test_the_shops_are_kept_apart(app: Fabcore) -> None:
    create_sample_shop(app, "other")
    _sign_up(app)
    with pytest.raises(NotAuthenticated):
        app.sign_in("other", "ada@example.com", "correct horse")
    app.sign_up("other", name="Ada Elsewhere", email="ada@example.com", password="another pw")
    theirs = app.sign_in("other", "ada@example.com", "another pw")
    assert theirs.actor.shop_id == "other"
    assert parse_link("https://shop.example/offers/x")[1] == "x"
