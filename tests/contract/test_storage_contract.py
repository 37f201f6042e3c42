"""The storage contract suites, run against memory, SQLite (a real file) and PostgreSQL.

The ``storage`` fixture comes from ``tests/storage_fixtures.py``.
"""

from __future__ import annotations

import pytest

from fabcore.ports.repositories import UnitOfWorkFactory
from fabcore.testing.accounts import (
    AccountRepositoryContract,
    AnalysisRepositoryContract,
    SecretRepositoryContract,
    ThrottleRepositoryContract,
)
from fabcore.testing.outbox import OutboxContract
from fabcore.testing.repositories import (
    CustomerRepositoryContract,
    OrderRepositoryContract,
    ShopRepositoryContract,
    UnitOfWorkContract,
)


class _EveryAdapter:
    @pytest.fixture
    def database(self, storage: UnitOfWorkFactory) -> UnitOfWorkFactory:
        return storage


class TestUnitOfWork(_EveryAdapter, UnitOfWorkContract):
    pass


class TestShops(_EveryAdapter, ShopRepositoryContract):
    pass


class TestCustomers(_EveryAdapter, CustomerRepositoryContract):
    pass


class TestOrders(_EveryAdapter, OrderRepositoryContract):
    pass


class TestOutbox(_EveryAdapter, OutboxContract):
    pass


class TestAccounts(_EveryAdapter, AccountRepositoryContract):
    pass


class TestSecrets(_EveryAdapter, SecretRepositoryContract):
    pass


class TestThrottle(_EveryAdapter, ThrottleRepositoryContract):
    pass


class TestAnalyses(_EveryAdapter, AnalysisRepositoryContract):
    pass
