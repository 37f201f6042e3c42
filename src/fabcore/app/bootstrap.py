"""The composition root: pick adapters from URL-style settings and wire the app.

>>> import fabcore
>>> app = fabcore.connect("memory://")          # everything in memory

The same URLs serve Python, the CLI and the tests:

=================  ==========================================================
setting            values
=================  ==========================================================
``database``       ``memory://``
``models``         ``memory://``, or a directory path for the file store
``mail``           ``memory://`` (recorded in ``app.mailer.sent``)
``payments``       ``memory://`` (a signed-event test double)
=================  ==========================================================
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from fabcore.adapters.clock import SystemClock
from fabcore.adapters.memory import (
    MemoryDatabase,
    MemoryModelStore,
    MemoryPaymentGateway,
    RecordingMailer,
)
from fabcore.app.emails import MailRenderer
from fabcore.app.links import LinkBuilder, LinkSigner
from fabcore.app.services import Fabcore
from fabcore.domain.errors import ConfigurationError
from fabcore.ports.clock import Clock
from fabcore.ports.mailer import Mailer
from fabcore.ports.mesh import MeshAnalyser
from fabcore.ports.model_store import ModelStore
from fabcore.ports.payments import PaymentGateway
from fabcore.ports.repositories import UnitOfWorkFactory

DEFAULT_BASE_URL = "http://localhost:8000"


def _scheme(url: str, setting: str) -> str:
    scheme = urlsplit(url).scheme
    if not scheme:
        raise ConfigurationError(f"{setting}: {url!r} is not a URL such as memory://")
    return scheme


def make_database(url: str) -> UnitOfWorkFactory:
    """The unit-of-work factory for a database URL."""
    scheme = _scheme(url, "database")
    if scheme == "memory":
        return MemoryDatabase()
    raise ConfigurationError(f"database: unsupported URL scheme {scheme!r} (supported: memory)")


def make_model_store(location: str) -> ModelStore:
    """``memory://`` or a directory for the content-addressed file store."""
    if location == "memory://":
        return MemoryModelStore()
    if "://" in location:
        raise ConfigurationError(f"models: expected memory:// or a directory, got {location!r}")
    from fabcore.adapters.filesystem import FilesystemModelStore

    return FilesystemModelStore(Path(location))


def make_mailer(url: str) -> Mailer:
    scheme = _scheme(url, "mail")
    if scheme == "memory":
        return RecordingMailer()
    raise ConfigurationError(f"mail: unsupported URL scheme {scheme!r} (supported: memory)")


def make_payments(url: str) -> PaymentGateway:
    scheme = _scheme(url, "payments")
    if scheme == "memory":
        return MemoryPaymentGateway()
    raise ConfigurationError(f"payments: unsupported URL scheme {scheme!r} (supported: memory)")


def _signer(secret: str | bytes | None) -> LinkSigner:
    key = secret if secret is not None else os.environ.get("FABCORE_SECRET_KEY")
    if key is None:
        # Fine for memory: links live no longer than the process that signs them.
        key = secrets.token_bytes(32)
    raw = key.encode() if isinstance(key, str) else key
    return LinkSigner({"k1": raw}, current="k1")


def bootstrap(
    database: str = "memory://",
    *,
    models: str = "memory://",
    mail: str = "memory://",
    payments: str = "memory://",
    base_url: str = DEFAULT_BASE_URL,
    secret_key: str | bytes | None = None,
    clock: Clock | None = None,
    analyser: MeshAnalyser | None = None,
    renderer: MailRenderer | None = None,
) -> Fabcore:
    """Build the application from settings; every adapter can also be passed ready-made."""
    if analyser is None:
        from fabcore.adapters.trimesh_analyser import TrimeshAnalyser

        analyser = TrimeshAnalyser()
    return Fabcore(
        uow=make_database(database),
        analyser=analyser,
        models=make_model_store(models),
        mailer=make_mailer(mail),
        payments=make_payments(payments),
        clock=clock or SystemClock(),
        links=_signer(secret_key),
        urls=LinkBuilder(base_url),
        renderer=renderer or MailRenderer(),
    )


connect = bootstrap
