"""Contract tests for the account side of a storage adapter: accounts, secrets, throttle, analyses.

Subclass the suites with a ``database`` fixture returning an empty
``UnitOfWorkFactory``, as for :mod:`fabcore.testing.repositories`.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import attrs
import pytest

from fabcore.domain.accounts import Account, Role, Secret, SecretKind
from fabcore.domain.analysis import AnalysisRequest, AnalysisState, Units
from fabcore.domain.errors import AlreadyExists, NotFound
from fabcore.ports.repositories import UnitOfWorkFactory
from fabcore.testing import aggregates as a
from fabcore.testing.repositories import run_threads, seed


def account(account_id: str = "acc-1", *, shop_id: str = "shop-1", email: str = "Ada@Example.com",
            role: Role = Role.CUSTOMER) -> Account:
    return Account(
        id=account_id, shop_id=shop_id, email=email, name="Ada Lovelace", role=role,
        created_at=a.T0, customer_id="cust-1" if role is Role.CUSTOMER else None,
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", confirmed_at=a.T0,
    )


def secret(digest: str = "ab" * 32, *, kind: SecretKind = SecretKind.SESSION,
           account_id: str | None = "acc-1", shop_id: str = "shop-1") -> Secret:
    return Secret(digest, kind, shop_id, a.T0, expires_at=a.T0 + timedelta(days=30),
                  account_id=account_id, label="Firefox on Linux ✓")


class _DatabaseFixture:
    @pytest.fixture
    def database(self) -> UnitOfWorkFactory:
        raise NotImplementedError("a storage contract subclass must provide a `database` fixture")


class AccountRepositoryContract(_DatabaseFixture):
    def test_round_trip_and_lookups(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        staff = account("acc-2", email="sam@shop.example", role=Role.OWNER)
        with database() as uow:
            uow.accounts.add(account())
            uow.accounts.add(staff)
            uow.commit()
        with database() as uow:
            assert uow.accounts.get("acc-1") == account()
            assert uow.accounts.get("acc-1").email == "ada@example.com"
            assert uow.accounts.find_by_email("shop-1", " ADA@example.COM ") == account()
            assert uow.accounts.find_by_email("shop-2", "ada@example.com") is None
            assert uow.accounts.find_by_customer("cust-1") == account()
            assert uow.accounts.list("shop-1", staff=True) == [staff]
            assert uow.accounts.list("shop-1", staff=False) == [account()]

    def test_e_mail_is_unique_per_shop(self, database: UnitOfWorkFactory) -> None:
        seed(database, "shop-1", "shop-2")
        with database() as uow:
            uow.accounts.add(account())
            uow.commit()
        with database() as uow, pytest.raises(AlreadyExists):
            uow.accounts.add(account("acc-9", email="ADA@example.com", role=Role.STAFF))
        with database() as uow:
            uow.accounts.add(account("acc-3", shop_id="shop-2", email="ada@example.com",
                                     role=Role.STAFF))
            uow.accounts.add(account("acc-4", email="sam@shop.example", role=Role.STAFF))
            uow.commit()
        with database() as uow:
            moved = attrs.evolve(uow.accounts.get("acc-4"), email="ada@example.com")
            with pytest.raises(AlreadyExists):
                uow.accounts.save(moved)
        with database() as uow:
            assert uow.accounts.get("acc-4").email == "sam@shop.example"

    def test_save_and_unknown(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            uow.accounts.add(account())
            uow.commit()
        with database() as uow:
            changed = attrs.evolve(uow.accounts.get("acc-1"), disabled=True, password_hash=None)
            uow.accounts.save(changed)
            uow.commit()
        with database() as uow:
            assert uow.accounts.get("acc-1") == changed
            with pytest.raises(NotFound):
                uow.accounts.get("nope")
            with pytest.raises(NotFound):
                uow.accounts.save(account("nope", email="x@example.com"))


class SecretRepositoryContract(_DatabaseFixture):
    def test_round_trip_use_and_listing(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        link = secret("cd" * 32, kind=SecretKind.SIGN_IN_LINK)
        key = secret("ef" * 32, kind=SecretKind.API_KEY, account_id=None)
        with database() as uow:
            uow.accounts.add(account())
            for item in (secret(), link, key):
                uow.secrets.add(item)
            uow.commit()
        with database() as uow:
            assert uow.secrets.get("ab" * 32) == secret()
            assert uow.secrets.get("00" * 32) is None
            assert uow.secrets.list("shop-1", SecretKind.API_KEY) == [key]
            used = attrs.evolve(link, used_at=a.T0 + timedelta(minutes=1))
            uow.secrets.save(used)
            uow.commit()
        with database() as uow:
            stored = uow.secrets.get("cd" * 32)
            assert stored == used
            assert stored is not None
            assert not stored.valid_at(a.T0 + timedelta(minutes=2))
            with pytest.raises(AlreadyExists):
                uow.secrets.add(secret())

    def test_revoke_every_session_of_an_account(self, database: UnitOfWorkFactory) -> None:
        seed(database)
        with database() as uow:
            uow.accounts.add(account())
            uow.secrets.add(secret("a1" * 32))
            uow.secrets.add(secret("a2" * 32))
            uow.secrets.add(secret("a3" * 32, kind=SecretKind.SIGN_IN_LINK))
            uow.commit()
        with database() as uow:
            at = a.T0 + timedelta(hours=1)
            assert uow.secrets.revoke_for_account("acc-1", SecretKind.SESSION, at) == 2
            uow.commit()
        with database() as uow:
            sessions = uow.secrets.list("shop-1", SecretKind.SESSION)
            assert [s.revoked_at for s in sessions] == [a.T0 + timedelta(hours=1)] * 2
            link = uow.secrets.get("a3" * 32)
            assert link is not None
            assert link.revoked_at is None


class ThrottleRepositoryContract(_DatabaseFixture):
    def test_counts_within_a_window_and_starts_again_after(
        self, database: UnitOfWorkFactory
    ) -> None:
        window = timedelta(minutes=15)
        with database() as uow:
            assert [uow.throttle.hit("ip:1", a.T0 + timedelta(minutes=i), window)
                    for i in range(3)] == [1, 2, 3]
            assert uow.throttle.hit("ip:2", a.T0, window) == 1
            uow.commit()
        with database() as uow:
            assert uow.throttle.hit("ip:1", a.T0 + timedelta(minutes=14), window) == 4
            assert uow.throttle.hit("ip:1", a.T0 + timedelta(minutes=15), window) == 1
            uow.throttle.clear("ip:2")
            assert uow.throttle.hit("ip:2", a.T0 + timedelta(minutes=1), window) == 1
            uow.commit()

    def test_rolled_back_hits_do_not_count(self, database: UnitOfWorkFactory) -> None:
        window = timedelta(minutes=15)
        with database() as uow:
            uow.throttle.hit("ip:1", a.T0, window)
        with database() as uow:
            assert uow.throttle.hit("ip:1", a.T0, window) == 1

    def test_concurrent_hits_are_all_counted(self, database: UnitOfWorkFactory) -> None:
        window = timedelta(minutes=15)
        seen: list[int] = []
        lock = threading.Lock()

        def attempt(_: int) -> None:
            with database() as uow:
                count = uow.throttle.hit("email:ada", a.T0, window)
                uow.commit()
            with lock:
                seen.append(count)

        assert run_threads(8, attempt) == []
        with database() as uow:
            assert uow.throttle.hit("email:ada", a.T0, window) == 9


class AnalysisRepositoryContract(_DatabaseFixture):
    def test_requests_are_kept_per_file_and_unit(self, database: UnitOfWorkFactory) -> None:
        request = AnalysisRequest("cd" * 32, Units.MM, "big.stl", 50_000_000, a.T0,
                                  request_id="req-1")
        with database() as uow:
            assert uow.analyses.request("cd" * 32, "mm") is None
            uow.analyses.save_request(request)
            uow.commit()
        with database() as uow:
            assert uow.analyses.request("cd" * 32, "mm") == request
            assert uow.analyses.request("cd" * 32, "inch") is None
        request.state = AnalysisState.REJECTED
        request.attempts = 2
        request.started_at = a.T0 + timedelta(seconds=1)
        request.finished_at = a.T0 + timedelta(seconds=9)
        request.reason = "the file is not a mesh"
        with database() as uow:
            uow.analyses.save_request(request)
            uow.commit()
        with database() as uow:
            assert uow.analyses.request("cd" * 32, "mm") == request

    def test_a_request_saved_without_commit_is_not_kept(
        self, database: UnitOfWorkFactory
    ) -> None:
        with database() as uow:
            uow.analyses.save_request(
                AnalysisRequest("cd" * 32, Units.INCH, "big.stl", 1, a.T0))
        with database() as uow:
            assert uow.analyses.request("cd" * 32, "inch") is None

    def test_a_file_is_in_use_by_analyses_and_other_live_requests(
        self, database: UnitOfWorkFactory
    ) -> None:
        sha, other = "cd" * 32, "ef" * 32
        refused = AnalysisRequest(sha, Units.MM, "big.stl", 1, a.T0,
                                  state=AnalysisState.REJECTED)
        with database() as uow:
            uow.analyses.save_request(refused)
            uow.analyses.add(other, "mm", a.analysis("other.stl"))
            uow.commit()
        with database() as uow:
            assert not uow.analyses.in_use(sha, "mm")
            uow.analyses.save_request(attrs.evolve(refused, units=Units.INCH))
            uow.commit()
        with database() as uow:
            assert not uow.analyses.in_use(sha, "mm")
            uow.analyses.save_request(attrs.evolve(refused, units=Units.INCH,
                                                   state=AnalysisState.PENDING))
            assert uow.analyses.in_use(sha, "mm")
            assert not uow.analyses.in_use(sha, "inch")
            uow.commit()
        with database() as uow:
            assert uow.analyses.in_use(sha, "mm")
            uow.analyses.add(sha, "inch", a.analysis("big.stl"))
            uow.commit()
        with database() as uow:
            assert uow.analyses.in_use(sha, "inch")

    def test_keeps_one_analysis_per_file_and_unit(self, database: UnitOfWorkFactory) -> None:
        first, other = a.analysis("bracket.stl"), a.analysis("other-name.stl")
        with database() as uow:
            assert uow.analyses.get("ab" * 32, "mm") is None
            uow.analyses.add("ab" * 32, "mm", first)
            uow.commit()
        with database() as uow:
            uow.analyses.add("ab" * 32, "mm", other)
            uow.analyses.add("ab" * 32, "inch", other)
            uow.commit()
        with database() as uow:
            assert uow.analyses.get("ab" * 32, "mm") == first
            assert uow.analyses.get("ab" * 32, "inch") == other
