"""What operators and load balancers ask of a web node: health, readiness, metrics, request ids.

- ``/healthz``: the process answers (``ok``);
- ``/readyz``: the database, the model store, the mail transport and the
  task queue answer: 200 with each ``ok``, else 503 naming what failed;
- ``/metrics``: Prometheus' text format (see :mod:`fabcore.adapters.prometheus`).

:class:`RequestContext` gives each request its id (the caller's
``X-Request-ID`` when it is usable, else a new one), answers it in
``X-Request-ID``, binds it while the request runs (so its log lines, the
jobs it defers and the mails it queues carry it), counts the request by
route and status, and logs one line for it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar import MediaType, Response, get
from litestar.enums import ScopeType
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from fabcore.adapters.prometheus import CONTENT_TYPE_LATEST, HTTP_REQUESTS, HTTP_SECONDS, exposition
from fabcore.app.context import new_request_id, request_scope, valid_request_id
from fabcore.entrypoints.environment import operational_gauges
from fabcore.entrypoints.web.api.common import Core

__all__ = ["RequestContext", "healthz", "metrics", "readyz"]

log = logging.getLogger("fabcore.web.requests")

# Probes and scrapes come every few seconds: their lines only at DEBUG.
_QUIET = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestContext:
    """ASGI middleware: request id, metrics and one log line per request (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"),
                     None)
        request_id = valid_request_id(given.decode("latin-1") if given else None) \
            or new_request_id()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        started = time.perf_counter()
        with request_scope(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                seconds = time.perf_counter() - started
                method = scope.get("method", "")
                route = scope.get("path_template") or "unmatched"
                HTTP_REQUESTS.labels(method, route, str(status)).inc()
                HTTP_SECONDS.labels(method, route).observe(seconds)
                log.log(logging.DEBUG if route in _QUIET else logging.INFO, "request",
                        extra={"method": method, "route": route, "path": scope.get("path"),
                               "status": status, "ms": round(seconds * 1000, 2)})


@get("/healthz", media_type=MediaType.TEXT, include_in_schema=False)
async def healthz() -> str:
    """Alive: the process answers."""
    return "ok"


@get("/readyz", include_in_schema=False, sync_to_thread=True)
def readyz(core: Core) -> Response[dict[str, Any]]:
    """Ready for traffic: every backend answers (503 naming those that do not)."""
    found = core.backends()
    checks = {name: problem or "ok" for name, problem in found.items()}
    failed = sorted(name for name, problem in found.items() if problem is not None)
    if failed:
        log.warning("not ready", extra={"failed": failed, "checks": checks})
    return Response({"status": "unavailable" if failed else "ready", "failed": failed,
                     "checks": checks},
                    status_code=HTTP_503_SERVICE_UNAVAILABLE if failed else HTTP_200_OK)


@get("/metrics", include_in_schema=False, sync_to_thread=True)
def metrics(core: Core) -> Response[bytes]:
    """Prometheus' text format: counts of every process of this node, queue figures."""
    return Response(exposition(lambda: operational_gauges(core)),
                    media_type=CONTENT_TYPE_LATEST)
