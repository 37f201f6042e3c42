"""``fabcore serve``: the web front under uvicorn, on the same settings as the command line.

Every setting travels in the environment (``FABCORE_DATABASE_URL``,
``FABCORE_MAIL_URL``, ``FABCORE_MODELS``, ``FABCORE_PAYMENTS_URL``,
``FABCORE_BASE_URL``, ``FABCORE_SECRET_KEY``, ...), so each uvicorn worker
process builds the same application with :func:`app_from_environment`.

On first start against an empty database, :func:`seed` creates the sample
shop (``acme``, the sample catalog) and its owner account, and prints how
to sign in; later starts leave the data alone.
"""

from __future__ import annotations

import os
import secrets
import sys
from typing import TextIO

from litestar import Litestar

from fabcore.adapters.mesh import MeshFileAnalyser
from fabcore.adapters.worker_pool import PooledAnalyser
from fabcore.app.bootstrap import bootstrap
from fabcore.app.facade import Fabcore
from fabcore.app.samples import create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.errors import NotFound
from fabcore.entrypoints.web.app import create_app
from fabcore.entrypoints.web.jobs import BackgroundJobs
from fabcore.entrypoints.web.pages.demo_payments import DemoPaymentGateway
from fabcore.entrypoints.web.settings import WebSettings
from fabcore.ports.payments import PaymentGateway

DEFAULT_DATABASE = "sqlite:///fabcore.db"
DEFAULT_MAIL = "maildir://outbox"
DEFAULT_MODELS = "models"
DEFAULT_OWNER = "owner@acme-prototyping.example"


def core_from_environment(*, pooled: bool) -> Fabcore:
    """The application on the settings in the environment (see the module docstring)."""
    web = WebSettings.from_environment()
    analyser = (PooledAnalyser(MeshFileAnalyser, workers=web.analysis_workers,
                               memory_mb=web.analysis_memory_mb,
                               timeout_s=web.analysis_timeout_s, queue=web.analysis_queue)
                if pooled else None)
    env = os.environ
    base_url = env.get("FABCORE_BASE_URL") or "http://localhost:8000"
    payments: str | PaymentGateway = env.get("FABCORE_PAYMENTS_URL") or "memory://"
    if payments == "memory://":
        # The in-memory gateway, with its checkout page served by this application.
        payments = DemoPaymentGateway(base_url)
    core = bootstrap(
        env.get("FABCORE_DATABASE_URL") or DEFAULT_DATABASE,
        models=env.get("FABCORE_MODELS") or DEFAULT_MODELS,
        mail=env.get("FABCORE_MAIL_URL") or DEFAULT_MAIL,
        payments=payments,
        base_url=base_url,
        analyser=analyser,
    )
    if isinstance(analyser, PooledAnalyser):
        core.closers = (*core.closers, analyser.close)
    return core


def app_from_environment() -> Litestar:
    """The ASGI application of one uvicorn worker (a factory uvicorn calls).

    It relays the outbox and queues reminders in the background unless
    ``FABCORE_BACKGROUND_JOBS=0`` (when separate workers do it).
    """
    core = core_from_environment(pooled=True)
    app = create_app(core, WebSettings.from_environment())
    if os.environ.get("FABCORE_BACKGROUND_JOBS", "1").strip() not in ("0", "false", "no"):
        interval = float(os.environ.get("FABCORE_RELAY_INTERVAL_S") or 2)
        jobs = BackgroundJobs(core, relay_every=interval)
        app.on_startup.append(jobs.start)
        app.on_shutdown.append(jobs.stop)
    app.on_shutdown.append(core.close)
    return app


def seed(core: Fabcore, out: TextIO, shop_id: str = "acme") -> None:
    """Create the sample shop and its owner on first start, and say how to sign in."""
    try:
        core.get_shop(Actor.system(shop_id))
        return
    except NotFound:
        pass
    create_sample_shop(core, shop_id)
    email = os.environ.get("FABCORE_OWNER_EMAIL") or DEFAULT_OWNER
    password = os.environ.get("FABCORE_OWNER_PASSWORD") or secrets.token_urlsafe(12)
    core.create_owner(shop_id, email=email, name="Shop owner", password=password)
    print(f"Created the sample shop {shop_id!r} with its owner account:", file=out)
    print(f"  e-mail:   {email}", file=out)
    print(f"  password: {password}", file=out)
    print(f"  (shown once; sign in at /admin/{shop_id}/ or POST /api/v1/shops/{shop_id}/sign-in)",
          file=out)


def serve(host: str, port: int, workers: int, out: TextIO = sys.stderr) -> None:
    """Seed on first start, then run uvicorn with ``workers`` processes."""
    import uvicorn

    os.environ.setdefault("FABCORE_BASE_URL", f"http://{host}:{port}")
    with core_from_environment(pooled=False) as core:
        seed(core, out)
    print(f"fabcore {host}:{port}: back office at /admin/acme/, widget at /w/acme/, "
          "API at /api/v1, documentation at /schema", file=out)
    uvicorn.run("fabcore.entrypoints.web.serve:app_from_environment", factory=True,
                host=host, port=port, workers=workers, proxy_headers=True,
                timeout_graceful_shutdown=30, log_level="info")
