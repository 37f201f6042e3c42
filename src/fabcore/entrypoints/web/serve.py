"""``fabcore serve``: the web front under uvicorn, on the same settings as the command line.

Every setting travels in the environment (``FABCORE_DATABASE_URL``,
``FABCORE_MAIL_URL``, ``FABCORE_MODELS``, ``FABCORE_PAYMENTS_URL``,
``FABCORE_BASE_URL``, ``FABCORE_SECRET_KEY``, ``FABCORE_JOBS``, ...), so each
uvicorn worker process builds the same application with
:func:`app_from_environment` (see :mod:`fabcore.entrypoints.environment`).
Logs go through :mod:`fabcore.entrypoints.logs`; metrics are counted per
process and added up at ``/metrics`` (``PROMETHEUS_MULTIPROC_DIR``, which
the command line sets to a temporary folder when it is not set).

On ``SIGTERM`` or ``SIGINT`` uvicorn stops accepting connections, lets the
requests in flight finish (at most ``FABCORE_SHUTDOWN_TIMEOUT_S`` seconds,
default 30), then the background relay finishes the mail it is handing
over and the stores are closed.

On first start against an empty database, :func:`seed` creates the sample
shop (``acme``, the sample catalog) and its owner account, and prints how
to sign in; later starts leave the data alone.
"""

from __future__ import annotations

import gc
import os
import secrets
import signal
import sys
from types import FrameType
from typing import TextIO

from litestar import Litestar

from fabcore.adapters.prometheus import PrometheusMetrics
from fabcore.app.facade import Fabcore
from fabcore.app.samples import create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.errors import NotFound
from fabcore.entrypoints.environment import (
    core_from_environment,
    env_float,
    env_int,
    jobs_mode,
)
from fabcore.entrypoints.logs import configure_logging
from fabcore.entrypoints.web.app import create_app
from fabcore.entrypoints.web.jobs import BackgroundJobs
from fabcore.entrypoints.web.settings import WebSettings

DEFAULT_OWNER = "owner@acme-prototyping.example"


def app_from_environment() -> Litestar:
    """The ASGI application of one uvicorn worker (a factory uvicorn calls).

    With ``FABCORE_JOBS=in-process`` (the default) it relays the outbox and
    queues reminders in the background; with ``queue`` the workers do, and
    with ``off`` nothing does.

    Once started, with every mail template compiled, :func:`settle_heap`
    takes the start-up heap out of the garbage collector's sight and makes
    its full collections rarer.
    """
    configure_logging()
    core = core_from_environment(pooled=True, metrics=PrometheusMetrics())
    app = create_app(core, WebSettings.from_environment())
    if jobs_mode() == "in-process":
        jobs = BackgroundJobs(core, relay_every=env_float("FABCORE_RELAY_INTERVAL_S", 2))
        app.on_startup.append(jobs.start)
        app.on_shutdown.append(jobs.stop)
    app.on_startup.append(core.notifier.renderer.prepare)
    app.on_startup.append(settle_heap)
    app.on_shutdown.append(core.close)
    return app


#: Collections of the middle generation between two full ones (CPython's default is 10).
FULL_COLLECTION_EVERY = 100


def settle_heap() -> None:
    """Freeze the heap built so far out of the garbage collector; collect it fully less often.

    A full collection walks every object the collector tracks and holds the
    worker meanwhile. Frozen, the heap built by imports and start-up (numpy,
    scipy, trimesh, the templates) is never walked: it took 50-90 ms a time.
    What a worker builds later, its cache of decoded documents above all
    (about 45 objects an order, 1,024 documents), still is: 25 to 40 ms a
    time, and under load about twice a second with CPython's default
    thresholds. Considered every :data:`FULL_COLLECTION_EVERY`-th middle
    collection instead of every 10th, a full collection comes every few
    seconds under load; the young generations are collected as before.
    """
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


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


def _shut_down(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(host: str, port: int, workers: int, out: TextIO = sys.stderr) -> None:
    """Seed on first start, then run uvicorn with ``workers`` processes."""
    import uvicorn

    configure_logging()
    os.environ.setdefault("FABCORE_BASE_URL", f"http://{host}:{port}")
    with core_from_environment(pooled=False) as core:
        seed(core, out)
    print(f"fabcore {host}:{port}: back office at /admin/acme/, widget at /w/acme/, "
          "API at /api/v1, documentation at /schema", file=out)
    # uvicorn signals itself again once it has shut down gracefully: leave with 0 then.
    signal.signal(signal.SIGTERM, _shut_down)
    uvicorn.run("fabcore.entrypoints.web.serve:app_from_environment", factory=True,
                host=host, port=port, workers=workers, proxy_headers=True,
                timeout_graceful_shutdown=env_int("FABCORE_SHUTDOWN_TIMEOUT_S", 30),
                log_config=None, access_log=False)
