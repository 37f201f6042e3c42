"""fabcore: open core for instant quoting and order management in manufacturing.

Everything an embedder types is here::

    import fabcore
    from fabcore import Actor, Address, LineSpec, Money

    with fabcore.connect("memory://") as app:
        shop = app.create_shop("acme", name="Acme", email="orders@acme.example",
                               catalog=fabcore.load_sample_catalog())

``connect`` wires the application from URL-style settings (see
:func:`fabcore.app.bootstrap.bootstrap`); the use cases are the methods of
the :class:`Fabcore` it returns, each taking the :class:`Actor` asking first.
The errors are one tree rooted at :class:`FabcoreError` (drawn in
:mod:`fabcore.domain.errors`). Test doubles and the contract suites for your
own adapters are in :mod:`fabcore.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fabcore.app.catalogs import load_catalog, load_sample_catalog
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import Units
from fabcore.domain.customer import Address, BillingContact
from fabcore.domain.errors import (
    AlreadyExists,
    CatalogError,
    ConcurrencyConflict,
    ConfigurationError,
    Conflict,
    CurrencyMismatch,
    DeliveryError,
    FabcoreError,
    GuardFailed,
    InfrastructureError,
    InvalidInput,
    InvalidTransition,
    ModelRejected,
    NotFound,
    OfferLinkInvalid,
    PaymentEventRejected,
    PaymentGatewayError,
    PermanentDeliveryError,
    PermissionDenied,
    Refusal,
    StorageError,
    TemporaryDeliveryError,
)
from fabcore.domain.money import Money
from fabcore.domain.quote import LineSpec
from fabcore.domain.review import ReviewMode, ReviewPolicy
from fabcore.domain.shop import BankAccount, ShopSettings
from fabcore.domain.status import OrderStatus, PaymentStatus

__version__ = "0.2.0"

if TYPE_CHECKING:
    from fabcore.app.facade import Fabcore


def connect(database: str = "memory://", **settings: Any) -> Fabcore:
    """The application over ``database`` (``memory://``, ``sqlite:///shop.db``, ``postgresql://...``).

    ``settings`` are those of :func:`fabcore.app.bootstrap.bootstrap`:
    ``models``, ``mail``, ``payments``, ``base_url``, ``secret_key``, ready-made
    adapters. Use it as a context manager, or call ``close()``.
    """
    from fabcore.app.bootstrap import bootstrap  # the mesh analyser loads numpy, scipy, trimesh

    return bootstrap(database, **settings)


def __getattr__(name: str) -> object:
    if name == "Fabcore":
        from fabcore.app.facade import Fabcore

        return Fabcore
    raise AttributeError(f"module 'fabcore' has no attribute {name!r}")


__all__ = [
    "Actor", "Address", "AlreadyExists", "BankAccount", "BillingContact", "CatalogError",
    "ConcurrencyConflict", "ConfigurationError", "Conflict", "CurrencyMismatch",
    "DeliveryError", "Fabcore", "FabcoreError", "GuardFailed", "InfrastructureError",
    "InvalidInput", "InvalidTransition", "LineSpec", "ModelRejected", "Money", "NotFound",
    "OfferLinkInvalid", "OrderStatus", "PaymentEventRejected", "PaymentGatewayError",
    "PaymentStatus", "PermanentDeliveryError", "PermissionDenied", "Refusal", "ReviewMode",
    "ReviewPolicy", "ShopSettings", "StorageError", "TemporaryDeliveryError", "Units",
    "__version__", "connect", "load_catalog", "load_sample_catalog",
]
