"""The composition root: pick adapters from URL-style settings and wire the app.

>>> import fabcore
>>> app = fabcore.connect("memory://")          # everything in memory

The same URLs serve Python, the CLI and the tests:

=================  ==========================================================
setting            values
=================  ==========================================================
``database``       ``memory://``, ``sqlite:///path.db``, ``postgresql://...``
``models``         ``memory://``, a directory path for the file store, or
                   ``s3://bucket/prefix?endpoint=...`` (object storage)
``mail``           ``memory://`` (recorded in ``app.mailer.sent``),
                   ``maildir://dir``, ``smtp://...``, ``smtps://...``
``payments``       ``memory://`` (a signed-event test double), ``stripe://...``
``secret_key``     signs customer links; see :func:`make_signer`
=================  ==========================================================
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fabcore.adapters.argon2 import Argon2Hasher
from fabcore.adapters.clock import SystemClock
from fabcore.adapters.jobs import InProcessJobs
from fabcore.adapters.memory import (
    MemoryDatabase,
    MemoryModelStore,
    MemoryPaymentGateway,
    RecordingMailer,
    RecordingMetrics,
)
from fabcore.app.facade import Fabcore
from fabcore.app.links import LinkBuilder, LinkSigner
from fabcore.app.notify import Notifier
from fabcore.app.rendering.emails import MailRenderer
from fabcore.app.runner import new_id
from fabcore.domain.errors import ConfigurationError
from fabcore.ports.clock import Clock
from fabcore.ports.jobs import JobQueue
from fabcore.ports.mailer import Mailer
from fabcore.ports.mesh import MeshAnalyser
from fabcore.ports.metrics import Metrics
from fabcore.ports.model_store import ModelStore
from fabcore.ports.payments import PaymentGateway
from fabcore.ports.repositories import UnitOfWorkFactory
from fabcore.ports.security import PasswordHasher

DEFAULT_BASE_URL = "http://localhost:8000"


def _scheme(url: str, setting: str) -> str:
    scheme = urlsplit(url).scheme
    if not scheme:
        raise ConfigurationError(f"{setting}: {url!r} is not a URL such as memory://")
    return scheme


def make_database(url: str, *, migrate: bool = True) -> UnitOfWorkFactory:
    """The unit-of-work factory for a database URL.

    - ``memory://``: nothing survives the process;
    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``: a SQLite file;
    - ``postgresql://user:password@host:port/dbname`` (or ``postgres://``):
      PostgreSQL, with the ``fabcore[postgres]`` extra installed.

    SQL databases are migrated to the current schema when opened, unless
    ``migrate`` is false (``fabcore db upgrade`` migrates them itself).
    """
    scheme = _scheme(url, "database")
    if scheme == "memory":
        return MemoryDatabase()
    if scheme == "sqlite":
        from fabcore.adapters.sqlite import SqliteDatabase

        parts = urlsplit(url)
        if parts.netloc or not parts.path.startswith("/") or parts.query or parts.fragment:
            raise ConfigurationError(
                f"database: expected sqlite:///relative/path or sqlite:////absolute/path, "
                f"got {url!r}"
            )
        return SqliteDatabase(unquote(parts.path[1:]), migrate=migrate)
    if scheme in ("postgresql", "postgres"):
        from fabcore.adapters.postgres import PostgresDatabase

        return PostgresDatabase(url, migrate=migrate)
    raise ConfigurationError(
        f"database: unsupported URL scheme {scheme!r} (supported: memory, sqlite, postgresql)"
    )


def make_model_store(location: str) -> ModelStore:
    """The content-addressed model store at ``location``.

    - ``memory://``: nothing survives the process;
    - a directory path: files under it (created on first write);
    - ``s3://bucket/prefix?endpoint=...`` (needs ``fabcore[s3]``): objects in
      an S3-compatible bucket, credentials from the environment; see
      :meth:`~fabcore.adapters.s3.S3ModelStore.from_url` for the options.
    """
    if location == "memory://":
        return MemoryModelStore()
    if location.startswith("s3://"):
        from fabcore.adapters.s3 import S3ModelStore

        return S3ModelStore.from_url(location)
    if "://" in location:
        raise ConfigurationError(
            f"models: expected memory://, s3://bucket/prefix or a directory, got {location!r}"
        )
    from fabcore.adapters.filesystem import FilesystemModelStore

    return FilesystemModelStore(Path(location))


def make_mailer(url: str) -> Mailer:
    """The mailer for a mail URL.

    - ``memory://``: recorded in memory;
    - ``smtp://[user:password@]host[:port][?security=starttls&timeout=10]``
      and ``smtps://...`` (implicit TLS): see :meth:`SmtpMailer.from_url`;
    - ``maildir:///absolute/path`` or ``maildir://relative/path`` (relative
      to the working directory): a Maildir plus ``.eml`` files, see
      :class:`~fabcore.adapters.maildir.MaildirMailer`.
    """
    scheme = _scheme(url, "mail")
    if scheme == "memory":
        return RecordingMailer()
    if scheme in ("smtp", "smtps"):
        from fabcore.adapters.smtp import SmtpMailer

        return SmtpMailer.from_url(url)
    if scheme == "maildir":
        from fabcore.adapters.maildir import MaildirMailer

        parts = urlsplit(url)
        path = unquote(parts.netloc + parts.path)
        if not path or parts.query or parts.fragment:
            raise ConfigurationError(
                f"mail: expected maildir:///path or maildir://path, got {url!r}"
            )
        return MaildirMailer(path)
    raise ConfigurationError(
        f"mail: unsupported URL scheme {scheme!r} (supported: memory, smtp, smtps, maildir)"
    )


def make_payments(url: str) -> PaymentGateway:
    """The payment gateway for a payments URL.

    - ``memory://``: the signed-event test double;
    - ``stripe://`` (needs ``fabcore[stripe]``): Stripe Checkout, see
      :class:`~fabcore.adapters.stripe.StripeGateway`. Secrets come from the
      environment, never the URL: ``STRIPE_API_KEY`` and
      ``STRIPE_WEBHOOK_SECRETS`` (comma-separated signing secrets; list the
      old and the new one while rotating). Query parameters (the first
      three fall back to the environment variable named after them):
      ``success_url`` (``STRIPE_SUCCESS_URL``) and ``cancel_url``
      (``STRIPE_CANCEL_URL``), both required; ``api_base``
      (``STRIPE_API_BASE``) to talk to another server, e.g.
      ``stripe://?api_base=http://127.0.0.1:12111``; ``tolerance``, the
      seconds a webhook signature stays valid (default 300).
    """
    scheme = _scheme(url, "payments")
    if scheme == "memory":
        return MemoryPaymentGateway()
    if scheme == "stripe":
        from urllib.parse import parse_qs

        from fabcore.adapters.stripe import StripeGateway

        parts = urlsplit(url)
        if parts.netloc or parts.path.strip("/"):
            raise ConfigurationError(
                f"payments: expected stripe://?option=value..., got {url!r} (secrets go in "
                "STRIPE_API_KEY and STRIPE_WEBHOOK_SECRETS)"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query, strict_parsing=False).items()}
        known = {"success_url", "cancel_url", "api_base", "tolerance"}
        if unknown := sorted(set(query) - known):
            raise ConfigurationError(
                f"payments: unknown stripe:// option(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )

        def setting(name: str) -> str | None:
            return query.get(name) or os.environ.get(f"STRIPE_{name.upper()}") or None

        api_key = os.environ.get("STRIPE_API_KEY", "")
        secrets_ = [s.strip() for s in os.environ.get("STRIPE_WEBHOOK_SECRETS", "").split(",")]
        missing = [name for name, value in (("STRIPE_API_KEY", api_key),
                                            ("STRIPE_WEBHOOK_SECRETS", any(secrets_)),
                                            ("success_url", setting("success_url")),
                                            ("cancel_url", setting("cancel_url")))
                   if not value]
        if missing:
            raise ConfigurationError(f"payments: stripe:// needs {', '.join(missing)}")
        tolerance = query.get("tolerance", "300")
        if not tolerance.isdigit() or int(tolerance) == 0:
            raise ConfigurationError(
                f"payments: tolerance must be a whole number of seconds > 0, got {tolerance!r}"
            )
        return StripeGateway(
            api_key, [s for s in secrets_ if s],
            success_url=setting("success_url") or "",
            cancel_url=setting("cancel_url") or "",
            api_base=setting("api_base"),
            tolerance_s=int(tolerance),
        )
    raise ConfigurationError(
        f"payments: unsupported URL scheme {scheme!r} (supported: memory, stripe)"
    )


def _key_id(key: bytes) -> str:
    # Derived from the key, so every process names the same key the same way.
    return hashlib.sha256(b"fabcore-link-key:" + key).hexdigest()[:8]


def _sqlite_key_file(database: str) -> Path | None:
    parts = urlsplit(database)
    if parts.scheme != "sqlite":
        return None
    return Path(unquote(parts.path[1:]) + ".key")


def _read_or_create_key(path: Path) -> bytes:
    """The link-signing key kept beside a SQLite file (created once, owner-only)."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    except ValueError:
        raise ConfigurationError(f"{path}: not a hex-encoded link-signing key") from None
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    return key


def _key_bytes(text: str, setting: str) -> bytes:
    """A key as written in a setting: its text, or ``hex:`` and the hex digits of its bytes."""
    if not text.startswith("hex:"):
        return text.encode()
    try:
        return bytes.fromhex(text[4:])
    except ValueError:
        raise ConfigurationError(f"{setting}: hex: must be followed by hex digits") from None


def make_signer(database: str, secret: str | bytes | None = None) -> LinkSigner:
    """The signer of customer links (firm offers, payment pages).

    The key comes from ``secret``, else ``FABCORE_SECRET_KEY``; older keys in
    ``FABCORE_OLD_SECRET_KEYS`` (comma-separated) still verify the links they
    signed, so keys can be rotated without breaking mails already sent. With
    neither, a SQLite database keeps a generated key in ``<file>.key`` and
    ``memory://`` uses a key that lives as long as the process; PostgreSQL,
    shared by several app instances, needs the key configured. A key written
    ``hex:`` and hex digits stands for those bytes, e.g. ``hex:`` followed by
    the contents of a SQLite shop's ``<file>.key``, to keep its mailed links
    working after ``fabcore db copy``.
    """
    key = secret if secret is not None else os.environ.get("FABCORE_SECRET_KEY")
    if key is None:
        key_file = _sqlite_key_file(database)
        if key_file is not None:
            key = _read_or_create_key(key_file)
        elif _scheme(database, "database") == "memory":
            key = secrets.token_bytes(32)
        else:
            raise ConfigurationError(
                "set FABCORE_SECRET_KEY: the key that signs customer links must be the same "
                "for every app instance sharing this database"
            )
    current = _key_bytes(key, "FABCORE_SECRET_KEY") if isinstance(key, str) else key
    keys = {_key_id(current): current}
    for old in filter(None, os.environ.get("FABCORE_OLD_SECRET_KEYS", "").split(",")):
        raw = _key_bytes(old.strip(), "FABCORE_OLD_SECRET_KEYS")
        keys.setdefault(_key_id(raw), raw)
    return LinkSigner(keys, current=_key_id(current))


def bootstrap(
    database: str | UnitOfWorkFactory = "memory://",
    *,
    models: str | os.PathLike[str] | ModelStore = "memory://",
    mail: str | Mailer = "memory://",
    payments: str | PaymentGateway = "memory://",
    base_url: str = DEFAULT_BASE_URL,
    secret_key: str | bytes | None = None,
    clock: Clock | None = None,
    analyser: MeshAnalyser | None = None,
    renderer: MailRenderer | None = None,
    hasher: PasswordHasher | None = None,
    jobs: JobQueue | None = None,
    metrics: Metrics | None = None,
) -> Fabcore:
    """Build the application from settings; every adapter can also be passed ready-made.

    ``database``, ``models``, ``mail`` and ``payments`` take a URL or an
    adapter (``models`` also a directory path), e.g. a
    :class:`fabcore.testing.RecordingMailer` to read the mails sent. With a
    ready-made database, links are signed with ``secret_key`` (or
    ``FABCORE_SECRET_KEY``), else with a key that lives as long as the process.
    ``jobs`` defaults to :class:`~fabcore.adapters.jobs.InProcessJobs` (work
    after a use case runs in this process), ``metrics`` to counters in memory.
    """
    if analyser is None:
        from fabcore.adapters.mesh import MeshFileAnalyser

        analyser = MeshFileAnalyser()
    uow = make_database(database) if isinstance(database, str) else database
    closers = [close] if callable(close := getattr(uow, "close", None)) else []
    notifier = Notifier(
        renderer=renderer or MailRenderer(),
        links=make_signer(database if isinstance(database, str) else "memory://", secret_key),
        urls=LinkBuilder(base_url),
        new_id=new_id,
    )
    queue = jobs if jobs is not None else InProcessJobs()
    mailer = make_mailer(mail) if isinstance(mail, str) else mail
    # What is made here from a URL is closed with the application (an SMTP mailer's
    # kept connections); a ready-made mailer stays its owner's to close.
    if isinstance(mail, str) and callable(close_mailer := getattr(mailer, "close", None)):
        closers.append(close_mailer)
    core = Fabcore(
        uow=uow,
        analyser=analyser,
        models=(make_model_store(os.fspath(models)) if isinstance(models, str | os.PathLike)
                else models),
        mailer=mailer,
        payments=make_payments(payments) if isinstance(payments, str) else payments,
        clock=clock or SystemClock(),
        notifier=notifier,
        hasher=hasher or Argon2Hasher(),
        jobs=queue,
        metrics=metrics if metrics is not None else RecordingMetrics(),
        closers=closers,
    )
    if isinstance(queue, InProcessJobs):
        queue.bind_analysis(core.analyse_requested)
    return core


connect = bootstrap
